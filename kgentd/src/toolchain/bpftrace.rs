//! The bpftrace front end: its syntax ([`syntax`]: probe blocks, comments, spans), the one
//! supervisor every bpftrace run goes through ([`supervisor`]), and a real load of a script
//! through the host's bpftrace and kernel verifier.
//!
//! bpftrace 0.17 has no dry run that reaches the verifier, so a load check runs the script with
//! `exit();` added to BEGIN: bpftrace parses, type-checks, loads every program through the
//! verifier, attaches every probe, then exits. Exit code 1 means a parse or semantic error,
//! anything else non-zero a load or attach failure.
pub mod supervisor;
pub mod syntax;

use std::path::Path;
use std::time::{Duration, Instant};

use supervisor::{AtBegin, Supervisor};
pub use syntax::{args_fields, probe_blocks, strip_comments, ProbeBlock, ProbeSpec};

/// Outcome of a load check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadVerdict {
    /// Loaded through the verifier and attached `probes` probes.
    Attached {
        probes: u32,
    },
    /// bpftrace rejected the text (parse or type error): exit code 1.
    Rejected,
    /// Parsed, but the kernel refused to load or attach it.
    LoadFailed {
        exit_code: i32,
    },
    TimedOut,
    /// bpftrace could not be run at all.
    ToolMissing,
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    pub verdict: LoadVerdict,
    /// Condensed stderr: what a model (or a person) needs to fix the script.
    pub diagnostic: String,
    pub elapsed: Duration,
}

/// Removes the noise every bpftrace run prints and keeps what explains a failure, bounded so a
/// model never receives megabytes of log.
pub fn condense(stderr: &str) -> String {
    const MAX_LINES: usize = 24;
    const MAX_CHARS: usize = 2400;
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("couldn't set RLIMIT_MEMLOCK"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = lines
        .iter()
        .take(MAX_LINES)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > MAX_LINES {
        out.push_str(&format!("\n… ({} more lines)", lines.len() - MAX_LINES));
    }
    if out.len() > MAX_CHARS {
        let cut = (0..=MAX_CHARS)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push_str(" …");
    }
    out
}

/// Loads `source` through bpftrace and the kernel verifier, attaches it, and exits at once.
pub async fn check_load(bpftrace: &Path, source: &str, timeout: Duration) -> LoadReport {
    let started = Instant::now();
    let run = match Supervisor::spawn(bpftrace, source, AtBegin::Exit).await {
        Ok(r) => r,
        Err(e) => {
            return LoadReport {
                verdict: LoadVerdict::ToolMissing,
                diagnostic: format!(
                    "cannot run {}: {e} (install bpftrace: bash setup.sh)",
                    bpftrace.display()
                ),
                elapsed: started.elapsed(),
            }
        }
    };
    let (verdict, diagnostic) = match run.finish(timeout).await {
        Some(Ok(out)) => {
            let verdict = match out.status.code().unwrap_or(-1) {
                0 => LoadVerdict::Attached {
                    probes: out.probes.unwrap_or(0),
                },
                1 => LoadVerdict::Rejected,
                c => LoadVerdict::LoadFailed { exit_code: c },
            };
            (verdict, condense(&out.stderr))
        }
        Some(Err(e)) => (
            LoadVerdict::ToolMissing,
            format!("bpftrace failed to run: {e}"),
        ),
        None => (
            LoadVerdict::TimedOut,
            format!(
                "bpftrace did not finish loading within {} s",
                timeout.as_secs()
            ),
        ),
    };
    LoadReport {
        verdict,
        diagnostic,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condense_drops_noise_and_bounds_size() {
        let noisy = format!(
            "WARNING: couldn't set RLIMIT_MEMLOCK\nstdin:1:1: ERROR: x\n{}",
            "line\n".repeat(1000)
        );
        let c = condense(&noisy);
        assert!(c.starts_with("stdin:1:1: ERROR: x"));
        assert!(c.len() < 2600);
    }

    /// Real bpftrace against the real kernel (needs root: bash setup.sh).
    #[tokio::test]
    async fn a_commented_out_begin_does_not_take_the_exit() {
        let src = "/*\nBEGIN { printf(\"old\\n\"); }\n*/\ntracepoint:syscalls:sys_enter_getppid { @ = count(); }\n";
        let report = check_load(Path::new("bpftrace"), src, Duration::from_secs(60)).await;
        assert_eq!(
            report.verdict,
            LoadVerdict::Attached { probes: 1 },
            "{}",
            report.diagnostic
        );
        let report = check_load(
            Path::new("bpftrace"),
            "tracepoint:nope:nope { }",
            Duration::from_secs(60),
        )
        .await;
        assert!(
            matches!(
                report.verdict,
                LoadVerdict::LoadFailed { .. } | LoadVerdict::Rejected
            ),
            "{:?}",
            report.verdict
        );
    }
}
