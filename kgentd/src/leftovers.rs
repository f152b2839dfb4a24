//! What a kgentd killed outright (kill -9, OOM, a crash) leaves on the host outside its store,
//! found and removed when the next daemon starts: tool processes (bpftrace and whatever it
//! started, a smoke workload, clang), tracefs instances and scratch directories.
//!
//! Each is named after the daemon that made it ([`crate::process::mark`]: pid and start time for
//! processes, pid for instance and directory names), so a sweep removes only what belongs to a
//! daemon that is gone: daemons running side by side (tests, two pin roots) never touch each
//! other's. Pins are the job table's business (its reconcile), not this module's. It must not block the async workers: call [`sweep`] off them.
use std::path::Path;

use crate::process::{self, MARK_VAR, SCRATCH_PREFIX};

/// Removes what dead daemons left; one line per thing removed.
pub fn sweep(tracefs: Option<&Path>) -> Vec<String> {
    let mut report = stray_processes();
    if let Some(tracefs) = tracefs {
        report.extend(stray_instances(&tracefs.join("instances")));
    }
    report.extend(stray_scratch(&std::env::temp_dir()));
    report
}

/// The daemon pid an instance name carries: `kgent_<pid>_<job>` (job output) or
/// `kgent_provoke_<pid>_<n>` (the smoke workload's measurement).
fn instance_owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("kgent_")?;
    let rest = rest.strip_prefix("provoke_").unwrap_or(rest);
    rest.split('_').next()?.parse().ok()
}

/// Whether a process with this pid exists (a zombie counts: its pid is not free yet).
fn pid_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn stray_instances(instances: &Path) -> Vec<String> {
    let mut report = Vec::new();
    for entry in std::fs::read_dir(instances).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = instance_owner(&name) else {
            continue;
        };
        if pid_exists(owner) {
            continue;
        }
        let dir = entry.path();
        let _ = std::fs::write(dir.join("events/enable"), "0");
        match std::fs::remove_dir(&dir) {
            Ok(()) => report.push(format!("removed the tracefs instance {}", dir.display())),
            Err(e) => report.push(format!(
                "cannot remove the tracefs instance {}: {e}",
                dir.display()
            )),
        }
    }
    report
}

fn stray_scratch(tmp: &Path) -> Vec<String> {
    let mut report = Vec::new();
    for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid_exists(owner) {
            continue;
        }
        let dir = entry.path();
        // Not followed when it is a symlink: only the link goes.
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => report.push(format!("removed the scratch directory {}", dir.display())),
            Err(e) => report.push(format!("cannot remove {}: {e}", dir.display())),
        }
    }
    report
}

/// The mark in a process's environment, if it has one.
fn mark_of(pid: i32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARK_VAR}=");
    environ
        .split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(prefix.as_bytes()))
        .map(|m| String::from_utf8_lossy(m).into_owned())
}

/// Kills every process marked by a daemon that is no longer running, with its process group
/// when it leads one (what it started and unmarked itself goes too).
fn stray_processes() -> Vec<String> {
    let mut report = Vec::new();
    let me = std::process::id() as i32;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(mark) = mark_of(pid) else {
            continue;
        };
        // This daemon's own children are never leftovers, whatever its mark reads as.
        let by_me = mark
            .split_once('.')
            .is_some_and(|(owner, _)| owner == me.to_string());
        if by_me || process::mark_is_alive(&mark) {
            continue;
        }
        let target = nix::unistd::Pid::from_raw(pid);
        if nix::unistd::getpgid(Some(target)).is_ok_and(|g| g == target) {
            process::kill_group(Some(target));
        }
        let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL);
        report.push(format!(
            "killed process {pid}, left running by the kgentd {mark} that is gone"
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_say_their_daemon() {
        assert_eq!(instance_owner("kgent_4242_0123456789ab"), Some(4242));
        assert_eq!(instance_owner("kgent_provoke_77_3"), Some(77));
        assert_eq!(instance_owner("kgent_0123456789ab"), None);
        assert_eq!(instance_owner("other_4242_x"), None);
    }

    #[test]
    fn a_process_marked_by_a_dead_daemon_is_killed_and_a_live_one_s_is_kept() {
        let dead = "999999999.1";
        let mut stray = process::tool_command_std("sleep")
            .arg("60")
            .env(MARK_VAR, dead)
            .spawn()
            .expect("sleep runs");
        let mut kept = process::tool_command_std("sleep")
            .arg("60")
            .spawn()
            .expect("sleep runs");
        let report = stray_processes();
        assert!(
            report.iter().any(|l| l.contains(&stray.id().to_string())),
            "{report:?}"
        );
        let status = stray.wait().expect("reaped");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(
            kept.try_wait().expect("wait").is_none(),
            "a child of this live process stays"
        );
        let _ = kept.kill();
        let _ = kept.wait();
    }

    #[test]
    fn scratch_directories_of_gone_daemons_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().expect("tmp");
        let gone = tmp.path().join(format!("{SCRATCH_PREFIX}999999999"));
        std::fs::create_dir_all(gone.join("kgent-smoke-1234")).expect("mkdir");
        let live = tmp
            .path()
            .join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
        std::fs::create_dir(&live).expect("mkdir");
        let report = stray_scratch(tmp.path());
        assert_eq!(report.len(), 1, "{report:?}");
        assert!(!gone.exists());
        assert!(live.exists());
    }
}
