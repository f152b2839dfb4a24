//! The one way kgent runs bpftrace: load checks, smoke runs and jobs all go through
//! [`Supervisor`].
//!
//! bpftrace reads the script on stdin and runs in its own process group, so everything it
//! starts is signalled at once. kgent adds one statement to the script's BEGIN block: `exit();`
//! for a load check, or a ready marker printed once every probe is attached (BEGIN fires after
//! the others attach). Its output is read as lines that tell the marker and bpftrace's own
//! "Attaching N probes..." (N without a BEGIN probe kgent added) from what the program prints.
//! A graceful stop is SIGINT, repeated every second while bpftrace stays silent (0.17 can miss
//! one), then SIGKILL of the group when the grace period runs out. Dropping the supervisor
//! kills the group, so no bpftrace outlives whoever ran it, whatever path they leave by.
//!
//! It judges nothing: what the output means is for the callers (checks, jobs) to say.
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::process;
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdout};
use tokio::time::Instant;

use super::syntax::with_begin_statement;

/// Printed by the statement added to BEGIN: BEGIN fires once every probe is attached.
const READY_MARKER: &str = "__kgent_ready_7f3a__";
/// bpftrace 0.17 can miss a SIGINT that lands between its exit-flag check and a blocking
/// epoll_wait: it then sleeps until the next event, which a maps-only program may never get.
/// While it stays silent after a SIGINT, the signal is repeated this often.
const SIGINT_REPEAT: Duration = Duration::from_secs(1);

/// What kgent adds to the script's BEGIN block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtBegin {
    /// `exit();`: load, attach every probe, then exit (a load check).
    Exit,
    /// Print the ready marker: every probe is attached ([`Output::Ready`]).
    ReportReady,
}

impl AtBegin {
    fn statement(self) -> String {
        match self {
            Self::Exit => "exit();".to_owned(),
            Self::ReportReady => format!("printf(\"{READY_MARKER}\\n\");"),
        }
    }
}

/// One line of bpftrace's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// BEGIN ran: every probe is attached.
    Ready,
    /// bpftrace is attaching this many of the program's probes (a BEGIN kgent added is not
    /// counted).
    Attaching(u32),
    /// Anything else: what the program prints.
    Line(String),
}

/// Why a run never became ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// Still attaching when the time ran out.
    TimedOut,
    /// bpftrace ended (or closed its stdout) first.
    Exited,
}

/// What a run that ended by itself produced (a load check's).
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stderr: String,
    /// The program's probes bpftrace said it attaches, if it said so.
    pub probes: Option<u32>,
}

/// bpftrace running one script in its own process group; the group is killed when this is
/// dropped, unless bpftrace was already reaped.
pub struct Supervisor {
    /// Taken only by `drop`, which hands an unreaped child to a task that reaps it.
    child: Option<Child>,
    /// Armed until the child is reaped: after that its pid may be someone else's.
    group: Option<Pid>,
    added_begin: bool,
}

impl Supervisor {
    /// Starts bpftrace on `source` with `at_begin` added, and hands it the script. Fails only
    /// when bpftrace cannot be started.
    pub async fn spawn(bpftrace: &Path, source: &str, at_begin: AtBegin) -> std::io::Result<Self> {
        let script = with_begin_statement(source, &at_begin.statement());
        let mut cmd = process::tool_command(bpftrace);
        cmd.arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("BPFTRACE_NO_USER_SYMBOLS", "1")
            .kill_on_drop(true);
        let child = process::in_new_group(&mut cmd).spawn()?;
        // Owned by the supervisor before the first await: a caller that gives up while the
        // script is written still gets bpftrace killed and reaped.
        let mut this = Self {
            group: process::group_of(&child),
            child: Some(child),
            added_begin: script.added_probe,
        };
        if let Some(mut stdin) = this.child_mut().and_then(|c| c.stdin.take()) {
            // A script bpftrace does not read is reported by bpftrace itself (exit, stderr).
            let _ = stdin.write_all(script.script.as_bytes()).await;
        }
        Ok(this)
    }

    /// bpftrace's pid, which is also its process group's id (None once reaped).
    pub fn pgid(&self) -> Option<Pid> {
        self.group
    }

    /// Its stdout as [`Output`] lines (once).
    pub fn take_stdout(&mut self) -> Option<ProgramOutput> {
        let added_begin = self.added_begin;
        self.child_mut()?.stdout.take().map(|s| ProgramOutput {
            lines: OutputLines::new(s),
            added_begin,
        })
    }

    /// Its stderr as lines (once).
    pub fn take_stderr(&mut self) -> Option<OutputLines<ChildStderr>> {
        self.child_mut()?.stderr.take().map(OutputLines::new)
    }

    /// Waits for bpftrace to exit and reaps it; the group is not signalled after this.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let Some(child) = self.child.as_mut() else {
            return Err(std::io::Error::other("bpftrace was already handed off"));
        };
        let status = child.wait().await;
        self.group = None;
        status
    }

    fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// SIGKILL to the whole group.
    pub fn kill(&self) {
        process::signal_group(self.group, Signal::SIGKILL);
    }

    /// Starts a graceful stop: SIGINT now; see [`Stopping`] for the rest.
    pub fn stop(&self, grace: Duration) -> Stopping {
        process::signal_group(self.group, Signal::SIGINT);
        let now = Instant::now();
        Stopping {
            group: self.group,
            repeat_at: Some(now + SIGINT_REPEAT),
            kill_at: Some(now + grace),
        }
    }

    /// Stops bpftrace gracefully (so it prints its maps) and reaps it: true when it exited
    /// within `grace`, false when it had to be killed.
    pub async fn stop_within(&mut self, grace: Duration) -> bool {
        let mut stopping = self.stop(grace);
        loop {
            let wake = stopping.next_at();
            tokio::select! {
                _ = self.wait() => return true,
                _ = sleep_until(wake), if wake.is_some() => {
                    if stopping.tick() {
                        let _ = self.wait().await;
                        return false;
                    }
                }
            }
        }
    }

    /// Lets bpftrace run to its end (a script that exits by itself) and collects everything it
    /// printed. None when it did not end within `timeout`; the group is then killed.
    pub async fn finish(mut self, timeout: Duration) -> Option<std::io::Result<Finished>> {
        let (stdout, stderr) = match self.child_mut() {
            Some(c) => (c.stdout.take(), c.stderr.take()),
            None => (None, None),
        };
        let added_begin = self.added_begin;
        let run = async {
            let (stdout, stderr) = tokio::join!(read_all(stdout), read_all(stderr));
            let status = self.wait().await?;
            let (stdout, stderr) = (stdout?, stderr?);
            let probes = stdout
                .lines()
                .find_map(attaching_count)
                .map(|n| n.saturating_sub(u32::from(added_begin)));
            Ok(Finished {
                status,
                stderr,
                probes,
            })
        };
        tokio::time::timeout(timeout, run).await.ok()
    }
}

impl Drop for Supervisor {
    /// Kills the group and, when bpftrace is not reaped yet, reaps it on a task of its own:
    /// left to tokio's orphan queue, a bpftrace that died before it was queued stays a zombie
    /// until some later child exits.
    fn drop(&mut self) {
        if self.group.is_none() {
            return;
        }
        self.kill();
        if let (Some(mut child), Ok(rt)) =
            (self.child.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

/// A graceful stop under way: SIGINT again every second until the caller hears from bpftrace
/// ([`Stopping::heard_from`]), SIGKILL of the group once the grace period is over. The caller
/// sleeps until [`Stopping::next_at`] and then calls [`Stopping::tick`]; it stops ticking once
/// bpftrace is reaped.
#[derive(Debug)]
pub struct Stopping {
    group: Option<Pid>,
    repeat_at: Option<Instant>,
    kill_at: Option<Instant>,
}

impl Stopping {
    /// bpftrace printed something: it got the signal (or never needed one), no more repeats.
    pub fn heard_from(&mut self) {
        self.repeat_at = None;
    }

    /// When [`Stopping::tick`] has something to do.
    pub fn next_at(&self) -> Option<Instant> {
        match (self.repeat_at, self.kill_at) {
            (Some(r), Some(k)) => Some(r.min(k)),
            (r, k) => r.or(k),
        }
    }

    /// Does what is due: SIGKILL of the group once the grace period is over (true), else SIGINT
    /// again.
    pub fn tick(&mut self) -> bool {
        let now = Instant::now();
        if self.kill_at.is_some_and(|k| k <= now) {
            process::signal_group(self.group, Signal::SIGKILL);
            self.kill_at = None;
            self.repeat_at = None;
            return true;
        }
        if self.repeat_at.is_some_and(|r| r <= now) {
            process::signal_group(self.group, Signal::SIGINT);
            self.repeat_at = Some(now + SIGINT_REPEAT);
        }
        false
    }
}

/// Sleeps until `at`; never wakes for None.
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// bpftrace's stdout, told apart into the ready marker, its attach count and the program's
/// lines.
pub struct ProgramOutput {
    lines: OutputLines<ChildStdout>,
    added_begin: bool,
}

impl ProgramOutput {
    /// The next line; None at the end of the output.
    pub async fn next(&mut self) -> std::io::Result<Option<Output>> {
        Ok(self.lines.next_line().await?.map(|l| {
            if l == READY_MARKER {
                Output::Ready
            } else if let Some(n) = attaching_count(&l) {
                Output::Attaching(n.saturating_sub(u32::from(self.added_begin)))
            } else {
                Output::Line(l)
            }
        }))
    }

    /// Reads until every probe is attached; what came before (bpftrace's own lines) is dropped.
    pub async fn ready(&mut self, timeout: Duration) -> Result<(), NotReady> {
        let attached = tokio::time::timeout(timeout, async {
            while let Ok(Some(out)) = self.next().await {
                if out == Output::Ready {
                    return true;
                }
            }
            false
        })
        .await;
        match attached {
            Ok(true) => Ok(()),
            Ok(false) => Err(NotReady::Exited),
            Err(_) => Err(NotReady::TimedOut),
        }
    }
}

/// bpftrace's "Lost N events" (printed when the kernel's buffer overflowed): how many.
pub fn lost_events(line: &str) -> Option<u64> {
    line.trim()
        .strip_prefix("Lost ")?
        .strip_suffix(" events")?
        .parse()
        .ok()
}

/// bpftrace's "Attaching N probes...".
fn attaching_count(line: &str) -> Option<u32> {
    line.strip_prefix("Attaching ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Output a run that ends by itself may leave for its caller; the rest is read and dropped.
const MAX_COLLECTED_BYTES: u64 = 1 << 20;

async fn read_all<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    if let Some(p) = pipe {
        let mut kept = p.take(MAX_COLLECTED_BYTES);
        kept.read_to_end(&mut bytes).await?;
        tokio::io::copy(&mut kept.into_inner(), &mut tokio::io::sink()).await?;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The longest line kept, in bytes: a longer one is cut here and marked, and the rest of it,
/// up to its newline, is read and dropped. A program that prints without a newline at full
/// speed must not grow one buffer until the daemon runs out of memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// bpftrace's output, line by line, each at most [`MAX_LINE_BYTES`]. Programs print raw kernel
/// bytes (`str()` of a bad pointer, a binary path), so lines are decoded lossily: invalid UTF-8
/// must not end the stream. Cancel-safe: a partial line waits in `line` for the next call.
pub struct OutputLines<R> {
    reader: tokio::io::BufReader<R>,
    line: Vec<u8>,
    /// The current line was cut and returned: drop what is left of it.
    skipping: bool,
}

impl<R: tokio::io::AsyncRead + Unpin> OutputLines<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader: tokio::io::BufReader::new(reader),
            line: Vec::new(),
            skipping: false,
        }
    }

    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        use tokio::io::AsyncBufReadExt;
        loop {
            let buf = self.reader.fill_buf().await?;
            if buf.is_empty() {
                self.skipping = false;
                if self.line.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(self.take_line(false)));
            }
            let newline = buf.iter().position(|b| *b == b'\n');
            let chunk = &buf[..newline.unwrap_or(buf.len())];
            let used = chunk.len() + usize::from(newline.is_some());
            if self.skipping {
                self.reader.consume(used);
                if newline.is_some() {
                    self.skipping = false;
                }
                continue;
            }
            let room = MAX_LINE_BYTES - self.line.len();
            if chunk.len() > room {
                self.line.extend_from_slice(&chunk[..room]);
                self.reader.consume(room);
                self.skipping = true;
                return Ok(Some(self.take_line(true)));
            }
            self.line.extend_from_slice(chunk);
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(self.take_line(false)));
            }
        }
    }

    fn take_line(&mut self, cut: bool) -> String {
        let mut bytes = std::mem::take(&mut self.line);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if cut {
            text.push_str(&format!(
                " … [kgent: line cut at {MAX_LINE_BYTES} bytes; the rest of it was dropped]"
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    //! Real bpftrace against the real kernel (needs root: bash setup.sh).
    use super::*;

    const BPFTRACE: &str = "bpftrace";

    #[test]
    fn lost_events_reads_bpftrace_s_count_and_nothing_else() {
        assert_eq!(lost_events("Lost 1234 events"), Some(1234));
        assert_eq!(lost_events("Lost many events"), None);
        assert_eq!(lost_events("cat Lost 3 events"), None);
        assert_eq!(lost_events("Lost 3 events in the woods"), None);
    }

    #[tokio::test]
    async fn a_line_without_end_is_cut_and_the_next_line_still_comes() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 3];
        input.extend_from_slice(b"\nnext\n");
        input.extend_from_slice(&[b'y'; MAX_LINE_BYTES]);
        input.extend_from_slice(b"\nlast");
        let mut lines = OutputLines::new(&input[..]);
        let first = lines.next_line().await.expect("read").expect("a line");
        assert!(first.starts_with(&"x".repeat(MAX_LINE_BYTES)));
        assert!(
            first.contains("line cut at"),
            "{}",
            &first[MAX_LINE_BYTES..]
        );
        assert_eq!(
            lines.next_line().await.expect("read").as_deref(),
            Some("next")
        );
        let exact = lines.next_line().await.expect("read").expect("a line");
        assert_eq!(
            exact,
            "y".repeat(MAX_LINE_BYTES),
            "a line of exactly the cap is whole"
        );
        assert_eq!(
            lines.next_line().await.expect("read").as_deref(),
            Some("last")
        );
        assert_eq!(lines.next_line().await.expect("read"), None);
    }

    #[tokio::test]
    async fn ready_comes_after_attaching_and_a_stop_prints_the_maps() {
        let src = "tracepoint:syscalls:sys_enter_getppid { @calls = count(); }\ninterval:ms:200 { @ticks = count(); }\n";
        let mut run = Supervisor::spawn(Path::new(BPFTRACE), src, AtBegin::ReportReady)
            .await
            .expect("bpftrace starts");
        let mut out = run.take_stdout().expect("stdout");
        let mut before = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(o)) = out.next().await {
                if o == Output::Ready {
                    return true;
                }
                before.push(o);
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "{before:?}");
        assert_eq!(
            before,
            [Output::Attaching(2)],
            "the BEGIN kgent added is not the program's"
        );
        for _ in 0..3 {
            nix::unistd::getppid();
        }
        assert!(
            run.stop_within(Duration::from_secs(30)).await,
            "SIGINT stops it"
        );
        assert!(run.pgid().is_none(), "reaped");
        let mut after = Vec::new();
        while let Ok(Some(o)) = out.next().await {
            after.push(o);
        }
        let calls = after.iter().find_map(|o| match o {
            Output::Line(l) => l.strip_prefix("@calls: ")?.parse::<u64>().ok(),
            _ => None,
        });
        assert!(calls.is_some_and(|n| n >= 3), "{after:?}");
    }

    #[tokio::test]
    async fn dropping_the_supervisor_kills_the_group() {
        let src = "interval:s:1 { @ = count(); }\n";
        let mut run = Supervisor::spawn(Path::new(BPFTRACE), src, AtBegin::ReportReady)
            .await
            .expect("bpftrace starts");
        let mut out = run.take_stdout().expect("stdout");
        assert_eq!(out.ready(Duration::from_secs(30)).await, Ok(()));
        let pid = run.pgid().expect("running").as_raw();
        drop(run);
        // Gone, or a zombie its parent has yet to reap: either way it runs no more.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let running = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
            })
        };
        while running() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!running(), "bpftrace {pid} outlived its supervisor");
        // Its output ends with it.
        let rest = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(_)) = out.next().await {}
        })
        .await;
        assert!(rest.is_ok());
    }

    #[tokio::test]
    async fn a_run_that_never_attaches_says_so() {
        let mut run = Supervisor::spawn(
            Path::new(BPFTRACE),
            "tracepoint:nope:nope { }",
            AtBegin::ReportReady,
        )
        .await
        .expect("bpftrace starts");
        let mut out = run.take_stdout().expect("stdout");
        assert_eq!(
            out.ready(Duration::from_secs(30)).await,
            Err(NotReady::Exited)
        );
        assert_ne!(run.wait().await.ok().and_then(|s| s.code()), Some(0));
    }
}
