//! kgentctl: the command-line client of kgentd.
//!
//! It owns the command line (this file), the conversation with kgentd over its Unix socket and
//! the way results are shown to a person or written as JSON. It holds no privilege and must not
//! touch the kernel, a model or the store: everything it does goes through kgentd's gRPC API, so
//! fleet automation can do the same over the same API.

mod ask;
mod cache;
mod client;
mod eval;
mod fleet;
mod history;
mod host;
mod jobs;
mod json;
mod mcp;
mod probes;
mod run;
mod show;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kgent_proto::v1::Target;

use crate::client::Unreachable;
use crate::status::RpcError;

/// The default socket of a system-wide kgentd (see systemd/kgentd.socket).
const DEFAULT_SOCKET: &str = "/run/kgent/kgent.sock";

const ABOUT: &str = "Ask kgentd for eBPF programs in plain English, run them, evaluate them";

const LONG_ABOUT: &str = "\
Ask kgentd for eBPF programs in plain English, run them, evaluate them.

kgentctl is a thin, unprivileged client: kgentd (the root daemon, one per host) grounds every
request in this host's kernel (BTF, tracefs), asks its model, loads each candidate through the
real verifier and only answers with a program that passed its checks on this very kernel.

kgentd must be running: start it with `sudo systemctl start kgentd` (or `sudo kgentd` in a
terminal). kgentctl talks to it over a Unix socket, /run/kgent/kgent.sock by default; your user
needs access to it (group `kgent`). Point --socket or KGENT_SOCKET elsewhere for a private kgentd.

Another host's kgentd is reached over TCP with mutual TLS ([listen.tcp] in its kgentd.toml):
--host https://HOST:PORT with --cert/--key (this client's certificate, which says who you are
and so your role there) and --ca (the CA that signed the daemon's certificate), or --host NAME
with a hosts file, ~/.config/kgent/hosts.toml by default:

  cert = \"/home/me/.config/kgent/me.crt\"     # used for every host that names none
  key = \"/home/me/.config/kgent/me.key\"
  ca = \"/home/me/.config/kgent/fleet-ca.crt\"

  [hosts.web1]
  address = \"https://10.0.0.11:7443\"
  [hosts.web2]
  address = \"https://10.0.0.12:7443\"
  ca = \"/etc/kgent/other-ca.crt\"           # cert, key, ca: per host too
  [hosts.local]
  address = \"/run/kgent/kgent.sock\"

  [groups]
  web = [\"web1\", \"web2\"]

`kgentctl fleet ask --hosts 'web*' \"…\"` asks many hosts at once (see `kgentctl fleet --help`).";

const AFTER_HELP: &str = "\
Examples:
  kgentctl ask \"show me which processes open files under /etc\"
  kgentctl ask --run --duration 10 \"count syscalls per process\"
  kgentctl run trace.bt                   run a bpftrace file until Ctrl-C
  kgentctl run --id REQUEST_ID --duration 30
                                          run a past answer again, for 30 s
  kgentctl ask --target c --run \"count openat calls per process name every second\"
  kgentctl run --target c --detach --duration 600 monitor.c
  kgentctl jobs                           every job: live or ended, and how it ended
  kgentctl stop JOB_ID                    stop a job (its maps are printed to its output)
  kgentctl history                        past requests (`history ID`: one, with its transcript)
  kgentctl host                           what this kernel can do, which model is loaded
  kgentctl --host web1 host               the same, of host web1 of the hosts file
  kgentctl fleet ask --hosts 'web*' \"count failed opens per process\"
  kgentctl eval tasks.toml --json out.json

Exit status:
  0    success (for eval: it ran to the end, whatever the score; for eval --references:
       every check behaved as it must)
  1    an error: RPC failure, the daemon failed, the program exited with an error
  2    usage error (bad command line)
  3    no answer: kgentd could not produce a verified program (the reason is printed);
       fleet ask: a host gave no answer
  4    cannot reach kgentd (not running, wrong --socket or --host, no access to the socket,
       a certificate refused); fleet: a host was down
  5    request rejected by kgentd: invalid argument, not found, permission denied, or a limit
       was reached (the daemon's message is printed)
  130  run interrupted: Ctrl-C before the program was attached, or a second Ctrl-C while it
       was stopping";

#[derive(Debug, Parser)]
#[command(name = "kgentctl", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
struct Cli {
    /// kgentd's Unix socket.
    #[arg(long, global = true, env = "KGENT_SOCKET", default_value = DEFAULT_SOCKET, value_name = "PATH")]
    socket: PathBuf,

    /// The kgentd to use instead of --socket: a Unix socket path, https://HOST:PORT, or a
    /// host's name in the hosts file.
    #[arg(long, global = true, env = "KGENT_HOST", value_name = "HOST")]
    host: Option<String>,

    /// This client's certificate (PEM), for https:// hosts.
    #[arg(long, global = true, env = "KGENT_CERT", value_name = "FILE")]
    cert: Option<PathBuf>,

    /// This client's private key (PEM), for https:// hosts.
    #[arg(long, global = true, env = "KGENT_KEY", value_name = "FILE")]
    key: Option<PathBuf>,

    /// The CA certificate (PEM) that signs the daemons' certificates, for https:// hosts.
    #[arg(long, global = true, env = "KGENT_CA", value_name = "FILE")]
    ca: Option<PathBuf>,

    /// Named hosts and groups (default: ~/.config/kgent/hosts.toml; format in --help).
    #[arg(long, global = true, env = "KGENT_HOSTS_FILE", value_name = "FILE")]
    hosts_file: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

impl Cli {
    fn tls_flags(&self) -> fleet::TlsFlags {
        fleet::TlsFlags {
            cert: self.cert.clone(),
            key: self.key.clone(),
            ca: self.ca.clone(),
        }
    }

    fn hosts_file(&self) -> anyhow::Result<fleet::HostsFile> {
        match &self.hosts_file {
            Some(path) => fleet::HostsFile::load(Some(path), true),
            None => fleet::HostsFile::load(fleet::default_hosts_file().as_deref(), false),
        }
    }

    /// The kgentd of every command but `fleet`: --host when given, else the socket.
    fn daemon(&self) -> anyhow::Result<client::Daemon> {
        match &self.host {
            Some(host) => self.hosts_file()?.resolve(host, &self.tls_flags()),
            None => Ok(client::Daemon::Unix(self.socket.clone())),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Turn a plain-English request into a program verified on this host.
    #[command(after_help = "\
Progress (stages, candidates, each check ✓/✗) goes to stderr as it happens; the final program
goes to stdout, so `kgentctl ask \"…\" > prog.bt` keeps just the program.

Examples:
  kgentctl ask \"print every file deleted, with pid and process name\"
  kgentctl ask --run --duration 10 \"histogram of read() sizes per process\"
  kgentctl ask --json \"count TCP connects per destination port\" | jq .answer.program")]
    Ask(ask::AskArgs),

    /// Run a program (a bpftrace or C file, stdin, or a past answer) and stream its output.
    #[command(after_help = "\
Output lines of the program go to stdout (its stderr to stderr). Ctrl-C stops it gracefully:
bpftrace prints its maps, and kgentctl waits for them; a second Ctrl-C leaves at once (kgentd
then kills the program).

Examples:
  kgentctl run trace.bt
  echo 'tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", comm); }' | kgentctl run -
  kgentctl run --id 3f2a… --duration 30")]
    Run(run::RunArgs),

    /// List past requests, or show one with its full transcript.
    #[command(after_help = "\
Examples:
  kgentctl history --limit 10
  kgentctl history 3f2a…            every prompt, model reply and check of that request
  kgentctl history --json | jq '.[] | select(.state == \"no_answer\")'")]
    History(history::HistoryArgs),

    /// What this host's kernel can do, and which model backend kgentd uses.
    #[command(after_help = "\
Example:
  kgentctl host
  kgentctl host --json | jq .families")]
    Host(host::HostArgs),

    /// Run a benchmark task file (TOML) one task at a time and score the answers.
    #[command(after_help = "\
For each task: ask for a program; if one is delivered, run it, start the task's trigger once every
probe is attached (`sh -c TRIGGER`, as the user running kgentctl: triggers expect root), wait
settle_s, stop the program gracefully, wait for it to exit (up to 90 s), then check the `expect`
and `reject` regexes against everything it printed on stdout.

Scoring: a feasible task is correct (checks pass), a false positive (answered but the check or the
run failed) or a false negative (no answer); an infeasible task is correct when no program was
delivered and the answer says why, a false positive when a program was delivered.

Progress goes to stderr, the table and the totals (A, FP, FN, median seconds per task) to stdout.
Ctrl-C abandons the evaluation (kgentd kills the running program); the --json file keeps every
task finished before it.

Checking a task file (--references): no Ask, no model. Each feasible task's `reference` program
(bpftrace) runs through kgentd exactly as an answer would (attach, trigger, settle, stop, wait for
the exit) and its check judges the output: the task is ok when the check passed. Add --no-trigger
to run without the trigger: then a task is ok only when its check FAILED, which shows the check
cannot be met by background activity alone. Infeasible tasks have no reference and are skipped.
Each run's output goes to stderr, a table (ok / BAD / skip) to stdout; the exit status is 1 when
any task is BAD (a run failed, the trigger failed, or the check went the wrong way).

Examples:
  sudo kgentctl eval tasks.toml
  sudo kgentctl eval tasks.toml --only failed-opens,file-delete-audit --json results.json
  sudo kgentctl eval tasks.toml --references
  sudo kgentctl eval tasks.toml --references --no-trigger --only failed-opens")]
    Eval(eval::EvalArgs),

    /// List jobs (runs), live and ended, newest first.
    #[command(after_help = "\
A job is one run of a program: its id, owner, target, state (pending → live → ended), start time,
limits, and how it ended (or, while live, where it attached). A detached job's output goes to the
log file shown by --json.

Examples:
  kgentctl jobs
  kgentctl jobs --json | jq '.[] | select(.state == \"live\")'")]
    Jobs(jobs::JobsArgs),

    /// Stop a running job gracefully (its maps are printed before it ends).
    Stop(jobs::StopArgs),

    /// Search this host's attach points and helpers, or show one.
    #[command(after_help = "\
Every tracepoint (with its fields), raw tracepoint and kernel function (with its prototype, from
BTF) and BPF helper (from linux/bpf.h) of this host, with whether it can be used here and why not.

Examples:
  kgentctl probes search \"tcp connection established\"
  kgentctl probes search --limit 20 \"file deleted\"
  kgentctl probes show syscalls:sys_enter_openat
  kgentctl probes show vfs_read            (a kernel function: unavailable where kprobes are)
  kgentctl probes show bpf_redirect        (a helper, with the program types that may call it)
  kgentctl probes uprobes bash --filter readline
  kgentctl probes uprobes libstdc++        (function symbols and USDT probes)")]
    Probes(probes::ProbesArgs),

    /// Serve kgent to an AI agent: a Model Context Protocol server on stdin/stdout.
    #[command(after_help = "\
Tools: host_info, search_probes, show_probe, ask (only programs verified on this host, with the
checks they passed as evidence, or the reason there is none), run (a verified answer by its
request_id, or program text as root; at most 60 s, 1000 lines) and history.

The agent acts as the user running `kgentctl mcp`: kgentd's policy applies unchanged. Nothing
but the protocol is written to stdout.

Example (an MCP client's server entry):
  {\"command\": \"kgentctl\", \"args\": [\"mcp\"]}")]
    Mcp,

    /// Export or import the verified answers kgentd reuses on one kernel build.
    #[command(
        subcommand,
        after_help = "\
kgentd keeps every verified bpftrace answer under (request, BTF hash, bpftrace version, target)
and answers the same request on the same build again without the model, after checking the
program again (policy, attach points, the real load). Exports move those answers to other hosts
of the same build; an import of another build is refused. Both need the admin role.

Examples:
  kgentctl --host web1 cache export answers.json
  kgentctl --host web2 cache import answers.json"
    )]
    Cache(cache::CacheCommand),

    /// Ask or run on many hosts at once (their kgentd over TCP with mutual TLS).
    #[command(
        subcommand,
        after_help = "\
Hosts come from the hosts file (see `kgentctl --help` for its format) or are given as
addresses. Each host's kgentd grounds and verifies the request on its own kernel; identical
programs on the same kernel release are grouped. A host that is down, refuses the request or
does not finish within --timeout is reported and does not stop the others.

Examples:
  kgentctl fleet ask --hosts 'web*' \"count failed opens per process\"
  kgentctl fleet ask --hosts web,db --parallel 8 --timeout 300 --json \"…\" | jq .groups
  kgentctl fleet run --hosts 'web*' --duration 10 trace.bt     (admin on every host)"
    )]
    Fleet(fleet::FleetCommand),

    /// Generate kgentctl's man pages or shell completions (packaging; see README).
    #[command(hide = true, subcommand)]
    Generate(kgent_clidoc::Generate),
}

/// Which kind of program to ask for or to run.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    /// A bpftrace script, run by the host's bpftrace.
    Bpftrace,
    /// A libbpf-style C program (CO-RE), compiled against this host's vmlinux.h.
    C,
}

impl From<TargetArg> for Target {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Bpftrace => Target::Bpftrace,
            TargetArg::C => Target::C,
        }
    }
}

/// How kgentctl ends; the numbers are documented in `--help` (AFTER_HELP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Success,
    Error,
    NoAnswer,
    Unreachable,
    Rejected,
    Interrupted,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Error => 1,
            Exit::NoAnswer => 3,
            Exit::Unreachable => 4,
            Exit::Rejected => 5,
            Exit::Interrupted => 130,
        })
    }
}

/// The exit status for a failed command: the most specific cause in the error chain wins.
fn exit_for(error: &anyhow::Error) -> Exit {
    for cause in error.chain() {
        if cause.is::<Unreachable>() {
            return Exit::Unreachable;
        }
        if let Some(rpc) = cause.downcast_ref::<RpcError>() {
            return if rpc.is_rejection() {
                Exit::Rejected
            } else {
                Exit::Error
            };
        }
    }
    Exit::Error
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io_error| io_error.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    // Resolved before the command is taken apart; only the command that needs one reports its
    // error.
    let daemon = cli.daemon();
    let hosts = cli.hosts_file();
    let flags = cli.tls_flags();
    match cli.command {
        Command::Fleet(command) => fleet::fleet(command, &hosts?, &flags).await,
        Command::Ask(args) => ask::ask(&daemon?, args).await,
        Command::Run(args) => run::run(&daemon?, args).await,
        Command::History(args) => history::history(&daemon?, args).await,
        Command::Host(args) => host::host(&daemon?, args).await,
        Command::Eval(args) => eval::eval(&daemon?, args).await,
        Command::Probes(args) => probes::probes(&daemon?, args).await,
        Command::Jobs(args) => jobs::jobs(&daemon?, args).await,
        Command::Stop(args) => jobs::stop(&daemon?, args).await,
        Command::Cache(command) => cache::cache(&daemon?, command).await,
        Command::Mcp => {
            mcp::serve(daemon?).await?;
            Ok(Exit::Success)
        }
        Command::Generate(what) => {
            use clap::CommandFactory;
            let manual = kgent_clidoc::Manual {
                section: "1",
                source: concat!("kgent ", env!("CARGO_PKG_VERSION")),
            };
            let written = kgent_clidoc::run(what, Cli::command(), &manual, &mut std::io::stdout())?;
            for page in written {
                println!("{}", page.display());
            }
            Ok(Exit::Success)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli).await {
        Ok(exit) => exit.into(),
        // The reader of stdout went away (`kgentctl history | head`): nothing left to say.
        Err(error) if is_broken_pipe(&error) => Exit::Success.into(),
        Err(error) => {
            eprintln!("kgentctl: {error:#}");
            exit_for(&error).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unreachable_daemon_exits_with_4_and_rejections_with_5() {
        let unreachable = anyhow::Error::new(Unreachable::for_test("/nowhere.sock"));
        assert_eq!(exit_for(&unreachable), Exit::Unreachable);

        let rejected = anyhow::Error::new(RpcError::new(
            "Ask",
            tonic::Status::invalid_argument("empty request"),
        ))
        .context("asking kgentd");
        assert_eq!(exit_for(&rejected), Exit::Rejected);

        let failed = anyhow::Error::new(RpcError::new("Ask", tonic::Status::internal("boom")));
        assert_eq!(exit_for(&failed), Exit::Error);
    }
}
