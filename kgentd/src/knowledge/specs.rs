//! The specs DB: curated, human-written entries from `specs-db/attach-points.toml`, embedded at
//! build time. Each says what an attach point (or hook, perf event, helper) means, the facts
//! models get wrong, and which unavailable probes it replaces. The catalog merges them with
//! what the live host says; this module only parses and validates the file.
use serde::Deserialize;

/// The curated file, as shipped with this build of kgentd.
pub const CURATED: &str = include_str!("../../../specs-db/attach-points.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// How a program names it: `tracepoint:sock:inet_sock_set_state`, `kprobe:vfs_read`,
    /// `hook:xdp`, `profile:hz:99`, `bpf_ktime_get_ns`.
    pub name: String,
    pub summary: String,
    /// How users ask for it; feeds search only.
    #[serde(default)]
    pub people_say: Vec<String>,
    #[serde(default)]
    pub facts: Vec<String>,
    /// Probes people reach for that this entry replaces (`kprobe:tcp_connect`).
    #[serde(default)]
    pub instead_of: Vec<String>,
    /// For entries the host has no list of (hooks, perf events, uprobes): the measured attach
    /// family that decides whether it works here.
    #[serde(default)]
    pub family: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    spec: Vec<Spec>,
}

/// Parses a specs file; names must be unique.
pub fn parse(text: &str) -> Result<Vec<Spec>, String> {
    let file: SpecFile = toml::from_str(text).map_err(|e| {
        format!(
            "specs-db/attach-points.toml: {} (fix the file and rebuild kgentd)",
            e.message()
        )
    })?;
    let mut seen = std::collections::HashSet::new();
    for s in &file.spec {
        if !seen.insert(s.name.as_str()) {
            return Err(format!(
                "specs-db/attach-points.toml: {} is specified twice; merge the entries",
                s.name
            ));
        }
    }
    Ok(file.spec)
}

/// The function a kprobe-like probe names: `kretprobe:vfs_read` → `vfs_read`; `None` for
/// anything that is not a kernel-function probe.
pub fn kernel_function(probe: &str) -> Option<&str> {
    let (prefix, name) = probe.split_once(':')?;
    matches!(
        prefix,
        "kprobe"
            | "kretprobe"
            | "k"
            | "kr"
            | "kfunc"
            | "kretfunc"
            | "fentry"
            | "fexit"
            | "f"
            | "fr"
    )
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_is_large_enough() {
        let specs = parse(CURATED).expect("curated specs");
        assert!(specs.len() >= 100, "{} curated entries", specs.len());
        assert!(specs.iter().all(|s| !s.summary.is_empty()));
    }

    #[test]
    fn rejects_duplicates_and_unknown_keys() {
        let dup =
            "[[spec]]\nname = \"a\"\nsummary = \"x\"\n[[spec]]\nname = \"a\"\nsummary = \"y\"\n";
        assert!(parse(dup).unwrap_err().contains("twice"));
        assert!(parse("[[spec]]\nname = \"a\"\nsummary = \"x\"\ncolour = 1\n").is_err());
    }

    #[test]
    fn names_the_function_of_kernel_probes() {
        assert_eq!(kernel_function("kretprobe:vfs_read"), Some("vfs_read"));
        assert_eq!(kernel_function("fentry:tcp_connect"), Some("tcp_connect"));
        assert_eq!(kernel_function("tracepoint:sched:sched_switch"), None);
    }
}
