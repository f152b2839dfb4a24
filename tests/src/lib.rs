//! Harness for kgent's integration tests: a real kgentd (the library the binary runs) serving
//! gRPC on a real Unix socket in a temporary directory, with a real sled store, the host's real
//! bpftrace and kernel. Only the model is replaced, and only by the backends kgentd itself ships
//! (scripted replies, or an OpenAI-compatible server on loopback).
//!
//! The tests load eBPF programs: run them as root.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{ask_event, AskEvent, AskRequest};
use kgentd::config::Config;
use kgentd::daemon::{listen, Daemon};
use kgentd::llm::{Backend, ScriptedBackend};
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

pub use kgent_proto::v1 as proto;

/// A known-good program on this host: prints pid, comm and path of every openat.
pub const GOOD_OPENAT: &str = "```bpftrace\ntracepoint:syscalls:sys_enter_openat\n{\n  printf(\"%d %s %s\\n\", pid, comm, str(args->filename));\n}\n```\nPrints every file opened.";

pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pub daemon_jobs: kgentd::exec::Jobs,
    /// The agent the daemon serves, for asks made without a client.
    pub daemon_agent: Arc<kgentd::agent::Agent>,
}

pub fn test_config(dir: &Path) -> Config {
    let mut cfg = Config {
        socket: dir.join("kgent.sock"),
        state_dir: dir.join("state"),
        ..Config::default()
    };
    // Ground in what kgent ships only, so results do not depend on the host's tool collection.
    cfg.agent.example_dirs = Vec::new();
    // BM25-only grounding unless a test turns embeddings on: deterministic, and no background
    // embedding competing for the CPU with timed load checks (tests/retrieval.rs covers hybrid).
    cfg.retrieval.embeddings = false;
    // Pins of this daemon only: other daemons (and other test runs) keep theirs.
    cfg.jobs.pin_root = test_pin_root(dir);
    // Every ask reaches the (scripted) model unless a test turns reuse on (tests/reuse.rs).
    cfg.reuse_answers = false;
    cfg
}

/// A bpffs directory of one test daemon, named after its temporary directory.
pub fn test_pin_root(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // bpffs refuses names with a dot.
    PathBuf::from(format!("/sys/fs/bpf/kgent-test-{}", name.replace('.', "")))
}

impl TestDaemon {
    pub async fn scripted(replies: &[&str]) -> Self {
        let backend = ScriptedBackend::new(
            "test script",
            replies.iter().map(|s| s.to_string()).collect(),
        )
        .expect("replies");
        Self::with_backend(Arc::new(backend), |_| {}).await
    }

    pub async fn with_backend(backend: Arc<dyn Backend>, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = test_config(dir.path());
        tweak(&mut cfg);
        let socket = cfg.socket.clone();
        let listener = listen(&socket, "kgent-test-no-such-group").expect("listen");
        let daemon = Daemon::build_with_backend(cfg, backend)
            .await
            .expect("daemon builds");
        let daemon_jobs = daemon.jobs.clone();
        let daemon_agent = daemon.agent.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            daemon
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
        });
        Self {
            dir,
            socket,
            shutdown: Some(tx),
            server: Some(server),
            daemon_jobs,
            daemon_agent,
        }
    }

    pub async fn client(&self) -> KgentClient<Channel> {
        connect(&self.socket).await
    }

    /// What the daemon says about this host (fails the test if it does not answer).
    pub async fn host_info(&self) -> proto::HostInfoResponse {
        self.client()
            .await
            .host_info(proto::HostInfoRequest {})
            .await
            .expect("host_info: the daemon must answer")
            .into_inner()
    }

    /// Runs a past answer for `duration_s` seconds.
    pub async fn run_answer(
        &self,
        request_id: &str,
        duration_s: u32,
    ) -> Result<tonic::Streaming<proto::RunEvent>, tonic::Status> {
        Ok(self
            .client()
            .await
            .run(proto::RunRequest {
                program: Some(proto::run_request::Program::AnswerId(request_id.to_owned())),
                duration_s,
                ..Default::default()
            })
            .await?
            .into_inner())
    }

    /// Every recorded request, newest first.
    pub async fn requests(&self) -> Vec<proto::RequestSummary> {
        self.client()
            .await
            .list_requests(proto::ListRequestsRequest { limit: 0 })
            .await
            .expect("list_requests")
            .into_inner()
            .requests
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        let _ = std::fs::remove_dir(test_pin_root(self.dir.path()));
    }
}

pub async fn connect(socket: &Path) -> KgentClient<Channel> {
    let path = socket.to_path_buf();
    let channel = Endpoint::try_from("http://[::]:50051")
        .expect("endpoint")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
        .expect("connect to the test kgentd");
    KgentClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Every event of an Ask, or the status it failed with.
pub async fn ask_all(
    client: &mut KgentClient<Channel>,
    text: &str,
    max_iterations: u32,
) -> Result<Vec<AskEvent>, tonic::Status> {
    let mut stream = client
        .ask(AskRequest {
            text: text.into(),
            max_iterations,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut events = Vec::new();
    while let Some(ev) = stream.message().await? {
        events.push(ev);
    }
    Ok(events)
}

/// Reads a Run stream to its Finished event: the stdout lines and the Finished. `on_started`
/// runs once every probe is attached (where a test triggers what the program should see).
pub async fn run_until_finished(
    stream: &mut tonic::Streaming<proto::RunEvent>,
    on_started: impl FnOnce(&proto::Started),
) -> (Vec<String>, proto::Finished) {
    use proto::run_event::Event;
    let mut lines = Vec::new();
    let mut on_started = Some(on_started);
    loop {
        let ev = stream
            .message()
            .await
            .expect("stream")
            .expect("a Finished event before the end");
        match ev.event {
            Some(Event::Started(s)) => {
                if let Some(f) = on_started.take() {
                    f(&s);
                }
            }
            Some(Event::Line(l)) if !l.stderr => lines.push(l.text),
            Some(Event::Finished(f)) => return (lines, f),
            Some(Event::Line(_)) | None => {}
        }
    }
}

pub fn final_answer(events: &[AskEvent]) -> Option<&proto::Answer> {
    events.iter().find_map(|e| match &e.event {
        Some(ask_event::Event::Answer(a)) => Some(a),
        _ => None,
    })
}

pub fn final_no_answer(events: &[AskEvent]) -> Option<&proto::NoAnswer> {
    events.iter().find_map(|e| match &e.event {
        Some(ask_event::Event::NoAnswer(n)) => Some(n),
        _ => None,
    })
}

/// Loaded BPF programs as (id, name), from `bpftool prog show --json`.
pub fn loaded_progs() -> Vec<(u64, String)> {
    bpftool_list(&["prog", "show", "--json"])
        .iter()
        .filter_map(|p| Some((p.get("id")?.as_u64()?, p.get("name")?.as_str()?.to_owned())))
        .collect()
}

/// The program ids of the BPF links in the kernel, from `bpftool link show --json`.
pub fn link_prog_ids() -> Vec<u64> {
    bpftool_list(&["link", "show", "--json"])
        .iter()
        .filter_map(|l| l.get("prog_id")?.as_u64())
        .collect()
}

fn bpftool_list(args: &[&str]) -> Vec<serde_json::Value> {
    let out = std::process::Command::new("bpftool")
        .args(args)
        .output()
        .expect("bpftool (install it: bash setup.sh)");
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// Pids of bpftrace processes whose parent is this process.
pub fn bpftrace_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if comm == "bpftrace" && ppid == Some(me) {
            out.push(pid);
        }
    }
    out
}

/// A process's state letter from `/proc/PID/stat` (`Z` for a zombie), or `gone`.
pub fn process_state(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let close = stat.rfind(')')?;
            stat[close + 1..]
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "gone".to_owned())
}

/// Names of the BPF programs loaded in the kernel (from `bpftool prog show --json`).
pub fn loaded_prog_names() -> Vec<String> {
    let out = std::process::Command::new("bpftool")
        .args(["prog", "show", "--json"])
        .output()
        .expect("bpftool (install it: bash setup.sh)");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Path of a workspace binary (built by `cargo build --workspace --bins`).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build the workspace binaries first (cargo build --workspace --bins)",
        bin.display()
    );
    bin
}

/// The Python of the test clients' venv (grpcio, grpcio-reflection, grpcio-health-checking,
/// prometheus-client: `tests/python/requirements.txt`), made by `bash setup.sh`;
/// `$KGENT_TEST_PYTHON` names another.
pub fn test_python() -> PathBuf {
    let python = std::env::var_os("KGENT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/kgent/python-tests/bin/python3"));
    assert!(
        python.exists(),
        "{} is missing: `bash setup.sh --no-build` makes the test clients' venv \
         (tests/python/requirements.txt), or set KGENT_TEST_PYTHON",
        python.display()
    );
    python
}

/// A script of `tests/python/`.
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// An environment variable [`DaemonProcess`] gives kgentd, standing for an API key.
pub const DAEMON_SECRET_VAR: &str = "KGENT_TEST_API_KEY";
pub const DAEMON_SECRET: &str = "kt15-not-for-children";

/// The kgentd binary running as a process of its own in `dir` (socket, state, pin root, log
/// `kgentd.log`), with scripted model replies: for what an in-process daemon cannot show (a
/// kill -9, the daemon's memory).
pub struct DaemonProcess {
    pub child: std::process::Child,
    pub socket: PathBuf,
}

impl DaemonProcess {
    /// Starts kgentd with `replies` and `extra` appended to its configuration, and waits until
    /// it answers (built, and so reconciled).
    pub async fn start(dir: &Path, replies: &[&str], extra: &str) -> Self {
        Self::start_under(dir, replies, extra, &[]).await
    }

    /// [`DaemonProcess::start`] with kgentd run by `wrapper` (a command and its arguments,
    /// which must exec kgentd with the arguments that follow them).
    pub async fn start_under(dir: &Path, replies: &[&str], extra: &str, wrapper: &[&str]) -> Self {
        let config = dir.join("kgentd.toml");
        let replies_file = dir.join("replies.json");
        std::fs::write(
            &replies_file,
            serde_json::to_string(replies).expect("replies as JSON"),
        )
        .expect("replies");
        std::fs::write(
            &config,
            format!(
                "socket = {:?}\nstate_dir = {:?}\n{extra}\n[agent]\nexample_dirs = []\n[retrieval]\nembeddings = false\n[model]\nbackend = \"scripted\"\nscripted_replies = {:?}\n[jobs]\npin_root = {:?}\n",
                dir.join("kgent.sock"),
                dir.join("state"),
                replies_file,
                test_pin_root(dir)
            ),
        )
        .expect("config");
        let socket = dir.join("kgent.sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("kgentd.log"))
            .expect("log");
        let kgentd = workspace_bin("kgentd");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = std::process::Command::new(program);
                c.args(args).arg(&kgentd);
                c
            }
            None => std::process::Command::new(&kgentd),
        };
        let child = command
            .arg("--config")
            .arg(&config)
            // A secret in the daemon's environment, as from EnvironmentFile=: no child may see it.
            .env(DAEMON_SECRET_VAR, DAEMON_SECRET)
            .stderr(log)
            .spawn()
            .expect("kgentd");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let answered = match tokio::net::UnixStream::connect(&socket).await {
                Ok(_) => {
                    let mut c = connect(&socket).await;
                    c.host_info(proto::HostInfoRequest {}).await.is_ok()
                }
                Err(_) => false,
            };
            if answered {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kgentd did not start: {}",
                std::fs::read_to_string(dir.join("kgentd.log")).unwrap_or_default()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Self { child, socket }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn client(&self) -> KgentClient<Channel> {
        connect(&self.socket).await
    }

    /// SIGTERM (a graceful stop), then SIGKILL if it has not exited within 30 s.
    pub async fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and reaped.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies an executable for a test to run (as another user, from a directory it can reach).
/// `cp` writes it, not this process: a write descriptor opened here could be inherited by a
/// child another test forks at that moment, and exec would then fail with ETXTBSY.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success(), "cp {} {}", from.display(), to.display());
}

/// The uid and gid of `nobody`.
pub const NOBODY: &str = "65534";

/// kgentctl as nobody (through setpriv); async, so an in-process daemon keeps serving
/// meanwhile. The binary is copied beside the socket: the checkout itself may not be readable
/// by nobody.
pub async fn as_nobody(socket: &Path, args: &[&str]) -> std::process::Output {
    as_nobody_in_group(socket, NOBODY, args).await
}

/// [`as_nobody`] with primary group `gid` (roles map numeric gids).
pub async fn as_nobody_in_group(socket: &Path, gid: &str, args: &[&str]) -> std::process::Output {
    let dir = socket.parent().expect("socket dir");
    let ctl = dir.join("kgentctl");
    if !ctl.exists() {
        copy_executable(&workspace_bin("kgentctl"), &ctl);
    }
    tokio::process::Command::new("setpriv")
        .args(["--reuid", NOBODY, "--regid", gid, "--clear-groups"])
        .arg(&ctl)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .await
        .expect("setpriv (util-linux)")
}

/// Lets every local user reach `d`'s socket: the policy, not the file mode, then decides.
pub fn open_socket_to_everyone(d: &TestDaemon) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666))
        .expect("chmod socket");
}
