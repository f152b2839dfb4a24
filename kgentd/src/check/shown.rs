//! Whether what a bpftrace program gathers reaches the user in the shape asked for: tallies
//! that are never printed, and events asked for one by one that are only tallied.
//!
//! Tallies first. bpftrace prints every map that
//! is not empty when tracing ends (bpftrace(8), "map printing at exit"); a map emptied in `END`
//! (`clear(@m)`, `zero(@m)`, `delete(@m)`) and never `print()`ed elsewhere is counted and then
//! thrown away: the program runs, loads and passes a smoke run, and shows nothing. Scratch maps
//! (`@start[tid] = nsecs`) are emptied in `END` on purpose: only aggregations are judged.
use std::sync::LazyLock;

use regex::Regex;

use crate::intent::Intent;
use crate::toolchain::bpftrace::{probe_blocks, ProbeSpec};

/// The aggregations a program empties in `END` and never prints, as problems in words.
pub fn tallies_never_shown(source: &str) -> Vec<String> {
    crate::toolchain::bpftrace::syntax::tallies_emptied_unprinted(source)
        .into_iter()
        .map(|m| {
            format!(
                "{m} is emptied in END and never printed: bpftrace prints a map when tracing ends only if it still holds something, so its tallies are never shown (print({m}) before clearing it, or do not clear it)"
            )
        })
        .collect()
}

/// A request for each event ([`Intent::wants_lines`]) answered only with tallies: no block on
/// an event prints anything of its own (`printf`), so the events asked for one by one are
/// folded into maps printed at the end.
pub fn lines_not_printed(intent: &Intent, source: &str) -> Option<String> {
    static PRINTF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bprintf\s*\(").expect("static regex"));
    if !intent.wants_lines() {
        return None;
    }
    let blocks = probe_blocks(source);
    let events: Vec<_> = blocks
        .iter()
        .filter(|b| b.probes.iter().all(ProbeSpec::observes_events))
        .collect();
    if events.is_empty() || events.iter().any(|b| PRINTF.is_match(&b.body)) {
        return None;
    }
    Some(
        "the request asks about each event, but the program only tallies them: printf a line per event (with the values the request asks for) instead of aggregating into maps".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_asked_for_is_printed_as_it_happens() {
        let ask = Intent::read("print how long each fsync() call takes, with the program");
        let tally = "tracepoint:syscalls:sys_enter_fsync { @s[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_fsync /@s[tid]/ { @ms[comm] = hist((nsecs - @s[tid]) / 1000000); delete(@s[tid]); }";
        assert!(lines_not_printed(&ask, tally).is_some());
        let lines = "tracepoint:syscalls:sys_enter_fsync { @s[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_fsync /@s[tid]/ { printf(\"%s %d\\n\", comm, (nsecs - @s[tid]) / 1000000); delete(@s[tid]); }";
        assert!(lines_not_printed(&ask, lines).is_none());
        let histogram = Intent::read("a histogram: the time each fsync() call takes");
        assert!(lines_not_printed(&histogram, tally).is_none());
    }

    #[test]
    fn a_tally_cleared_at_the_end_and_never_printed_is_never_shown() {
        let lost = "tracepoint:syscalls:sys_enter_capget { @calls[comm] = count(); }\nEND { clear(@calls); }";
        assert_eq!(tallies_never_shown(lost).len(), 1);
        // Printed first: shown.
        let printed = "tracepoint:syscalls:sys_enter_capget { @calls[comm] = count(); }\nEND { print(@calls); clear(@calls); }";
        assert!(tallies_never_shown(printed).is_empty());
        // Printed each second by an interval: shown.
        let periodic = "tracepoint:syscalls:sys_enter_capget { @calls[comm] = count(); }\ninterval:s:1 { print(@calls); clear(@calls); }\nEND { clear(@calls); }";
        assert!(tallies_never_shown(periodic).is_empty());
        // A scratch map emptied at the end is no tally.
        let scratch = "tracepoint:syscalls:sys_enter_read { @s[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read /@s[tid]/ { @us = hist((nsecs - @s[tid]) / 1000); delete(@s[tid]); }\nEND { clear(@s); }";
        assert!(tallies_never_shown(scratch).is_empty());
    }
}
