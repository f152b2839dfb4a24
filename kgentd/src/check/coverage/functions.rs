//! User-space functions (uprobes): a program that traces the function but reads none of its
//! arguments or its result where the request asks for them (`specs-db/user-functions.toml`).
use super::*;

/// A program on user functions alone (uprobes, uretprobes) that reads nothing of the function
/// (no `argN`, no `retval`, no `args`) while the request asks about more than who called it:
/// "printing each line entered" at bash's readline is the string readline returns, which a
/// program printing `comm` and `pid` never shows. The words that ask are the request's subject
/// words other than the function's and the binary's names, words for builtins (process,
/// thread, user, CPU: [`BUILTIN_WORDS`](crate::intent::naming::BUILTIN_WORDS)), words for the
/// report's shape and words for calling itself.
pub(super) fn function_values_unread(intent: &Intent, source: &str) -> Option<String> {
    const CALLING: [&str; 12] = [
        "function",
        "call",
        "caller",
        "library",
        "libc",
        "trace",
        "probe",
        "invocation",
        "invoke",
        "name",
        "binary",
        "shared",
    ];
    let probes: Vec<ProbeSpec> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(ProbeSpec::observes_events)
        .collect();
    let user = |p: &ProbeSpec| matches!(p.prefix.as_str(), "uprobe" | "uretprobe" | "u" | "ur");
    if probes.is_empty() || !probes.iter().all(user) {
        return None;
    }
    static READS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(arg\d+|sarg\d+|retval)\b|\bargs\s*(\.|->)").expect("static regex")
    });
    if READS.is_match(&strip_comments(source)) {
        return None;
    }
    // The functions and binaries the probes name (`/usr/bin/bash:readline`).
    let mut names: Vec<String> = Vec::new();
    for p in &probes {
        let mut parts = p.target.rsplitn(2, ':');
        if let Some(function) = parts.next() {
            names.push(function.to_ascii_lowercase());
        }
        if let Some(binary) = parts.next() {
            let base = binary.rsplit('/').next().unwrap_or(binary);
            names.push(base.split('.').next().unwrap_or(base).to_ascii_lowercase());
        }
    }
    let asked: Vec<&str> = intent
        .subjects
        .iter()
        .map(|w| w.word.as_str())
        .filter(|w| {
            !names
                .iter()
                .any(|n| n.starts_with(w) || w.starts_with(n.as_str()))
        })
        .filter(|w| crate::intent::naming::builtins_named_by(w).is_empty())
        .filter(|w| {
            !crate::intent::naming::SHAPE_WORDS
                .iter()
                .any(|s| w.starts_with(s))
        })
        .filter(|w| !CALLING.iter().any(|c| w.starts_with(c)))
        .filter(|w| intent.process_name.as_deref() != Some(*w))
        .collect();
    let function = names.first()?;
    (!asked.is_empty()).then(|| {
        format!(
            "the request asks about {} of {function}() calls, but the program reads none of the function's arguments (arg0, arg1, …) or its return value (retval, at uretprobe:): report what the function takes or returns",
            asked.join(", ")
        )
    })
}

/// A user function whose return value the request asks for (`specs-db/user-functions.toml`:
/// "each line entered" is what bash's readline returns), which no `uretprobe` block of the
/// program on that function reads as `retval`: its arguments are something else (the prompt).
pub(super) fn function_result_unread(intent: &Intent, source: &str) -> Option<String> {
    let blocks = probe_blocks(&strip_comments(source));
    for b in &blocks {
        for p in b
            .probes
            .iter()
            .filter(|p| matches!(p.prefix.as_str(), "uprobe" | "u" | "uretprobe" | "ur"))
        {
            let Some(f) = crate::knowledge::user_functions::result_asked(intent, &p.target) else {
                continue;
            };
            let function = format!(":{}", f.name);
            let read = blocks.iter().any(|other| {
                other.probes.iter().any(|q| {
                    matches!(q.prefix.as_str(), "uretprobe" | "ur") && q.target.ends_with(&function)
                }) && other.body.contains("retval")
            });
            if !read {
                let binary = p.target.rsplit_once(':').map_or("", |(b, _)| b);
                return Some(format!(
                    "the request asks for what {}() returns, {} ({}), but the program never reads `retval` at uretprobe:{binary}:{}",
                    f.name,
                    f.returns,
                    f.source.split(':').next().unwrap_or(""),
                    f.name
                ));
            }
        }
    }
    None
}
