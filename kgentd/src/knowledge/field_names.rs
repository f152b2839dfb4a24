//! Field names the kernel gives one kind of value, differently from event to event
//! (`specs-db/field-names.toml`): a byte count is `count` at sys_enter_read, `len` at
//! sys_enter_mmap, `bytes` at block_rq_issue. The query repair reads a field an event lacks at
//! the event's one field of the same kind (`agent::query_repair::field_names`).
use serde::Deserialize;

/// The shipped file.
pub const FIELD_NAMES: &str = include_str!("../../../specs-db/field-names.toml");

/// One kind of value and the field names the kernel gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// What a note calls the kind ("size or length").
    pub kind: String,
    /// Field names of that kind, matched exactly.
    pub names: Vec<String>,
    pub source: String,
}

/// A count in another unit than bytes (`nr_sector`), and the field of the same event that
/// holds the bytes (`bytes`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InBytes {
    pub field: String,
    pub bytes: String,
    pub source: String,
}

/// A field whose name does not say what it holds (`id` at raw_syscalls: the syscall number),
/// with the words a request uses for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meaning {
    /// Tracepoints (`raw_syscalls:sys_enter`) with the field.
    pub probes: Vec<String>,
    pub field: String,
    /// Words that name it, matched with a suffix ("syscall" matches "syscalls").
    pub words: Vec<String>,
    pub source: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldNamesFile {
    family: Vec<Family>,
    #[serde(default)]
    in_bytes: Vec<InBytes>,
    #[serde(default)]
    meaning: Vec<Meaning>,
}

/// Whether the request names `field` of the tracepoint `probe` (`raw_syscalls:sys_enter`) by
/// a word for what it holds.
pub fn named_by_meaning(intent: &crate::intent::Intent, probe: &str, field: &str) -> bool {
    file().meaning.iter().any(|m| {
        m.field == field
            && m.probes.iter().any(|p| p == probe)
            && m.words.iter().any(|w| intent.uses_word(w))
    })
}

/// Whether a request that groups by `phrases` names `field` of `probe` by what it holds as a
/// key: a word for it is in a grouping phrase ("per system call") or follows "each"/"every"
/// ("how often each syscall is made"). "Count system calls that fail, per process name" names
/// the syscall as what is counted, not as a key: `args->id` there splits each process's count.
pub fn grouped_by_meaning(
    intent: &crate::intent::Intent,
    probe: &str,
    field: &str,
    phrases: &[Vec<String>],
) -> bool {
    let said = meaning_words(probe, field);
    let says = |w: &str| said.iter().any(|m| w.starts_with(m));
    let words: Vec<&str> = intent.words().collect();
    phrases.iter().any(|p| p.iter().any(|w| says(w)))
        || words
            .windows(2)
            .any(|w| matches!(w[0], "each" | "every") && says(w[1]))
}

/// The words that name `field` of the tracepoint `probe` by what it holds (empty when the
/// specs say nothing).
pub fn meaning_words(probe: &str, field: &str) -> Vec<&'static str> {
    file()
        .meaning
        .iter()
        .filter(|m| m.field == field && m.probes.iter().any(|p| p == probe))
        .flat_map(|m| m.words.iter().map(String::as_str))
        .collect()
}

/// The field of the tracepoint `probe` that a query reading the missing field `name` means:
/// the one whose meaning words include `name` ("address" → `id` at
/// `error_report:error_report_end`). None when no entry, or more than one, says so.
pub fn meant_by(probe: &str, name: &str) -> Option<&'static str> {
    let mut found = file()
        .meaning
        .iter()
        .filter(|m| {
            // Or a short form that starts one ("dev" for "device"), as the kernel writes them.
            let says = |w: &String| w == name || (name.len() >= 3 && w.starts_with(name));
            m.probes.iter().any(|p| p == probe) && m.words.iter().any(says)
        })
        .map(|m| m.field.as_str());
    let one = found.next()?;
    found.all(|f| f == one).then_some(one)
}

fn file() -> &'static FieldNamesFile {
    static FILE: std::sync::LazyLock<FieldNamesFile> =
        std::sync::LazyLock::new(|| toml::from_str(FIELD_NAMES).unwrap_or_default());
    &FILE
}

/// Every family (none when the file does not parse: a test says so).
pub fn shipped() -> &'static [Family] {
    &file().family
}

/// The byte field that stands beside a count in another unit, if any (`nr_sector` → `bytes`).
pub fn bytes_of(field: &str) -> Option<&'static str> {
    file()
        .in_bytes
        .iter()
        .find(|b| b.field == field)
        .map(|b| b.bytes.as_str())
}

/// The family a field name belongs to, if any.
pub fn family_of(field: &str) -> Option<&'static Family> {
    shipped()
        .iter()
        .find(|f| f.names.iter().any(|n| n == field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_families_parse_name_their_source_and_do_not_overlap() {
        let parsed: FieldNamesFile = toml::from_str(FIELD_NAMES).expect("field-names.toml parses");
        assert!(parsed.family.len() >= 3);
        let mut seen = std::collections::BTreeSet::new();
        for f in &parsed.family {
            assert!(!f.source.trim().is_empty(), "{} has no source", f.kind);
            assert!(
                f.names.len() >= 2,
                "{} has one name: nothing to map",
                f.kind
            );
            for n in &f.names {
                assert!(seen.insert(n.clone()), "{n} is in two families");
            }
        }
        assert_eq!(
            family_of("nbytes").map(|f| f.kind.as_str()),
            Some("size or length")
        );
        assert!(family_of("comm").is_none());
        for m in &parsed.meaning {
            assert!(!m.source.trim().is_empty(), "{} has no source", m.field);
        }
    }

    #[test]
    fn a_field_is_named_by_what_it_holds() {
        let each = crate::intent::Intent::read("how often is each system call made by cron");
        assert!(named_by_meaning(&each, "raw_syscalls:sys_enter", "id"));
        assert!(!named_by_meaning(&each, "raw_syscalls:sys_enter", "args"));
        assert!(!named_by_meaning(&each, "syscalls:sys_enter_openat", "id"));
        let who = crate::intent::Intent::read("how often does each program run");
        assert!(!named_by_meaning(&who, "raw_syscalls:sys_enter", "id"));
    }

    #[test]
    fn a_missing_field_is_read_where_its_meaning_words_say_it() {
        // net.h records the device as `name`: a query's `device` or its short form `dev`.
        assert_eq!(meant_by("net:net_dev_xmit", "device"), Some("name"));
        assert_eq!(meant_by("net:net_dev_xmit", "dev"), Some("name"));
        // Two letters start too many words to stand for one.
        assert_eq!(meant_by("net:net_dev_xmit", "de"), None);
        assert_eq!(meant_by("net:net_dev_xmit", "bytes"), None);
    }

    /// Every name is a field of some tracepoint of this host (the fields are the kernel's, not
    /// guesses): read from tracefs, skipped where tracefs is not mounted.
    #[test]
    fn every_family_name_is_a_field_of_a_tracepoint_here() {
        let root = std::path::Path::new("/sys/kernel/tracing/events");
        let Ok(systems) = std::fs::read_dir(root) else {
            eprintln!("no tracefs here: skipped");
            return;
        };
        let mut fields = std::collections::BTreeSet::new();
        for sys in systems.flatten() {
            let Ok(events) = std::fs::read_dir(sys.path()) else {
                continue;
            };
            for ev in events.flatten() {
                let Ok(format) = std::fs::read_to_string(ev.path().join("format")) else {
                    continue;
                };
                for line in format.lines() {
                    let Some(decl) = line.trim().strip_prefix("field:") else {
                        continue;
                    };
                    let decl = decl.split(';').next().unwrap_or("");
                    let name = decl.rsplit([' ', '*']).next().unwrap_or("");
                    fields.insert(name.split('[').next().unwrap_or("").to_owned());
                }
            }
        }
        for f in shipped() {
            for n in &f.names {
                assert!(
                    fields.contains(n),
                    "{n} ({}) is no tracepoint field here",
                    f.kind
                );
            }
        }
    }
}
