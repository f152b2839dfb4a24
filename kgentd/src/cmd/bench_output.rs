//! `kgentd bench --output`: how many events per second reach a `kgentctl run` client, and what
//! tracing costs the traced workload, for a C program (ring buffer, records decoded from BTF)
//! beside bpftrace printing the same events. Both run through a daemon on a private socket and
//! print to a real kgentctl; the workload is a tight loop of getppid(2) in this process, and
//! both programs trace only this process. Prints figures and ratios, asserts nothing.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};

use kgentd::config::Config;
use kgentd::daemon::{listen, Daemon};
use kgentd::llm::ScriptedBackend;

const C_PROGRAM: &str = r#"#include "vmlinux.h"
#include "kgent.h"
struct event { u32 pid; u32 tid; u64 ns; };
KGENT_RINGBUF(events, struct event, 16 * 1024 * 1024);
SEC("tracepoint/syscalls/sys_enter_getppid")
int kt4_bench(void *ctx)
{
    u64 id = bpf_get_current_pid_tgid();
    if ((id >> 32) != TRACED_PID)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = id >> 32;
    e->tid = (u32)id;
    e->ns = bpf_ktime_get_ns();
    bpf_ringbuf_submit(e, 0);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"#;

/// Calls per second of the paced run.
const PACED_RATE: u64 = 20_000;

const BPFTRACE_PROGRAM: &str = "tracepoint:syscalls:sys_enter_getppid /pid == TRACED_PID/ { printf(\"pid=%d tid=%d ns=%llu\\n\", pid, tid, nsecs); }\n";

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the one we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// What the workload did: calls made and the CPU time they took.
#[derive(Clone, Copy)]
struct Work {
    calls: u64,
    cpu: Duration,
}

impl Work {
    fn cpu_ns_per_call(self) -> f64 {
        self.cpu.as_nanos() as f64 / self.calls.max(1) as f64
    }
}

/// Calls getppid(2) for `for_how_long`: as fast as it can, or `rate` calls per second (in
/// batches each millisecond).
fn workload(for_how_long: Duration, rate: Option<u64>) -> Work {
    let worker = std::thread::spawn(move || {
        let start = Instant::now();
        let end = start + for_how_long;
        let cpu0 = thread_cpu();
        let mut n = 0u64;
        while Instant::now() < end {
            let batch = match rate {
                Some(r) => {
                    let due = (start.elapsed().as_secs_f64() * r as f64) as u64;
                    if due <= n {
                        std::thread::sleep(Duration::from_micros(500));
                        continue;
                    }
                    due - n
                }
                None => 100,
            };
            for _ in 0..batch {
                std::hint::black_box(nix::unistd::getppid());
            }
            n += batch;
        }
        Work {
            calls: n,
            cpu: thread_cpu().saturating_sub(cpu0),
        }
    });
    worker.join().unwrap_or(Work {
        calls: 0,
        cpu: Duration::ZERO,
    })
}

struct Measured {
    work: Work,
    delivered: u64,
}

/// Runs `program` through kgentctl, drives the workload once it is attached, and counts the
/// lines kgentctl prints until the program has stopped.
async fn through_kgentctl(
    kgentctl: &Path,
    socket: &Path,
    target: &str,
    program: &Path,
    seconds: Duration,
    rate: Option<u64>,
) -> anyhow::Result<Measured> {
    let mut child = tokio::process::Command::new(kgentctl)
        .arg("--socket")
        .arg(socket)
        .args(["run", "--target", target])
        .arg(program)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {}", kgentctl.display()))?;
    let stdout = child.stdout.take().context("kgentctl stdout")?;
    let stderr = child.stderr.take().context("kgentctl stderr")?;
    let mut err_lines = BufReader::new(stderr).lines();
    loop {
        match err_lines.next_line().await? {
            Some(l) if l.contains("probe") && l.contains("job") => break,
            Some(_) => {}
            None => anyhow::bail!("kgentctl ended before the program was attached"),
        }
    }
    let counter = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut n = 0u64;
        while let Ok(Some(_)) = lines.next_line().await {
            n += 1;
        }
        n
    });
    let work = tokio::task::spawn_blocking(move || workload(seconds, rate)).await?;
    // Let the output drain, then stop the program gracefully (Ctrl-C).
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(120), child.wait()).await;
    let delivered = counter.await?;
    Ok(Measured { work, delivered })
}

pub async fn run(mut config: Config, seconds: u64) -> anyhow::Result<()> {
    let seconds = Duration::from_secs(seconds.max(1));
    let dir = std::env::temp_dir().join(format!("kgentd-bench-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    config.state_dir = dir.join("state");
    config.socket = dir.join("kgent.sock");
    config.jobs.pin_root = PathBuf::from(format!("/sys/fs/bpf/kgent-bench-{}", std::process::id()));
    config.jobs.max_events_per_s = u32::MAX;
    let kgentctl = std::env::current_exe()?
        .parent()
        .map(|d| d.join("kgentctl"))
        .context("no directory of kgentd")?;
    anyhow::ensure!(
        kgentctl.exists(),
        "{} is missing: build the workspace binaries (cargo build --workspace --bins)",
        kgentctl.display()
    );
    let me = std::process::id().to_string();
    let c_file = dir.join("bench.c");
    let bt_file = dir.join("bench.bt");
    std::fs::write(&c_file, C_PROGRAM.replace("TRACED_PID", &me))?;
    std::fs::write(&bt_file, BPFTRACE_PROGRAM.replace("TRACED_PID", &me))?;

    let listener = listen(&config.socket, "kgent-bench-no-such-group")?;
    let backend = Arc::new(ScriptedBackend::new("bench", vec!["unused".into()])?);
    let daemon = Daemon::build_with_backend(config.clone(), backend).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(daemon.serve(listener, async {
        let _ = stop_rx.await;
    }));

    let secs = seconds.as_secs_f64();
    let programs = [
        ("C (ring buffer → BTF decode)", "c", &c_file),
        ("bpftrace (printf)", "bpftrace", &bt_file),
    ];
    for rate in [None, Some(PACED_RATE)] {
        match rate {
            None => println!(
                "\nkgentd bench --output: getppid(2) as fast as one thread can for {} s, each call one event, printed by kgentctl",
                seconds.as_secs()
            ),
            Some(r) => println!(
                "\nthe same at a steady {r} calls/s (a rate both can keep up with): overhead = extra CPU per call of the traced thread"
            ),
        }
        let base = tokio::task::spawn_blocking(move || workload(seconds, rate)).await?;
        println!(
            "  untraced workload:              {:>10.0} calls/s, {:>7.0} ns CPU per call",
            base.calls as f64 / secs,
            base.cpu_ns_per_call()
        );
        let mut rows = Vec::new();
        for (name, target, file) in programs {
            let m =
                through_kgentctl(&kgentctl, &config.socket, target, file, seconds, rate).await?;
            let overhead = m.work.cpu_ns_per_call() - base.cpu_ns_per_call();
            println!(
                "  {name:<30}  workload {:>10.0} calls/s; delivered {:>9.0} events/s ({:>5.1}% of events); overhead {:>7.0} ns CPU per event",
                m.work.calls as f64 / secs,
                m.delivered as f64 / secs,
                100.0 * m.delivered as f64 / m.work.calls.max(1) as f64,
                overhead
            );
            rows.push((m, overhead));
        }
        if let [(c, c_over), (bt, bt_over)] = &rows[..] {
            println!(
                "  ratio C / bpftrace: events delivered per second {:.2}×, overhead per event {:.2}×",
                c.delivered as f64 / bt.delivered.max(1) as f64,
                c_over / bt_over.max(1.0)
            );
        }
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir(&config.jobs.pin_root);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
