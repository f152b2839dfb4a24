//! Process groups: a child started as the leader of a group of its own, and signals to that
//! whole group, so stopping a tool also stops everything it started.
//!
//! A leaf: it uses no other kgentd module and knows nothing of bpftrace, jobs or checks. It never
//! waits for or reaps a child; whoever spawned it does, and stops signalling the group once the
//! child is reaped (a reaped pid may be reused).
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

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
