//! What the query step offers the model: the probes FROM may name, the fields a query may read,
//! and the grounding it is shown.
//!
//! When the request names calls (`fsync()`, `open/openat call`, `getaddrinfo()`), FROM may name
//! only those calls' probes: a small model otherwise drifts to a neighbouring probe (block I/O
//! for fsync, `kmalloc` for malloc). Syscalls are offered by their `sys_enter_*` tracepoint
//! only; the compiler adds the exit when the query reads `ret` or a duration. A request about
//! system calls in general that names none gets `raw_syscalls:sys_enter` the same way.
use crate::host::HostFacts;
use crate::intent::{Concept, Intent};
use crate::knowledge::{named_syscall_tracepoints, Grounding};

/// The tracepoints that fire for every system call.
const RAW_ENTER: &str = "tracepoint:raw_syscalls:sys_enter";
const RAW_EXIT: &str = "tracepoint:raw_syscalls:sys_exit";
use crate::toolchain::grammar::{AllowedProbe, ProbeContext};

pub struct QueryScope {
    pub from: Vec<AllowedProbe>,
    pub fields: Vec<String>,
    pub grounding: Grounding,
    /// FROM was narrowed to the calls the request names (or to `raw_syscalls` for all calls).
    pub focused: bool,
    /// Fields holding code letters (`rwbs`), which `contains()` may test.
    pub coded_fields: Vec<String>,
}

pub fn scope(
    host: &HostFacts,
    grounding: &Grounding,
    allowed: &[AllowedProbe],
    intent: &Intent,
) -> QueryScope {
    let named_tps: Vec<String> = named_syscall_tracepoints(host, intent)
        .into_iter()
        .map(|t| format!("tracepoint:{t}"))
        .collect();
    // A call that is a syscall traced here by its tracepoints is not offered as a function
    // too (the C library's `stat`): the tracepoints see every caller, the function has no
    // typed arguments, and a query cannot mix the two.
    let traced_syscall = |c: &str| {
        crate::knowledge::syscall_variants(host, c)
            .iter()
            .any(|v| named_tps.contains(&format!("tracepoint:syscalls:sys_enter_{v}")))
    };
    let called: Vec<&str> = intent
        .calls
        .iter()
        .map(String::as_str)
        .filter(|c| !traced_syscall(c))
        .collect();
    let mut g = grounding.clone();
    // An event whose whole name the request spells is held by the subject check (see
    // `knowledge::subject::SubjectIndex::spelled`): FROM is those events, not the calls the
    // request also names ("not only kill()"), which would fail it every time.
    let spelled: Vec<&str> = grounding
        .subjects
        .iter()
        .filter(|s| s.spelled)
        .flat_map(|s| s.probes.iter().map(String::as_str))
        .collect();
    let mut from = if spelled.is_empty() {
        named_calls(&named_tps, &called, &mut g)
    } else {
        Vec::new()
    };
    // A request about system calls in general that names none is about every one: the
    // tracepoints that fire for all of them (`raw_syscalls`, include/trace/events/syscalls.h).
    let mut kept = named_tps.clone();
    if from.is_empty() && spelled.is_empty() && intent.asks(Concept::AllSyscalls) {
        if let Some(raw) = allowed.iter().find(|a| a.name == RAW_ENTER) {
            from.push(raw.clone());
            kept = vec![RAW_ENTER.to_owned(), RAW_EXIT.to_owned()];
        }
    }
    let focused = !from.is_empty();
    if focused {
        g.tracepoints.retain(|t| kept.contains(&t.probe()));
        g.facts.retain(|(p, _)| kept.contains(p));
        for u in &mut g.uprobes {
            u.symbols.retain(|s| called.contains(&s.as_str()));
        }
        g.uprobes.retain(|u| !u.symbols.is_empty());
    } else {
        from = offered(allowed);
        let of_spelled: Vec<AllowedProbe> = from
            .iter()
            .filter(|p| spelled.contains(&p.name.as_str()))
            .cloned()
            .collect();
        if !of_spelled.is_empty() {
            from = of_spelled;
        }
    }
    let fields = readable_fields(host, &from, &mut g);
    let coded_fields = probe_facts(&from, &fields, &mut g, intent);
    QueryScope {
        from,
        fields,
        grounding: g,
        focused,
        coded_fields,
    }
}

/// The probes of the calls the request names: the `sys_enter_*` tracepoints of its syscalls, the
/// grounded uprobe functions it calls, and C library functions it calls by name (added to `g`).
fn named_calls(named_tps: &[String], called: &[&str], g: &mut Grounding) -> Vec<AllowedProbe> {
    let mut from: Vec<AllowedProbe> = named_tps
        .iter()
        .filter(|t| t.contains(":sys_enter_"))
        .map(|t| AllowedProbe::tracepoint(t.clone(), Vec::new()))
        .collect();
    for u in &g.uprobes {
        for s in u.symbols.iter().filter(|s| called.contains(&s.as_str())) {
            from.push(AllowedProbe {
                name: format!("uprobe:{}:{s}", u.path.display()),
                context: ProbeContext::Uprobe,
            });
        }
    }
    // A C library function the request calls by name (`malloc()`) is offered even when the
    // request does not name the library.
    let unresolved: Vec<&str> = called
        .iter()
        .copied()
        .filter(|c| {
            !named_tps.iter().any(|t| t.ends_with(&format!("_{c}")))
                && !from.iter().any(|p| p.name.ends_with(&format!(":{c}")))
        })
        .collect();
    if !unresolved.is_empty() {
        if let Some(libc) = crate::host::resolve_binary("libc") {
            let symbols = crate::host::uprobe_symbols(&libc).unwrap_or_default();
            for c in unresolved {
                if symbols.iter().any(|s| s == c) {
                    from.push(AllowedProbe {
                        name: format!("uprobe:{}:{c}", libc.display()),
                        context: ProbeContext::Uprobe,
                    });
                    match g.uprobes.iter_mut().find(|u| u.path == libc) {
                        Some(u) if !u.symbols.iter().any(|s| s == c) => u.symbols.push(c.into()),
                        Some(_) => {}
                        None => g.uprobes.push(crate::host::UprobeTarget {
                            path: libc.clone(),
                            symbols: vec![c.to_owned()],
                            total_symbols: symbols.len(),
                        }),
                    }
                }
            }
        }
    }
    from
}

/// Every grounded event probe, one name per pair: the compiler finds the other half.
fn offered(allowed: &[AllowedProbe]) -> Vec<AllowedProbe> {
    let names: Vec<&str> = allowed.iter().map(|a| a.name.as_str()).collect();
    allowed
        .iter()
        .filter(|a| {
            let n = a.name.as_str();
            let exit_of_offered =
                n.strip_prefix("tracepoint:syscalls:sys_exit_")
                    .is_some_and(|s| {
                        names.contains(&format!("tracepoint:syscalls:sys_enter_{s}").as_str())
                    })
                    || (n == "tracepoint:raw_syscalls:sys_exit"
                        && names.contains(&"tracepoint:raw_syscalls:sys_enter"));
            let alias = n.starts_with("tracepoint:syscalls:sys_e")
                && !n.contains("sys_enter_")
                && !n.contains("sys_exit_");
            let uret_of_offered = a.context == ProbeContext::Uretprobe
                && names.contains(&a.name.replacen("uretprobe:", "uprobe:", 1).as_str());
            let plain_timer = a.context == ProbeContext::Plain && !n.starts_with("profile:");
            !(exit_of_offered || alias || uret_of_offered || plain_timer)
        })
        .cloned()
        .collect()
}

/// Fields of every offered probe and of its other half; a function's parameters, from its
/// prototype in the system headers, which the model is shown too (added to `g`'s facts).
fn readable_fields(host: &HostFacts, from: &[AllowedProbe], g: &mut Grounding) -> Vec<String> {
    let mut fields = Vec::new();
    let usable = |f: &crate::host::Field| {
        !f.ctype.contains('[')
            || f.ctype.contains("char")
            || ((f.ctype == "__u8[4]" || f.ctype == "__u8[16]") && f.name.contains("addr"))
    };
    for p in from {
        if p.context == ProbeContext::Uprobe {
            let func = p.name.rsplit(':').next().unwrap_or_default();
            if let Some(proto) = crate::host::prototypes::lookup(func) {
                fields.extend(proto.params.iter().map(|f| f.name.clone()));
                g.facts.insert(0, (p.name.clone(), vec![proto.describe()]));
            }
            continue;
        }
        let Some(key) = p.name.strip_prefix("tracepoint:") else {
            continue;
        };
        let partner = key
            .replace("sys_enter", "\u{0}")
            .replace("sys_exit", "sys_enter")
            .replace('\u{0}', "sys_exit");
        for k in [key, partner.as_str()] {
            if let Some(t) = host.tracepoints.get(k) {
                fields.extend(
                    t.fields
                        .iter()
                        .filter(|f| usable(f))
                        .map(|f| f.name.clone()),
                );
            }
        }
    }
    fields
}

/// Facts shown first for offered probes: how duration_* is measured where there is no return
/// (specs DB spans), and what code letters mean (`contains()` tests one). Returns the fields
/// holding code letters.
fn probe_facts(
    from: &[AllowedProbe],
    fields: &[String],
    g: &mut Grounding,
    intent: &Intent,
) -> Vec<String> {
    // How duration_* is measured at offered probes that have no return (specs DB spans).
    for p in from {
        // Every span ending here, the default first (others start at another FROM probe).
        let spans: Vec<&str> = crate::knowledge::specs::spans()
            .filter(|(end, _)| *end == p.name)
            .map(|(_, s)| s.means.as_str())
            .collect();
        if !spans.is_empty() {
            // First: the prompt shows a few facts per probe.
            let fact = format!("duration_ms / duration_us here: {}.", spans.join("; "));
            match g.facts.iter_mut().find(|(n, _)| *n == p.name) {
                Some((_, facts)) => facts.insert(0, fact),
                None => g.facts.insert(0, (p.name.clone(), vec![fact])),
            }
        }
    }
    // Fields of code letters (block's rwbs): what the letters mean, and contains() to test one.
    let mut coded_fields = Vec::new();
    for c in crate::knowledge::specs::codes() {
        let Some(p) = from
            .iter()
            .find(|p| p.name.starts_with(&c.probes) && fields.contains(&c.field))
        else {
            continue;
        };
        coded_fields.push(c.field.clone());
        g.facts
            .insert(0, (p.name.clone(), vec![c.describe(intent)]));
    }
    coded_fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered_here() -> (HostFacts, Grounding, Vec<AllowedProbe>) {
        let host = HostFacts::for_tests_with_tracepoints(&[
            ("raw_syscalls", "sys_enter", &[("long", "id")]),
            (
                "raw_syscalls",
                "sys_exit",
                &[("long", "id"), ("long", "ret")],
            ),
            ("syscalls", "sys_enter_openat", &[("int", "flags")]),
            ("syscalls", "sys_exit_openat", &[("long", "ret")]),
        ]);
        let tracepoints: Vec<crate::host::Tracepoint> =
            host.tracepoints.values().cloned().collect();
        let allowed = tracepoints
            .iter()
            .map(|t| AllowedProbe::tracepoint(t.probe(), Vec::new()))
            .collect();
        let g = Grounding {
            tracepoints,
            examples: Vec::new(),
            uprobes: Vec::new(),
            facts: Vec::new(),
            subjects: Vec::new(),
        };
        (host, g, allowed)
    }

    #[test]
    fn every_system_call_is_asked_at_the_tracepoints_that_see_them_all() {
        let (host, g, allowed) = offered_here();
        let all = Intent::read("tally the system calls which failed, by syscall id");
        let s = scope(&host, &g, &allowed, &all);
        assert!(s.focused);
        let from: Vec<&str> = s.from.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(from, [RAW_ENTER]);
        assert!(s
            .grounding
            .tracepoints
            .iter()
            .all(|t| t.subsystem == "raw_syscalls"));
        // A request naming its call keeps its call.
        let named = Intent::read("tally the openat() calls which failed");
        let s = scope(&host, &g, &allowed, &named);
        let from: Vec<&str> = s.from.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(from, ["tracepoint:syscalls:sys_enter_openat"]);
    }
}
