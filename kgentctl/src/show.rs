//! How kgentd's messages look to a person on a terminal: one place for check marks, durations,
//! timestamps and the shortening of long diagnostics, so every subcommand shows them alike.

use std::time::{Duration, UNIX_EPOCH};

use kgent_proto::v1::{CheckResult, Target, Usage};

/// The first non-empty line of `text`, cut to `max` characters, with a note of how many lines
/// were left out.
pub fn one_line(text: &str, max: usize) -> String {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let Some(first) = lines.next() else {
        return String::new();
    };
    let rest = lines.count();
    let mut line = truncate(first, max);
    if rest > 0 {
        line.push_str(&format!(" (+{rest} more line{})", plural(rest)));
    }
    line
}

/// `text` cut to at most `max` characters (not bytes), ending in "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

pub fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// Milliseconds as seconds with one decimal: "12.3 s".
pub fn seconds(ms: u64) -> String {
    format!("{:.1} s", Duration::from_millis(ms).as_secs_f64())
}

/// A Unix time in milliseconds as UTC, to the second: "2025-01-31T12:00:00Z".
pub fn timestamp(unix_ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(unix_ms)).to_string()
}

/// The name a user types for a target (as in `--target`).
pub fn target_name(target: i32) -> &'static str {
    match Target::try_from(target) {
        Ok(Target::Bpftrace) => "bpftrace",
        Ok(Target::C) => "c",
        Ok(Target::Unspecified) | Err(_) => "unspecified",
    }
}

/// One check as a line: mark, name, the first line of its detail, how long it took.
pub fn check_line(check: &CheckResult) -> String {
    let mark = match (check.passed, check.inconclusive) {
        (true, _) => '✓',
        (false, true) => '?',
        (false, false) => '✗',
    };
    let detail = one_line(&check.detail, 100);
    let took = seconds(check.elapsed_ms);
    if detail.is_empty() {
        format!("{mark} {} ({took})", check.name)
    } else {
        format!("{mark} {}: {detail} ({took})", check.name)
    }
}

/// Model tokens (in, out) of a usage that may be absent.
pub fn tokens(usage: Option<&Usage>) -> (u64, u64) {
    usage.map_or((0, 0), |usage| {
        (usage.prompt_tokens, usage.completion_tokens)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_keeps_the_first_line_and_counts_the_rest() {
        assert_eq!(
            one_line("\n  error: unknown field 'fname'\nat line 3\n", 80),
            "error: unknown field 'fname' (+1 more line)"
        );
        assert_eq!(one_line("", 80), "");
        assert_eq!(one_line("ééééé", 3), "éé…");
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn failed_check_shows_its_diagnostic() {
        let check = CheckResult {
            iteration: 2,
            name: "load".into(),
            passed: false,
            inconclusive: false,
            detail: "verifier: R1 invalid mem access\n(long log)".into(),
            elapsed_ms: 1234,
        };
        assert_eq!(
            check_line(&check),
            "✗ load: verifier: R1 invalid mem access (+1 more line) (1.2 s)"
        );
        let unknown = CheckResult {
            name: "symbolic".into(),
            inconclusive: true,
            detail: "a contract: unknown (z3 gave no answer: timeout)".into(),
            ..check
        };
        assert!(check_line(&unknown).starts_with("? symbolic: "));
    }
}
