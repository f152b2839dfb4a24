//! The words sent to the model: a short system prompt carrying this host's rules, the grounding
//! (real tracepoints with their fields, example programs that work here), and repair messages.
//! Kept short on purpose: the embedded model reads ~60 prompt tokens per second.
use crate::host::HostFacts;
use crate::knowledge::Grounding;

pub fn system_prompt(host: &HostFacts) -> String {
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
        "You write bpftrace 0.17 programs for Linux {release}. Reply with one ```bpftrace code block, then one sentence saying what it prints.\n\
Rules:\n\
{avoid}\
- Use only the tracepoints listed by the user, and only their listed fields, as args->field. A `char *` field must be read with str(args->field).\n\
- args->ret exists only in sys_exit_* tracepoints. To report an argument together with the result, save the argument in a map keyed by tid in sys_enter_*, read it in sys_exit_*, then delete it.\n\
- Variables: $x is a scratch variable (assign before use), @x is a map. Builtins: pid, tid, comm, uid, nsecs, cpu, retval (only in uretprobe).\n\
- Print with printf(\"...\\n\", ...); print an argv array (char **) with join(args->argv). Aggregate with @m[key] = count() or sum(v) or hist(v); maps print when the program stops.\n\
- bpftrace has no `continue` outside loops, no ntohs(), no C declarations: filter with a /predicate/ or if (...) {{ }}.",
        release = host.kernel_release
    )
}

/// Facts printed at most, over all grounded tracepoints, and per tracepoint (its first ones,
/// which the specs DB lists most important first).
const MAX_FACT_LINES: usize = 6;
const MAX_FACTS_PER_PROBE: usize = 3;

pub fn user_prompt(request: &str, grounding: &Grounding) -> String {
    let mut s = String::from("Tracepoints on this host (with their args fields):\n");
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
