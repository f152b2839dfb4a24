//! What the loop says and checks when the target is a libbpf-style C program: the prompt (this
//! kernel's attach rules, kgent.h's conventions, one example that works here), pulling C out of
//! a reply, and the deterministic repairs with exactly one right answer. Kept apart from the
//! bpftrace prompt so each can change without the other.
use regex::Regex;
use std::sync::LazyLock;

use super::extract::Reply;
use crate::host::HostFacts;
use crate::knowledge::Grounding;

/// A program that compiles, verifies and runs on this kind of host: the pattern the model
/// follows (ring buffer of records, a counting map, the license).
const EXAMPLE: &str = r#"#include "vmlinux.h"
#include "kgent.h"

struct event { u32 pid; char comm[16]; char filename[64]; };
KGENT_RINGBUF(events, struct event, 256 * 1024);

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, char[16]);
    __type(value, u64);
} opens_by_comm SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct trace_event_raw_sys_enter *ctx)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[1]);
    u64 one = 1, *n = bpf_map_lookup_elem(&opens_by_comm, e->comm);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&opens_by_comm, e->comm, &one, BPF_ANY);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

pub fn system_prompt(host: &HostFacts) -> String {
    let unavailable: Vec<&str> = host
        .families
        .iter()
        .filter(|f| !f.available)
        .map(|f| f.name)
        .collect();
    let avoid = if unavailable.is_empty() {
        String::new()
    } else {
        format!(
            "- This kernel CANNOT use: {}. Use SEC(\"tracepoint/CATEGORY/NAME\"), SEC(\"raw_tp/NAME\"), SEC(\"tp_btf/NAME\"), SEC(\"uprobe/PATH:FUNCTION\"), SEC(\"perf_event\"), SEC(\"xdp\"), SEC(\"classifier\"), SEC(\"cgroup_skb/ingress\").\n",
            unavailable.join(", ")
        )
    };
    format!(
        "You write libbpf-style CO-RE eBPF programs in C for Linux {release}. Reply with one ```c code block, then one sentence saying what it prints.\n\
Rules:\n\
{avoid}\
- Start with #include \"vmlinux.h\" and #include \"kgent.h\" (it brings bpf_helpers.h, bpf_tracing.h, bpf_core_read.h, bpf_endian.h). No other includes.\n\
- Syscall tracepoints take struct trace_event_raw_sys_enter *ctx (arguments in ctx->args[0..5]) or struct trace_event_raw_sys_exit *ctx (ctx->ret). Other tracepoints take struct trace_event_raw_EVENT *ctx with the listed fields.\n\
- Send one record per event with KGENT_RINGBUF(events, struct event, 256 * 1024); bpf_ringbuf_reserve, fill, bpf_ringbuf_submit. kgentd prints every record's fields by name.\n\
- Count in BPF_MAP_TYPE_HASH maps declared with __uint/__type in SEC(\".maps\"); kgentd prints every map when the program stops, sorted. KGENT_PRINT_EVERY(1); prints them every second too. For a latency or size histogram, key a map named *_hist by kgent_log2(value).\n\
- Check every bpf_map_lookup_elem result for NULL before use. Read user strings with bpf_probe_read_user_str, kernel memory with BPF_CORE_READ.\n\
- End with char LICENSE[] SEC(\"license\") = \"GPL\";",
        release = host.kernel_release
    )
}

pub fn user_prompt(request: &str, grounding: &Grounding) -> String {
    let mut s = String::from("Tracepoints on this host (with their fields):\n");
    for tp in &grounding.tracepoints {
        s.push_str(&tp.signature());
        s.push('\n');
    }
    for u in &grounding.uprobes {
        s.push_str(&format!(
            "\nFunctions of {} (SEC(\"uprobe/{}:NAME\")), these match the request: {}\n",
            u.path.display(),
            u.path.display(),
            u.symbols.join(", ")
        ));
    }
    s.push_str("\nA program that works on this host:\n```c\n");
    s.push_str(EXAMPLE);
    s.push_str("```\n\nRequest: ");
    s.push_str(request);
    s
}

pub fn repair_prompt(diagnostics: &str) -> String {
    format!(
        "That program failed on this host:\n{diagnostics}\n\nFix it. Reply with the complete corrected program in one ```c block."
    )
}

pub fn reconsider_prompt() -> String {
    "Every tracepoint listed above exists and works on this host. If one of them can observe what is asked, write the program in one ```c block. Reply UNSUPPORTED: <reason> only if none of them can.".to_owned()
}

pub fn repeat_prompt(diagnostics: &str) -> String {
    format!(
        "Programs written for this request before failed on this host:\n{diagnostics}\n\nWrite a new program for the request that avoids this problem, in one ```c block."
    )
}

pub const GARBAGE: &str = "the reply contained no C program (expected a ```c block with #include \"vmlinux.h\", functions in SEC(\"...\") sections and a LICENSE)";

static FENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)```[A-Za-z0-9_+-]*[ \t]*\n(.*?)(?:```|\z)").expect("static regex")
});

/// The C program of a reply: a fenced block (or the whole reply) that has a `SEC(` section.
pub fn parse_reply(reply: &str) -> Reply {
    let trimmed = reply.trim();
    if let Some(reason) = trimmed.strip_prefix("UNSUPPORTED:") {
        let reason = reason.trim();
        if !reason.is_empty() {
            return Reply::Unsupported(reason.lines().next().unwrap_or(reason).to_owned());
        }
    }
    let (code, rest) = match FENCE.captures(reply) {
        Some(c) => {
            let whole = c.get(0).map_or(0..0, |m| m.range());
            (
                c[1].to_owned(),
                format!("{} {}", &reply[..whole.start], &reply[whole.end..]),
            )
        }
        None => (reply.to_owned(), String::new()),
    };
    if !code.contains("SEC(") {
        return Reply::Garbage;
    }
    let explanation = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = explanation.find(". ").map_or(explanation.len(), |i| i + 1);
    Reply::Program {
        source: code.trim().to_owned() + "\n",
        explanation: explanation[..end].chars().take(300).collect(),
    }
}

/// Repairs with one right answer: libbpf's `tc` section is aya's `classifier`; a missing
/// kgent.h include or license is added.
pub fn repair(source: &str) -> (String, Vec<String>) {
    let mut fixed = source.to_owned();
    let mut notes = Vec::new();
    for (from, to) in [
        ("SEC(\"tc\")", "SEC(\"classifier\")"),
        ("SEC(\"tc/ingress\")", "SEC(\"classifier/ingress\")"),
        ("SEC(\"tc/egress\")", "SEC(\"classifier/egress\")"),
    ] {
        if fixed.contains(from) {
            fixed = fixed.replace(from, to);
            notes.push(format!(
                "{from} → {to} (the section name kgent's loader uses for tc)"
            ));
        }
    }
    if !fixed.contains("kgent.h") && fixed.contains("vmlinux.h") {
        fixed = fixed.replacen(
            "#include \"vmlinux.h\"",
            "#include \"vmlinux.h\"\n#include \"kgent.h\"",
            1,
        );
        notes.push("added #include \"kgent.h\" (libbpf's helper headers)".into());
    }
    if !fixed.contains("SEC(\"license\")") {
        fixed.push_str("\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n");
        notes.push("added the GPL license most helpers require".into());
    }
    (fixed, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_c_block_and_repairs_the_plain_mistakes() {
        let reply = "Here it is:\n```c\n#include \"vmlinux.h\"\nSEC(\"tc\")\nint f(struct __sk_buff *s) { return 0; }\n```\nCounts packets. More.";
        let Reply::Program {
            source,
            explanation,
        } = parse_reply(reply)
        else {
            panic!("no program");
        };
        assert_eq!(explanation, "Here it is: Counts packets.");
        let (fixed, notes) = repair(&source);
        assert!(fixed.contains("SEC(\"classifier\")"));
        assert!(fixed.contains("#include \"kgent.h\""));
        assert!(fixed.contains("SEC(\"license\")"));
        assert_eq!(notes.len(), 3);
        assert_eq!(parse_reply("no code here"), Reply::Garbage);
    }
}
