//! Pulling a program out of a model reply. Tolerant: fenced or not, cut off mid-block, wrapped
//! in `bpftrace -e '...'`.
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Program {
        source: String,
        explanation: String,
    },
    /// The model says the host cannot do it.
    Unsupported(String),
    /// Nothing that looks like a program.
    Garbage,
}

static FENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)```[A-Za-z0-9_+-]*[ \t]*\n(.*?)(?:```|\z)").expect("static regex")
});
static PROBE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(BEGIN|END|(tracepoint|t|kprobe|kretprobe|uprobe|uretprobe|usdt|profile|interval|software|hardware|rawtracepoint|kfunc|kretfunc|fentry|fexit):\S*)")
        .expect("static regex")
});
static BPFTRACE_E: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)^\s*(?:sudo\s+)?bpftrace\s+-e\s+'(.*)'\s*$").expect("static regex")
});

pub fn parse_reply(reply: &str) -> Reply {
    let trimmed = reply.trim();
    if let Some(reason) = trimmed.strip_prefix("UNSUPPORTED:") {
        let reason = reason.trim();
        if !reason.is_empty() {
            return Reply::Unsupported(reason.lines().next().unwrap_or(reason).to_owned());
        }
    }
    let (code, explanation) = match FENCE.captures(reply) {
        Some(c) => {
            let whole = c.get(0).map_or(0..0, |m| m.range());
            let mut rest = String::new();
            rest.push_str(&reply[..whole.start]);
            rest.push(' ');
            rest.push_str(&reply[whole.end..]);
            (c[1].to_owned(), rest)
        }
        None => (reply.to_owned(), String::new()),
    };
    let code = match BPFTRACE_E.captures(&code) {
        Some(c) => c[1].to_owned(),
        None => code,
    };
    if !PROBE_LINE.is_match(&code) {
        return Reply::Garbage;
    }
    Reply::Program {
        source: code.trim().to_owned() + "\n",
        explanation: first_sentence(&explanation),
    }
}

fn first_sentence(text: &str) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = t.find(". ").map_or(t.len(), |i| i + 1);
    t[..end].chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_fenced_block_and_the_sentence() {
        let r = parse_reply("Here:\n```bpftrace\ntracepoint:syscalls:sys_enter_openat { @[comm] = count(); }\n```\nCounts opens per process. More.");
        match r {
            Reply::Program {
                source,
                explanation,
            } => {
                assert!(source.starts_with("tracepoint:syscalls"));
                assert_eq!(explanation, "Here: Counts opens per process.");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn handles_cut_off_and_unfenced_and_wrapped_replies() {
        assert!(matches!(
            parse_reply("```\nBEGIN { printf(\"x"),
            Reply::Program { .. }
        ));
        assert!(matches!(
            parse_reply("tracepoint:a:b { }"),
            Reply::Program { .. }
        ));
        match parse_reply("```sh\nbpftrace -e 'BEGIN { exit(); }'\n```") {
            Reply::Program { source, .. } => assert_eq!(source, "BEGIN { exit(); }\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recognises_refusals_and_garbage() {
        assert_eq!(
            parse_reply("UNSUPPORTED: no hardware counters"),
            Reply::Unsupported("no hardware counters".into())
        );
        assert_eq!(parse_reply("I like turtles"), Reply::Garbage);
        assert_eq!(parse_reply(""), Reply::Garbage);
    }
}
