//! `kgentd intent`: how kgent reads a request, printed for people: every concept the request is
//! read as asking for with the source of its rule (`specs-db/intent.toml`), and what it names
//! and states. Reads nothing of the host: the same request reads the same everywhere.
use std::path::Path;

use anyhow::Context;
use kgentd::config::Config;
use kgentd::intent::{vocabulary, Concept, Intent};
use kgentd::knowledge::Knowledge;

pub fn run(request: &str) {
    let intent = Intent::read(request);
    let v = vocabulary::shipped();
    println!("request: {request}");
    let concepts: Vec<Concept> = intent.concepts().collect();
    if concepts.is_empty() {
        println!("asks for: nothing the vocabulary names");
    } else {
        println!("asks for:");
        for c in concepts {
            let source = v.concepts.get(&c).map_or("", |r| r.source.as_str());
            println!("  {c:?}  ({source})");
        }
    }
    let lists: [(&str, &[String]); 5] = [
        ("calls written as calls", &intent.calls),
        (
            "words that name a syscall if it exists",
            &intent.syscall_words,
        ),
        ("kernel-function-like identifiers", &intent.identifiers),
        ("filesystems", &intent.filesystems),
        ("binaries for uprobes", &intent.binary_words),
    ];
    for (name, l) in lists {
        if !l.is_empty() {
            println!("{name}: {}", l.join(", "));
        }
    }
    if !intent.numbers.is_empty() {
        let n: Vec<String> = intent.numbers.iter().map(i128::to_string).collect();
        println!(
            "numbers stated (with units multiplied out): {}",
            n.join(", ")
        );
    }
    if let Some(n) = &intent.process_name {
        println!("process name filtered on: {n}");
    }
    if let Some(u) = intent.time_unit {
        println!("time unit: {}", u.suffix());
    }
    if let Some(n) = intent.result_value {
        println!("keeps calls that return: {n}");
    }
    if let Some(n) = intent.threshold {
        println!("events shown must exceed: {n} (the least reading of the stated threshold)");
    }
    if intent.result_threshold {
        println!("the threshold is of what the calls return (their result)");
    }
    for e in &intent.exclusions {
        println!("leaves out: {e:?}");
    }
    if !intent.subjects.is_empty() {
        let words: Vec<String> = intent
            .subjects
            .iter()
            .map(|s| {
                if s.kernel.is_empty() {
                    s.word.clone()
                } else {
                    format!("{} (names {})", s.word, s.kernel.join(", "))
                }
            })
            .collect();
        println!("subjects (what is observed): {}", words.join("; "));
    }
    for p in &intent.group_phrases {
        println!("groups by: {}", p.join(" "));
    }
    if !intent.directories.is_empty() {
        println!("keeps paths under: {}", intent.directories.join(", "));
    }
    if !intent.value_words.is_empty() {
        println!(
            "words that may name a value: {}",
            intent.value_words.join(" ")
        );
    }
    println!("search text: {}", intent.search_text);
}

/// `--program FILE`: the static checks of an ask that judge a program against the request,
/// run on `program` with this host's catalog: request-coverage (what it reports),
/// request-subject (what it observes) and symbolic (the request's contracts, z3). Prints each
/// verdict; true when none failed.
pub async fn judge(config: &Config, request: &str, program: &Path) -> anyhow::Result<bool> {
    let source = if program == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading the program from stdin")?
    } else {
        std::fs::read_to_string(program)
            .with_context(|| format!("reading the program {}", program.display()))?
    };
    let host = kgentd::daemon::discover_host(config).await?;
    let (model, cache) = (
        config.retrieval.embedding_model.clone(),
        config.cache_dir.clone(),
    );
    let (host, knowledge) = tokio::task::spawn_blocking(move || {
        let knowledge = Knowledge::build(&host, &[]);
        if let Err(e) = knowledge.enable_embeddings(&model, &cache) {
            println!("embeddings unavailable, search is BM25 only: {e}");
        }
        (host, knowledge)
    })
    .await?;
    let intent = Intent::read(request);
    // The subjects an ask enforces on every candidate (see `subject::enforced`).
    let grounding = knowledge.ground(
        &host,
        &intent,
        config.agent.grounding_tracepoints,
        config.agent.grounding_examples,
    );
    let subjects = kgentd::knowledge::subject::enforced(
        &knowledge.subject_index,
        &grounding.subjects,
        config.agent.subject_check,
        !kgentd::knowledge::named_syscall_tracepoints(&host, &intent).is_empty(),
    );
    for s in &subjects {
        println!(
            "subject held: \"{}\" (observed here by {})",
            s.phrase(),
            s.probes.join(", ")
        );
    }
    let probes = kgentd::check::subject::bpftrace_probes(&source);
    let mut checks = vec![
        kgentd::check::check_coverage(&host, &intent, &source),
        kgentd::check::subject::check_subject(
            &knowledge.subject_index,
            &subjects,
            &intent,
            &probes,
            &kgentd::check::subject::comm_filters(&source),
        ),
    ];
    if config.agent.symbolic {
        let host = std::sync::Arc::new(host);
        let timeout = std::time::Duration::from_millis(config.agent.symbolic_timeout_ms);
        checks.push(kgentd::check::check_symbolic(&host, &intent, &source, timeout).await);
    }
    for c in &checks {
        let verdict = if c.passed() {
            "passed"
        } else if c.failed() {
            "FAILED"
        } else {
            "inconclusive"
        };
        println!("{} {verdict}: {}", c.kind.name(), c.detail());
    }
    // Inconclusive (no contract applies, or z3 could not tell) is no failure, as in an ask.
    Ok(!checks.iter().any(|c| c.failed()))
}
