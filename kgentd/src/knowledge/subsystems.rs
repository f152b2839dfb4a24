//! Kernel subsystems and drivers people name in requests (`specs-db/subsystems.toml`), and
//! whether this kernel has them, judged from host evidence only: a tracepoint system, a module
//! under /sys/module (loaded, or built in with parameters), or a file the subsystem creates. A
//! request naming one this kernel lacks is refused before any model is asked, with what was
//! looked for.
use std::path::Path;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::host::HostFacts;
use crate::intent::Intent;

const SHIPPED: &str = include_str!("../../../specs-db/subsystems.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subsystem {
    pub name: String,
    pub words: Vec<String>,
    pub tracepoint_systems: Vec<String>,
    pub modules: Vec<String>,
    pub paths: Vec<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    subsystem: Vec<Subsystem>,
}

/// Parses a subsystems file; every entry needs words, some evidence and a source.
pub fn parse(text: &str) -> Result<Vec<Subsystem>, String> {
    let file: File = toml::from_str(text).map_err(|e| format!("subsystems.toml: {e}"))?;
    for s in &file.subsystem {
        if s.source.trim().is_empty() || s.words.is_empty() {
            return Err(format!(
                "subsystems.toml: {} needs words and a source",
                s.name
            ));
        }
        if s.tracepoint_systems.is_empty() && s.modules.is_empty() && s.paths.is_empty() {
            return Err(format!("subsystems.toml: {} names no evidence", s.name));
        }
    }
    Ok(file.subsystem)
}

fn shipped() -> &'static [Subsystem] {
    static S: LazyLock<Vec<Subsystem>> = LazyLock::new(|| {
        parse(SHIPPED).unwrap_or_else(|e| {
            tracing::error!("subsystem refusals are off: {e}");
            Vec::new()
        })
    });
    &S
}

impl Subsystem {
    /// Whether this host shows any evidence of it (`sys_module`: the /sys/module directory).
    fn present(&self, host: &HostFacts, sys_module: &Path) -> bool {
        self.tracepoint_systems.iter().any(|sys| {
            host.tracepoints
                .keys()
                .any(|k| k.split(':').next() == Some(sys.as_str()))
        }) || self.modules.iter().any(|m| sys_module.join(m).exists())
            || self.paths.iter().any(|p| Path::new(p).exists())
    }

    fn looked_for(&self) -> String {
        let mut parts = Vec::new();
        if !self.tracepoint_systems.is_empty() {
            parts.push(format!(
                "no tracepoints of {}",
                self.tracepoint_systems.join("/")
            ));
        }
        if !self.modules.is_empty() {
            parts.push(format!(
                "module {} neither loaded nor built in",
                self.modules.join("/")
            ));
        }
        if !self.paths.is_empty() {
            parts.push(format!("no {}", self.paths.join(", ")));
        }
        parts.join(", ")
    }
}

/// A subsystem the request names and this kernel lacks, in words.
pub fn absent_subsystem(host: &HostFacts, intent: &Intent) -> Option<String> {
    absent_in(shipped(), host, intent, Path::new("/sys/module"))
}

fn absent_in(
    all: &[Subsystem],
    host: &HostFacts,
    intent: &Intent,
    sys_module: &Path,
) -> Option<String> {
    let s = all.iter().find(|s| {
        s.words
            .iter()
            .any(|w| intent.names_word(&w.to_ascii_lowercase()))
    })?;
    (!s.present(host, sys_module)).then(|| {
        format!(
            "this kernel has no {}: {} (looked for what {} would create)",
            s.name,
            s.looked_for(),
            s.source
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_with_sources() {
        let all = parse(SHIPPED).expect("subsystems.toml");
        assert!(all.len() >= 10);
    }

    #[test]
    fn a_named_subsystem_is_absent_only_without_any_evidence() {
        let host = HostFacts::for_tests_with_tracepoints(&[]);
        let dir = std::env::temp_dir().join(format!("kgent-sysmod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let all = parse(
            r#"[[subsystem]]
name = "frobnicator"
words = ["frob device"]
tracepoint_systems = ["frob"]
modules = ["frob_core"]
paths = []
source = "a test"
"#,
        )
        .expect("parses");
        let asks = Intent::read("trace every Frob device request");
        let reason = absent_in(&all, &host, &asks, &dir).expect("absent");
        assert!(
            reason.contains("frobnicator") && reason.contains("frob_core"),
            "{reason}"
        );
        // A request that does not name it is not judged.
        assert!(absent_in(&all, &host, &Intent::read("trace frobs"), &dir).is_none());
        // The module's directory is evidence enough.
        std::fs::create_dir_all(dir.join("frob_core")).expect("module dir");
        assert!(absent_in(&all, &host, &asks, &dir).is_none());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
