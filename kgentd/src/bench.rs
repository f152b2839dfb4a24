//! `kgentd bench`: how long the loop takes without the model, stage by stage; how fast the model
//! reads and writes tokens; how long a simple request takes end to end. Prints figures, asserts
//! nothing: compare ratios measured in one run, this machine is noisy.
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::agent::{parse_reply, AskOptions, Outcome};
use crate::check;
use crate::config::Config;
use crate::daemon::Daemon;
use crate::llm::{ChatRequest, Message, Role};

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

    println!("\none loop iteration without the model, by stage:");
    let grounding = agent.knowledge.ground(
        &agent.host,
        request,
        config.agent.grounding_tracepoints,
        config.agent.grounding_examples,
    );
    row(
        "grounding (retrieval)",
        time(rounds, || {
            agent.knowledge.ground(
                &agent.host,
                request,
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
        if !c.passed {
            anyhow::bail!("the known-good program failed to load: {}", c.detail);
        }
        loads.push(c.elapsed);
    }
    row("check: bpftrace-load (verifier)", loads);

    catalog(&agent.host, rounds);

    if with_model {
        println!(
            "\nmodel ({}: {}):",
            agent.backend.kind(),
            agent.backend.model()
        );
        let messages = vec![
            Message::new(
                Role::System,
                crate::agent::system_prompt_for_bench(&agent.host),
            ),
            Message::new(
                Role::User,
                crate::agent::user_prompt_for_bench(request, &grounding),
            ),
        ];
        let req = ChatRequest {
            messages,
            max_tokens: config.agent.max_reply_tokens,
            temperature: 0.0,
            seed: 1,
        };
        let t = Instant::now();
        let first = agent.backend.complete(req.clone()).await?;
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
        let read = c.prompt_tokens - c.cached_prompt_tokens;
        println!("  same prompt again: {} of {} prompt tokens from the KV cache, the rest read in {:.2} s", c.cached_prompt_tokens, c.prompt_tokens, c.prompt_ms as f64 / 1000.0);
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
        let read2 = c.prompt_tokens - c.cached_prompt_tokens;
        println!(
            "  prompt:     {:>5} tokens read ({} from cache) in {:>7.1} s = {:>6.1} tokens/s",
            read2,
            c.cached_prompt_tokens,
            c.prompt_ms as f64 / 1000.0,
            rate(read2, c.prompt_ms)
        );
        let _ = read;
        let _ = first;

        println!("\ntime to answer {request:?}:");
        let (tx, mut rx) = mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let t = Instant::now();
        let outcome = agent
            .ask(
                AskOptions {
                    target: crate::agent::ProgramTarget::Bpftrace,
                    text: request.to_owned(),
                    max_iterations: 0,
                    smoke_run: false,
                    caller_uid: 0,
                },
                tx,
            )
            .await?;
        let _ = drain.await;
        match outcome {
            Outcome::Answer(a) => println!(
                "  answered in {:.1} s after {} iteration(s), {} + {} tokens",
                t.elapsed().as_secs_f64(),
                a.iterations,
                a.usage.map_or(0, |u| u.prompt_tokens),
                a.usage.map_or(0, |u| u.completion_tokens)
            ),
            Outcome::NoAnswer(n) => println!(
                "  no answer after {:.1} s ({} iterations): {}",
                t.elapsed().as_secs_f64(),
                n.iterations,
                n.reason
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir(&config.jobs.pin_root);
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

fn catalog(host: &crate::host::HostFacts, rounds: usize) {
    use crate::knowledge::catalog::Catalog;
    println!("\ncatalog (tracepoints, raw tracepoints, kernel functions, helpers):");
    let before = rss_kib();
    let builds = time(rounds.min(3), || Catalog::build(host));
    let cat = Catalog::build(host);
    let c = cat.counts();
    println!(
        "  {} tracepoints, {} raw tracepoints, {} kernel functions, {} helpers; resident memory +{} MiB",
        c.tracepoints,
        c.raw_tracepoints,
        c.kernel_functions,
        c.helpers,
        rss_kib().saturating_sub(before) / 1024
    );
    row("build from the kernel (BTF, bpf.h)", builds);
    let queries: Vec<&str> = CATALOG_QUERIES
        .iter()
        .map(|(q, _)| *q)
        .cycle()
        .take(1000)
        .collect();
    let mut samples = Vec::with_capacity(queries.len());
    for q in &queries {
        let t = Instant::now();
        std::hint::black_box(cat.search(q, 10));
        samples.push(t.elapsed());
    }
    let mut sorted = samples.clone();
    sorted.sort();
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    row("search (1,000 queries)", samples);
    println!("  search p99: {:.3} ms", p99.as_secs_f64() * 1000.0);
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
    row("beside: bpftrace -l 'tracepoint:<glob>'", listings);
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kgentd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
