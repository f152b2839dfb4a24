//! The `request-subject` check: the program observes what the request is about, not a
//! neighbouring event. Static, before anything is loaded; judged from host data, not wording.
//!
//! Every check after it (load, smoke run) passes for a program on the wrong event: `fsync` for
//! `sync`, page allocations for slab allocations, a net-device transmit for network-namespace
//! creation. Here each of the request's subjects (a phrase of its words that few of this host's
//! attach points speak of: see `knowledge::subject`) must be covered by one of the program's
//! probes nearly as well as by the best attach point this host has for it; a failure names
//! those attach points.
//!
//! A filesystem's own tracepoints (`xfs:`, `ext4:`…) fire only for filesystems of that type:
//! a program on them when the request names no filesystem, and none of that type is mounted,
//! observes nothing the request is about.
use std::sync::LazyLock;
use std::time::Instant;

use regex::Regex;

use super::{Check, CheckKind, Evidence};
use crate::intent::Intent;
use crate::knowledge::subject::{Subject, SubjectIndex};

/// The event probes of a bpftrace program, as written (`tracepoint:kmem:kmem_cache_alloc`).
pub fn bpftrace_probes(source: &str) -> Vec<String> {
    super::smoke::event_probes(source)
        .into_iter()
        .map(|p| format!("{}:{}", p.prefix, p.target))
        .collect()
}

/// The attach points of a C program, from its `SEC("…")` names: `tracepoint/kmem/kmalloc` and
/// `tp/kmem/kmalloc` as `tracepoint:kmem:kmalloc`, others as written.
pub fn c_probes(source: &str) -> Vec<String> {
    static SEC: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"SEC\(\s*"([^"]+)"\s*\)"#).expect("static regex"));
    SEC.captures_iter(source)
        .filter_map(|c| c.get(1))
        .map(|m| {
            let sec = m.as_str();
            match sec.split_once('/') {
                Some(("tracepoint" | "tp", rest)) => {
                    format!("tracepoint:{}", rest.replace('/', ":"))
                }
                _ => sec.to_owned(),
            }
        })
        .collect()
}

/// The process names a bpftrace program filters on (`comm == "bash"`, either side).
pub fn comm_filters(source: &str) -> Vec<String> {
    static COMM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\bcomm\s*==\s*"([^"]+)"|"([^"]+)"\s*==\s*comm\b"#).expect("static regex")
    });
    // A comment is no filter (`// kgent left out the filter `comm == "bash"``).
    let code = crate::toolchain::bpftrace::strip_comments(source);
    COMM.captures_iter(&code)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_ascii_lowercase())
        .collect()
}

/// Tracepoints of a filesystem the request does not name and this host has no mount of.
fn idle_filesystem_probes(intent: &Intent, probes: &[String]) -> Vec<String> {
    let known = crate::host::known_filesystems();
    let mounted = crate::host::mounted_filesystems();
    let mut out = Vec::new();
    for p in probes {
        let Some(rest) = p
            .strip_prefix("tracepoint:")
            .or_else(|| p.strip_prefix("t:"))
        else {
            continue;
        };
        let system = rest.split(':').next().unwrap_or("");
        let is_fs = known.iter().any(|k| k == system);
        let named = intent.filesystems.iter().any(|f| f == system) || intent.names_word(system);
        if is_fs && !named && !mounted.iter().any(|m| m == system) {
            out.push(format!(
                "{p} fires only for {system} filesystems, and none is mounted on this host (the request names no filesystem): use the VFS-level syscall tracepoints, which see every filesystem"
            ));
        }
    }
    out
}

/// A syscall the request names as written (`memfd_create`, `fsync()`) that one of `probes`
/// traces at its own tracepoint. The request's other subject phrases then describe that call
/// ("the name given to the memory file" is memfd_create's argument), not another event.
fn named_call_traced<'a>(intent: &'a Intent, probes: &[String]) -> Option<&'a str> {
    let traced = syscalls_traced(probes);
    intent
        .calls
        .iter()
        .chain(&intent.identifiers)
        .map(String::as_str)
        .find(|c| traced.contains(c))
}

/// The syscalls the program traces (`sys_enter_*`, `sys_exit_*`) that the request names in
/// any way: as a call, an identifier or a word ("count fcntl calls").
fn traced_calls<'a>(intent: &'a Intent, probes: &[String]) -> Vec<&'a str> {
    let traced = syscalls_traced(probes);
    intent
        .calls
        .iter()
        .chain(&intent.identifiers)
        .chain(intent.syscall_names())
        .map(String::as_str)
        .filter(|c| traced.contains(c))
        .collect()
}

/// The syscalls whose `syscalls:` tracepoints are among `probes`.
fn syscalls_traced(probes: &[String]) -> Vec<&str> {
    probes
        .iter()
        .filter_map(|p| {
            p.strip_prefix("tracepoint:syscalls:sys_enter_")
                .or_else(|| p.strip_prefix("tracepoint:syscalls:sys_exit_"))
        })
        .collect()
}

/// Whether the request writes `word` as a call or identifier (`sync()`, `kmem_cache_alloc`):
/// such a subject names its own event and is never only a description of another call.
fn written_as_name(intent: &Intent, word: &str) -> bool {
    intent
        .calls
        .iter()
        .chain(&intent.identifiers)
        .any(|c| c == word)
}

/// Checks a candidate's probes against the request's subjects. A subject word that names a
/// program (`bash`) is also covered by a filter on that process name (`comms`, see
/// [`comm_filters`]): "syscalls of bash" is answered on syscall tracepoints.
pub fn check_subject(
    index: &SubjectIndex,
    subjects: &[Subject],
    intent: &Intent,
    probes: &[String],
    comms: &[String],
) -> Check {
    let started = Instant::now();
    let mut problems = idle_filesystem_probes(intent, probes);
    for c in index.closer_events(intent, probes) {
        problems.push(format!(
            "{} is a narrower event than the request describes ({} of its name is not in the request): {} is the event the request's words name",
            c.probe,
            c.extra.join(", "),
            c.sibling
        ));
    }
    for c in index.unnamed_events(intent, probes) {
        problems.push(format!(
            "{} is named for what the request does not say, while {} of the same system is named for \"{}\", which it does: attach there, unless the request means something else by it",
            c.probe,
            c.sibling,
            c.extra.join(", ")
        ));
    }
    let mut covered = Vec::new();
    let shown = if probes.is_empty() {
        "none".to_owned()
    } else {
        probes.join(", ")
    };
    for s in subjects {
        let (ok, share) = index.covers(probes, s);
        if ok {
            covered.push(format!("\"{}\"", s.phrase()));
            continue;
        }
        if let Some(comm) = comms
            .iter()
            .find(|c| s.words.iter().any(|(w, _)| w.word == **c))
        {
            covered.push(format!("\"{}\" (only processes named {comm})", s.phrase()));
            continue;
        }
        // Not a spelled event: writing an event's whole name asks about it, whatever calls
        // the request also names ("not just kill(): each signal the kernel generates").
        if let Some(call) = named_call_traced(intent, probes).filter(|_| !s.spelled) {
            if !s
                .words
                .iter()
                .any(|(w, _)| written_as_name(intent, &w.word))
            {
                covered.push(format!(
                    "\"{}\" (said of {call}, which the request names and the program traces)",
                    s.phrase()
                ));
                continue;
            }
        }
        // An event named after the traced call happens inside it (filelock:fcntl_setlk is
        // raised by fcntl(2) F_SETLK, fs/locks.c fcntl_setlk()): "fcntl calls that set a lock
        // (F_SETLK)" spells that event, and the call's tracepoints observe the same calls.
        let inside = |call: &str| {
            s.spelled
                && !s.probes.is_empty()
                && s.probes.iter().all(|p| {
                    p.rsplit(':')
                        .next()
                        .is_some_and(|event| event.starts_with(&format!("{call}_")))
                })
        };
        if let Some(call) = traced_calls(intent, probes).into_iter().find(|c| inside(c)) {
            covered.push(format!(
                "\"{}\" (an event inside {call}, which the request names and the program traces)",
                s.phrase()
            ));
            continue;
        }
        if s.spelled {
            problems.push(format!(
                "the request writes the name of {} (\"{}\"), but the program's probes ({shown}) are other events: trace that one",
                s.probes.join(", "),
                s.phrase()
            ));
            continue;
        }
        problems.push(format!(
            "the request is about \"{}\", but the program's probes ({shown}) hardly speak of it ({:.0}% of the best match); on this host it is observed by: {}",
            s.phrase(),
            share * 100.0,
            s.probes.join(", ")
        ));
    }
    let passed = problems.is_empty();
    let evidence = if passed {
        Evidence::Subjects(covered)
    } else {
        Evidence::Problems(problems)
    };
    Check::new(
        CheckKind::RequestSubject,
        passed,
        evidence,
        started.elapsed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_sections_name_their_attach_points() {
        let src = r#"SEC("tracepoint/kmem/kmem_cache_alloc") int a(void *c) { return 0; }
SEC( "tp/sched/sched_switch" ) int b(void *c) { return 0; }
SEC("uprobe/libc:malloc") int c(void *c) { return 0; }"#;
        assert_eq!(
            c_probes(src),
            [
                "tracepoint:kmem:kmem_cache_alloc",
                "tracepoint:sched:sched_switch",
                "uprobe/libc:malloc"
            ]
        );
    }

    #[test]
    fn a_comment_is_no_process_name_filter() {
        let src = "// left out the filter `comm == \"bash\"`\ntracepoint:raw_syscalls:sys_enter /\"sshd\" == comm/ { @[pid] = count(); }";
        assert_eq!(comm_filters(src), ["sshd"]);
    }

    #[test]
    fn begin_and_timers_are_not_event_probes() {
        let src = "BEGIN { printf(\"hi\\n\"); }\ntracepoint:syscalls:sys_enter_sync { @n = count(); }\ninterval:s:1 { print(@n); }";
        assert_eq!(bpftrace_probes(src), ["tracepoint:syscalls:sys_enter_sync"]);
    }

    #[test]
    fn a_call_the_request_names_is_what_its_other_words_describe() {
        let intent = Intent::read("log every pidfd_open call and the process it refers to");
        let traced = ["tracepoint:syscalls:sys_enter_pidfd_open".to_owned()];
        assert_eq!(named_call_traced(&intent, &traced), Some("pidfd_open"));
        let other = ["tracepoint:sched:sched_process_fork".to_owned()];
        assert_eq!(named_call_traced(&intent, &other), None);
        // Written as a call too: the parenthesised name.
        let called = Intent::read("who calls fdatasync() most");
        let exit = ["tracepoint:syscalls:sys_exit_fdatasync".to_owned()];
        assert_eq!(named_call_traced(&called, &exit), Some("fdatasync"));
        assert!(written_as_name(&called, "fdatasync"));
        assert!(!written_as_name(&called, "most"));
        // Named as a plain word, traced at its exit.
        let word = Intent::read("count fcntl calls that take a lease, per program");
        let fcntl = ["tracepoint:syscalls:sys_exit_fcntl".to_owned()];
        assert_eq!(traced_calls(&word, &fcntl), ["fcntl"]);
        assert!(traced_calls(&word, &exit).is_empty());
    }

    #[test]
    fn a_filesystem_nobody_mounted_is_not_what_a_request_is_about() {
        let known = crate::host::known_filesystems();
        let mounted = crate::host::mounted_filesystems();
        let Some(idle) = known.iter().find(|k| !mounted.contains(k) && k.len() > 2) else {
            return; // every filesystem this kernel knows is mounted: nothing to judge
        };
        let probe = format!("tracepoint:{idle}:{idle}_some_event");
        let plain = Intent::read("count file writes by process");
        assert_eq!(
            idle_filesystem_probes(&plain, std::slice::from_ref(&probe)).len(),
            1
        );
        let named = Intent::read(&format!("count {idle} writes by process"));
        assert!(idle_filesystem_probes(&named, &[probe]).is_empty());
    }
}
