//! The words sent to the model: a short system prompt carrying this host's rules, the grounding
//! (real tracepoints with their fields, example programs that work here), and repair messages.
//! Kept short on purpose: the embedded model reads ~60 prompt tokens per second.
use crate::host::HostFacts;
use crate::knowledge::Grounding;

pub fn system_prompt(host: &HostFacts) -> String {
    format!(
        "You write bpftrace 0.17 programs for Linux {release}. {REPLY}\nRules:\n{rules}",
        release = host.kernel_release,
        rules = rules(host)
    )
}

/// How a free-form draft is to be written, in the system prompt and in [`switch_prompt`].
const REPLY: &str =
    "Reply with one ```bpftrace code block, then one sentence saying what it prints.";

/// What bpftrace programs get wrong on this host, one rule per line.
fn rules(host: &HostFacts) -> String {
    let unavailable: Vec<String> = host
        .families
        .iter()
        .filter(|f| !f.available && !f.prefixes.is_empty())
        .map(|f| f.prefixes[..f.prefixes.len().min(2)].join("/"))
        .collect();
    let avoid = if unavailable.is_empty() {
        String::new()
    } else {
        format!(
            "- This kernel CANNOT use these probe types: {}. Use tracepoint:, uprobe:, uretprobe:, profile:hz:99, interval:s:1, BEGIN, END.\n",
            unavailable.join(", ")
        )
    };
    format!(
        "{avoid}\
- Use only the tracepoints listed by the user, and only their listed fields, as args->field. A `char *` field must be read with str(args->field).\n\
- args->ret exists only in sys_exit_* tracepoints. To report an argument together with the result, save the argument in a map keyed by tid in sys_enter_*, read it in sys_exit_*, then delete it.\n\
- Variables: $x is a scratch variable (assign before use), @x is a map. Builtins: pid, tid, comm, uid, nsecs, cpu, retval (only in uretprobe).\n\
- Print with printf(\"...\\n\", ...); print an argv array (char **) with join(args->argv). Aggregate with @m[key] = count() or sum(v) or hist(v); maps print when the program stops.\n\
- bpftrace has no `continue` outside loops, no ntohs(), no C declarations: filter with a /predicate/ or if (...) {{ }}."
    )
}

/// The free-form turn that follows the query step's prompt in the same conversation, when the
/// query drafts failed: the model has read the tracepoints listed there already (and the
/// embedded backend holds them in its cache), so this turn says only what is new: how to write
/// bpftrace, the grounded tracepoints the query step did not offer, their facts, the example
/// programs, and the request again. `shown` is the grounding the query prompt listed.
pub fn switch_prompt(
    host: &HostFacts,
    request: &str,
    grounding: &Grounding,
    shown: &Grounding,
) -> String {
    let mut rest = grounding.clone();
    rest.tracepoints.retain(|t| {
        !shown
            .tracepoints
            .iter()
            .any(|s| s.subsystem == t.subsystem && s.event == t.event)
    });
    rest.facts
        .retain(|(p, _)| !shown.facts.iter().any(|(q, _)| q == p));
    rest.uprobes
        .retain(|u| !shown.uprobes.iter().any(|s| s.path == u.path));
    let header = if rest.tracepoints.is_empty() {
        String::new()
    } else {
        "More tracepoints on this host (with their args fields):\n".to_owned()
    };
    format!(
        "A query cannot answer this request here. Write a bpftrace 0.17 program for it instead, using the tracepoints listed above or below. {REPLY}\nRules:\n{}\n{}",
        rules(host),
        listing(&header, request, &rest)
    )
}

/// Facts printed at most, over all grounded tracepoints, and per tracepoint (its first ones,
/// which the specs DB lists most important first).
const MAX_FACT_LINES: usize = 6;
const MAX_FACTS_PER_PROBE: usize = 3;

pub fn user_prompt(request: &str, grounding: &Grounding) -> String {
    listing(
        "Tracepoints on this host (with their args fields):\n",
        request,
        grounding,
    )
}

/// `header`, the grounding's tracepoints, facts, functions and examples, then the request.
fn listing(header: &str, request: &str, grounding: &Grounding) -> String {
    let mut s = String::from(header);
    for tp in &grounding.tracepoints {
        // Every syscall tracepoint carries __syscall_nr; no request needs it, each costs tokens.
        s.push_str(&tp.signature().replace("int __syscall_nr; ", ""));
        s.push('\n');
    }
    // What programs get wrong about these tracepoints (byte order, address families, where
    // the result is): the curated specs, a few lines at most, since every token costs time.
    let facts: Vec<String> = grounding
        .facts
        .iter()
        .flat_map(|(probe, facts)| {
            facts
                .iter()
                .take(MAX_FACTS_PER_PROBE)
                .map(move |f| format!("- {probe}: {f}"))
        })
        .take(MAX_FACT_LINES)
        .collect();
    if !facts.is_empty() {
        s.push_str("Facts:\n");
        s.push_str(&facts.join("\n"));
        s.push('\n');
    }
    for u in &grounding.uprobes {
        s.push_str(&format!(
            "\nFunctions of {} (uprobe:{}:NAME, uretprobe:{}:NAME with retval), {} in all, these match the request: {}\n",
            u.path.display(),
            u.path.display(),
            u.path.display(),
            u.total_symbols,
            u.symbols.join(", ")
        ));
    }
    if !grounding.examples.is_empty() {
        s.push_str("\nExample programs that work on this host:\n");
        for e in &grounding.examples {
            s.push_str("```bpftrace\n");
            s.push_str(strip_header_comments(&e.source).trim());
            s.push_str("\n```\n");
        }
    }
    s.push_str("\nRequest: ");
    s.push_str(request);
    s
}

pub fn repair_prompt(diagnostics: &str) -> String {
    format!(
        "That program failed on this host:\n{diagnostics}\n\nFix it. Reply with the complete corrected program in one ```bpftrace block."
    )
}

pub fn reconsider_prompt() -> String {
    "Every tracepoint listed above exists and works on this host. If one of them can observe what is asked, write the program in one ```bpftrace block. Reply UNSUPPORTED: <reason> only if none of them can.".to_owned()
}

pub fn repeat_prompt(diagnostics: &str) -> String {
    format!(
        "Programs written for this request before failed on this host:\n{diagnostics}\n\nWrite a new program for the request that avoids this problem, in one ```bpftrace block."
    )
}

/// Examples keep their code, not their license headers.
fn strip_header_comments(source: &str) -> String {
    let mut out = Vec::new();
    let mut in_header = true;
    for l in source.lines() {
        let t = l.trim_start();
        if in_header
            && (t.starts_with("//")
                || t.starts_with('#')
                || t.starts_with("/*")
                || t.starts_with('*')
                || t.is_empty())
        {
            if let Some(d) = t
                .trim_start_matches(['/', ' '])
                .strip_prefix("description:")
            {
                out.push(format!("// {}", d.trim()));
            }
            continue;
        }
        in_header = false;
        out.push(l.to_owned());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Field, Tracepoint};
    use crate::knowledge::Example;

    fn tracepoint(subsystem: &str, event: &str, field: &str) -> Tracepoint {
        Tracepoint {
            subsystem: subsystem.into(),
            event: event.into(),
            fields: vec![Field {
                ctype: "int".into(),
                name: field.into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_free_form_turn_lists_only_what_the_query_prompt_did_not() {
        let host = HostFacts::for_tests();
        let all = Grounding {
            tracepoints: vec![
                tracepoint("workqueue", "workqueue_execute_start", "work"),
                tracepoint("sched", "sched_switch", "prev_pid"),
            ],
            examples: vec![Example {
                origin: "kgent:x.bt".into(),
                description: String::new(),
                source: "tracepoint:sched:sched_switch { @[cpu] = count(); }".into(),
            }],
            uprobes: Vec::new(),
            facts: Vec::new(),
            subjects: Vec::new(),
        };
        let mut shown = all.clone();
        shown.tracepoints.truncate(1);
        shown.examples.clear();
        let turn = switch_prompt(&host, "log work items as they run", &all, &shown);
        assert!(turn.contains(&rules(&host)), "{turn}");
        assert!(!turn.contains("workqueue_execute_start"), "{turn}");
        assert!(
            turn.contains("More tracepoints") && turn.contains("sched_switch"),
            "{turn}"
        );
        assert!(turn.contains("@[cpu] = count()"), "the examples: {turn}");
        assert!(
            turn.ends_with("Request: log work items as they run"),
            "{turn}"
        );
        // Everything listed already: no header for an empty list.
        let turn = switch_prompt(&host, "r", &all, &all);
        assert!(!turn.contains("More tracepoints"), "{turn}");
        // The system prompt carries the same rules.
        assert!(system_prompt(&host).ends_with(&rules(&host)));
    }
}
