//! kgentd: the kgent daemon. See `kgentd --help`.
mod cmd;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kgentd::config::{BackendKind, Config, DEFAULT_CONFIG_PATH};
use kgentd::daemon::{listen, Daemon, Serving};

#[derive(Parser)]
#[command(
    name = "kgentd",
    version,
    about = "The kgent daemon: turns plain-English requests into eBPF programs verified on this host",
    long_about = "kgentd owns the kernel side of kgent: it reads this host's attach points (tracefs, BTF), \
asks a language model for a bpftrace program, checks every candidate against the live kernel \
(catalog lookups, then a real load through bpftrace and the in-kernel verifier), feeds every \
failure back to the model, and runs approved programs, streaming their output.\n\n\
It runs as root, one per host, and serves a gRPC API on a Unix socket; use `kgentctl` to talk to it.\n\n\
Every setting lives in /etc/kgent/kgentd.toml and has a default; `kgentd --print-config` prints \
the effective configuration, which is also a complete config file.",
    after_help = "Examples:\n  sudo kgentd                                   # defaults: /run/kgent/kgent.sock, embedded model\n  sudo kgentd --socket /tmp/k.sock --state-dir /tmp/kstate\n  sudo kgentd --backend openai                  # model.openai_base_url from the config\n  kgentd --print-config > /etc/kgent/kgentd.toml\n  sudo kgentd bench                             # loop, model and end-to-end timings\n  sudo kgentd specs --rebuild                   # re-measure helpers/families, re-embed the catalog"
)]
struct Args {
    /// Configuration file.
    #[arg(long, default_value = DEFAULT_CONFIG_PATH, value_name = "FILE")]
    config: PathBuf,
    /// Unix socket to listen on (overrides `socket`).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Directory of the request database (overrides `state_dir`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// bpffs directory this daemon owns for its jobs' pins (overrides `jobs.pin_root`).
    #[arg(long, value_name = "DIR")]
    pin_root: Option<PathBuf>,
    /// Model backend: embedded, openai or scripted (overrides `model.backend`).
    #[arg(long, value_name = "KIND")]
    backend: Option<BackendKind>,
    /// GGUF model file for the embedded backend (overrides `model.path`).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Expected SHA-256 of the model file; "" skips the check (overrides `model.sha256`).
    #[arg(long, value_name = "HEX")]
    model_sha256: Option<String>,
    /// CPU threads for the embedded model; 0 = all cores (overrides `model.threads`).
    #[arg(long, value_name = "N")]
    threads: Option<u32>,
    /// JSON array of replies for the scripted backend (tests; overrides `model.scripted_replies`).
    #[arg(long, value_name = "FILE")]
    scripted_replies: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the loop without the model (per stage), the model's tokens/s, and the time to
    /// answer a simple request, uncached and then reused on this kernel build; prints a table.
    Bench {
        /// The simple request to time end to end.
        #[arg(
            long,
            default_value = "for each execve, show which pid and command ran it"
        )]
        request: String,
        /// Repetitions of each model-free stage.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Skip the model (stages only).
        #[arg(long)]
        no_model: bool,
        /// Measure output delivery instead: events/s from a C program's ring buffer to a
        /// kgentctl client beside bpftrace printing the same events, and the per-event overhead
        /// each adds to the traced workload (needs root and the workspace binaries).
        #[arg(long)]
        output: bool,
        /// Seconds of workload per measurement (--output).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Measure retrieval recall@k, what the drafts are offered, and the subject check's
        /// precision and recall on a labelled set instead (e.g. tests/eval/probe-labels.toml:
        /// [[label]] query, expect = probes that answer it, wrong = neighbours that do not).
        #[arg(long, value_name = "FILE")]
        labels: Option<PathBuf>,
        /// With --labels: list every miss (not offered, right probe refused, wrong accepted).
        #[arg(long, requires = "labels")]
        misses: bool,
    },
    /// Check this host's specs DB (curated entries against the live kernel), rebuild its
    /// generated part (feature and helper probes, sentence vectors) or export it as JSON lines.
    Specs {
        /// Drop the cached measurements and vectors of this kernel build and redo them.
        #[arg(long)]
        rebuild: bool,
        /// Write every catalog entry with its spec to this file (JSON lines).
        #[arg(long)]
        export: Option<std::path::PathBuf>,
        /// Print what the model would be shown for this request (the grounded tracepoints,
        /// facts, uprobe functions and examples) and exit; no model is loaded.
        #[arg(long, value_name = "REQUEST")]
        ground: Option<String>,
    },
    /// Compile a kgent query to bpftrace on this host and print the program (no model, nothing
    /// is loaded). The language the model answers in first:
    /// `SELECT values FROM probes [WHERE condition] [GROUP BY keys]`.
    #[command(
        after_help = "Examples:\n  kgentd query 'SELECT comm, pid, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat WHERE ret < 0'\n  kgentd query 'SELECT comm, hist(duration_us) FROM tracepoint:syscalls:sys_enter_read GROUP BY comm'\n  kgentd query 'SELECT comm, args->umyaddr FROM tracepoint:syscalls:sys_enter_bind' | sudo bpftrace -\n  kgentd query 'SELECT comm, sum(duration_ms) FROM tracepoint:sched:sched_switch GROUP BY comm'   # on-CPU time, a span from the specs DB"
    )]
    Query {
        /// The query.
        query: String,
    },
    /// Print how kgent reads a request: the concepts it asks for (each with the source of the
    /// rule that recognised it), the calls, syscalls, filesystems and binaries it names, the
    /// numbers, quoted process name and time unit it states, and what it filters away. The
    /// rules are data: specs-db/intent.toml. Nothing is loaded, no model is asked.
    #[command(
        after_help = "Examples:\n  kgentd intent 'how long does each fsync() take, in milliseconds'\n  kgentd intent \"show failed opens of processes named 'nginx' with the errno\"\n  kgentd intent 'count chmod calls per user' --program chmods.bt   # does it report what is asked?"
    )]
    Intent {
        /// The request, as a user would type it.
        request: String,
        /// Also judge this bpftrace program (a file, or - for stdin) against the request as an
        /// ask's static checks do, with this host's catalog: request-coverage (it reports what
        /// is asked), request-subject (it observes what is asked about) and symbolic (z3 on the
        /// contracts the request implies: failures only, a threshold, host-order ports…);
        /// exit status 1 when one fails (inconclusive is no failure). Nothing is loaded.
        #[arg(long, value_name = "FILE")]
        program: Option<PathBuf>,
    },
    /// Judge a bpftrace program against contracts with the symbolic verifier (z3): each is
    /// proved, refuted with a counterexample, unknown (never a pass) or not applicable. Exit
    /// status 0 all proved, 1 one refuted, 2 one unknown. Nothing is loaded.
    #[command(
        after_help = "A contract is `assume EXPR; … assert EXPR` over bpftrace expressions: args->FIELD, ret,\npid, tid, comm, nsecs, printed (the program showed something), out(N) (the Nth value the\nlast printf showed), bswap(X), and A => B.\n\nExamples:\n  kgentd verify prog.bt --contract 'assert printed => ret < 0'\n  kgentd verify prog.bt --contract 'assume ret >= 0; assert out(1) == ret' --at tracepoint:syscalls:sys_exit_read\n  kgentd verify prog.bt --request 'which unlinkat calls fail?'   # the contracts an ask would derive"
    )]
    Verify {
        /// The bpftrace program (a file, or - for stdin).
        program: PathBuf,
        /// A contract to judge (repeatable).
        #[arg(long = "contract", value_name = "CONTRACT")]
        contracts: Vec<String>,
        /// Also judge the contracts this request implies, as an ask would.
        #[arg(long)]
        request: Option<String>,
        /// The probe whose call a written contract speaks of (default: the program's first).
        #[arg(long, value_name = "PROBE")]
        at: Option<String>,
        /// Solver time per contract, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Generate kgentd's man pages or shell completions (packaging; see README).
    #[command(hide = true, subcommand)]
    Generate(kgent_clidoc::Generate),
}

fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KGENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let journald = std::path::Path::new("/run/systemd/journal/socket")
        .exists()
        .then(tracing_journald::layer)
        .and_then(Result::ok);
    match journald {
        Some(layer) => tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .init(),
        None => tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init(),
    }
}

fn effective_config(args: &Args) -> anyhow::Result<Config> {
    let explicit = args.config.as_os_str() != DEFAULT_CONFIG_PATH;
    let mut cfg = Config::load(&args.config, explicit)?;
    if let Some(s) = &args.socket {
        cfg.socket = s.clone();
    }
    if let Some(s) = &args.state_dir {
        cfg.state_dir = s.clone();
    }
    if let Some(p) = &args.pin_root {
        cfg.jobs.pin_root = p.clone();
    }
    if let Some(b) = args.backend {
        cfg.model.backend = b;
    }
    if let Some(m) = &args.model {
        cfg.model.path = m.clone();
    }
    if let Some(h) = &args.model_sha256 {
        cfg.model.sha256 = h.clone();
    }
    if let Some(t) = args.threads {
        cfg.model.threads = t;
    }
    if let Some(r) = &args.scripted_replies {
        cfg.model.scripted_replies = Some(r.clone());
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Before the configuration is read: generating the manual needs no config file.
    if let Some(Command::Generate(what)) = args.command {
        use clap::CommandFactory;
        let manual = kgent_clidoc::Manual {
            section: "8",
            source: concat!("kgent ", env!("CARGO_PKG_VERSION")),
        };
        for page in kgent_clidoc::run(what, Args::command(), &manual, &mut std::io::stdout())? {
            println!("{}", page.display());
        }
        return Ok(());
    }
    let cfg = effective_config(&args)?;
    if args.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    init_logging();
    match args.command {
        Some(Command::Bench {
            request,
            rounds,
            no_model,
            output,
            seconds,
            labels,
            misses,
        }) => {
            if let Some(path) = labels {
                return cmd::bench_labels::run(cfg, &path, misses).await;
            }
            if output {
                return cmd::bench_output::run(cfg, seconds).await;
            }
            return cmd::bench::run(cfg, &request, rounds, !no_model).await;
        }
        Some(Command::Specs {
            rebuild,
            export,
            ground,
        }) => return cmd::specs::run(cfg, rebuild, export.as_deref(), ground.as_deref()).await,
        Some(Command::Query { query }) => return cmd::query::run(cfg, &query).await,
        Some(Command::Verify {
            program,
            contracts,
            request,
            at,
            timeout_ms,
        }) => {
            let status = cmd::verify::run(
                cfg,
                cmd::verify::Request {
                    program: &program,
                    contracts: &contracts,
                    request: request.as_deref(),
                    at: at.as_deref(),
                    timeout: std::time::Duration::from_millis(timeout_ms),
                },
            )
            .await?;
            std::process::exit(status);
        }
        Some(Command::Intent { request, program }) => {
            cmd::intent::run(&request);
            if let Some(program) = program {
                let passed = cmd::intent::judge(&cfg, &request, &program).await?;
                std::process::exit(if passed { 0 } else { 1 });
            }
            return Ok(());
        }
        Some(Command::Generate(_)) | None => {}
    }
    if !nix::unistd::Uid::effective().is_root() {
        anyhow::bail!("kgentd must run as root: it loads eBPF programs into the kernel");
    }
    // Read before `listen` clears LISTEN_*: an activated socket's path is systemd's to keep.
    let bound_here = !kgentd::daemon::socket_activated();
    let listener = listen(&cfg.socket, &cfg.socket_group)?;
    let socket = cfg.socket.clone();
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("cannot watch SIGTERM: {e}");
                    return std::future::pending().await;
                }
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down: stopping every job");
    };
    // Health answers NOT_SERVING while the host is read and the catalog built.
    let mut serving = Serving::start(listener, &cfg.metrics, shutdown).await?;
    if let Some(tcp) = &cfg.listen.tcp {
        serving.listen_tcp(tcp).await?;
    }
    let daemon = Daemon::build(cfg).await.context("starting kgentd")?;
    serving.ready(&daemon).await;
    serving.finish(daemon).await?;
    if bound_here {
        let _ = std::fs::remove_file(socket);
    }
    kgentd::process::remove_scratch_dir();
    Ok(())
}
