//! Running programs: output streams live, a duration ends a run, Stop ends it gracefully (maps
//! printed), and a client that disappears takes its program with it within a second.
//! Tests here share the kernel's view of loaded programs, so they run one at a time.
use std::process::Stdio;
use std::time::{Duration, Instant};

use kgent_tests::{
    ask_all, bpftrace_children, final_answer, loaded_prog_names, proto, run_until_finished,
    workspace_bin, TestDaemon, GOOD_OPENAT,
};
use proto::run_event::Event;
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

#[tokio::test]
async fn output_streams_and_the_duration_ends_the_run() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let src = "tracepoint:syscalls:sys_enter_getppid /pid == $1/ { printf(\"getppid from %d\\n\", pid); }\n"
        .replace("$1", &std::process::id().to_string());
    let mut stream = d
        .client()
        .await
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(src)),
            duration_s: 2,
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    let started = Instant::now();
    let (lines, fin) = run_until_finished(&mut stream, |s| {
        assert!(s.probes >= 1);
        for _ in 0..3 {
            nix::unistd::getppid();
        }
    })
    .await;
    let want = format!("getppid from {}", std::process::id());
    assert_eq!(lines.iter().filter(|l| **l == want).count(), 3, "{lines:?}");
    assert_eq!(fin.exit_code, 0);
    assert_eq!(fin.reason, "the duration ended");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(bpftrace_children().is_empty());
    d.stop().await;
}

#[tokio::test]
async fn stop_is_graceful_and_maps_are_printed() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let me = std::process::id();
    let src = format!(
        "tracepoint:syscalls:sys_enter_getpgid /pid == {me}/ {{ @calls[pid] = count(); }}\n"
    );
    let mut client = d.client().await;
    let mut stream = client
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(src)),
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    // Wait for Started, trigger, then Stop.
    let job = loop {
        match stream
            .message()
            .await
            .expect("stream")
            .expect("event")
            .event
        {
            Some(Event::Started(s)) => break s.job_id,
            Some(Event::Finished(f)) => panic!("ended early: {f:?}"),
            _ => {}
        }
    };
    for _ in 0..5 {
        let _ = nix::unistd::getpgid(None);
    }
    client
        .stop(proto::StopRequest {
            job_id: job.clone(),
        })
        .await
        .expect("stop");
    let (lines, fin) = run_until_finished(&mut stream, |_| {}).await;
    assert!(
        lines.iter().any(|l| l.trim() == format!("@calls[{me}]: 5")),
        "{lines:?}"
    );
    assert_eq!(fin.reason, "stopped on request");
    let err = client
        .stop(proto::StopRequest { job_id: job })
        .await
        .expect_err("gone");
    assert_eq!(err.code(), tonic::Code::NotFound);
    d.stop().await;
}

#[tokio::test]
async fn a_client_killed_mid_run_takes_its_program_with_it_within_a_second() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("p.bt");
    std::fs::write(
        &file,
        "tracepoint:syscalls:sys_enter_getsid { printf(\"%d\\n\", pid); }\n",
    )
    .expect("write");
    let prog_name = "sys_enter_getsi"; // the kernel keeps 15 characters of a program's name
    assert!(
        !loaded_prog_names().iter().any(|n| n == prog_name),
        "left over from an earlier run"
    );
    let mut ctl = tokio::process::Command::new(workspace_bin("kgentctl"))
        .arg("--socket")
        .arg(&d.socket)
        .arg("run")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kgentctl");
    // Wait until the program is in the kernel.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !loaded_prog_names().iter().any(|n| n == prog_name) {
        assert!(Instant::now() < deadline, "the program never loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bpftrace_children().len(), 1);
    ctl.start_kill().expect("kill -9 kgentctl");
    let _ = ctl.wait().await;
    let killed = Instant::now();
    while !bpftrace_children().is_empty() || loaded_prog_names().iter().any(|n| n == prog_name) {
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "the program outlived its client by more than 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "program gone {} ms after the client was killed",
        killed.elapsed().as_millis()
    );
    assert_eq!(d.daemon_jobs.running_count(), 0);
    d.stop().await;
}

#[tokio::test]
async fn answers_run_by_id_and_failed_requests_cannot_be_run() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "print every file that gets opened",
        2,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).expect("answer");
    let mut stream = d.run_answer(&answer.request_id, 1).await.expect("run");
    let (_, fin) = run_until_finished(&mut stream, |_| {}).await;
    assert_eq!(fin.exit_code, 0, "{fin:?}");
    let err = d.run_answer("nope", 0).await.expect_err("unknown id");
    assert_eq!(err.code(), tonic::Code::NotFound);
    d.stop().await;
}

#[tokio::test]
async fn shutting_the_daemon_down_kills_running_programs() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut stream = d
        .client()
        .await
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(
                "tracepoint:syscalls:sys_enter_getpgrp { @n = count(); }\n".into(),
            )),
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    while !matches!(
        stream
            .message()
            .await
            .expect("stream")
            .expect("event")
            .event,
        Some(Event::Started(_))
    ) {}
    assert_eq!(bpftrace_children().len(), 1);
    drop(stream);
    d.stop().await;
    let t = Instant::now();
    while !bpftrace_children().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "bpftrace outlived the daemon"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
