//! Feature truth: which attach families really load *and attach* on this kernel, measured by
//! loading tiny programs, never read from config flags, and applied over what [`host`] inferred
//! from the system's files. Tracing families are tried through the host's bpftrace (a probe that
//! must attach, then exit); program types (XDP, tc, cgroup, LSM, tracing) through
//! `bpftool feature probe`, which loads a minimal program of each type. Which helpers each
//! program type may call is measured through bpf(2), one tiny program per (type, helper).
//!
//! Sits above [`host`] (whose facts it corrects) and [`toolchain`] (whose bpftrace load check it
//! uses); nothing below it may call it: whoever assembles the host's facts (the daemon) measures
//! and applies. Results are cached per kernel build (BTF hash, release, bpftrace version) by the
//! caller; this module keeps no state.
//!
//! [`host`]: crate::host
//! [`toolchain`]: crate::toolchain
mod bpf_syscall;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::host::{bpf_h, resolve_binary, AttachFamily, HostFacts};
use crate::toolchain::bpftrace::{check_load, LoadVerdict};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    pub family: String,
    pub available: bool,
    /// What was loaded and what the kernel said.
    pub evidence: String,
}

/// Everything measured once per kernel build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    pub families: Vec<Measured>,
    /// Program type ("kprobe", "tracepoint", "xdp", …) → helpers the kernel lets it call,
    /// found by loading a program calling each helper (`helpers_by_program_type`).
    pub helpers: BTreeMap<String, Vec<String>>,
}

/// Program types whose helpers are probed, with their `BPF_PROG_TYPE_*` numbers. Types that
/// need a BTF attach target (tracing, LSM, ext, struct_ops) or an expected attach type to load
/// at all are not probed: their helper lists stay unknown.
const HELPER_PROBE_TYPES: &[(&str, u32)] = &[
    ("socket_filter", 1),
    ("kprobe", 2),
    ("sched_cls", 3),
    ("tracepoint", 5),
    ("xdp", 6),
    ("perf_event", 7),
    ("cgroup_skb", 8),
    ("sock_ops", 13),
    ("sk_skb", 14),
    ("sk_msg", 16),
    ("raw_tracepoint", 17),
    ("flow_dissector", 22),
    ("sk_lookup", 30),
    ("syscall", 31),
];

/// Which helpers each program type may call here: one tiny program per (type, helper) through
/// the verifier (about 3,000 loads, well under a second). Empty when bpf.h or bpf(2) is
/// unavailable. bpftool's own helper probe is not used: bpftool 7.1 reports every helper as
/// callable from every type on 6.x kernels, which the verifier contradicts.
pub fn helpers_by_program_type(bpf_h: &Path) -> BTreeMap<String, Vec<String>> {
    let Ok(text) = std::fs::read_to_string(bpf_h) else {
        return BTreeMap::new();
    };
    let ids = bpf_h::ids(&text);
    let mut out = BTreeMap::new();
    for (program_type, number) in HELPER_PROBE_TYPES {
        let mut callable = Vec::new();
        for (name, id) in &ids {
            match bpf_syscall::helper_callable(*number, *id) {
                Ok(true) => callable.push(name.clone()),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("helper probe for {program_type} programs failed: {e}");
                    break;
                }
            }
        }
        if !callable.is_empty() {
            out.insert((*program_type).to_owned(), callable);
        }
    }
    out
}

/// Identifies a kernel build and tool version: measured features stay true for it.
pub fn build_key(kernel_release: &str, bpftrace_version: &str) -> String {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").unwrap_or_default();
    let mut h = Sha256::new();
    h.update(kernel_release.as_bytes());
    h.update(bpftrace_version.as_bytes());
    h.update(&btf);
    hex::encode(h.finalize())[..20].to_owned()
}

/// The tracing families and the probe that shows each one attaches.
fn attach_probes() -> Vec<(&'static str, String)> {
    let libc = resolve_binary("libc").map(|p| p.display().to_string());
    let mut v = vec![
        (
            "tracepoint",
            "tracepoint:syscalls:sys_enter_getpid {}".to_owned(),
        ),
        ("kprobe", "kprobe:vfs_read {}".to_owned()),
        ("fentry", "kfunc:vfs_read {}".to_owned()),
        ("software", "software:cpu-clock:1000000 {}".to_owned()),
        ("hardware", "hardware:cpu-cycles:1000000 {}".to_owned()),
    ];
    if let Some(libc) = libc {
        v.push(("uprobe", format!("uprobe:{libc}:getpid {{}}")));
    }
    v
}

/// bpftool's program-type probes that stand for families bpftrace cannot express.
pub const PROGRAM_TYPES: &[(&str, &str)] = &[
    ("xdp", "have_xdp_prog_type"),
    ("tc", "have_sched_cls_prog_type"),
    ("cgroup_skb", "have_cgroup_skb_prog_type"),
    ("sock_ops", "have_sock_ops_prog_type"),
    ("lsm", "have_lsm_prog_type"),
];

/// Loads a probe of every family and reports what attached. Takes a few seconds: cache it.
pub async fn measure(bpftrace: &Path, timeout: Duration) -> Measurement {
    let probes = attach_probes();
    let checks = probes
        .iter()
        .map(|(_, program)| check_load(bpftrace, program, timeout));
    let reports = futures::future::join_all(checks).await;
    let mut out: Vec<Measured> = probes
        .iter()
        .zip(reports)
        .map(|((family, program), report)| {
            let program = program.trim_end_matches(" {}");
            match report.verdict {
                LoadVerdict::Attached { .. } => Measured {
                    family: (*family).to_owned(),
                    available: true,
                    evidence: format!("{program} loaded and attached"),
                },
                _ => Measured {
                    family: (*family).to_owned(),
                    available: false,
                    evidence: format!(
                        "{program} did not attach: {}",
                        first_error(&report.diagnostic)
                    ),
                },
            }
        })
        .collect();
    out.push(raw_tracepoint());
    out.extend(program_types(&bpftool_probe().await));
    let bpf_h = Path::new(bpf_h::BPF_H);
    let helpers = tokio::task::spawn_blocking(move || helpers_by_program_type(bpf_h))
        .await
        .unwrap_or_default();
    Measurement {
        families: out,
        helpers,
    }
}

/// Replaces what the host inferred from the system's files with what loading programs showed.
/// Families only a measurement knows of (xdp, tc, …) are added.
pub fn apply(host: &mut HostFacts, measured: &Measurement) {
    host.helpers_by_program_type = measured.helpers.clone();
    for m in &measured.families {
        match host.families.iter_mut().find(|f| f.name == m.family) {
            Some(f) => {
                // Keep the explanation of a "no" we already had; the measurement backs it.
                f.reason = if !m.available && !f.available {
                    format!("{} (measured: {})", f.reason, m.evidence)
                } else {
                    format!("measured: {}", m.evidence)
                };
                f.available = m.available;
            }
            None => host.families.push(AttachFamily {
                name: family_name(&m.family),
                prefixes: &[],
                available: m.available,
                reason: format!("measured: {}", m.evidence),
            }),
        }
    }
}

/// Family names are a small fixed set known at compile time.
fn family_name(name: &str) -> &'static str {
    const KNOWN: &[&str] = &["xdp", "tc", "cgroup_skb", "sock_ops", "lsm"];
    KNOWN
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or("other")
}

/// bpftrace 0.17 cannot express raw tracepoints, so the kernel is asked directly.
fn raw_tracepoint() -> Measured {
    let (available, evidence) = match bpf_syscall::raw_tracepoint_attaches("sched_switch") {
        Ok(()) => (
            true,
            "a raw_tp program loaded and attached to sched_switch".to_owned(),
        ),
        Err(e) => (false, e),
    };
    Measured {
        family: "rawtracepoint".to_owned(),
        available,
        evidence,
    }
}

/// The line of a bpftrace diagnostic that says why, without the location noise.
fn first_error(diagnostic: &str) -> String {
    diagnostic
        .lines()
        .rev()
        .find(|l| l.contains("ERROR") || l.contains("rror"))
        .or_else(|| diagnostic.lines().next())
        .unwrap_or("no diagnostic")
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// `bpftool feature probe kernel --json`, or `Null` when bpftool is missing or failed.
async fn bpftool_probe() -> serde_json::Value {
    let out = crate::process::tool_command("bpftool")
        .args(["feature", "probe", "kernel", "--json"])
        .output()
        .await;
    match &out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

fn program_types(bpftool: &serde_json::Value) -> Vec<Measured> {
    let types = bpftool.get("program_types");
    PROGRAM_TYPES
        .iter()
        .map(|(family, key)| {
            let have = types.and_then(|t| t.get(*key)).and_then(|v| v.as_bool());
            Measured {
                family: (*family).to_owned(),
                available: have == Some(true),
                evidence: match have {
                    Some(true) => format!("bpftool loaded a minimal {family} program ({key})"),
                    Some(false) => {
                        format!("the kernel refused a minimal {family} program ({key}: no)")
                    }
                    None => "bpftool feature probe did not run (install bpftool: bash setup.sh)"
                        .to_owned(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{bpf_h, first_error, helpers_by_program_type};

    /// Needs root (CAP_BPF) and the host's linux/bpf.h.
    #[test]
    fn measures_which_helpers_each_program_type_may_call() {
        let m = helpers_by_program_type(std::path::Path::new(bpf_h::BPF_H));
        let has = |t: &str, h: &str| m.get(t).is_some_and(|l| l.iter().any(|x| x == h));
        assert!(has("tracepoint", "bpf_get_current_pid_tgid"));
        assert!(!has("tracepoint", "bpf_redirect"));
        assert!(has("xdp", "bpf_redirect"));
        assert!(has("sched_cls", "bpf_skb_load_bytes"));
    }

    #[test]
    fn picks_the_error_line() {
        let d = "stdin:1:1-19: WARNING: x\nkprobe:vfs_read {}\ncreate_probe_event: open(/sys/kernel/tracing/kprobe_events): No such file or directory\nERROR: Error attaching probe: 'kprobe:vfs_read'";
        assert_eq!(
            first_error(d),
            "ERROR: Error attaching probe: 'kprobe:vfs_read'"
        );
    }
}
