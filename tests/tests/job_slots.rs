//! Job slots are never leaked: a start whose caller goes away at any await (the RPC future
//! dropped: a client's Ctrl-C during the load) frees its slot, and the program with it. Real
//! bpftrace, real kernel; the starts are cut short at every point from before the spawn to
//! after the job is live.
use std::time::Duration;

use kgent_tests::{TestDaemon, GOOD_OPENAT};
use kgentd::authz::Role;
use kgentd::exec::{JobSpec, JobTarget};

#[tokio::test]
async fn starts_cut_short_anywhere_leave_no_slot_taken() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut completed = 0;
    for step in 0..40u64 {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let spec = JobSpec {
            source: "tracepoint:syscalls:sys_enter_getppid { @ = count(); }".into(),
            target: JobTarget::Bpftrace,
            owner_uid: 4242,
            duration: Some(Duration::from_secs(30)),
            detach: false,
            attach: Default::default(),
            max_events_per_s: 0,
            role: Role::Admin,
        };
        // 0 to 78 ms, densest where the spawn, the admission and the record happen.
        let cut = Duration::from_micros(step * step * 50);
        if let Ok(started) = tokio::time::timeout(cut, d.daemon_jobs.start(spec, tx)).await {
            started.expect("a start that finishes succeeds");
            completed += 1;
        }
        // The client goes away: a started job ends within a second, and frees its slot
        // before the next start (so a busy machine never fills every slot at once).
        drop(rx);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while d.daemon_jobs.running_count() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            d.daemon_jobs.running_count(),
            0,
            "the slot of start {step} is freed"
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while d.daemon_jobs.running_count() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        d.daemon_jobs.running_count(),
        0,
        "every slot is freed ({completed} of 40 starts completed)"
    );
    assert!(
        completed > 0,
        "some starts completed: the cuts reached past the admission"
    );
    d.stop().await;
}
