//! The bpftrace front end: its syntax ([`syntax`]: probe blocks, comments, spans), the one
//! supervisor every bpftrace run goes through ([`supervisor`]), and a real load of a script
//! through the host's bpftrace and kernel verifier.
//!
//! bpftrace 0.17 has no dry run that reaches the verifier, so a load check runs the script with
//! `exit();` added to BEGIN: bpftrace parses, type-checks, loads every program through the
//! verifier, attaches every probe, then exits. Exit code 1 means a parse or semantic error,
//! anything else non-zero a load or attach failure. The verdict is the exit code alone: a
//! `WARNING:` on stderr comes with exit code 0 when the program loaded, and is reported as
//! such ([`LoadReport::warnings`]), never as a failure.
pub mod expr;
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
    /// bpftrace's warnings, one line each with its location. bpftrace loads a program it warns
    /// about: a warning is evidence, never a failure.
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

/// How serious a line of bpftrace's stderr is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
    /// A line that is not a diagnostic of its own (kernel or libbpf output before an error).
    Other,
}

/// One diagnostic: its first line (`stdin:1:67-68: WARNING: …`) and the lines that show where
/// (the source line and its `~~~` marker).
#[derive(Debug, Clone)]
struct Diagnostic {
    level: Level,
    lines: Vec<String>,
}

/// bpftrace's stderr read into diagnostics, in order, without the noise every run prints.
fn diagnostics(stderr: &str) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for line in stderr.lines() {
        if line.trim().is_empty() || line.contains("couldn't set RLIMIT_MEMLOCK") {
            continue;
        }
        // "stdin:1:5-9: ERROR: …", "ERROR: …", "WARNING: …" (bpftrace's log.cpp).
        let message = line
            .find(": ERROR: ")
            .or_else(|| line.find(": WARNING: "))
            .map_or(line, |k| &line[k + 2..]);
        let level = if message.starts_with("ERROR:") {
            Level::Error
        } else if message.starts_with("WARNING:") {
            Level::Warning
        } else {
            Level::Other
        };
        match out.last_mut() {
            // A source excerpt or marker belongs to the diagnostic above it.
            Some(d) if level == Level::Other && d.level != Level::Other => {
                d.lines.push(line.to_owned());
            }
            _ => out.push(Diagnostic {
                level,
                lines: vec![line.to_owned()],
            }),
        }
    }
    out
}

/// The warnings of bpftrace's stderr, one line each (with its location, without the excerpt).
pub fn warnings(stderr: &str) -> Vec<String> {
    diagnostics(stderr)
        .into_iter()
        .filter(|d| d.level == Level::Warning)
        .filter_map(|d| d.lines.into_iter().next())
        .collect()
}

/// Keeps what explains a failure, bounded so a model never receives megabytes of log: errors
/// and other output first, with their excerpts, then the warnings one line each under a
/// heading that says they are not errors. However many warnings there are, an error is never
/// pushed out of the bound by them.
pub fn condense(stderr: &str) -> String {
    const MAX_LINES: usize = 24;
    const MAX_CHARS: usize = 2400;
    let diags = diagnostics(stderr);
    let mut lines: Vec<&str> = diags
        .iter()
        .filter(|d| d.level != Level::Warning)
        .flat_map(|d| d.lines.iter().map(String::as_str))
        .collect();
    let warned: Vec<&str> = diags
        .iter()
        .filter(|d| d.level == Level::Warning)
        .filter_map(|d| d.lines.first().map(String::as_str))
        .collect();
    if !warned.is_empty() && !lines.is_empty() {
        lines.push("bpftrace also warned (a warning does not stop a program from loading):");
    }
    lines.extend(warned);
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
                warnings: Vec::new(),
                diagnostic: format!(
                    "cannot run {}: {e} (install bpftrace: bash setup.sh)",
                    bpftrace.display()
                ),
                elapsed: started.elapsed(),
            }
        }
    };
    let mut warned = Vec::new();
    let (verdict, diagnostic) = match run.finish(timeout).await {
        Some(Ok(out)) => {
            let verdict = match out.status.code().unwrap_or(-1) {
                0 => LoadVerdict::Attached {
                    probes: out.probes.unwrap_or(0),
                },
                1 => LoadVerdict::Rejected,
                c => LoadVerdict::LoadFailed { exit_code: c },
            };
            warned = warnings(&out.stderr);
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
        warnings: warned,
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

    /// bpftrace 0.17's own words, warnings before the error as it prints them.
    const WARNED_THEN_FAILED: &str = "ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace.\nstdin:1:67-68: WARNING: comparison of integers of different signs: 'int64' and 'unsigned int64' can lead to undefined behavior\ntracepoint:syscalls:sys_exit_read { if (args->ret > $x) { } }\n                                                                  ~\nstdin:1:106-107: WARNING: signed operands for '/' can lead to undefined behavior (cast to unsigned to silence warning)\n@b = args->ret / 2;\n     ~\nstdin:1:247-272: ERROR: printf: %s specifier expects a value of type string (integer supplied)\nprintf(\"%s\\n\", args->ret);\n~~~~~~~~~~~~~~~~~~~~~~~~~\n";

    #[test]
    fn errors_come_before_warnings_and_warnings_are_listed() {
        let c = condense(WARNED_THEN_FAILED);
        let lines: Vec<&str> = c.lines().collect();
        assert!(
            lines[0].starts_with("stdin:1:247-272: ERROR: printf"),
            "{c}"
        );
        assert!(
            lines[1].starts_with("printf("),
            "its excerpt follows it: {c}"
        );
        assert!(c.contains("bpftrace also warned"), "{c}");
        assert!(!c.contains("RLIMIT"), "{c}");
        let w = warnings(WARNED_THEN_FAILED);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("different signs") && w[1].contains("signed operands"));
        // A hundred warnings never push the error out.
        let many = format!(
            "{}stdin:9:1-2: ERROR: the real one\n",
            "stdin:1:1-2: WARNING: w\nsrc\n ~\n".repeat(100)
        );
        assert!(condense(&many).starts_with("stdin:9:1-2: ERROR: the real one"));
    }

    /// Real bpftrace: a program it warns about (a signed/unsigned comparison and a signed
    /// division) loads, attaches and is reported with its warnings.
    #[tokio::test]
    async fn a_program_with_warnings_loads() {
        let src = "tracepoint:syscalls:sys_exit_read { $limit = (uint64)4096; if (args->ret > $limit) { @big = count(); } @half = sum(args->ret / 2); }\n";
        let report = check_load(Path::new("bpftrace"), src, Duration::from_secs(60)).await;
        assert_eq!(
            report.verdict,
            LoadVerdict::Attached { probes: 1 },
            "{}",
            report.diagnostic
        );
        assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
        assert!(report.warnings.iter().all(|w| w.contains("WARNING:")));
        // With an error besides, the error leads what the model is told.
        let bad = src.replace(
            "@half = sum(args->ret / 2);",
            "@half = sum(args->ret / 2); printf(\"%s\\n\", args->ret);",
        );
        let report = check_load(Path::new("bpftrace"), &bad, Duration::from_secs(60)).await;
        assert_eq!(
            report.verdict,
            LoadVerdict::Rejected,
            "{}",
            report.diagnostic
        );
        assert!(
            report
                .diagnostic
                .lines()
                .next()
                .is_some_and(|l| l.contains("ERROR: printf")),
            "{}",
            report.diagnostic
        );
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
