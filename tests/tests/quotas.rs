//! Per-uid quotas: one uid below the admin role cannot take every job slot or every ask slot;
//! past its quota it gets ResourceExhausted naming the quota, and admins are exempt. Real
//! bpftrace, real kernel, a real non-root client for the asks.
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use kgent_tests::{workspace_bin, TestDaemon, GOOD_OPENAT};
use kgentd::authz::Role;
use kgentd::exec::{JobSpec, JobTarget};

fn spec(owner_uid: u32, role: Role) -> JobSpec {
    JobSpec {
        source: "tracepoint:syscalls:sys_enter_getppid { @ = count(); }".into(),
        target: JobTarget::Bpftrace,
        owner_uid,
        duration: Some(Duration::from_secs(30)),
        detach: false,
        attach: Default::default(),
        max_events_per_s: 0,
        role,
    }
}

#[tokio::test]
async fn a_uid_past_its_job_quota_is_refused_naming_it_and_others_still_run() {
    let d = TestDaemon::with_backend(
        std::sync::Arc::new(
            kgentd::llm::ScriptedBackend::new("quota", vec![GOOD_OPENAT.to_owned()])
                .expect("replies"),
        ),
        |cfg| cfg.limits.max_jobs_per_uid = 2,
    )
    .await;
    let mut keep = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        d.daemon_jobs
            .start(spec(4242, Role::Operator), tx)
            .await
            .expect("within the quota");
        keep.push(rx);
    }
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let err = d
        .daemon_jobs
        .start(spec(4242, Role::Operator), tx)
        .await
        .expect_err("past the quota");
    assert!(
        matches!(err, kgentd::error::KgentError::ResourceExhausted(_)),
        "{err}"
    );
    assert!(err.to_string().contains("limits.max_jobs_per_uid"), "{err}");
    drop(rx);
    // Another uid, and an admin, still get slots.
    for (uid, role) in [(4243, Role::Operator), (0, Role::Admin), (0, Role::Admin)] {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        d.daemon_jobs
            .start(spec(uid, role), tx)
            .await
            .expect("not starved by uid 4242");
        keep.push(rx);
    }
    drop(keep);
    d.stop().await;
}

#[tokio::test]
async fn concurrent_asks_past_a_uids_quota_are_refused_naming_it() {
    let d = TestDaemon::with_backend(
        std::sync::Arc::new(
            kgentd::llm::ScriptedBackend::new("quota", vec![GOOD_OPENAT.to_owned()])
                .expect("replies"),
        ),
        |cfg| cfg.limits.max_asks_per_uid = 1,
    )
    .await;
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666))
        .expect("chmod socket");
    let ctl = d.dir.path().join("kgentctl");
    kgent_tests::copy_executable(&workspace_bin("kgentctl"), &ctl);
    // Each ask holds its slot through a real bpftrace load check (hundreds of ms): six at once
    // from one uid overlap.
    let asks: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = tokio::process::Command::new("setpriv");
            cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
                .arg(&ctl)
                .arg("--socket")
                .arg(&d.socket)
                .args([
                    "ask",
                    "--no-smoke-run",
                    "--max-iterations",
                    "1",
                    "show opened files",
                ]);
            tokio::spawn(cmd.output())
        })
        .collect();
    let mut answered = 0;
    let mut refused = 0;
    for ask in asks {
        let out = ask.await.expect("joined").expect("setpriv");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            answered += 1;
        } else {
            assert!(stderr.contains("limits.max_asks_per_uid"), "{stderr}");
            refused += 1;
        }
    }
    assert!(answered >= 1, "nobody is starved: {answered} answered");
    assert!(refused >= 1, "the quota held: {refused} refused");
    d.stop().await;
}
