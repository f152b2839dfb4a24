//! `kgentd bench --labels FILE`: retrieval and the subject check measured on a labelled set of
//! (request, attach points that answer it, neighbours that do not) — `tests/eval/probe-labels.toml`
//! is one, written from public descriptions. Prints:
//!
//! - retrieval recall@k: a label is a hit when one of its `expect` probes is among the first k
//!   attachable entries of the catalog search (hybrid when the embeddings load);
//! - grounding recall: the same for what the drafts are actually offered (the grounded
//!   tracepoints, uprobe functions and the sampling probe), with the mean number offered;
//! - the subject check: recall = `expect` probes it accepts / all `expect` probes; precision =
//!   accepted `expect` / (accepted `expect` + accepted `wrong`); and the share of `wrong`
//!   probes it rejects.
//!
//! Uprobes are compared by library or binary name and function (`/usr/lib/…/libc.so.6:malloc`
//! and `libc:malloc` are one).
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use kgentd::check::subject::check_subject;
use kgentd::config::Config;
use kgentd::daemon::discover_host;
use kgentd::intent::{Concept, Intent};
use kgentd::knowledge::Knowledge;

#[derive(Debug, Deserialize)]
struct LabelFile {
    label: Vec<Label>,
}

/// One label; its `source` and `why` are for people (tests/eval/check-probe-labels.py checks
/// them).
#[derive(Debug, Deserialize)]
struct Label {
    query: String,
    expect: Vec<String>,
    #[serde(default)]
    wrong: Vec<String>,
}

/// A probe name in a comparable form: uprobes as `uprobe:NAME:FUNCTION` with the file's name
/// up to its first dot (`libc`, `bash`).
fn canonical(probe: &str) -> String {
    let Some(rest) = probe
        .strip_prefix("uprobe:")
        .or_else(|| probe.strip_prefix("uretprobe:"))
    else {
        return probe.to_owned();
    };
    let Some((file, function)) = rest.rsplit_once(':') else {
        return probe.to_owned();
    };
    let name = file.rsplit('/').next().unwrap_or(file);
    let name = name.split('.').next().unwrap_or(name);
    format!("uprobe:{name}:{function}")
}

fn hit(offered: &[String], expect: &[String]) -> bool {
    let expect: Vec<String> = expect.iter().map(|e| canonical(e)).collect();
    offered.iter().any(|o| expect.contains(&canonical(o)))
}

/// Document-frequency cuts at which the default subject check (vocabulary-named subjects, and
/// the rare words of others) is measured; 0 is the vocabulary alone.
const RARE_CUTS: [usize; 5] = [0, 1, 2, 3, 5];

/// Ranks at which the alternative "the search ranks the probe high" rule is measured.
const RANKS: [usize; 4] = [10, 20, 40, 80];

#[derive(Default)]
struct Tally {
    /// Per rank cut: [expect accepted by rank, wrong accepted by rank, expect accepted by word
    /// check or rank, wrong accepted by word check or rank].
    by_rank: [[usize; 4]; 4],
    search_hits: [usize; 2],
    grounding_hits: usize,
    offered: usize,
    answerable: usize,
    with_subjects: usize,
    expect_accepted: usize,
    /// The same for what an ask enforces by default (`subject::enforced`), per `RARE_CUTS`:
    /// [right accepted, wrong accepted].
    named: [[usize; 2]; RARE_CUTS.len()],
    expect_total: usize,
    wrong_accepted: usize,
    wrong_total: usize,
    misses: Vec<String>,
}

pub async fn run(config: Config, path: &Path, show_misses: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let labels: LabelFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let host = discover_host(&config).await?;
    let (n_tp, n_ex) = (
        config.agent.grounding_tracepoints,
        config.agent.grounding_examples,
    );
    let (host, knowledge) = tokio::task::spawn_blocking(move || {
        let knowledge = Knowledge::build(&host, &[]);
        if let Err(e) =
            knowledge.enable_embeddings(&config.retrieval.embedding_model, &config.cache_dir)
        {
            println!("embeddings unavailable, search is BM25 only: {e}");
        }
        (host, knowledge)
    })
    .await?;
    const KS: [usize; 2] = [5, 12];
    let mut t = Tally::default();
    for l in &labels.label {
        if l.expect.is_empty() {
            continue;
        }
        t.answerable += 1;
        let intent = Intent::read(&l.query);
        let searched: Vec<String> = knowledge
            .catalog
            .search_where(&intent.search_text, KS[1], |e| e.attachable())
            .into_iter()
            .map(|(e, _)| e.name.clone())
            .collect();
        for (i, k) in KS.iter().enumerate() {
            if hit(&searched[..searched.len().min(*k)], &l.expect) {
                t.search_hits[i] += 1;
            }
        }
        let g = knowledge.ground(&host, &intent, n_tp, n_ex);
        let mut offered: Vec<String> = g.tracepoints.iter().map(|tp| tp.probe()).collect();
        for u in &g.uprobes {
            for s in &u.symbols {
                offered.push(format!("uprobe:{}:{s}", u.path.display()));
            }
        }
        if intent.asks(Concept::CpuSampling) {
            offered.push("profile:hz:99".to_owned());
        }
        t.offered += offered.len();
        let grounded = hit(&offered, &l.expect);
        if grounded {
            t.grounding_hits += 1;
        } else if show_misses {
            t.misses.push(format!(
                "not offered: {:?} wants {}; offered {}",
                l.query,
                l.expect.join(" | "),
                offered.join(", ")
            ));
        }
        if !g.subjects.is_empty() {
            t.with_subjects += 1;
        }
        let judge = |probe: &str| {
            check_subject(
                &knowledge.subject_index,
                &g.subjects,
                &intent,
                &[probe.to_owned()],
                &[],
            )
        };
        let deep: Vec<String> = knowledge
            .catalog
            .search_where(&intent.search_text, RANKS[3], |e| e.attachable())
            .into_iter()
            .map(|(e, _)| canonical(&e.name))
            .collect();
        let rank = |p: &str| deep.iter().position(|d| *d == canonical(p));
        for (i, cut) in RANKS.iter().enumerate() {
            let high = |p: &str| rank(p).is_some_and(|r| r < *cut);
            for e in &l.expect {
                t.by_rank[i][0] += usize::from(high(e));
                t.by_rank[i][2] += usize::from(high(e) || judge(e).passed());
            }
            for w in &l.wrong {
                t.by_rank[i][1] += usize::from(high(w));
                t.by_rank[i][3] += usize::from(high(w) || judge(w).passed());
            }
        }
        for (i, cut) in RARE_CUTS.iter().enumerate() {
            let names_syscall =
                !kgentd::knowledge::named_syscall_tracepoints(&host, &intent).is_empty();
            let named = kgentd::knowledge::subject::enforced_up_to(
                &knowledge.subject_index,
                &g.subjects,
                false,
                (*cut > 0 && !names_syscall).then_some(*cut),
            );
            let judge_named = |probe: &str| {
                check_subject(
                    &knowledge.subject_index,
                    &named,
                    &intent,
                    &[probe.to_owned()],
                    &[],
                )
            };
            for e in &l.expect {
                let c = judge_named(e);
                t.named[i][0] += usize::from(c.passed());
                if show_misses && !c.passed() && *cut == kgentd::knowledge::subject::RARE {
                    t.misses.push(format!(
                        "right probe refused by default: {:?} with {e}: {}",
                        l.query,
                        c.detail()
                    ));
                }
            }
            t.named[i][1] += l.wrong.iter().filter(|w| judge_named(w).passed()).count();
        }
        for e in &l.expect {
            t.expect_total += 1;
            let c = judge(e);
            if c.passed() {
                t.expect_accepted += 1;
            } else if show_misses {
                t.misses.push(format!(
                    "right probe refused: {:?} with {e}: {}",
                    l.query,
                    c.detail()
                ));
            }
        }
        for w in &l.wrong {
            t.wrong_total += 1;
            if judge(w).passed() {
                t.wrong_accepted += 1;
                if show_misses {
                    // Each subject, with the share of the best match the wrong probe reached.
                    let subjects: Vec<String> = g
                        .subjects
                        .iter()
                        .map(|s| {
                            let (_, share) =
                                knowledge.subject_index.covers(std::slice::from_ref(w), s);
                            format!("\"{}\" {:.0}%", s.phrase(), share * 100.0)
                        })
                        .collect();
                    let subjects = if subjects.is_empty() {
                        "no subjects".to_owned()
                    } else {
                        subjects.join(", ")
                    };
                    t.misses.push(format!(
                        "wrong probe accepted: {:?} with {w} ({subjects})",
                        l.query
                    ));
                }
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    println!(
        "labelled set {}: {} requests, {} with an answer on this host",
        path.display(),
        labels.label.len(),
        t.answerable
    );
    for (i, k) in KS.iter().enumerate() {
        println!(
            "  retrieval recall@{k:<2} (catalog search)        {:.3} ({}/{})",
            ratio(t.search_hits[i], t.answerable),
            t.search_hits[i],
            t.answerable
        );
    }
    println!(
        "  grounding recall (offered to the drafts)   {:.3} ({}/{}), {:.1} probes offered on average",
        ratio(t.grounding_hits, t.answerable),
        t.grounding_hits,
        t.answerable,
        ratio(t.offered, t.answerable)
    );
    let tp = t.expect_accepted;
    println!(
        "  subject check: recall {:.3} ({tp}/{} right probes accepted), precision {:.3} ({tp} right / {} accepted), wrong probes rejected {:.3} ({}/{}); {} of {} requests have subjects",
        ratio(tp, t.expect_total),
        t.expect_total,
        ratio(tp, tp + t.wrong_accepted),
        tp + t.wrong_accepted,
        ratio(t.wrong_total - t.wrong_accepted, t.wrong_total),
        t.wrong_total - t.wrong_accepted,
        t.wrong_total,
        t.with_subjects,
        t.answerable
    );
    for (i, cut) in RARE_CUTS.iter().enumerate() {
        let [nr, nw] = t.named[i];
        let default = if *cut == kgentd::knowledge::subject::RARE {
            " (the default)"
        } else {
            ""
        };
        println!(
            "  vocabulary-named subjects and words of <= {cut} names{default}: recall {:.3} ({nr}/{}), precision {:.3}, wrong probes rejected {:.3} ({}/{})",
            ratio(nr, t.expect_total),
            t.expect_total,
            ratio(nr, nr + nw),
            ratio(t.wrong_total - nw, t.wrong_total),
            t.wrong_total - nw,
            t.wrong_total
        );
    }
    for (i, cut) in RANKS.iter().enumerate() {
        let [er, wr, ew, ww] = t.by_rank[i];
        println!(
            "  rank rule top {cut:<3}: recall {:.3} precision {:.3} wrong rejected {:.3} | word check or rank: recall {:.3} precision {:.3} wrong rejected {:.3}",
            ratio(er, t.expect_total),
            ratio(er, er + wr),
            ratio(t.wrong_total - wr, t.wrong_total),
            ratio(ew, t.expect_total),
            ratio(ew, ew + ww),
            ratio(t.wrong_total - ww, t.wrong_total),
        );
    }
    for m in &t.misses {
        println!("  {m}");
    }
    Ok(())
}
