//! Which tracepoints the smoke run's trigger workload provokes on this host, measured once: the
//! workload runs while every event of a private tracefs instance (`instances/kgent_provoke_*`)
//! is enabled, and the events seen in its trace are the provoked set: those a task of the
//! workload (`kgent-smoke*`) fired, and those the rest of the system fired at least
//! [`BACKGROUND_MIN`] times. Steady background activity fires during every smoke run as well;
//! an event seen once from some other task (a daemon's `sched_yield`) may never fire during
//! the run that judges a program on it.
//!
//! A candidate whose event probes are all tracepoints outside the set cannot be judged by a
//! smoke run (it would print nothing, right or wrong): it is checked statically and its
//! evidence says it was not exercised. The instance is removed when the measurement ends; the
//! global trace buffer other tools read is untouched.
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use regex::Regex;

use crate::host::HostFacts;

/// A tracefs instance of our own, removed (events off first) when dropped, and the flag that
/// stops its reader. Dropped early (the measurement cancelled, the workload panicked), it
/// stops the reader first: tracefs refuses to remove an instance whose trace_pipe is open
/// (EBUSY), so removal is retried while the reader lets go.
struct Instance {
    dir: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("events/enable"), "0");
        self.stop.store(true, Ordering::Relaxed);
        for _ in 0..100 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return,
            }
        }
        tracing::warn!(instance = %self.dir.display(), "tracefs instance still busy: left behind");
    }
}

/// How often an event other tasks fire must be seen during the measurement to count as
/// provoked in every smoke run.
const BACKGROUND_MIN: usize = 3;

/// The name the smoke workload's tasks start with (see `check::smoke`).
const WORKLOAD_COMM: &str = "kgent-smoke";

/// What the trace says of one event: how often others fired it, and whether the workload did.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    others: usize,
    by_workload: bool,
}

impl Seen {
    fn provoked(self) -> bool {
        self.by_workload || self.others >= BACKGROUND_MIN
    }
}

/// Whether the task of a trace line (`comm-pid [cpu] …`) is the workload's.
fn by_workload(line: &str) -> bool {
    line.trim_start().starts_with(WORKLOAD_COMM)
}

/// The event name of one line of a trace: `comm-pid [cpu] flags ts: EVENT: …`; syscall events
/// print as `sys_NAME(args…)` on entry and `sys_NAME -> ret` on exit.
fn event_of(line: &str) -> Option<String> {
    static EVENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\]\s+\S+\s+\d+\.\d+:\s+([A-Za-z0-9_]+)(:|\(| ->)").expect("static regex")
    });
    let c = EVENT.captures(line)?;
    let name = c.get(1)?.as_str();
    let call = name.strip_prefix("sys_");
    Some(match (c.get(2)?.as_str(), call) {
        ("(", Some(call)) => format!("sys_enter_{call}"),
        (" ->", Some(call)) => format!("sys_exit_{call}"),
        _ => name.to_owned(),
    })
}

/// What a measurement found: the tracepoints (`system:event`) the workload's own tasks fired,
/// and those only other tasks fired, often enough to count as provoked ([`Seen::provoked`]).
///
/// The two are not equally good witnesses. An event the workload fires fires in every smoke
/// run; one only the rest of the system fired (a daemon's `sched_yield`, a timer's softirq)
/// fired during the measurement and may not during the run that judges a program on it, so a
/// program on such events that prints nothing has not been shown wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provoked {
    pub by_workload: BTreeSet<String>,
    pub background: BTreeSet<String>,
}

impl Provoked {
    /// A set the workload fired itself (tests, and hosts measured that way).
    pub fn by_workload(events: impl IntoIterator<Item = String>) -> Self {
        Self {
            by_workload: events.into_iter().collect(),
            background: BTreeSet::new(),
        }
    }

    /// Whether `tracepoint` (`system:event`) fired during the measurement, by anyone.
    pub fn contains(&self, tracepoint: &str) -> bool {
        self.by_workload.contains(tracepoint) || self.background.contains(tracepoint)
    }

    /// Whether `tracepoint` fired during the measurement from other tasks only.
    pub fn background_only(&self, tracepoint: &str) -> bool {
        !self.by_workload.contains(tracepoint) && self.background.contains(tracepoint)
    }

    pub fn len(&self) -> usize {
        self.by_workload.len() + self.background.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The provoked events of `trace_pipe` (see [`Seen::provoked`]), read until `stop` is set: the
/// names the workload fired, and those only others fired often enough.
fn collect(
    pipe: &Path,
    stop: Arc<AtomicBool>,
) -> Result<(BTreeSet<String>, BTreeSet<String>), String> {
    let seen = tally(pipe, stop)?;
    let mut by_workload = BTreeSet::new();
    let mut background = BTreeSet::new();
    for (name, s) in seen {
        if s.by_workload {
            by_workload.insert(name);
        } else if s.provoked() {
            background.insert(name);
        }
    }
    Ok((by_workload, background))
}

/// Reads `trace_pipe` until `stop` is set and the pipe is drained: each event name with what
/// was seen of it.
fn tally(
    pipe: &Path,
    stop: Arc<AtomicBool>,
) -> Result<std::collections::BTreeMap<String, Seen>, String> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(pipe)
        .map_err(|e| format!("cannot open {}: {e}", pipe.display()))?;
    let mut seen: std::collections::BTreeMap<String, Seen> = std::collections::BTreeMap::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut pending = String::new();
    loop {
        match file.read(&mut buf) {
            Ok(0) if stop.load(Ordering::Relaxed) => return Ok(seen),
            Ok(0) => std::thread::sleep(Duration::from_millis(20)),
            Ok(n) => {
                pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                if let Some(end) = pending.rfind('\n') {
                    for line in pending[..end].lines() {
                        if let Some(e) = event_of(line) {
                            let s = seen.entry(e).or_default();
                            if by_workload(line) {
                                s.by_workload = true;
                            } else {
                                s.others += 1;
                            }
                        }
                    }
                    pending.drain(..=end);
                }
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::Relaxed) {
                    return Ok(seen);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("reading {}: {e}", pipe.display())),
        }
    }
}

/// Which events one pass of a measurement enables. With every event on at once, the flood of
/// scheduler, interrupt and timer events overruns the buffer and the workload's own syscalls
/// are lost (seen here: a measurement without sys_enter_unlinkat of a workload that unlinks),
/// so the syscalls get a pass of their own.
#[derive(Debug, Clone, Copy)]
enum Pass {
    Syscalls,
    AllButSyscalls,
}

/// Runs the workload `workload()` makes once per [`Pass`], each time with that pass's events of
/// a private instance enabled; the tracepoints (`system:event`) that fired meanwhile.
pub async fn measure<F, T>(host: &HostFacts, workload: impl Fn() -> F) -> Result<Provoked, String>
where
    F: std::future::Future<Output = T>,
{
    let (mut mine, mut others) = (BTreeSet::new(), BTreeSet::new());
    for pass in [Pass::Syscalls, Pass::AllButSyscalls] {
        let (m, o) = measure_pass(host, pass, workload()).await?;
        mine.extend(m);
        others.extend(o);
    }
    let named = |names: &BTreeSet<String>| -> BTreeSet<String> {
        host.tracepoints
            .keys()
            .filter(|k| {
                k.rsplit(':')
                    .next()
                    .is_some_and(|event| names.contains(event))
            })
            .cloned()
            .collect()
    };
    let by_workload = named(&mine);
    let background = named(&others)
        .into_iter()
        .filter(|tp| !by_workload.contains(tp))
        .collect();
    Ok(Provoked {
        by_workload,
        background,
    })
}

/// One pass: the event names the workload fired, and those only others fired, while
/// `workload` ran.
async fn measure_pass<F, T>(
    host: &HostFacts,
    pass: Pass,
    workload: F,
) -> Result<(BTreeSet<String>, BTreeSet<String>), String>
where
    F: std::future::Future<Output = T>,
{
    let tracefs = host.tracefs.as_deref().ok_or("tracefs is not mounted")?;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = tracefs.join("instances").join(format!(
        "kgent_provoke_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let instance = Instance {
        dir,
        stop: Arc::new(AtomicBool::new(false)),
    };
    // Room for bursts (8 MiB per CPU): with many events on, a small buffer overruns and loses
    // events before the reader gets to them.
    let _ = std::fs::write(instance.dir.join("buffer_size_kb"), "8192");
    let enable = |path: &str, on: &str| {
        std::fs::write(instance.dir.join(path), on)
            .map_err(|e| format!("cannot set {}/{path}: {e}", instance.dir.display()))
    };
    match pass {
        Pass::Syscalls => enable("events/syscalls/enable", "1")?,
        Pass::AllButSyscalls => {
            enable("events/enable", "1")?;
            enable("events/syscalls/enable", "0")?;
        }
    }
    let reader = {
        let (pipe, stop) = (instance.dir.join("trace_pipe"), instance.stop.clone());
        tokio::task::spawn_blocking(move || collect(&pipe, stop))
    };
    workload.await;
    let _ = std::fs::write(instance.dir.join("events/enable"), "0");
    instance.stop.store(true, Ordering::Relaxed);
    let names = reader
        .await
        .map_err(|e| format!("the trace reader failed: {e}"))??;
    drop(instance);
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_name_their_event() {
        assert_eq!(
            event_of("          python3-4242    [001] d..2.  5123.456789: sched_switch: prev_comm=python3 prev_pid=4242"),
            Some("sched_switch".to_owned())
        );
        assert_eq!(
            event_of("  <idle>-0 [000] ..s1. 12.000001: softirq_entry: vec=1 [action=TIMER]"),
            Some("softirq_entry".to_owned())
        );
        assert_eq!(
            event_of("  cat-77 [001] ..... 9.5: sys_openat(dfd: ffffff9c, filename: 7f00)")
                .as_deref(),
            Some("sys_enter_openat")
        );
        assert_eq!(
            event_of("  cat-77 [001] ..... 9.6: sys_openat -> 0x3").as_deref(),
            Some("sys_exit_openat")
        );
        assert_eq!(event_of("# tracer: nop"), None);
    }

    #[test]
    fn an_event_seen_once_from_another_task_is_not_provoked() {
        assert!(by_workload(
            "  kgent-smoke-ch-91 [000] ..... 1.0: sys_openat(dfd: 0)"
        ));
        assert!(!by_workload("  sshd-12 [000] ..... 1.0: sys_sched_yield()"));
        let once = Seen {
            others: 1,
            by_workload: false,
        };
        assert!(!once.provoked());
        assert!(Seen {
            others: BACKGROUND_MIN,
            by_workload: false
        }
        .provoked());
        assert!(Seen {
            others: 0,
            by_workload: true
        }
        .provoked());
    }

    #[test]
    fn events_only_other_tasks_fire_are_kept_apart_from_the_workloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = dir.path().join("trace");
        let lines = [
            "  kgent-smoke-1 [000] ..... 1.0: sys_openat(dfd: 0)",
            "  sshd-12 [000] ..... 1.1: sys_openat(dfd: 0)",
            "  sshd-12 [000] ..... 1.2: sys_sched_yield()",
            "  sshd-12 [000] ..... 1.3: sys_sched_yield()",
            "  sshd-12 [001] ..... 1.4: sys_sched_yield()",
            "  cron-7 [001] ..... 1.5: sys_getpid()",
        ];
        std::fs::write(&trace, lines.join("\n") + "\n").expect("written");
        let (mine, others) =
            collect(&trace, Arc::new(AtomicBool::new(true))).expect("read to the end");
        assert_eq!(mine, BTreeSet::from(["sys_enter_openat".to_owned()]));
        // Three times from another task counts; once does not.
        assert_eq!(others, BTreeSet::from(["sys_enter_sched_yield".to_owned()]));
        let p = Provoked {
            by_workload: BTreeSet::from(["syscalls:sys_enter_openat".to_owned()]),
            background: BTreeSet::from(["syscalls:sys_enter_sched_yield".to_owned()]),
        };
        assert!(p.contains("syscalls:sys_enter_sched_yield"));
        assert!(p.background_only("syscalls:sys_enter_sched_yield"));
        assert!(!p.background_only("syscalls:sys_enter_openat"));
        assert!(!p.contains("syscalls:sys_enter_getpid"));
    }

    #[tokio::test]
    async fn the_workload_provokes_what_it_does_and_not_what_it_does_not() {
        let host = HostFacts::discover(Path::new("bpftrace"));
        let provoked = measure(&host, || async {
            let _ = tokio::process::Command::new("sh")
                .args([
                    "-c",
                    "for i in 1 2 3; do cat /proc/version >/dev/null; rm -f /nonexistent-kgent; done",
                ])
                .status()
                .await;
        })
        .await
        .expect("measured (tests run as root with tracefs)");
        // The workload's syscalls and a scheduler event of its processes are both seen (its
        // tasks are sh, cat and rm, not `kgent-smoke*`: seen as others, three times each).
        for event in [
            "syscalls:sys_enter_openat",
            "syscalls:sys_enter_unlinkat",
            "sched:sched_process_exec",
        ] {
            assert!(provoked.contains(event), "{event}: {provoked:?}");
        }
        assert!(!provoked.contains("syscalls:sys_enter_swapon"));
        // Other tests of this process may be measuring at the same time, each with its own
        // instance: wait for them to finish; one that stays is leaked.
        let instances = host.tracefs.expect("tracefs").join("instances");
        let ours = format!("kgent_provoke_{}_", std::process::id());
        let leftover = || {
            std::fs::read_dir(&instances)
                .expect("instances")
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(&ours))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while leftover() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(!leftover(), "the instance is removed");
    }
}
