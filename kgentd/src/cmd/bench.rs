//! `kgentd bench`: how long the loop takes without the model, stage by stage; how fast the model
//! reads and writes tokens; how long a simple request takes end to end. Prints figures, asserts
//! nothing: compare ratios measured in one run, this machine is noisy.
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use kgentd::agent::{parse_reply, Agent, AskOptions, Outcome};
use kgentd::check;
use kgentd::config::Config;
use kgentd::daemon::Daemon;
use kgentd::knowledge::Grounding;
use kgentd::llm::{ChatRequest, Message, Role};
use kgentd::reuse::AnswerCache;

/// A program that loads on any kernel with syscall tracepoints.
const KNOWN_GOOD: &str =
    "tracepoint:syscalls:sys_enter_execve { printf(\"%d %s\\n\", pid, comm); }\n";

fn stats(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    (
        p(0.5),
        p(0.9),
        ms(*samples.last().unwrap_or(&Duration::ZERO)),
    )
}

fn row(name: &str, samples: Vec<Duration>) {
    let n = samples.len();
    if n == 0 {
        return;
    }
    let (p50, p90, max) = stats(samples);
    println!("  {name:<34} n={n:<4} p50 {p50:>9.3} ms  p90 {p90:>9.3} ms  max {max:>9.3} ms");
}

fn time<T>(rounds: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect()
}

pub async fn run(
    config: Config,
    request: &str,
    rounds: usize,
    with_model: bool,
) -> anyhow::Result<()> {
    let rounds = rounds.max(1);
    let mut config = config;
    let state = tempfile_dir()?;
    config.state_dir = state.clone();
    // The catalog section enables embeddings itself, timed; no background thread competing.
    let embeddings = config.retrieval.embeddings;
    config.retrieval.embeddings = false;
    // Its own pins: a kgentd serving this host keeps its jobs.
    config.jobs.pin_root = format!("/sys/fs/bpf/kgent-bench-{}", std::process::id()).into();
    let t = Instant::now();
    let daemon = Daemon::build(config.clone()).await?;
    let startup = t.elapsed();
    let agent = daemon.agent.clone();
    println!(
        "kgentd bench — kernel {}, {} tracepoints, {} examples, backend {}",
        agent.host.kernel_release,
        agent.host.tracepoints.len(),
        agent.knowledge.example_count(),
        agent.backend.kind()
    );
    println!(
        "\nstartup (host discovery + knowledge index): {:.1} ms",
        startup.as_secs_f64() * 1000.0
    );
    let grounding = loop_stages(&agent, &config, request, rounds).await?;

    let mut catalog_config = config.clone();
    catalog_config.retrieval.embeddings = embeddings;
    catalog(&agent.host, &catalog_config, rounds);

    if with_model {
        model_speed(&agent, &config, request, &grounding).await?;
        time_to_answer(&agent, request).await?;
    }
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir(&config.jobs.pin_root);
    Ok(())
}

/// One loop iteration without the model, stage by stage; returns the request's grounding.
async fn loop_stages(
    agent: &Agent,
    config: &Config,
    request: &str,
    rounds: usize,
) -> anyhow::Result<Grounding> {
    println!("\none loop iteration without the model, by stage:");
    let intent = kgentd::intent::Intent::read(request);
    let grounding = agent.knowledge.ground(
        &agent.host,
        &intent,
        config.agent.grounding_tracepoints,
        config.agent.grounding_examples,
    );
    row(
        "grounding (retrieval)",
        time(rounds, || {
            agent.knowledge.ground(
                &agent.host,
                &intent,
                config.agent.grounding_tracepoints,
                config.agent.grounding_examples,
            )
        }),
    );
    let reply = format!("```bpftrace\n{KNOWN_GOOD}```\nPrints every exec.");
    row(
        "extract program from reply",
        time(rounds, || parse_reply(&reply)),
    );
    row(
        "check: host-attach-points",
        time(rounds, || {
            check::check_attach_points(&agent.host, &agent.knowledge, KNOWN_GOOD)
        }),
    );
    let load_rounds = rounds.min(5);
    let mut loads = Vec::new();
    for _ in 0..load_rounds {
        let c = check::check_bpftrace_load(
            &agent.bpftrace,
            KNOWN_GOOD,
            agent.check_timeout,
            &agent.host.kernel_release,
        )
        .await;
        if !c.passed() {
            anyhow::bail!("the known-good program failed to load: {}", c.detail());
        }
        loads.push(c.elapsed);
    }
    row("check: bpftrace-load (verifier)", loads);
    symbolic_stage(agent, config, rounds).await;
    Ok(grounding)
}

/// Candidates the symbolic check judges, one per kind of contract (requests in our words).
const SYMBOLIC_CANDIDATES: &[(&str, &str)] = &[
    (
        "which unlinkat calls fail, and with what error",
        "tracepoint:syscalls:sys_enter_unlinkat { @p[tid] = args->pathname; }\ntracepoint:syscalls:sys_exit_unlinkat /@p[tid]/ { if (args->ret < 0) { printf(\"%s %d\\n\", str(@p[tid]), args->ret); } delete(@p[tid]); }",
    ),
    (
        "pread64 latency per thread as a histogram in microseconds",
        "tracepoint:syscalls:sys_enter_pread64 { @s[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_pread64 /@s[tid]/ { @us = hist((nsecs - @s[tid]) / 1000); delete(@s[tid]); }",
    ),
    (
        "bytes each process writes with write()",
        "tracepoint:syscalls:sys_exit_write /args->ret > 0/ { @b[comm] = sum(args->ret); }",
    ),
    (
        "destination ports of connect() calls",
        "tracepoint:syscalls:sys_enter_connect { $sa = (struct sockaddr_in *)args->uservaddr; if ($sa->sin_family == 2) { printf(\"%d\\n\", bswap($sa->sin_port)); } }",
    ),
];

/// The symbolic check's time per candidate (all the contracts its request implies).
async fn symbolic_stage(agent: &Agent, config: &Config, rounds: usize) {
    let timeout = Duration::from_millis(config.agent.symbolic_timeout_ms);
    let mut samples = Vec::new();
    let mut contracts = 0;
    for _ in 0..rounds.min(5) {
        for (request, program) in SYMBOLIC_CANDIDATES {
            let intent = kgentd::intent::Intent::read(request);
            let c = check::check_symbolic(&agent.host, &intent, program, timeout).await;
            if let check::Evidence::Contracts(lines) = &c.evidence {
                contracts += lines.len();
            }
            if !c.passed() {
                println!("  (symbolic: {} was not proved: {})", request, c.detail());
            }
            samples.push(c.elapsed);
        }
    }
    let per = contracts as f64 / samples.len().max(1) as f64;
    row(&format!("check: symbolic ({per:.1} contracts)"), samples);
}

/// The model's reading and writing speed on the loop's own prompt: a first call (loading the
/// model), the same prompt again (from the KV cache), then a prompt sharing only the system
/// prompt.
async fn model_speed(
    agent: &Agent,
    config: &Config,
    request: &str,
    grounding: &Grounding,
) -> anyhow::Result<()> {
    println!(
        "\nmodel ({}: {}):",
        agent.backend.kind(),
        agent.backend.model()
    );
    let messages = vec![
        Message::new(
            Role::System,
            kgentd::agent::system_prompt_for_bench(&agent.host),
        ),
        Message::new(
            Role::User,
            kgentd::agent::user_prompt_for_bench(request, grounding),
        ),
    ];
    let req = ChatRequest {
        messages,
        max_tokens: config.agent.max_reply_tokens,
        temperature: 0.0,
        seed: 1,
        grammar: None,
        deadline: None,
    };
    let t = Instant::now();
    agent.backend.complete(req.clone()).await?;
    println!(
        "  first call (includes loading the model): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let c = agent.backend.complete(req.clone()).await?;
    let rate = |tokens: u64, ms: u64| {
        if ms == 0 {
            0.0
        } else {
            tokens as f64 * 1000.0 / ms as f64
        }
    };
    println!(
        "  same prompt again: {} of {} prompt tokens from the KV cache, the rest read in {:.2} s",
        c.cached_prompt_tokens,
        c.prompt_tokens,
        c.prompt_ms as f64 / 1000.0
    );
    println!(
        "  generation: {:>5} tokens in {:>7.1} s = {:>6.1} tokens/s",
        c.completion_tokens,
        c.generation_ms as f64 / 1000.0,
        rate(c.completion_tokens, c.generation_ms)
    );
    // A prompt sharing only the system prompt measures reading speed.
    let mut other = req;
    if let Some(m) = other.messages.last_mut() {
        m.content = format!("Request: {} (variant)\n{}", request, m.content);
    }
    let c = agent.backend.complete(other).await?;
    let read = c.prompt_tokens - c.cached_prompt_tokens;
    println!(
        "  prompt:     {:>5} tokens read ({} from cache) in {:>7.1} s = {:>6.1} tokens/s",
        read,
        c.cached_prompt_tokens,
        c.prompt_ms as f64 / 1000.0,
        rate(read, c.prompt_ms)
    );
    Ok(())
}

/// The request end to end through the agent, without a smoke run.
/// The request asked twice through the ask entry point: first answered by the loop (model and
/// checks), then reused on this kernel build (its checks run again, no model).
async fn time_to_answer(agent: &Arc<Agent>, request: &str) -> anyhow::Result<()> {
    println!("\ntime to answer {request:?}:");
    let answers = AnswerCache::new(agent.clone(), true);
    for label in [
        "uncached (model + checks)",
        "reused on this kernel build (checks only)",
    ] {
        let (tx, mut rx) = mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let t = Instant::now();
        let outcome = answers
            .ask(
                AskOptions {
                    target: kgentd::agent::ProgramTarget::Bpftrace,
                    text: request.to_owned(),
                    max_iterations: 0,
                    smoke_run: false,
                    skip_smoke_run: false,
                    caller_uid: 0,
                    role: kgentd::authz::Role::Admin,
                },
                tx,
            )
            .await?;
        let _ = drain.await;
        match outcome {
            Outcome::Answer(a) => println!(
                "  {label:<44} {:>7.2} s, {} iteration(s), {} + {} tokens",
                t.elapsed().as_secs_f64(),
                a.iterations,
                a.usage.prompt_tokens,
                a.usage.completion_tokens
            ),
            Outcome::NoAnswer(n) => {
                println!(
                    "  {label:<44} no answer after {:.1} s ({} iterations): {}",
                    t.elapsed().as_secs_f64(),
                    n.iterations,
                    n.reason
                );
                break;
            }
        }
    }
    Ok(())
}

/// Lookups people make, in their words and in kernel names; cycled to 1,000 queries.
const CATALOG_QUERIES: &[(&str, &str)] = &[
    ("file opened", "*openat*"),
    ("process exits", "*process_exit*"),
    ("tcp connection established", "*inet_sock_set_state*"),
    ("tcp retransmit", "*retransmit*"),
    ("block io request issued", "*block_rq_issue*"),
    ("context switch", "*sched_switch*"),
    ("page fault", "*page_fault*"),
    ("signal sent", "*signal_generate*"),
    ("new process exec", "*sched_process_exec*"),
    ("file deleted unlink", "*unlink*"),
    ("memory allocation kmalloc", "*kmalloc*"),
    ("vfs_read", "*vfs_read*"),
    ("skb dropped", "*kfree_skb*"),
    ("irq handler", "*irq_handler_entry*"),
    ("timer expired", "*timer_expire*"),
];

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(samples: &[Duration], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn latency_row(name: &str, samples: &[Duration]) {
    println!(
        "  {name:<44} n={:<5} p50 {:>8.3} ms  p99 {:>8.3} ms",
        samples.len(),
        percentile(samples, 0.5),
        percentile(samples, 0.99)
    );
}

fn catalog(host: &kgentd::host::HostFacts, config: &Config, rounds: usize) {
    use kgentd::knowledge::catalog::{Catalog, Retrieval};
    use kgentd::knowledge::{labels, Knowledge};
    println!("\ncatalog (tracepoints, raw tracepoints, kernel functions, helpers, specs DB):");
    let before = rss_kib();
    let builds = time(rounds.clamp(1, 5), || Catalog::build(host));
    let knowledge = Knowledge::build(host, &[]);
    let c = knowledge.catalog.counts();
    println!(
        "  {} tracepoints, {} raw tracepoints, {} kernel functions, {} helpers, {} hooks, {} perf events, {} uprobes ({} curated); resident memory +{} MiB",
        c.tracepoints,
        c.raw_tracepoints,
        c.kernel_functions,
        c.helpers,
        c.hooks,
        c.perf_events,
        c.uprobes,
        c.curated,
        rss_kib().saturating_sub(before) / 1024
    );
    latency_row("cold build from the kernel (tracefs read apart)", &builds);
    let before = rss_kib();
    let enabled = if config.retrieval.embeddings {
        knowledge.enable_embeddings(&config.retrieval.embedding_model, &config.cache_dir)
    } else {
        Err("retrieval.embeddings = false".to_owned())
    };
    match enabled {
        Ok(r) => println!(
            "  embeddings: {} texts, model loaded in {:.0} ms, vectors {:?} in {:.0} ms; resident memory +{} MiB",
            r.texts,
            r.model_load.as_secs_f64() * 1000.0,
            r.provenance,
            r.vectors.as_secs_f64() * 1000.0,
            rss_kib().saturating_sub(before) / 1024
        ),
        Err(e) => println!("  embeddings unavailable, hybrid figures skipped: {e}"),
    }
    let label_set = labels::parse(labels::LABELS).unwrap_or_default();
    let distinct: Vec<&str> = CATALOG_QUERIES
        .iter()
        .map(|(q, _)| *q)
        .chain(label_set.iter().map(|l| l.query.as_str()))
        .collect();
    let queries: Vec<&str> = distinct.iter().copied().cycle().take(1000).collect();
    let cat = &knowledge.catalog;
    let measure = |mode: Retrieval, qs: &[&str]| -> Vec<Duration> {
        qs.iter()
            .map(|q| {
                let t = Instant::now();
                std::hint::black_box(cat.search_with(q, 10, mode, &|_| true).ok());
                t.elapsed()
            })
            .collect()
    };
    latency_row(
        "search, BM25 (1,000 queries)",
        &measure(Retrieval::Bm25, &queries),
    );
    if cat.has_embeddings() {
        // The first sight of a query runs the model once; repeats reuse its vector.
        let extra: Vec<String> = distinct.iter().map(|q| format!("{q} events")).collect();
        let fresh: Vec<&str> = extra.iter().map(String::as_str).collect();
        latency_row(
            "search, hybrid, new query (model forward pass)",
            &measure(Retrieval::Hybrid, &fresh),
        );
        // Every query seen once, so the next 1,000 measure the search, not the model.
        measure(Retrieval::Hybrid, &distinct);
        latency_row(
            "search, hybrid, repeated query (1,000 queries)",
            &measure(Retrieval::Hybrid, &queries),
        );
    }
    let mut listings = Vec::new();
    for (_, glob) in CATALOG_QUERIES.iter().take(5) {
        let t = Instant::now();
        let ok = std::process::Command::new("bpftrace")
            .args(["-l", &format!("tracepoint:{glob}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            listings.push(t.elapsed());
        }
    }
    latency_row("beside: bpftrace -l 'tracepoint:<glob>'", &listings);
    println!(
        "\nretrieval quality: recall@5 over {} labelled queries (specs-db/retrieval-labels.toml):",
        label_set.len()
    );
    for mode in [Retrieval::Bm25, Retrieval::Embeddings, Retrieval::Hybrid] {
        match labels::recall(cat, &label_set, mode, 5) {
            Ok(r) => println!(
                "  {:<12} {:.3} ({}/{})",
                format!("{mode:?}"),
                r.value(),
                r.hits,
                r.total
            ),
            Err(e) => println!("  {mode:?}: {e}"),
        }
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kgentd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
