//! kill -9 of kgentd in the middle of a smoke run (with a C job printing through a tracefs
//! instance of its own) and in the middle of a C load check: the next kgentd on the same state
//! and pin root leaves nothing of the dead one behind: no program, link or pin, no tracefs
//! instance, no scratch directory, no process it started. Real kernel, real bpftrace, clang
//! and python; only the model is scripted.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kgent_tests::{loaded_progs, proto, test_pin_root, DaemonProcess, DAEMON_SECRET, GOOD_OPENAT};

/// Prints through bpf_printk on every getppid: its job reads a tracefs instance of its own.
const PRINTK_C: &str = r#"
#include "vmlinux.h"
#include "kgent.h"

SEC("tracepoint/syscalls/sys_enter_getppid")
int kt15_printk(void *ctx)
{
    bpf_printk("kt15 getppid");
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

/// A C answer with a program name of its own.
const C_ANSWER: &str = "```c\n#include \"vmlinux.h\"\n#include \"kgent.h\"\n\nstruct {\n    __uint(type, BPF_MAP_TYPE_HASH);\n    __uint(max_entries, 1024);\n    __type(key, u32);\n    __type(value, u64);\n} kt15_calls SEC(\".maps\");\n\nSEC(\"tracepoint/syscalls/sys_enter_openat\")\nint kt15_cc(struct trace_event_raw_sys_enter *ctx)\n{\n    u32 pid = bpf_get_current_pid_tgid() >> 32;\n    u64 one = 1, *n = bpf_map_lookup_elem(&kt15_calls, &pid);\n    if (n)\n        __sync_fetch_and_add(n, 1);\n    else\n        bpf_map_update_elem(&kt15_calls, &pid, &one, BPF_ANY);\n    return 0;\n}\n\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n```\nCounts openat calls per process.";

/// Processes whose environment marks them as started by the kgentd with this pid.
fn marked_by(daemon: u32) -> Vec<i32> {
    let mark = format!("KGENT_DAEMON={daemon}.");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|v| v.starts_with(mark.as_bytes()))
            })
        })
        .collect()
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The BPF programs a process holds open (its fds' `prog_id` in fdinfo).
fn prog_ids_held_by(pid: i32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("prog_id:"))
                .and_then(|id| id.trim().parse().ok())
        })
        .collect()
}

fn instances_of(daemon: u32) -> Vec<String> {
    std::fs::read_dir("/sys/kernel/tracing/instances")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(&format!("kgent_{daemon}_"))
                || n.starts_with(&format!("kgent_provoke_{daemon}_"))
        })
        .collect()
}

fn scratch_of(daemon: u32) -> PathBuf {
    std::env::temp_dir().join(format!("kgentd-{daemon}"))
}

/// The scratch entries of a daemon whose names start with `prefix`.
fn scratch_entries(daemon: u32, prefix: &str) -> Vec<String> {
    std::fs::read_dir(scratch_of(daemon))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn pins(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// Removes the pin root, even when the test fails half-way.
struct PinRootGuard(PathBuf);

impl Drop for PinRootGuard {
    fn drop(&mut self) {
        for d in pins(&self.0) {
            for f in pins(&d) {
                let _ = std::fs::remove_file(f);
            }
            let _ = std::fs::remove_dir(d);
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Waits up to `within` for `done`.
async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// What the restarted daemon must have removed of the dead one `gone`.
async fn assert_nothing_left_of(gone: u32, progs: &[u64], root: &Path) {
    let left = marked_by(gone);
    assert!(
        eventually(Duration::from_secs(2), || marked_by(gone).is_empty()).await,
        "processes of the dead kgentd left running: {:?}",
        left.iter().map(|p| (p, comm(*p))).collect::<Vec<_>>()
    );
    let loaded = || {
        let now: Vec<u64> = loaded_progs().into_iter().map(|(id, _)| id).collect();
        progs.iter().filter(|p| now.contains(p)).count()
    };
    // The kernel frees programs after an RCU grace period.
    assert!(
        eventually(Duration::from_secs(3), || loaded() == 0).await,
        "programs of the dead kgentd still loaded: {progs:?}"
    );
    assert!(
        !scratch_of(gone).exists(),
        "scratch directory left: {:?}",
        scratch_entries(gone, "")
    );
    assert_eq!(
        instances_of(gone),
        Vec::<String>::new(),
        "tracefs instances left"
    );
    assert_eq!(pins(root), Vec::<PathBuf>::new(), "pins left");
}

#[tokio::test]
async fn a_kgentd_killed_during_a_smoke_run_leaves_nothing_after_the_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = test_pin_root(dir.path());
    let _pins = PinRootGuard(root.clone());
    let a = DaemonProcess::start(dir.path(), &[GOOD_OPENAT], "").await;
    let gone = a.pid();
    let mut client = a.client().await;
    // A C job printing through a tracefs instance of its own.
    let mut job = client
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(PRINTK_C.into())),
            target: proto::Target::C as i32,
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    loop {
        match job.message().await.expect("stream").expect("event").event {
            Some(proto::run_event::Event::Started(_)) => break,
            Some(proto::run_event::Event::Finished(f)) => panic!("the C job ended: {f:?}"),
            _ => {}
        }
    }
    assert_eq!(instances_of(gone).len(), 1, "the job's printk instance");
    let mut progs: Vec<u64> = loaded_progs()
        .into_iter()
        .filter(|(_, n)| n == "kt15_printk")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(progs.len(), 1);
    assert_eq!(pins(&root).len(), 1, "the C job's pins");
    // An ask whose answer gets a smoke run: bpftrace and the python workload.
    let mut asker = a.client().await;
    let ask = tokio::spawn(async move {
        let stream = asker
            .ask(proto::AskRequest {
                text: "every file opened, with the pid and the process name".into(),
                max_iterations: 1,
                smoke_run: true,
                ..Default::default()
            })
            .await;
        if let Ok(s) = stream {
            let mut s = s.into_inner();
            while let Ok(Some(_)) = s.message().await {}
        }
    });
    let smoking = eventually(Duration::from_secs(120), || {
        !scratch_entries(gone, "kgent-smoke-").is_empty()
            && marked_by(gone).iter().any(|p| comm(*p) == "python3")
    })
    .await;
    assert!(smoking, "the smoke run never started");
    let tools = marked_by(gone);
    for tool in &tools {
        let env = std::fs::read(format!("/proc/{tool}/environ")).unwrap_or_default();
        let env = String::from_utf8_lossy(&env);
        assert!(
            !env.contains(DAEMON_SECRET),
            "{} (pid {tool}) sees the daemon's secret: {env}",
            comm(*tool)
        );
    }
    for bpftrace in tools.iter().filter(|p| comm(**p) == "bpftrace") {
        progs.extend(prog_ids_held_by(*bpftrace));
    }
    assert!(
        progs.len() > 1,
        "the smoke run's bpftrace holds its programs ({tools:?})"
    );
    a.kill_9();
    let _ = ask.await;
    drop(job);

    let b = DaemonProcess::start(dir.path(), &["unused"], "").await;
    assert_nothing_left_of(gone, &progs, &root).await;
    b.stop().await;
}

#[tokio::test]
async fn a_kgentd_killed_during_a_c_load_check_leaves_nothing_after_the_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = test_pin_root(dir.path());
    let _pins = PinRootGuard(root.clone());
    let a = DaemonProcess::start(dir.path(), &[C_ANSWER], "").await;
    let gone = a.pid();
    let mut asker = a.client().await;
    let ask = tokio::spawn(async move {
        let stream = asker
            .ask(proto::AskRequest {
                text: "count openat calls per process".into(),
                target: proto::Target::C as i32,
                max_iterations: 1,
                ..Default::default()
            })
            .await;
        if let Ok(s) = stream {
            let mut s = s.into_inner();
            while let Ok(Some(_)) = s.message().await {}
        }
    });
    let compiling = eventually(Duration::from_secs(120), || {
        !scratch_entries(gone, "kgent-cc-").is_empty()
    })
    .await;
    assert!(compiling, "the C load check never started");
    a.kill_9();
    let _ = ask.await;
    let b = DaemonProcess::start(dir.path(), &["unused"], "").await;
    let ours: Vec<u64> = loaded_progs()
        .into_iter()
        .filter(|(_, n)| n == "kt15_cc")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ours,
        Vec::<u64>::new(),
        "the load check's program outlived kgentd"
    );
    assert_nothing_left_of(gone, &[], &root).await;
    b.stop().await;
}
