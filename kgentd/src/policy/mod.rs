//! The program policy: what a program written or run for a caller below the admin role may do,
//! judged on the parsed program (bpftrace) or on the compiled object (C) before anything is
//! loaded, smoke-run or run. The rules are data (`specs-db/policy.toml`), each with its reason;
//! every refusal names its rule, so the model, the client and the audit trail see which one.
//!
//! - bpftrace: no builtin or keyword of the refused list (`system`, `cat`, `signal`,
//!   `override`, `unsafe`), no `#include` but of system headers, no uprobe on a credential or
//!   TLS library or a shell's line reader, none on a wildcard binary (it could be any of them);
//! - C: only tracing program types (by section), none of the refused helpers (checked on the
//!   object's call instructions), no kfunc, the same uprobe targets as bpftrace.
//!
//! Admins pass everything. This module judges only; it loads and runs nothing.
use std::path::Path;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::config::Role;
use crate::toolchain::bpftrace::expr::{tokens, Tok};
use crate::toolchain::bpftrace::{probe_blocks, strip_comments};

const SHIPPED: &str = include_str!("../../../specs-db/policy.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyData {
    builtin: Vec<Builtin>,
    helper: Vec<Helper>,
    tracing_sections: Vec<String>,
    uprobe: Vec<SensitiveUprobe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Builtin {
    name: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Helper {
    id: i32,
    name: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SensitiveUprobe {
    binary: String,
    #[serde(default)]
    functions: Vec<String>,
    reason: String,
}

/// The shipped policy; a policy that does not parse refuses everything to non-admins (the
/// unit test keeps it parsing).
static POLICY: LazyLock<Option<PolicyData>> = LazyLock::new(|| match toml::from_str(SHIPPED) {
    Ok(p) => Some(p),
    Err(e) => {
        tracing::error!("specs-db/policy.toml does not parse: {e}");
        None
    }
});

/// One rule a program breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule's name, e.g. `builtin:cat`, `helper:bpf_send_signal`, `uprobe:libcrypt`.
    pub rule: String,
    /// What in the program breaks it, and why the rule exists.
    pub detail: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "policy rule `{}`: {}", self.rule, self.detail)
    }
}

/// All of a program's refusals in one message (for an error or a failed check).
pub fn describe(refusals: &[Refusal], role: Role) -> String {
    let rules: Vec<String> = refusals.iter().map(Refusal::to_string).collect();
    format!(
        "refused by kgent's program policy for the {} role (only admins may):\n{}",
        role.as_str(),
        rules.join("\n")
    )
}

fn unparsed_policy() -> Vec<Refusal> {
    vec![Refusal {
        rule: "policy-unreadable".into(),
        detail: "kgent's program policy (specs-db/policy.toml) does not parse; only admins may run programs until it is fixed".into(),
    }]
}

/// What a bpftrace program breaks for `role` (nothing for admins).
pub fn check_bpftrace(role: Role, source: &str) -> Vec<Refusal> {
    if role == Role::Admin {
        return Vec::new();
    }
    let Some(policy) = POLICY.as_ref() else {
        return unparsed_policy();
    };
    let mut out = Vec::new();
    let code = strip_comments(source);
    let toks = tokens(&code, 0..code.len());
    for (k, t) in toks.iter().enumerate() {
        let Tok::Ident(name) = &t.tok else { continue };
        // `args->cat`, `s.signal`: a field, not the builtin.
        if k > 0 && (toks[k - 1].is("->") || toks[k - 1].is(".")) {
            continue;
        }
        if let Some(b) = policy.builtin.iter().find(|b| &b.name == name) {
            let rule = format!("builtin:{}", b.name);
            if !out.iter().any(|r: &Refusal| r.rule == rule) {
                out.push(Refusal {
                    rule,
                    detail: format!("`{}` {}", b.name, b.reason),
                });
            }
        }
    }
    for line in code.lines() {
        if let Some(refusal) = check_include(line) {
            out.push(refusal);
        }
    }
    for block in probe_blocks(source) {
        for probe in &block.probes {
            if matches!(
                probe.prefix.as_str(),
                "uprobe" | "uretprobe" | "u" | "ur" | "usdt" | "U"
            ) {
                let (binary, function) = split_uprobe_target(&probe.target);
                out.extend(check_uprobe(policy, binary, function, &probe.target));
            }
        }
    }
    out
}

/// A bpftrace `#include` reads its file through clang as root, and a file that does not parse
/// comes back in the diagnostic: only system headers by a relative `<path>` without `..`.
fn check_include(line: &str) -> Option<Refusal> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let operand = rest.strip_prefix("include")?.trim();
    let header = operand
        .strip_prefix('<')
        .and_then(|o| o.strip_suffix('>'))
        .filter(|h| !h.starts_with('/') && !h.split('/').any(|part| part == ".."));
    match header {
        Some(_) => None,
        None => Some(Refusal {
            rule: "bpftrace-include".into(),
            detail: format!(
                "`#include {operand}`: bpftrace reads included files as root and shows them in its errors; include system headers only, as <linux/sched.h>"
            ),
        }),
    }
}

/// `bin:func`, `/path/bin:func`, `bin:cpp:func`, `bin:provider:probe` → (bin, last part).
fn split_uprobe_target(target: &str) -> (&str, &str) {
    let binary = target.split(':').next().unwrap_or(target);
    let function = target.rsplit(':').next().unwrap_or("");
    (binary, function)
}

fn check_uprobe(policy: &PolicyData, binary: &str, function: &str, shown: &str) -> Option<Refusal> {
    if binary.contains(['*', '?', '[']) {
        return Some(Refusal {
            rule: "uprobe:wildcard-binary".into(),
            detail: format!(
                "`{shown}`: a uprobe on a wildcard binary could reach credential and TLS libraries; name the binary"
            ),
        });
    }
    let mut names: Vec<String> = vec![file_name(binary)];
    if let Ok(real) = std::fs::canonicalize(binary) {
        names.push(file_name(&real.to_string_lossy()));
    }
    for entry in &policy.uprobe {
        if !names.iter().any(|n| names_binary(n, &entry.binary)) {
            continue;
        }
        let hit = entry.functions.is_empty()
            || entry
                .functions
                .iter()
                .any(|f| glob(f, function) || glob(function, f));
        if hit {
            return Some(Refusal {
                rule: format!("uprobe:{}", entry.binary),
                detail: format!("`{shown}`: {}", entry.reason),
            });
        }
    }
    None
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned())
}

/// `libssl` names `libssl`, `libssl.so.3`, `libssl-1.1.so`, `libssl_x`; not `libssl3`.
fn names_binary(file: &str, listed: &str) -> bool {
    file.strip_prefix(listed)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_']))
}

/// A shell-style glob of `*` and `?` matching all of `text`.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What a compiled C object breaks for `role` (nothing for admins): its program types (by
/// section), the helpers its instructions call, its uprobe targets.
pub fn check_c_object(
    role: Role,
    sections: &[String],
    helpers: &[i32],
    kfuncs: &[String],
) -> Vec<Refusal> {
    if role == Role::Admin {
        return Vec::new();
    }
    let Some(policy) = POLICY.as_ref() else {
        return unparsed_policy();
    };
    let mut out = Vec::new();
    for section in sections {
        if !policy
            .tracing_sections
            .iter()
            .any(|p| section.starts_with(p.as_str()))
        {
            out.push(Refusal {
                rule: "program-type".into(),
                detail: format!(
                    "SEC(\"{section}\") is not a tracing program: network, cgroup, lsm and fmod_ret programs can drop or redirect traffic, deny calls or change the kernel's results host-wide"
                ),
            });
            continue;
        }
        if section.starts_with("uprobe")
            || section.starts_with("uretprobe")
            || section.starts_with("usdt")
        {
            if let Some((_, target)) = section.split_once('/') {
                let (binary, function) = split_uprobe_target(target);
                out.extend(check_uprobe(policy, binary, function, section));
            }
        }
    }
    for h in &policy.helper {
        if helpers.contains(&h.id) {
            out.push(Refusal {
                rule: format!("helper:{}", h.name),
                detail: format!(
                    "the program calls {} (helper {}): {}",
                    h.name, h.id, h.reason
                ),
            });
        }
    }
    for k in kfuncs {
        out.push(Refusal {
            rule: format!("kfunc:{k}"),
            detail: format!(
                "the program calls the kernel function {k} (a kfunc): kfuncs are outside the helper allowlist (bpf_send_signal_task, for one, kills processes)"
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: &[Refusal]) -> Vec<&str> {
        r.iter().map(|r| r.rule.as_str()).collect()
    }

    #[test]
    fn the_shipped_policy_parses() {
        let p = POLICY.as_ref().expect("specs-db/policy.toml parses");
        assert!(p.builtin.iter().all(|b| !b.reason.is_empty()));
        assert!(p.uprobe.iter().all(|u| !u.reason.is_empty()));
    }

    #[test]
    fn refuses_unsafe_builtins_and_sensitive_uprobes_below_admin() {
        let src = "// cat(\"/etc/passwd\") in a comment is not a call\ntracepoint:syscalls:sys_enter_kill { signal(\"SIGKILL\"); cat(\"/etc/shadow\"); printf(\"%d\\n\", args->sig); }\nuprobe:libcrypt:crypt { printf(\"x\\n\"); }\nuretprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }\nuprobe:/usr/lib/x86_64-linux-gnu/libssl.so.3:SSL_write { system(\"id\"); }\n";
        let r = check_bpftrace(Role::Operator, src);
        assert_eq!(
            rules(&r),
            vec![
                "builtin:signal",
                "builtin:cat",
                "builtin:system",
                "uprobe:libcrypt",
                "uprobe:bash",
                "uprobe:libssl"
            ]
        );
        assert!(check_bpftrace(Role::Admin, src).is_empty());
        let includes = "#include <linux/sched.h>\n#include \"/etc/shadow\"\n#include </etc/shadow>\n#include <linux/../../../etc/shadow>\nBEGIN { exit(); }\n";
        assert_eq!(
            rules(&check_bpftrace(Role::Operator, includes)),
            vec!["bpftrace-include", "bpftrace-include", "bpftrace-include"]
        );
        let fine = "tracepoint:syscalls:sys_enter_openat { printf(\"%s cat\\n\", str(args->filename)); }\nuprobe:/bin/bash:execute_command { @[comm] = count(); }\n";
        assert!(
            check_bpftrace(Role::Observer, fine).is_empty(),
            "{:?}",
            check_bpftrace(Role::Observer, fine)
        );
        assert_eq!(
            rules(&check_bpftrace(
                Role::Observer,
                "uprobe:/lib/*/lib*.so*:* { @ = count(); }"
            )),
            vec!["uprobe:wildcard-binary"]
        );
        assert_eq!(
            rules(&check_bpftrace(
                Role::Observer,
                "uprobe:/bin/bash:rl_* { @ = count(); }"
            )),
            vec!["uprobe:bash"]
        );
    }

    #[test]
    fn refuses_non_tracing_types_and_unsafe_helpers_below_admin() {
        let sections = vec![
            "tracepoint/syscalls/sys_enter_openat".to_owned(),
            "xdp".to_owned(),
            "cgroup/connect4".to_owned(),
            "uprobe//usr/lib/x86_64-linux-gnu/libpam.so.0:pam_authenticate".to_owned(),
        ];
        let r = check_c_object(
            Role::Operator,
            &sections,
            &[6, 109, 36],
            &["bpf_send_signal_task".to_owned()],
        );
        assert_eq!(
            rules(&r),
            vec![
                "program-type",
                "program-type",
                "uprobe:libpam",
                "helper:bpf_probe_write_user",
                "helper:bpf_send_signal",
                "kfunc:bpf_send_signal_task"
            ]
        );
        assert!(check_c_object(Role::Admin, &sections, &[109], &[]).is_empty());
        assert!(check_c_object(Role::Observer, &sections[..1], &[6, 1, 14], &[]).is_empty());
    }

    #[test]
    fn globs() {
        assert!(glob("rl_*", "rl_getc"));
        assert!(glob("*", "readline"));
        assert!(!glob("rl_*", "readline"));
        assert!(names_binary("libssl.so.3", "libssl"));
        assert!(!names_binary("libssl3.so", "libssl"));
    }
}
