//! Kernel truth for this host: the kernel release, BTF, tracefs events with their fields, which
//! attach families the system's files say work here, the BPF helpers `linux/bpf.h` documents,
//! and the uprobe symbols of ELF files.
//!
//! Read from the live system, never assumed. This module only observes: it loads nothing, runs
//! no tool but `bpftrace --info` and `ldconfig -p`, and uses no other kgentd module. What
//! loading programs shows is measured above it (`features`) and applied to its [`HostFacts`].
pub mod bpf_h;
pub mod btf;
pub mod constants;
pub mod prototypes;
mod tracefs;
mod uprobe;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use tracefs::{Field, Tracepoint};
pub use uprobe::{
    readable_by, resolve_binary, resolve_binary_or_explain, same_file, uprobe_symbols,
    uprobe_targets, usdt_probes, UprobeTarget,
};

/// One attach family (kprobe, tracepoint, …) and whether programs can attach to it here.
#[derive(Debug, Clone)]
pub struct AttachFamily {
    pub name: &'static str,
    /// The probe prefixes bpftrace uses for it.
    pub prefixes: &'static [&'static str],
    pub available: bool,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct HostFacts {
    pub kernel_release: String,
    pub btf: bool,
    pub tracefs: Option<PathBuf>,
    /// "subsystem:event" → the tracepoint.
    pub tracepoints: BTreeMap<String, Tracepoint>,
    pub families: Vec<AttachFamily>,
    pub bpftrace_version: String,
    /// What could not be read (tracefs unmounted or unreadable, event formats missing), with
    /// the fix; logged at start-up.
    pub warnings: Vec<String>,
    /// Program type → helpers it may call here (measured by `features`; empty until applied).
    pub helpers_by_program_type: BTreeMap<String, Vec<String>>,
}

const TRACEFS_CANDIDATES: &[&str] = &["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const PMU_DIR: &str = "/sys/bus/event_source/devices";

/// A tracepoint for unit tests: (subsystem, event, [(C type, field name)]).
#[cfg(test)]
pub type TestTracepoint<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

impl HostFacts {
    /// Reads everything from the live host. Missing facilities are recorded, not errors.
    pub fn discover(bpftrace: &Path) -> Self {
        let kernel_release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into());
        let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
        let tracefs = TRACEFS_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.join("events").is_dir());
        let mut warnings = Vec::new();
        let tracepoints = match tracefs.as_deref().map(tracefs::read_tracepoints) {
            None => {
                warnings.push(format!(
                    "tracefs is not mounted at {}: no tracepoints; mount it (mount -t tracefs nodev /sys/kernel/tracing)",
                    TRACEFS_CANDIDATES.join(" or ")
                ));
                BTreeMap::new()
            }
            Some(Err(e)) => {
                warnings.push(format!("no tracepoints: {e}"));
                BTreeMap::new()
            }
            Some(Ok((tps, unreadable))) => {
                if let Some(first) = unreadable.first() {
                    warnings.push(format!(
                        "{} tracepoint formats are unreadable (e.g. {first}): those tracepoints are listed without fields",
                        unreadable.len()
                    ));
                }
                tps
            }
        };
        let bpftrace_info = bpftrace_info(bpftrace);
        let families = probe_families(btf, !tracepoints.is_empty(), &bpftrace_info);
        let bpftrace_version = bpftrace_info
            .lines()
            .find_map(|l| l.trim().strip_prefix("version:"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "not found".into());
        Self {
            kernel_release,
            btf,
            tracefs,
            tracepoints,
            families,
            bpftrace_version,
            warnings,
            helpers_by_program_type: BTreeMap::new(),
        }
    }

    /// A host with no tracepoints and kprobes unavailable, for unit tests of code that reads
    /// host facts.
    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self {
            kernel_release: "test".into(),
            btf: true,
            tracefs: None,
            tracepoints: BTreeMap::new(),
            families: vec![AttachFamily {
                name: "kprobe",
                prefixes: &["kprobe", "kretprobe", "k", "kr"],
                available: false,
                reason: "no kprobes in this test host".into(),
            }],
            bpftrace_version: "test".into(),
            warnings: Vec::new(),
            helpers_by_program_type: BTreeMap::new(),
        }
    }

    /// `for_tests` plus these tracepoints: (subsystem, event, [(C type, field name)]).
    #[cfg(test)]
    pub fn for_tests_with_tracepoints(tps: &[TestTracepoint]) -> Self {
        let mut h = Self::for_tests();
        for (sub, event, fields) in tps {
            h.tracepoints.insert(
                format!("{sub}:{event}"),
                Tracepoint {
                    subsystem: (*sub).into(),
                    event: (*event).into(),
                    fields: fields
                        .iter()
                        .map(|(t, n)| Field {
                            ctype: (*t).into(),
                            name: (*n).into(),
                            ..Default::default()
                        })
                        .collect(),
                },
            );
        }
        h
    }

    /// `for_tests` plus the enter and exit tracepoints (no fields) of these syscalls.
    #[cfg(test)]
    pub fn for_tests_with_syscalls(names: &[&str]) -> Self {
        let mut h = Self::for_tests();
        for n in names {
            for dir in ["enter", "exit"] {
                let event = format!("sys_{dir}_{n}");
                h.tracepoints.insert(
                    format!("syscalls:{event}"),
                    Tracepoint {
                        subsystem: "syscalls".into(),
                        event,
                        fields: Vec::new(),
                    },
                );
            }
        }
        h
    }

    /// A tracepoint's tracefs `print fmt` line (empty when there is no tracefs or no such
    /// event).
    pub fn print_fmt(&self, subsystem: &str, event: &str) -> String {
        let Some(tracefs) = &self.tracefs else {
            return String::new();
        };
        let path = tracefs
            .join("events")
            .join(subsystem)
            .join(event)
            .join("format");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("print fmt:"))
            .unwrap_or_default()
            .to_owned()
    }

    /// The fields whose values a tracepoint prints by name: its `print fmt` formats them with
    /// `__print_symbolic` or `__print_flags` (include/trace/stages/stage3_trace_output.h), e.g.
    /// `newstate` → `TCP_ESTABLISHED`.
    pub fn fields_printed_by_name(
        &self,
        subsystem: &str,
        event: &str,
    ) -> std::collections::BTreeSet<String> {
        static NAMED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(
                r"__print_(?:symbolic|flags)(?:_u64)?\(\s*(?:\([^()]*\)\s*)?REC->(\w+)",
            )
            .expect("static regex")
        });
        NAMED
            .captures_iter(&self.print_fmt(subsystem, event))
            .map(|c| c[1].to_owned())
            .collect()
    }

    /// The family a bpftrace probe prefix ("kprobe", "t", "tracepoint", …) belongs to.
    pub fn family_of(&self, prefix: &str) -> Option<&AttachFamily> {
        self.families.iter().find(|f| f.prefixes.contains(&prefix))
    }
}

fn bpftrace_info(bpftrace: &Path) -> String {
    crate::process::tool_command_std(bpftrace)
        .arg("--info")
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        })
        .unwrap_or_default()
}

fn info_says_yes(info: &str, key: &str) -> Option<bool> {
    info.lines().find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        (k.trim() == key).then(|| v.trim() == "yes")
    })
}

/// Which attach families work here, each with the evidence. kprobes are judged by the kprobe
/// PMU (a kprobe program *loads* without it but can never attach), fentry/fexit by bpftrace's
/// own load probe of a BPF trampoline, hardware events by a CPU PMU.
fn probe_families(btf: bool, tracefs: bool, info: &str) -> Vec<AttachFamily> {
    let pmu = |name: &str| Path::new(PMU_DIR).join(name).exists();
    let fam = |name, prefixes, available: bool, yes: &str, no: &str| AttachFamily {
        name,
        prefixes,
        available,
        reason: if available {
            yes.to_owned()
        } else {
            no.to_owned()
        },
    };
    let kfunc = info_says_yes(info, "kfunc").unwrap_or(false);
    vec![
        fam(
            "tracepoint",
            &["tracepoint", "t"],
            tracefs && pmu("tracepoint"),
            "tracefs events and the tracepoint PMU are present",
            "tracefs is not mounted or unreadable, or the tracepoint PMU is missing (mount -t tracefs nodev /sys/kernel/tracing)",
        ),
        fam(
            "rawtracepoint",
            &["rawtracepoint", "rt"],
            btf,
            "kernel BTF is present",
            "no kernel BTF at /sys/kernel/btf/vmlinux",
        ),
        fam(
            "uprobe",
            &["uprobe", "uretprobe", "u", "ur", "usdt", "U"],
            pmu("uprobe"),
            "the uprobe PMU is present",
            "no uprobe PMU (CONFIG_UPROBE_EVENTS unset)",
        ),
        fam(
            "kprobe",
            &["kprobe", "kretprobe", "k", "kr"],
            pmu("kprobe"),
            "the kprobe PMU is present",
            "kprobes are not available on this kernel (CONFIG_KPROBES unset: no kprobe PMU); use a tracepoint instead",
        ),
        fam(
            "fentry",
            &["kfunc", "kretfunc", "fentry", "fexit", "f", "fr"],
            kfunc,
            "BPF trampolines load (bpftrace --info: kfunc yes)",
            "fentry/fexit (kfunc) are not available on this kernel (no BPF trampolines); use a tracepoint instead",
        ),
        fam(
            "software",
            &["software", "s", "profile", "p", "interval", "i", "BEGIN", "END"],
            pmu("software"),
            "the software PMU is present",
            "no software PMU",
        ),
        fam(
            "hardware",
            &["hardware", "h"],
            pmu("cpu"),
            "a CPU PMU is present",
            "no hardware performance counters on this machine (no cpu PMU): cycles, cache misses and the like cannot be measured",
        ),
        fam(
            "watchpoint",
            &["watchpoint", "w", "asyncwatchpoint"],
            pmu("breakpoint"),
            "the breakpoint PMU is present",
            "no breakpoint PMU",
        ),
    ]
}

/// Filesystem types with a mount on this host (`/proc/self/mounts`, third column).
pub fn mounted_filesystems() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_owned)
        .collect()
}

/// Filesystem types this kernel knows (`/proc/filesystems`, last column).
pub fn known_filesystems() -> Vec<String> {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .collect()
}

/// Filesystems this kernel knows that nothing on this host mounts: the tracepoints of their
/// systems (`xfs:*`, `btrfs:*`) cannot fire until one is mounted.
pub fn idle_filesystems() -> Vec<String> {
    let mounted = mounted_filesystems();
    known_filesystems()
        .into_iter()
        .filter(|k| !mounted.contains(k))
        .collect()
}
