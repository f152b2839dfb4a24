//! Output and resource caps on the real kernel with real bpftrace: a program printing without a
//! newline at full speed keeps kgentd's memory bounded (lines are cut at a cap), a detached
//! job's log is rotated at its size cap and its lines are held to the rate limit, and a C
//! program whose maps declare more than the map budget is refused before anything loads, both
//! as a run and as a model's candidate in the load check.
use std::time::{Duration, Instant};

use kgent_tests::{loaded_progs, proto, DaemonProcess, TestDaemon};
use proto::run_event::Event;

/// A field of /proc/PID/status, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Bytes the process has read (pipes included), from /proc/PID/io.
fn bytes_read(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Calls getppid in a loop until the returned flag is set.
fn getppid_storm() -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            for _ in 0..1000 {
                nix::unistd::getppid();
            }
        }
    });
    (stop, thread)
}

#[tokio::test]
async fn printing_without_a_newline_at_full_speed_keeps_kgentd_s_memory_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = DaemonProcess::start(dir.path(), &["unused"], "").await;
    let pid = d.pid();
    let source = format!(
        "tracepoint:syscalls:sys_enter_getppid {{ printf(\"{}\"); }}\n",
        "x".repeat(200)
    );
    let mut stream = d
        .client()
        .await
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(source)),
            duration_s: 14,
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    loop {
        match stream
            .message()
            .await
            .expect("stream")
            .expect("event")
            .event
        {
            Some(Event::Started(_)) => break,
            Some(Event::Finished(f)) => panic!("ended before it started: {f:?}"),
            _ => {}
        }
    }
    let (stop, storm) = getppid_storm();
    let reader = tokio::spawn(async move {
        let mut cut = 0;
        while let Ok(Some(ev)) = stream.message().await {
            if let Some(Event::Line(l)) = ev.event {
                assert!(l.text.len() < 17 * 1024, "a line longer than the cap");
                cut += usize::from(l.text.contains("line cut at"));
            }
        }
        cut
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_start, read_start) = (status_kb(pid, "VmRSS:"), bytes_read(pid));
    let mut rss_max = rss_start;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rss_max = rss_max.max(status_kb(pid, "VmRSS:"));
    }
    let read = bytes_read(pid) - read_start;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = storm.join();
    let cut = reader.await.expect("reader");
    let grew_kb = rss_max.saturating_sub(rss_start);
    eprintln!(
        "kgentd read {} MiB in 10 s; RSS {rss_start} kB → at most {rss_max} kB",
        read >> 20
    );
    assert!(cut > 0, "the endless line was cut and said so");
    assert!(
        read > 80 << 20,
        "bpftrace printed only {} MiB: too little to tell a bounded buffer from an unbounded one",
        read >> 20
    );
    assert!(
        grew_kb < 48 * 1024,
        "kgentd's RSS grew by {grew_kb} kB while it read {} MiB of one line",
        read >> 20
    );
    d.stop().await;
}

#[tokio::test]
async fn a_detached_job_s_log_is_rotated_at_its_cap_and_its_lines_held_to_the_rate_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    // At the capped rate of 50 lines/s of 101 bytes, 16 KiB fills in about 3 s: the 6 s run
    // rotates its log, and the two files kept span over 3 s, each second of which drops lines
    // (the probe fires 1000 times a second, far more even on a busy machine) and says so once.
    // (8 KiB, 1.6 s a file, left too little margin on a loaded CI machine, where bpftrace's
    // lines reach kgentd in bursts.)
    let cap = 16 * 1024;
    let d = DaemonProcess::start(
        dir.path(),
        &["unused"],
        &format!("[limits]\nmax_job_log_bytes = {cap}\n"),
    )
    .await;
    let mut client = d.client().await;
    let source = format!("interval:ms:1 {{ printf(\"{}\\n\"); }}\n", "y".repeat(100));
    let mut stream = client
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(source)),
            duration_s: 6,
            detach: true,
            max_events_per_s: 50,
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    let job_id = loop {
        match stream
            .message()
            .await
            .expect("stream")
            .expect("event")
            .event
        {
            Some(Event::Started(s)) => break s.job_id,
            Some(Event::Finished(f)) => panic!("ended before it started: {f:?}"),
            _ => {}
        }
    };
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let jobs = client
            .list_jobs(proto::ListJobsRequest { limit: 0 })
            .await
            .expect("jobs")
            .into_inner()
            .jobs;
        let job = jobs.into_iter().find(|j| j.id == job_id).expect("the job");
        if job.state == "ended" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let log = std::fs::read_to_string(&job.log_path).expect("the log");
    let rotated = std::fs::read_to_string(format!("{}.1", job.log_path)).expect("the rotated log");
    assert!(
        log.len() as u64 <= cap && rotated.len() as u64 <= cap,
        "{} and {} bytes",
        log.len(),
        rotated.len()
    );
    assert!(
        log.contains("finished:"),
        "the current log ends with the job"
    );
    let both = format!("{rotated}{log}");
    assert!(
        both.contains("lines dropped (over the limit of 50 lines/s"),
        "the rate limit says what it dropped; the logs kept, but the printed lines:\n{}",
        both.lines()
            .filter(|l| !l.starts_with("yyyy"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let lines = both.lines().filter(|l| l.starts_with("yyyy")).count();
    // At most 50 a second over 6 s (the rotated-away part is gone, so fewer is fine).
    assert!(lines <= 50 * 7, "{lines} lines passed a limit of 50/s");
    d.stop().await;
}

/// A hash map of 2^20 entries of 4 + 8 bytes: 12 MiB declared.
const BIG_MAP_C: &str = r#"
#include "vmlinux.h"
#include "kgent.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1 << 20);
    __type(key, u32);
    __type(value, u64);
} kt15_big SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int kt15_budget(void *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = 1;
    bpf_map_update_elem(&kt15_big, &pid, &one, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

#[tokio::test]
async fn a_c_program_over_the_map_budget_is_refused_before_it_loads() {
    let backend = std::sync::Arc::new(
        kgentd::llm::ScriptedBackend::new("test script", vec!["unused".into()]).expect("replies"),
    );
    let d = TestDaemon::with_backend(backend, |c| c.limits.max_map_bytes = 4 << 20).await;
    let refused = d
        .client()
        .await
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(BIG_MAP_C.into())),
            target: proto::Target::C as i32,
            duration_s: 2,
            ..Default::default()
        })
        .await;
    let status = match refused {
        Ok(_) => panic!("a program over the map budget was started"),
        Err(s) => s,
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("limits.max_map_bytes"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("kt15_big 12288 KiB"),
        "{}",
        status.message()
    );
    assert!(!loaded_progs().iter().any(|(_, n)| n == "kt15_budget"));
    // Within the budget, the same program runs.
    let small = BIG_MAP_C.replace("1 << 20", "1 << 10");
    let mut stream = d
        .client()
        .await
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(small)),
            target: proto::Target::C as i32,
            duration_s: 1,
            ..Default::default()
        })
        .await
        .expect("within the budget")
        .into_inner();
    let (_, finished) = kgent_tests::run_until_finished(&mut stream, |_| {}).await;
    assert!(finished.reason.contains("duration"), "{finished:?}");
    d.stop().await;
}

#[tokio::test]
async fn a_candidate_over_the_map_budget_fails_its_load_check_unloaded_with_the_reason() {
    // Its own program name: the test beside it runs the within-budget copy
    // of BIG_MAP_C, which must not be mistaken for this candidate.
    let candidate = BIG_MAP_C.replace("kt15_budget", "kt15_ask_budget");
    let answer = format!("```c{candidate}```\nCounts getppid calls per process.");
    let backend = std::sync::Arc::new(
        kgentd::llm::ScriptedBackend::new("test script", vec![answer]).expect("replies"),
    );
    let d = TestDaemon::with_backend(backend, |c| c.limits.max_map_bytes = 4 << 20).await;
    let mut stream = d
        .client()
        .await
        .ask(proto::AskRequest {
            text: "count getppid calls per process".into(),
            target: proto::Target::C as i32,
            max_iterations: 1,
            skip_smoke_run: true,
            ..Default::default()
        })
        .await
        .expect("ask")
        .into_inner();
    let mut load = None;
    while let Some(ev) = stream.message().await.expect("stream") {
        if let Some(proto::ask_event::Event::Check(c)) = ev.event {
            if c.name == "verifier-load" {
                load = Some(c);
            }
        }
        assert!(
            !loaded_progs().iter().any(|(_, n)| n == "kt15_ask_budget"),
            "the candidate was loaded"
        );
    }
    let load = load.expect("a verifier-load check");
    assert!(!load.passed);
    assert!(
        load.detail.contains("limits.max_map_bytes") && load.detail.contains("kt15_big"),
        "{}",
        load.detail
    );
    d.stop().await;
}
