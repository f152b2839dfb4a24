//! Many kgentd at once: the hosts file (named hosts and groups, with their certificates),
//! `--host` resolved through it, and the fan-out commands `fleet ask` and `fleet run`.
//!
//! Every host is asked on its own connection, at most `--parallel` at a time, each within
//! `--timeout`; a host that is down or slow is reported and never stops the others. Each host's
//! kgentd grounds and verifies the request on its own kernel: this module only merges what they
//! say (identical programs on the same kernel release grouped together). It must not judge
//! programs itself.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use kgent_proto::v1::{
    run_event, run_request, AskRequest, ExportAnswersRequest, HostInfoRequest,
    ImportAnswersRequest, RunRequest, Target,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_stream::StreamExt;

use crate::ask::{self, Outcome, ProgressPrinter};
use crate::client::{self, Daemon, TlsDaemon};
use crate::status::RpcError;
use crate::{Exit, TargetArg};

/// The hosts file read when `--hosts-file` is not given: `$HOME/.config/kgent/hosts.toml`.
pub fn default_hosts_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/kgent/hosts.toml"))
}

/// The hosts file: certificates for every host, named hosts, and groups of them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostsFile {
    /// This client's certificate (PEM), for every host that names none.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// The CA that signs the daemons' certificates (PEM).
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub hosts: BTreeMap<String, HostEntry>,
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
}

/// One named host: `https://host:port` or a Unix socket path, and optionally its own
/// certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    pub address: String,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
}

/// The certificate options given on the command line; they win over the hosts file.
#[derive(Debug, Clone, Default)]
pub struct TlsFlags {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
}

impl HostsFile {
    /// Reads `path`; a missing file is an empty one unless it was named explicitly.
    pub fn load(path: Option<&Path>, explicit: bool) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("reading the hosts file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading the hosts file {}", path.display())),
        }
    }

    /// `host`: a Unix socket path (it has a '/' and no scheme), `https://host:port`, or the
    /// name of a host of this file.
    pub fn resolve(&self, host: &str, flags: &TlsFlags) -> anyhow::Result<Daemon> {
        if let Some(entry) = self.hosts.get(host) {
            return self.daemon(&entry.address, Some(entry), flags);
        }
        if host.starts_with("https://") || host.contains('/') {
            return self.daemon(host, None, flags);
        }
        bail!(
            "no host named {host:?} in the hosts file (give a Unix socket path, https://host:port, or a name from [hosts])"
        )
    }

    fn daemon(
        &self,
        address: &str,
        entry: Option<&HostEntry>,
        flags: &TlsFlags,
    ) -> anyhow::Result<Daemon> {
        if let Some(rest) = address.strip_prefix("http://") {
            bail!("{address}: kgentd serves TCP with TLS only; use https://{rest}");
        }
        if !address.starts_with("https://") {
            return Ok(Daemon::Unix(PathBuf::from(address)));
        }
        let pick = |flag: &Option<PathBuf>,
                    own: Option<&PathBuf>,
                    shared: &Option<PathBuf>,
                    what: &str|
         -> anyhow::Result<PathBuf> {
            flag.clone()
                .or_else(|| own.cloned())
                .or_else(|| shared.clone())
                .with_context(|| {
                    format!(
                        "{address} needs {what}: pass --{what} or set `{what}` in the hosts file"
                    )
                })
        };
        Ok(Daemon::Tls(TlsDaemon {
            url: address.to_string(),
            cert: pick(
                &flags.cert,
                entry.and_then(|e| e.cert.as_ref()),
                &self.cert,
                "cert",
            )?,
            key: pick(
                &flags.key,
                entry.and_then(|e| e.key.as_ref()),
                &self.key,
                "key",
            )?,
            ca: pick(&flags.ca, entry.and_then(|e| e.ca.as_ref()), &self.ca, "ca")?,
        }))
    }

    /// The hosts `patterns` select, in order, each once: a pattern (`*` and `?` are wildcards)
    /// matches host names and group names (a group stands for its members); an address or
    /// path selects itself.
    pub fn select(
        &self,
        patterns: &str,
        flags: &TlsFlags,
    ) -> anyhow::Result<Vec<(String, Daemon)>> {
        let mut names: Vec<String> = Vec::new();
        let add = |name: &str, names: &mut Vec<String>| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        };
        for pattern in patterns.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if pattern.starts_with("https://") || pattern.contains('/') {
                add(pattern, &mut names);
                continue;
            }
            let mut matched = false;
            for name in self.hosts.keys().filter(|n| glob(pattern, n)) {
                add(name, &mut names);
                matched = true;
            }
            for (group, members) in self.groups.iter().filter(|(g, _)| glob(pattern, g)) {
                for member in members {
                    if !self.hosts.contains_key(member)
                        && !member.starts_with("https://")
                        && !member.contains('/')
                    {
                        bail!("group {group} names {member:?}, which is not in [hosts]");
                    }
                    add(member, &mut names);
                }
                matched = true;
            }
            if !matched {
                bail!("{pattern:?} matches no host or group of the hosts file");
            }
        }
        if names.is_empty() {
            bail!("--hosts selects no host");
        }
        names
            .into_iter()
            .map(|name| {
                let daemon = self.resolve(&name, flags)?;
                Ok((name, daemon))
            })
            .collect()
    }
}

/// Shell-style wildcards: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Ask every selected host the same request; show the answers grouped.
    Ask(FleetAskArgs),
    /// Run one program on every selected host; stream the output, each line prefixed by host.
    Run(FleetRunArgs),
}

/// Which hosts, how many at once, for how long.
#[derive(Debug, Args)]
pub struct Selection {
    /// Hosts to use: names or groups of the hosts file, with `*`/`?` wildcards, or addresses
    /// (https://host:port, socket paths), comma-separated.
    #[arg(long, value_name = "PATTERNS")]
    hosts: String,

    /// Hosts worked on at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    parallel: usize,

    /// Give up on a host after this many seconds (it is reported as timed out).
    #[arg(long, value_name = "S", default_value_t = 900)]
    timeout: u64,
}

#[derive(Debug, Args)]
pub struct FleetAskArgs {
    #[command(flatten)]
    selection: Selection,

    /// What you want to observe, in plain English (quote it).
    #[arg(value_name = "REQUEST")]
    request: String,

    /// The kind of program to produce.
    #[arg(long, value_enum, default_value = "bpftrace")]
    target: TargetArg,

    /// Skip each host's smoke run. Faster, weaker.
    #[arg(long)]
    no_smoke_run: bool,

    /// Print every host's result and the groups as JSON on stdout.
    #[arg(long)]
    json: bool,

    /// Ask one host per kernel build first, then offer its verified answer to the other hosts
    /// of that build (each checks it again before answering from it: no model call where it
    /// passes). Needs the admin role on every host (answers are exported and imported).
    #[arg(long)]
    share: bool,
}

#[derive(Debug, Args)]
pub struct FleetRunArgs {
    #[command(flatten)]
    selection: Selection,

    /// The program's source file (bpftrace); running program text needs the admin role on
    /// every host.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Stop the program after this many seconds on every host.
    #[arg(long, value_name = "S", default_value_t = 10)]
    duration: u32,
}

pub async fn fleet(
    command: FleetCommand,
    hosts_file: &HostsFile,
    flags: &TlsFlags,
) -> anyhow::Result<Exit> {
    match command {
        FleetCommand::Ask(args) => fleet_ask(args, hosts_file, flags).await,
        FleetCommand::Run(args) => fleet_run(args, hosts_file, flags).await,
    }
}

/// What one host said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostOutcome {
    Answer {
        kernel: String,
        program: String,
        request_id: String,
        /// Model tokens it took here (0: reused, no model call).
        tokens: u64,
        iterations: u32,
    },
    NoAnswer {
        kernel: String,
        reason: String,
    },
    /// Unreachable, refused, broke off or timed out.
    Down {
        reason: String,
    },
}

struct HostResult {
    name: String,
    address: String,
    outcome: HostOutcome,
    elapsed: Duration,
}

/// Runs `work` for every host, at most `parallel` at once, each within `timeout`; results in
/// the order of `hosts`.
async fn fan_out<T, F, Fut>(
    hosts: Vec<(String, Daemon)>,
    selection: &Selection,
    work: F,
) -> Vec<(String, Daemon, Result<T, String>, Duration)>
where
    T: Send + 'static,
    F: Fn(String, Daemon) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(selection.parallel.max(1)));
    let timeout = Duration::from_secs(selection.timeout.max(1));
    let mut tasks = Vec::new();
    for (name, daemon) in hosts {
        let slots = slots.clone();
        let future = work(name.clone(), daemon.clone());
        tasks.push((
            name,
            daemon,
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                let started = Instant::now();
                let result = match tokio::time::timeout(timeout, future).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("timed out after {} s", timeout.as_secs())),
                };
                (result, started.elapsed())
            }),
        ));
    }
    let mut results = Vec::new();
    for (name, daemon, task) in tasks {
        let (result, elapsed) = match task.await {
            Ok(r) => r,
            Err(e) => (
                Err(format!("kgentctl's task for this host failed: {e}")),
                Duration::ZERO,
            ),
        };
        results.push((name, daemon, result, elapsed));
    }
    results
}

async fn fleet_ask(
    args: FleetAskArgs,
    hosts_file: &HostsFile,
    flags: &TlsFlags,
) -> anyhow::Result<Exit> {
    let hosts = hosts_file.select(&args.selection.hosts, flags)?;
    eprintln!(
        "asking {} host{} (at most {} at once{})",
        hosts.len(),
        crate::show::plural(hosts.len()),
        args.selection.parallel.max(1),
        if args.share {
            "; one per kernel build first, its answer offered to the others"
        } else {
            ""
        }
    );
    let request = AskRequest {
        text: args.request.clone(),
        target: Target::from(args.target).into(),
        max_iterations: 0,
        smoke_run: false,
        skip_smoke_run: args.no_smoke_run,
    };
    let results = if args.share {
        ask_sharing(hosts, &args.selection, &request).await
    } else {
        ask_hosts(hosts, &args.selection, &request, &HashMap::new()).await
    };
    let groups = group(&results);
    let mut stdout = std::io::stdout();
    if args.json {
        let document = json!({
            "hosts": results.iter().map(host_json).collect::<Vec<_>>(),
            "groups": groups.iter().map(|g| g.json()).collect::<Vec<_>>(),
        });
        writeln!(stdout, "{document:#}").context("writing to stdout")?;
    } else {
        for g in &groups {
            writeln!(stdout, "{}", g.headline()).context("writing to stdout")?;
            if let Some(program) = &g.program {
                for line in program.trim_end().lines() {
                    writeln!(stdout, "    {line}").context("writing to stdout")?;
                }
            }
        }
    }
    Ok(exit_for(&results))
}

/// Asks `hosts`; a host with an export in `offers` imports it first (its kgentd checks the
/// answers again before reusing one).
async fn ask_hosts(
    hosts: Vec<(String, Daemon)>,
    selection: &Selection,
    request: &AskRequest,
    offers: &HashMap<String, Arc<String>>,
) -> Vec<HostResult> {
    let results = fan_out(hosts, selection, |name, daemon| {
        let request = request.clone();
        let offer = offers.get(&name).cloned();
        async move {
            if let Some(answers) = offer {
                if let Err(e) = import_into(&daemon, &answers).await {
                    eprintln!("{name}: the peer's answer was not imported ({e}); asking it anyway");
                }
            }
            let outcome = ask_one(&daemon, request).await;
            match &outcome {
                Ok(HostOutcome::Answer { .. }) => eprintln!("{name}: answered"),
                Ok(HostOutcome::NoAnswer { reason, .. }) => {
                    eprintln!("{name}: no answer — {}", crate::show::one_line(reason, 120))
                }
                Ok(HostOutcome::Down { reason }) | Err(reason) => {
                    eprintln!("{name}: down — {}", crate::show::one_line(reason, 120))
                }
            }
            outcome
        }
    })
    .await;
    results
        .into_iter()
        .map(|(name, daemon, result, elapsed)| HostResult {
            name,
            address: daemon.to_string(),
            outcome: result.unwrap_or_else(|reason| HostOutcome::Down { reason }),
            elapsed,
        })
        .collect()
}

/// One host per kernel build first; the verified answers of each that answered are exported
/// and offered to the other hosts of its build, which check them again before answering from
/// them (no model call where that passes). Results in the order of `hosts`.
async fn ask_sharing(
    hosts: Vec<(String, Daemon)>,
    selection: &Selection,
    request: &AskRequest,
) -> Vec<HostResult> {
    let order: Vec<String> = hosts.iter().map(|(n, _)| n.clone()).collect();
    let builds = fan_out(hosts, selection, |_, daemon| async move {
        let mut client = client::connect(&daemon).await.map_err(|e| e.to_string())?;
        client
            .host_info(HostInfoRequest {})
            .await
            .map(|r| r.into_inner().kernel_build)
            .map_err(|status| RpcError::new("HostInfo", status).to_string())
    })
    .await;
    let mut results: Vec<HostResult> = Vec::new();
    let mut leaders: Vec<(String, Daemon)> = Vec::new();
    let mut peers: Vec<(String, Daemon, String)> = Vec::new();
    let mut leader_of: HashMap<String, (String, Daemon)> = HashMap::new();
    for (name, daemon, build, elapsed) in builds {
        match build {
            Err(reason) => results.push(HostResult {
                name,
                address: daemon.to_string(),
                outcome: HostOutcome::Down { reason },
                elapsed,
            }),
            Ok(build) if leader_of.contains_key(&build) => peers.push((name, daemon, build)),
            Ok(build) => {
                leader_of.insert(build, (name.clone(), daemon.clone()));
                leaders.push((name, daemon));
            }
        }
    }
    let first = ask_hosts(leaders, selection, request, &HashMap::new()).await;
    let mut offers: HashMap<String, Arc<String>> = HashMap::new();
    for (build, (leader, daemon)) in &leader_of {
        let answered = first
            .iter()
            .any(|r| &r.name == leader && matches!(r.outcome, HostOutcome::Answer { .. }));
        if !answered {
            continue;
        }
        match export_from(daemon).await {
            Ok(answers) => {
                let answers = Arc::new(answers);
                for (peer, _, _) in peers.iter().filter(|(_, _, b)| b == build) {
                    offers.insert(peer.clone(), answers.clone());
                }
            }
            Err(e) => eprintln!(
                "{leader}: its answers could not be exported ({e}); its peers are asked afresh"
            ),
        }
    }
    results.extend(first);
    let peers: Vec<(String, Daemon)> = peers.into_iter().map(|(n, d, _)| (n, d)).collect();
    results.extend(ask_hosts(peers, selection, request, &offers).await);
    results.sort_by_key(|r| order.iter().position(|n| *n == r.name));
    results
}

async fn export_from(daemon: &Daemon) -> Result<String, String> {
    let mut client = client::connect(daemon).await.map_err(|e| e.to_string())?;
    client
        .export_answers(ExportAnswersRequest {})
        .await
        .map(|r| r.into_inner().answers_json)
        .map_err(|status| RpcError::new("ExportAnswers", status).to_string())
}

async fn import_into(daemon: &Daemon, answers: &str) -> Result<(), String> {
    let mut client = client::connect(daemon).await.map_err(|e| e.to_string())?;
    client
        .import_answers(ImportAnswersRequest {
            answers_json: answers.to_owned(),
        })
        .await
        .map(|_| ())
        .map_err(|status| RpcError::new("ImportAnswers", status).to_string())
}

/// 0 when every host answered; 4 when one was down; else 3 (one had no answer).
fn exit_for(results: &[HostResult]) -> Exit {
    if results
        .iter()
        .any(|r| matches!(r.outcome, HostOutcome::Down { .. }))
    {
        Exit::Unreachable
    } else if results
        .iter()
        .any(|r| matches!(r.outcome, HostOutcome::NoAnswer { .. }))
    {
        Exit::NoAnswer
    } else {
        Exit::Success
    }
}

/// One host: its kernel release, then the request to its verdict. A refusal or a broken
/// stream is `Down` with kgentctl's explanation of the gRPC status.
async fn ask_one(daemon: &Daemon, request: AskRequest) -> Result<HostOutcome, String> {
    let mut client = client::connect(daemon).await.map_err(|e| e.to_string())?;
    let kernel = client
        .host_info(HostInfoRequest {})
        .await
        .map_err(|status| RpcError::new("HostInfo", status).to_string())?
        .into_inner()
        .kernel_release;
    let printer = ProgressPrinter {
        indent: "",
        show_candidates: false,
        quiet: true,
    };
    let asked = ask::request(&mut client, request, &printer)
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok(match asked.outcome {
        Outcome::Answer(a) => HostOutcome::Answer {
            kernel,
            tokens: a
                .usage
                .as_ref()
                .map_or(0, |u| u.prompt_tokens + u.completion_tokens),
            iterations: a.iterations,
            program: a.program,
            request_id: a.request_id,
        },
        Outcome::NoAnswer(n) => HostOutcome::NoAnswer {
            kernel,
            reason: n.reason,
        },
    })
}

fn host_json(r: &HostResult) -> Value {
    let mut v = json!({
        "host": r.name,
        "address": r.address,
        "elapsed_ms": r.elapsed.as_millis() as u64,
    });
    match &r.outcome {
        HostOutcome::Answer {
            kernel,
            program,
            request_id,
            tokens,
            iterations,
        } => {
            v["outcome"] = "answer".into();
            v["tokens"] = (*tokens).into();
            v["iterations"] = (*iterations).into();
            v["kernel"] = kernel.as_str().into();
            v["program"] = program.as_str().into();
            v["request_id"] = request_id.as_str().into();
        }
        HostOutcome::NoAnswer { kernel, reason } => {
            v["outcome"] = "no_answer".into();
            v["kernel"] = kernel.as_str().into();
            v["reason"] = reason.as_str().into();
        }
        HostOutcome::Down { reason } => {
            v["outcome"] = "down".into();
            v["reason"] = reason.as_str().into();
        }
    }
    v
}

/// Hosts that said the same thing on the same kernel release.
struct Group {
    /// "program A", "no answer", "down".
    label: String,
    kernel: Option<String>,
    program: Option<String>,
    reason: Option<String>,
    hosts: Vec<String>,
}

impl Group {
    fn headline(&self) -> String {
        let n = self.hosts.len();
        let mut line = format!("{n} host{}", crate::show::plural(n));
        if let Some(kernel) = &self.kernel {
            line.push_str(&format!(", kernel {kernel}"));
        }
        line.push_str(&format!(": {}", self.label));
        if let Some(reason) = &self.reason {
            line.push_str(&format!(" — {}", crate::show::one_line(reason, 200)));
        }
        line.push_str(&format!(" ({})", self.hosts.join(", ")));
        line
    }

    fn json(&self) -> Value {
        json!({
            "outcome": match (&self.program, &self.kernel) {
                (Some(_), _) => "answer",
                (None, Some(_)) => "no_answer",
                (None, None) => "down",
            },
            "label": self.label,
            "kernel": self.kernel,
            "program": self.program,
            "reason": self.reason,
            "hosts": self.hosts,
        })
    }
}

/// Answers grouped by (program, kernel) and labelled A, B, … by program; then no-answers by
/// (reason, kernel); then each down host on its own.
fn group(results: &[HostResult]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut programs: Vec<&str> = Vec::new();
    for r in results {
        if let HostOutcome::Answer {
            kernel, program, ..
        } = &r.outcome
        {
            let index = match programs.iter().position(|p| *p == program.as_str()) {
                Some(i) => i,
                None => {
                    programs.push(program);
                    programs.len() - 1
                }
            };
            let label = format!("program {}", program_letter(index));
            match groups
                .iter_mut()
                .find(|g| g.label == label && g.kernel.as_deref() == Some(kernel.as_str()))
            {
                Some(g) => g.hosts.push(r.name.clone()),
                None => groups.push(Group {
                    label,
                    kernel: Some(kernel.clone()),
                    program: Some(program.clone()),
                    reason: None,
                    hosts: vec![r.name.clone()],
                }),
            }
        }
    }
    for r in results {
        if let HostOutcome::NoAnswer { kernel, reason } = &r.outcome {
            match groups.iter_mut().find(|g| {
                g.program.is_none()
                    && g.kernel.as_deref() == Some(kernel.as_str())
                    && g.reason.as_deref() == Some(reason.as_str())
            }) {
                Some(g) => g.hosts.push(r.name.clone()),
                None => groups.push(Group {
                    label: "no answer".into(),
                    kernel: Some(kernel.clone()),
                    program: None,
                    reason: Some(reason.clone()),
                    hosts: vec![r.name.clone()],
                }),
            }
        }
    }
    for r in results {
        if let HostOutcome::Down { reason } = &r.outcome {
            groups.push(Group {
                label: "down".into(),
                kernel: None,
                program: None,
                reason: Some(reason.clone()),
                hosts: vec![r.name.clone()],
            });
        }
    }
    groups
}

/// A, B, … Z, then P27, P28, …
fn program_letter(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("P{}", index + 1),
    }
}

async fn fleet_run(
    args: FleetRunArgs,
    hosts_file: &HostsFile,
    flags: &TlsFlags,
) -> anyhow::Result<Exit> {
    let source = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let hosts = hosts_file.select(&args.selection.hosts, flags)?;
    let width = hosts.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let request = RunRequest {
        program: Some(run_request::Program::Source(source)),
        target: Target::Bpftrace.into(),
        duration_s: args.duration,
        ..Default::default()
    };
    let results = fan_out(hosts, &args.selection, |name, daemon| {
        let request = request.clone();
        async move { run_one(&name, width, &daemon, request).await }
    })
    .await;
    let mut exit = Exit::Success;
    for (name, _, result, _) in results {
        if let Err(reason) = result {
            eprintln!("{name:>width$} | down — {reason}");
            exit = Exit::Unreachable;
        }
    }
    Ok(exit)
}

/// Streams one host's output, each line prefixed by the host's name.
async fn run_one(
    name: &str,
    width: usize,
    daemon: &Daemon,
    request: RunRequest,
) -> Result<(), String> {
    let mut client = client::connect(daemon).await.map_err(|e| e.to_string())?;
    let mut events = client
        .run(request)
        .await
        .map_err(|status| RpcError::new("Run", status).to_string())?
        .into_inner();
    while let Some(event) = events.next().await {
        let event = event.map_err(|status| RpcError::new("Run", status).to_string())?;
        match event.event {
            Some(run_event::Event::Line(line)) if line.stderr => {
                eprintln!("{name:>width$} | {}", line.text)
            }
            Some(run_event::Event::Line(line)) => println!("{name:>width$} | {}", line.text),
            Some(run_event::Event::Finished(finished)) => {
                eprintln!(
                    "{name:>width$} | finished (exit code {}{})",
                    finished.exit_code,
                    if finished.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", finished.reason)
                    }
                );
                return Ok(());
            }
            Some(run_event::Event::Started(_)) | None => {}
        }
    }
    Err("the output stream ended before the program finished".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
cert = "/etc/kgent/me.crt"
key = "/etc/kgent/me.key"
ca = "/etc/kgent/ca.crt"

[hosts.web1]
address = "https://10.0.0.1:7443"
[hosts.web2]
address = "https://10.0.0.2:7443"
ca = "/etc/kgent/other-ca.crt"
[hosts.db1]
address = "/run/kgent/kgent.sock"

[groups]
prod = ["web1", "db1"]
"#;

    fn file() -> HostsFile {
        toml::from_str(FILE).expect("the example parses")
    }

    #[test]
    fn wildcards() {
        assert!(glob("web*", "web1"));
        assert!(glob("w?b1", "web1"));
        assert!(glob("*", ""));
        assert!(!glob("web*", "db1"));
        assert!(glob("*1", "db1"));
        assert!(!glob("web", "web1"));
    }

    #[test]
    fn patterns_select_hosts_and_groups_once() {
        let f = file();
        let names: Vec<String> = f
            .select("web*,prod", &TlsFlags::default())
            .expect("selects")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["web1", "web2", "db1"]);
        assert!(f.select("nope*", &TlsFlags::default()).is_err());
    }

    #[test]
    fn certificates_come_from_flags_then_host_then_file() {
        let f = file();
        let flags = TlsFlags {
            cert: Some("/tmp/flag.crt".into()),
            ..Default::default()
        };
        match f.resolve("web2", &flags).expect("resolves") {
            Daemon::Tls(t) => {
                assert_eq!(t.cert, PathBuf::from("/tmp/flag.crt"));
                assert_eq!(t.ca, PathBuf::from("/etc/kgent/other-ca.crt"));
                assert_eq!(t.key, PathBuf::from("/etc/kgent/me.key"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            f.resolve("db1", &flags).expect("resolves"),
            Daemon::Unix("/run/kgent/kgent.sock".into())
        );
        assert!(HostsFile::default()
            .resolve("https://h:1", &TlsFlags::default())
            .is_err());
        assert!(f.resolve("http://h:1", &flags).is_err());
    }

    #[test]
    fn identical_programs_on_one_kernel_group_together() {
        let result = |name: &str, outcome: HostOutcome| HostResult {
            name: name.into(),
            address: String::new(),
            outcome,
            elapsed: Duration::ZERO,
        };
        let answer = |program: &str| HostOutcome::Answer {
            kernel: "6.18.1".into(),
            program: program.into(),
            request_id: "r".into(),
            tokens: 0,
            iterations: 0,
        };
        let results = vec![
            result("a", answer("p1")),
            result("b", answer("p2")),
            result("c", answer("p1")),
            result(
                "d",
                HostOutcome::NoAnswer {
                    kernel: "6.18.1".into(),
                    reason: "kprobes are disabled".into(),
                },
            ),
            result(
                "e",
                HostOutcome::Down {
                    reason: "timed out".into(),
                },
            ),
        ];
        let lines: Vec<String> = group(&results).iter().map(Group::headline).collect();
        assert_eq!(
            lines,
            [
                "2 hosts, kernel 6.18.1: program A (a, c)",
                "1 host, kernel 6.18.1: program B (b)",
                "1 host, kernel 6.18.1: no answer — kprobes are disabled (d)",
                "1 host: down — timed out (e)",
            ]
        );
        assert_eq!(exit_for(&results), Exit::Unreachable);
    }
}
