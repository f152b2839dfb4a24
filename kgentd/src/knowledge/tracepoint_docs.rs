//! The kernel's own description of each tracepoint: `specs-db/tracepoint-docs.toml`, generated
//! from the trace headers of a Linux source tree by `specs-db/tools/tracepoint-docs.py` and
//! embedded at build time, so kgentd never needs the kernel source. Each event doc is the
//! comment above its TRACE_EVENT (or its class, or its Documentation/trace section); each
//! system doc is its header's description or a hand-written line naming the documentation it
//! paraphrases. This module parses and validates the file and answers what the kernel says
//! about a tracepoint; it must not read tracefs or decide what is on this host (the catalog
//! does, and merges these words into its entries).
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

/// The generated file, as shipped with this build of kgentd.
pub const DOCS: &str = include_str!("../../../specs-db/tracepoint-docs.toml");

/// What the kernel (or its documentation) says about a tracepoint system.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemDoc {
    pub doc: String,
    /// Where `doc` comes from: a header, a Documentation/ file, a Kconfig help, a man page.
    pub source: String,
    /// The header that defines the TRACE_SYSTEM, when known.
    #[serde(default)]
    pub header: Option<String>,
}

impl SystemDoc {
    /// The subject of the doc, before its details: "Kernel memory allocators" of "Kernel
    /// memory allocators: slab (…), page allocator (…)". Short enough to add to every event
    /// of the system.
    pub fn subject(&self) -> &str {
        let end = self
            .doc
            .find(": ")
            .or_else(|| self.doc.find(". "))
            .unwrap_or(self.doc.len());
        self.doc[..end].trim_end_matches('.')
    }
}

/// What the kernel says about one event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDoc {
    /// `SYSTEM:EVENT`, as tracefs names it.
    pub name: String,
    pub doc: String,
    /// The file it comes from and the kernel version it was read in.
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocFile {
    #[serde(default)]
    system: BTreeMap<String, SystemDoc>,
    #[serde(default)]
    event: Vec<EventDoc>,
}

/// The docs of every system and event the file describes.
#[derive(Debug, Default)]
pub struct TracepointDocs {
    systems: BTreeMap<String, SystemDoc>,
    events: HashMap<String, EventDoc>,
}

impl TracepointDocs {
    /// Parses a docs file: every doc non-empty and naming its source, event names
    /// `SYSTEM:EVENT` and unique.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: DocFile = toml::from_str(text).map_err(|e| {
            format!(
                "specs-db/tracepoint-docs.toml: {} (regenerate it with specs-db/tools/tracepoint-docs.py)",
                e.message()
            )
        })?;
        for (name, s) in &file.system {
            if s.doc.trim().is_empty() || s.source.trim().is_empty() {
                return Err(format!(
                    "specs-db/tracepoint-docs.toml: system {name} needs a doc and its source"
                ));
            }
        }
        let mut events = HashMap::new();
        for e in file.event {
            let well_formed = e
                .name
                .split_once(':')
                .is_some_and(|(s, n)| !s.is_empty() && !n.is_empty() && !n.contains(':'));
            if !well_formed || e.doc.trim().is_empty() || e.source.trim().is_empty() {
                return Err(format!(
                    "specs-db/tracepoint-docs.toml: event {:?} needs a SYSTEM:EVENT name, a doc and its source",
                    e.name
                ));
            }
            if let Some(dup) = events.insert(e.name.clone(), e) {
                return Err(format!(
                    "specs-db/tracepoint-docs.toml: {} is described twice",
                    dup.name
                ));
            }
        }
        Ok(Self {
            systems: file.system,
            events,
        })
    }

    /// The shipped file, parsed once, or why it does not parse (the catalog reports it at
    /// start-up and goes on without the kernel's words).
    pub fn shipped() -> Result<&'static Self, &'static str> {
        static PARSED: LazyLock<Result<TracepointDocs, String>> =
            LazyLock::new(|| TracepointDocs::parse(DOCS));
        PARSED.as_ref().map_err(String::as_str)
    }

    pub fn system(&self, system: &str) -> Option<&SystemDoc> {
        self.systems.get(system)
    }

    pub fn event(&self, system: &str, event: &str) -> Option<&EventDoc> {
        self.events.get(&format!("{system}:{event}"))
    }

    /// What to say about a tracepoint: its own doc, else its system's.
    pub fn describe(&self, system: &str, event: &str) -> Option<&str> {
        self.event(system, event)
            .map(|e| e.doc.as_str())
            .or_else(|| self.system(system).map(|s| s.doc.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_every_doc_names_its_source() {
        let docs = TracepointDocs::parse(DOCS).expect("shipped docs");
        assert!(docs.systems.len() >= 90, "{}", docs.systems.len());
        assert!(docs.events.len() >= 200, "{}", docs.events.len());
        for (name, s) in &docs.systems {
            assert!(
                !s.doc.trim().is_empty() && !s.subject().is_empty(),
                "{name}"
            );
            assert!(
                s.source.contains('/') || s.source.starts_with("man "),
                "{name}: {}",
                s.source
            );
        }
        for e in docs.events.values() {
            assert!(!e.doc.trim().is_empty(), "{}", e.name);
            assert!(
                e.source.contains(".h (") || e.source.contains(".rst ("),
                "{}: {}",
                e.name,
                e.source
            );
        }
    }

    #[test]
    fn events_without_a_comment_fall_back_to_their_system() {
        let docs = TracepointDocs::parse(DOCS).expect("shipped docs");
        let slab = docs
            .describe("kmem", "kmem_cache_alloc")
            .expect("kmem_cache_alloc is documented");
        assert!(slab.to_lowercase().contains("slab"), "{slab}");
        let block = docs.system("block").expect("block");
        assert!(block.doc.contains("disk"), "{}", block.doc);
        assert_eq!(
            block.header.as_deref(),
            Some("include/trace/events/block.h")
        );
        // No event of its own: the system's words.
        let d = docs
            .describe("syscalls", "sys_enter_openat")
            .expect("syscalls system");
        assert_eq!(Some(d), docs.system("syscalls").map(|s| s.doc.as_str()));
        assert_eq!(docs.describe("no_such_system", "x"), None);
    }

    #[test]
    fn a_system_subject_is_the_words_before_its_details() {
        let s = SystemDoc {
            doc: "Kernel memory allocators: slab (kmalloc), page allocator.".into(),
            source: "Documentation/trace/events-kmem.rst".into(),
            header: None,
        };
        assert_eq!(s.subject(), "Kernel memory allocators");
        let s = SystemDoc {
            doc: "Events for filesystem locks.".into(),
            ..s
        };
        assert_eq!(s.subject(), "Events for filesystem locks");
    }

    #[test]
    fn rejects_docs_without_a_source_bad_names_and_duplicates() {
        let ok = "[system.a]\ndoc = \"x y z\"\nsource = \"Documentation/a.rst\"\n";
        assert!(TracepointDocs::parse(ok).is_ok());
        let no_source = "[system.a]\ndoc = \"x y z\"\nsource = \"\"\n";
        assert!(TracepointDocs::parse(no_source)
            .unwrap_err()
            .contains("source"));
        let bad_name = "[[event]]\nname = \"a\"\ndoc = \"d\"\nsource = \"a.h (v)\"\n";
        assert!(TracepointDocs::parse(bad_name).is_err());
        let empty = "[[event]]\nname = \"a:b\"\ndoc = \" \"\nsource = \"a.h (v)\"\n";
        assert!(TracepointDocs::parse(empty).is_err());
        let dup = "[[event]]\nname = \"a:b\"\ndoc = \"d\"\nsource = \"a.h (v)\"\n\
                   [[event]]\nname = \"a:b\"\ndoc = \"e\"\nsource = \"a.h (v)\"\n";
        assert!(TracepointDocs::parse(dup).unwrap_err().contains("twice"));
        assert!(
            TracepointDocs::parse("[system.a]\ndoc = \"d\"\nsource = \"s\"\ncolour = 1\n").is_err()
        );
    }
}
