//! Runs whose client gives up at once (a Ctrl-C right after `kgentctl run` started) leave no
//! job slot taken, however many: each Run goes over the real socket to the real daemon and is
//! cancelled after a few hundred microseconds to a few milliseconds (before, during or after
//! bpftrace starts); afterwards the job table is empty and a full table's worth of jobs can
//! still start. `KGENT_CANCELLED_RUNS` sets how many (10,000 by default).
use std::time::{Duration, Instant};

use kgent_tests::{proto, TestDaemon, GOOD_OPENAT};

#[tokio::test]
async fn runs_cancelled_right_after_they_start_leave_no_slot_taken() {
    let runs: u32 = std::env::var("KGENT_CANCELLED_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut client = d.client().await;
    let request = proto::RunRequest {
        program: Some(proto::run_request::Program::Source(
            "tracepoint:syscalls:sys_enter_getppid { @ = count(); }\n".into(),
        )),
        duration_s: 30,
        ..Default::default()
    };
    let started = Instant::now();
    let mut reached_the_stream = 0;
    for i in 0..runs {
        // 0.2 to 5 ms: some never reach the daemon, some are cut while bpftrace starts.
        let cut = Duration::from_micros(200 + u64::from(i % 25) * 200);
        let run = tokio::time::timeout(cut, client.run(request.clone())).await;
        if let Ok(Ok(stream)) = run {
            reached_the_stream += 1;
            drop(stream);
        }
    }
    eprintln!(
        "{runs} runs cancelled in {} s ({reached_the_stream} got their stream first)",
        started.elapsed().as_secs()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.daemon_jobs.running_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} slots still taken after {runs} cancelled runs",
            d.daemon_jobs.running_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A SIGKILLed bpftrace takes a moment to close its probes and be reaped.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kgent_tests::bpftrace_children().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left: Vec<(u32, String)> = kgent_tests::bpftrace_children()
        .into_iter()
        .map(|pid| (pid, kgent_tests::process_state(pid)))
        .collect();
    assert_eq!(
        left,
        Vec::new(),
        "bpftrace (pid, state) outlived its cancelled run by 10 s"
    );
    // Every slot is free: the table fills up to its limit again.
    let mut streams = Vec::new();
    for _ in 0..kgentd::config::LimitsConfig::default().max_running_jobs {
        let mut stream = client
            .run(request.clone())
            .await
            .expect("a free slot")
            .into_inner();
        loop {
            match stream
                .message()
                .await
                .expect("stream")
                .expect("event")
                .event
            {
                Some(proto::run_event::Event::Started(_)) => break,
                Some(proto::run_event::Event::Finished(f)) => panic!("ended early: {f:?}"),
                _ => {}
            }
        }
        streams.push(stream);
    }
    drop(streams);
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.daemon_jobs.running_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.stop().await;
}
