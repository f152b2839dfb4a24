//! Children of this daemon: how they start, and the process groups they lead.
//!
//! Every tool kgentd runs (bpftrace, clang, bpftool, the smoke workload) starts from
//! [`tool_command`]: an empty environment but a fixed `PATH`, so a secret in the daemon's
//! environment (an API key from `EnvironmentFile=`) never reaches a program a model wrote; a
//! mark naming this daemon ([`MARK_VAR`]: its pid and start time), inherited by everything the
//! tool starts, so the next daemon can tell what a killed one left running (its start-up
//! sweep); and `PR_SET_PDEATHSIG` (SIGKILL), so the tool dies with the daemon.
//! The kernel sends that signal when the *thread* that forked the child ends: tools are spawned
//! from the runtime's worker threads, which live as long as the daemon, never from a thread
//! that ends early. The daemon's scratch files live under [`scratch_dir`], named after the
//! same pid.
//!
//! A leaf: it uses no other kgentd module and knows nothing of bpftrace, jobs or checks. It never
//! waits for or reaps a child; whoever spawned it does, and stops signalling the group once the
//! child is reaped (a reaped pid may be reused).
use std::ffi::OsStr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The environment variable that marks a child of kgentd: `<daemon pid>.<daemon start time>`.
pub const MARK_VAR: &str = "KGENT_DAEMON";
/// The only `PATH` a tool sees.
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// This process as a mark: its pid and its start time (clock ticks since boot), which tell it
/// apart from a later process that reuses the pid.
pub fn mark() -> &'static str {
    static MARK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARK.get_or_init(|| {
        let pid = std::process::id();
        let start = start_time(pid as i32).unwrap_or(0);
        format!("{pid}.{start}")
    })
}

/// A process's start time (clock ticks since boot), from /proc/PID/stat.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    stat.get(close + 1..)?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Whether the process a [`mark`] names is still running.
pub fn mark_is_alive(mark: &str) -> bool {
    let Some((pid, start)) = mark.split_once('.') else {
        return false;
    };
    match (pid.parse::<i32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => start_time(pid) == Some(start),
        _ => false,
    }
}

/// A tool to run: empty environment but `PATH` and [`MARK_VAR`], killed when the daemon dies.
pub fn tool_command_std(program: impl AsRef<OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env_clear().env("PATH", TOOL_PATH).env(MARK_VAR, mark());
    let parent = std::process::id() as i32;
    // SAFETY: the closure runs in the forked child before exec and calls only prctl and getppid,
    // which are async-signal-safe; it allocates nothing. It runs after std changed the uid
    // (which would clear the parent-death signal), so the signal stays set.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The daemon died between the fork and the prctl: nobody will reap this.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    cmd
}

/// [`tool_command_std`] for the async runtime.
pub fn tool_command(program: impl AsRef<OsStr>) -> tokio::process::Command {
    tokio::process::Command::from(tool_command_std(program))
}

/// This daemon's directory for scratch files (`<tmp>/kgentd-<pid>`, mode 0711 so clang, run as
/// nobody, can reach its own work directory inside), created when missing. A directory of that
/// name this process did not make (left by an earlier process with the same pid, or planted) is
/// removed first.
pub fn scratch_dir() -> std::io::Result<PathBuf> {
    let dir = scratch_path();
    static MADE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut made = MADE
        .lock()
        .map_err(|_| std::io::Error::other("scratch directory lock poisoned"))?;
    let ours = std::fs::symlink_metadata(&dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw());
    if *made && ours {
        return Ok(dir);
    }
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&dir)?,
        Ok(_) => std::fs::remove_file(&dir)?,
        Err(_) => {}
    }
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    // Not through the create mode: the daemon's umask (the unit's is 0077) would mask it.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))?;
    *made = true;
    Ok(dir)
}

fn scratch_path() -> PathBuf {
    std::env::temp_dir().join(format!("{SCRATCH_PREFIX}{}", std::process::id()))
}

/// Removes this process's scratch directory (a daemon that ends cleanly; whatever is in it
/// belongs to tools that have ended with their jobs).
pub fn remove_scratch_dir() {
    let _ = std::fs::remove_dir_all(scratch_path());
}

/// How scratch directories are named: `kgentd-<pid>`.
pub const SCRATCH_PREFIX: &str = "kgentd-";

/// Makes the command's child the leader of a new process group (its pgid is its pid).
pub fn in_new_group(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    cmd.process_group(0)
}

/// The group a child started [`in_new_group`] leads; `None` once the child has been reaped.
pub fn group_of(child: &tokio::process::Child) -> Option<Pid> {
    child.id().map(|p| Pid::from_raw(p as i32))
}

/// Sends `sig` to a process group; "no such process" is fine (it is already gone).
pub fn signal_group(pgid: Option<Pid>, sig: Signal) {
    if let Some(p) = pgid {
        let _ = killpg(p, sig);
    }
}

/// Sends SIGKILL to a process group; "no such process" is fine (it is already gone).
pub fn kill_group(pgid: Option<Pid>) {
    signal_group(pgid, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn killing_the_group_ends_what_the_child_started() {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(std::process::Stdio::piped());
        let mut child = in_new_group(&mut cmd).spawn().expect("sh runs");
        let pgid = group_of(&child);
        let mut out = tokio::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
            .await
            .expect("the grandchild's pid");
        let grandchild = Pid::from_raw(line.trim().parse().expect("a pid"));
        assert_eq!(nix::unistd::getpgid(Some(grandchild)).ok(), pgid);
        kill_group(pgid);
        let status = child.wait().await.expect("sh is reaped");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
    }
}
