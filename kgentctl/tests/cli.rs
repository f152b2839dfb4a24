//! kgentctl against a scripted kgentd on a private Unix socket: what a user sees (stdout,
//! stderr, exit status) for each subcommand, and the eval harness's order of events (trigger only
//! after attach, graceful stop, output gathered until Finished).
//!
//! The fake daemon models one thing about the kernel that matters here: events that happen
//! before the program is attached are not seen. Its Run forgets the trigger's marker file when it
//! attaches and reports the file's content only when stopped, as bpftrace prints maps on exit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kgent_proto::v1::kgent_server::{Kgent, KgentServer};
use kgent_proto::v1::{
    ask_event, run_event, run_request, Answer, AskEvent, AskRequest, AttachFamily, Candidate,
    CheckResult, Finished, GetRequestRequest, HostInfoRequest, HostInfoResponse,
    ListRequestsRequest, ListRequestsResponse, NoAnswer, OutputLine, Progress, RequestRecord,
    RequestSummary, RunEvent, RunRequest, Started, StopRequest, StopResponse, TranscriptEntry,
    Usage,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, Notify};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

struct FakeKgentd {
    marker: PathBuf,
    jobs: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    next_job: AtomicU32,
}

fn check(name: &str, passed: bool, detail: &str) -> CheckResult {
    CheckResult {
        iteration: 1,
        name: name.into(),
        passed,
        detail: detail.into(),
        elapsed_ms: 40,
    }
}

fn ask_event(event: ask_event::Event) -> Result<AskEvent, Status> {
    Ok(AskEvent { event: Some(event) })
}

#[tonic::async_trait]
impl Kgent for FakeKgentd {
    type AskStream = EventStream<AskEvent>;
    type RunStream = EventStream<RunEvent>;

    async fn ask(&self, request: Request<AskRequest>) -> Result<Response<Self::AskStream>, Status> {
        let text = request.into_inner().text;
        if text.contains("forbidden") {
            return Err(Status::permission_denied("uid 1000 may not ask"));
        }
        let usage = Some(Usage {
            prompt_tokens: 1200,
            completion_tokens: 80,
        });
        let mut events = vec![
            ask_event(ask_event::Event::Progress(Progress {
                stage: "grounding".into(),
                detail: "3 attach points".into(),
                iteration: 0,
                elapsed_ms: 120,
            })),
            ask_event(ask_event::Event::Candidate(Candidate {
                iteration: 1,
                source: "tracepoint:syscalls:sys_enter_unlinkat { }".into(),
            })),
        ];
        if text.contains("impossible") {
            events.push(ask_event(ask_event::Event::Check(check(
                "attach",
                false,
                "hardware:cache-misses: no PMU on this host",
            ))));
            events.push(ask_event(ask_event::Event::NoAnswer(NoAnswer {
                request_id: "req-none".into(),
                reason: "this VM exposes no hardware counters".into(),
                last_checks: vec![check("attach", false, "no PMU\nsecond line")],
                iterations: 1,
                usage,
                wall_ms: 900,
            })));
        } else {
            events.push(ask_event(ask_event::Event::Check(check(
                "load",
                true,
                "verifier accepted 2 programs",
            ))));
            events.push(ask_event(ask_event::Event::Answer(Answer {
                request_id: "req-1".into(),
                program: "tracepoint:syscalls:sys_enter_unlinkat { @[comm] = count(); }\n".into(),
                target: 1,
                explanation: "counts unlinks per process".into(),
                checks: vec![check("load", true, "verifier accepted 2 programs")],
                iterations: 1,
                usage,
                wall_ms: 1500,
            })));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn run(&self, request: Request<RunRequest>) -> Result<Response<Self::RunStream>, Status> {
        let request = request.into_inner();
        let crash = match &request.program {
            Some(run_request::Program::Source(source)) => source.contains("crash"),
            Some(run_request::Program::AnswerId(id)) if id == "req-1" => false,
            _ => return Err(Status::not_found("no such answer")),
        };
        let job_id = format!("job-{}", self.next_job.fetch_add(1, Ordering::SeqCst));
        let stop = Arc::new(Notify::new());
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(job_id.clone(), stop.clone());
        }
        let (sender, receiver) = mpsc::channel(16);
        let marker = self.marker.clone();
        let duration = Duration::from_secs(request.duration_s.into());
        tokio::spawn(async move {
            let send = |event| {
                let sender = sender.clone();
                async move {
                    sender
                        .send(Ok(RunEvent { event: Some(event) }))
                        .await
                        .is_ok()
                }
            };
            let line = |text: &str, stderr| {
                run_event::Event::Line(OutputLine {
                    text: text.into(),
                    stderr,
                })
            };
            // Attaching takes a while, and nothing before it is seen.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = std::fs::remove_file(&marker);
            send(line("Attaching 2 probes...", true)).await;
            send(run_event::Event::Started(Started { job_id, probes: 2 })).await;
            if crash {
                send(line("ERROR: map lookup failed", true)).await;
                send(run_event::Event::Finished(Finished {
                    exit_code: 1,
                    reason: "bpftrace exited with status 1".into(),
                }))
                .await;
                return;
            }
            send(line("tick", false)).await;
            if duration.is_zero() {
                stop.notified().await;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(duration) => {}
                    _ = stop.notified() => {}
                }
            }
            let seen = std::fs::read_to_string(&marker).unwrap_or_default();
            send(line("", false)).await;
            send(line(&format!("@seen: {}", seen.trim()), false)).await;
            send(run_event::Event::Finished(Finished {
                exit_code: 0,
                reason: String::new(),
            }))
            .await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn stop(&self, request: Request<StopRequest>) -> Result<Response<StopResponse>, Status> {
        let job_id = request.into_inner().job_id;
        let stop = self
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.get(&job_id).cloned());
        match stop {
            Some(stop) => {
                stop.notify_one();
                Ok(Response::new(StopResponse {}))
            }
            None => Err(Status::not_found(format!("no job {job_id}"))),
        }
    }

    async fn list_requests(
        &self,
        _: Request<ListRequestsRequest>,
    ) -> Result<Response<ListRequestsResponse>, Status> {
        Ok(Response::new(ListRequestsResponse {
            requests: vec![summary()],
        }))
    }

    async fn get_request(
        &self,
        request: Request<GetRequestRequest>,
    ) -> Result<Response<RequestRecord>, Status> {
        if request.into_inner().id != "req-1" {
            return Err(Status::not_found("no request with that id"));
        }
        Ok(Response::new(RequestRecord {
            summary: Some(summary()),
            transcript: vec![TranscriptEntry {
                kind: "reply".into(),
                iteration: 1,
                text: "tracepoint:syscalls:sys_enter_unlinkat { }".into(),
                at_ms: 700,
            }],
            program: "tracepoint:syscalls:sys_enter_unlinkat { }".into(),
            outcome: "answered".into(),
            usage: None,
        }))
    }

    async fn host_info(
        &self,
        _: Request<HostInfoRequest>,
    ) -> Result<Response<HostInfoResponse>, Status> {
        Ok(Response::new(HostInfoResponse {
            kernel_release: "6.18.0-test".into(),
            btf: true,
            families: vec![AttachFamily {
                name: "kprobe".into(),
                available: false,
                reason: "CONFIG_KPROBES unset".into(),
            }],
            model_backend: "scripted".into(),
            model: "fake".into(),
            model_loaded: true,
            tracepoints: 1800,
            bpftrace_version: "v0.17.0".into(),
        }))
    }
}

fn summary() -> RequestSummary {
    RequestSummary {
        id: "req-1".into(),
        text: "count unlinks".into(),
        state: "answered".into(),
        caller_uid: 1000,
        created_unix_ms: 1_700_000_000_000,
        wall_ms: 1500,
        iterations: 1,
    }
}

/// A fake kgentd serving on a socket in a fresh directory.
struct Daemon {
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("temporary directory");
        let listener = UnixListener::bind(dir.path().join("kgent.sock")).expect("bind socket");
        let fake = FakeKgentd {
            marker: dir.path().join("marker"),
            jobs: Arc::default(),
            next_job: AtomicU32::new(1),
        };
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(KgentServer::new(fake))
                .serve_with_incoming(UnixListenerStream::new(listener)),
        );
        Daemon { dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("kgent.sock")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kgentctl"));
        command.arg("--socket").arg(self.socket()).args(args);
        command.kill_on_drop(true);
        command
    }

    async fn kgentctl(&self, args: &[&str]) -> Output {
        tokio::time::timeout(Duration::from_secs(60), self.command(args).output())
            .await
            .expect("kgentctl finished in time")
            .expect("kgentctl ran")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn ask_prints_the_program_on_stdout_and_progress_on_stderr() {
    let daemon = Daemon::start();
    let output = daemon.kgentctl(&["ask", "count unlinks"]).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "tracepoint:syscalls:sys_enter_unlinkat { @[comm] = count(); }\n"
    );
    assert!(stderr.contains("grounding: 3 attach points"), "{stderr}");
    assert!(stderr.contains("candidate 1"), "{stderr}");
    assert!(
        stderr.contains("✓ load: verifier accepted 2 programs"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 iteration, 1200 tokens in / 80 out, 1.5 s"),
        "{stderr}"
    );
}

#[tokio::test]
async fn ask_without_an_answer_exits_3_with_the_reason() {
    let daemon = Daemon::start();
    let output = daemon.kgentctl(&["ask", "impossible cache misses"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("reason: this VM exposes no hardware counters"),
        "{stderr}"
    );
    assert!(stderr.contains("✗ attach: no PMU"), "{stderr}");
}

#[tokio::test]
async fn ask_json_carries_the_answer_and_the_events() {
    let daemon = Daemon::start();
    let output = daemon.kgentctl(&["ask", "--json", "count unlinks"]).await;
    assert_eq!(output.status.code(), Some(0));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(document["outcome"], "answer");
    assert_eq!(document["answer"]["request_id"], "req-1");
    assert_eq!(document["answer"]["target"], "bpftrace");
    assert_eq!(document["answer"]["usage"]["prompt_tokens"], 1200);
    assert_eq!(document["events"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn refusals_exit_5_and_an_absent_daemon_exits_4() {
    let daemon = Daemon::start();
    let output = daemon.kgentctl(&["ask", "forbidden thing"]).await;
    assert_eq!(output.status.code(), Some(5));
    assert!(text(&output.stderr).contains("permission denied: uid 1000 may not ask"));

    let output = daemon.kgentctl(&["history", "req-404"]).await;
    assert_eq!(output.status.code(), Some(5));
    assert!(text(&output.stderr).contains("not found: no request with that id"));

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kgentctl"))
        .args(["--socket", "/nonexistent/kgent.sock", "host"])
        .output()
        .await
        .expect("kgentctl ran");
    assert_eq!(output.status.code(), Some(4));
    assert!(text(&output.stderr).contains("sudo kgentd"));
}

#[tokio::test]
async fn run_streams_output_until_the_duration_ends() {
    let daemon = Daemon::start();
    let program = daemon.path("trace.bt");
    std::fs::write(&program, "tracepoint:syscalls:sys_enter_openat { }").expect("write program");
    let program = program.to_string_lossy().into_owned();
    let output = daemon.kgentctl(&["run", &program, "--duration", "1"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(text(&output.stdout), "tick\n\n@seen: \n");
    assert!(stderr.contains("Attaching 2 probes..."), "{stderr}");
    assert!(stderr.contains("attached 2 probes (job job-1)"), "{stderr}");
}

#[tokio::test]
async fn run_reports_a_crash_with_exit_1() {
    let daemon = Daemon::start();
    let mut command = daemon.command(&["run", "-"]);
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kgentctl started");
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        stdin
            .write_all(b"BEGIN { crash }")
            .await
            .expect("program written");
    }
    let output = child.wait_with_output().await.expect("kgentctl ran");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ERROR: map lookup failed"), "{stderr}");
    assert!(
        stderr.contains("exited with status 1: bpftrace exited with status 1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_gracefully_and_shows_the_final_output() {
    let daemon = Daemon::start();
    let marker = daemon.path("marker");
    let mut command = daemon.command(&["ask", "--run", "count unlinks"]);
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kgentctl started");
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    while let Some(line) = lines.next_line().await.expect("stderr readable") {
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("attached ") {
            break;
        }
    }
    assert!(seen.contains("attached 2 probes"), "{seen}");
    std::fs::write(&marker, "after-attach").expect("marker written");
    let pid = child.id().expect("kgentctl running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT sent");
    let rest = tokio::spawn(async move {
        let mut rest = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    });
    let output = child.wait_with_output().await.expect("kgentctl ran");
    let rest = rest.await.expect("stderr read");
    assert_eq!(output.status.code(), Some(0), "{rest}");
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("tracepoint:"), "{stdout}");
    assert!(
        stdout.ends_with("tick\n\n@seen: after-attach\n"),
        "{stdout}"
    );
    assert!(rest.contains("stopping job job-1"), "{rest}");
}

#[tokio::test]
async fn history_and_host_show_what_kgentd_knows() {
    let daemon = Daemon::start();
    let output = daemon.kgentctl(&["history"]).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout.contains("req-1  2023-11-14T22:13:20Z  answered"),
        "{stdout}"
    );
    assert!(stdout.contains("count unlinks"), "{stdout}");

    let output = daemon.kgentctl(&["history", "req-1"]).await;
    let stdout = text(&output.stdout);
    assert!(stdout.contains("── reply · iteration 1"), "{stdout}");

    let output = daemon.kgentctl(&["host"]).await;
    let stdout = text(&output.stdout);
    assert!(stdout.contains("kernel       6.18.0-test"), "{stdout}");
    assert!(
        stdout.contains("kprobe  no   CONFIG_KPROBES unset"),
        "{stdout}"
    );
}

fn write_tasks(daemon: &Daemon) -> PathBuf {
    let marker = daemon.path("marker");
    let tasks = format!(
        r#"
[[task]]
id = "sees-trigger"
prompt = "count unlinks"
feasible = true
trigger = "echo kgentdevdel > {marker}"
settle_s = 0.2
expect = ['@seen: kgentdevdel']
reject = ['0x[0-9a-f]+']
reference = "not even parsed: {{{{"

[[task]]
id = "pmu"
prompt = "impossible: cache misses per process"
feasible = false
why_infeasible = "no hardware counters"
trigger = "true"
settle_s = 0

[[task]]
id = "wrong-output"
prompt = "count unlinks"
feasible = true
trigger = "echo something-else > {marker}"
expect = ['kgentdevdel']

[[task]]
id = "gave-up"
prompt = "impossible but feasible"
feasible = true
"#,
        marker = marker.display()
    );
    let path = daemon.path("tasks.toml");
    std::fs::write(&path, tasks).expect("tasks written");
    path
}

#[tokio::test]
async fn eval_scores_each_task_after_a_real_trigger_window() {
    let daemon = Daemon::start();
    let tasks = write_tasks(&daemon);
    let results = daemon.path("results.json");
    let output = daemon
        .kgentctl(&[
            "eval",
            &tasks.to_string_lossy(),
            "--json",
            &results.to_string_lossy(),
        ])
        .await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert!(
        rows[1].starts_with("sees-trigger  correct "),
        "{stdout}\n{stderr}"
    );
    assert!(rows[2].starts_with("pmu           correct "), "{stdout}");
    assert!(rows[3].starts_with("wrong-output  FP "), "{stdout}");
    assert!(
        rows[3].contains("expected /kgentdevdel/ not in output"),
        "{stdout}"
    );
    assert!(rows[4].starts_with("gave-up       FN "), "{stdout}");
    assert!(
        stdout.contains("4 tasks: A 0.500 (2/4)  FP 0.250 (1/4)  FN 0.250 (1/4)"),
        "{stdout}"
    );

    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results written"))
            .expect("results are JSON");
    let first = &document["tasks"][0];
    assert_eq!(first["verdict"], "correct");
    assert_eq!(first["run"]["output"][2], "@seen: kgentdevdel");
    assert_eq!(first["run"]["exit_code"], 0);
    assert_eq!(
        document["tasks"][1]["no_answer_reason"],
        "this VM exposes no hardware counters"
    );
    assert_eq!(document["totals"]["a"], 0.5);
    assert_eq!(document["host"]["kernel_release"], "6.18.0-test");
}

#[tokio::test]
async fn eval_only_runs_the_named_tasks() {
    let daemon = Daemon::start();
    let tasks = write_tasks(&daemon);
    let output = daemon
        .kgentctl(&["eval", &tasks.to_string_lossy(), "--only", "pmu"])
        .await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout.contains("1 task: A 1.000 (1/1)"), "{stdout}");
}
