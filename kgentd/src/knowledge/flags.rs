//! Bit flags of syscall and tracepoint fields (`specs-db/flags.toml`): which words of a request
//! ask for each. A model's draft often narrows a request with a flag test nobody asked for
//! (`args->flag & 0x200`, AT_REMOVEDIR, keeps directory removals only); a test of a documented
//! flag stays only when the request speaks of what the flag means.
use serde::Deserialize;

use crate::intent::Intent;

/// The shipped file.
pub const FLAGS: &str = include_str!("../../../specs-db/flags.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Tracepoint targets (`syscalls:sys_enter_openat`) whose `field` holds the flag.
    pub probes: Vec<String>,
    pub field: String,
    /// Its value on x86-64.
    pub mask: i64,
    /// The C constant (`O_CREAT`).
    pub name: String,
    /// Words of a request that ask for it.
    pub words: Vec<String>,
    /// Flags the same words mean as well (O_RDWR beside O_WRONLY for "writing"): a test of
    /// this flag's bit alone keeps half of what the words ask for.
    #[serde(default)]
    pub also: Vec<String>,
    pub source: String,
}

/// Every documented flag (none when the file does not parse: a test says so).
pub fn shipped() -> &'static [Flag] {
    static FILE: std::sync::LazyLock<Vec<Flag>> =
        std::sync::LazyLock::new(|| super::specs_table::records(FLAGS, "flag"));
    &FILE
}

/// The documented flags `mask` is made of, for `field` of an event of `probes`; `None` when a
/// bit of `mask` is documented by no flag there (nothing is known about the test).
pub fn documented(probes: &[String], field: &str, mask: i128) -> Option<Vec<&'static Flag>> {
    if mask <= 0 {
        return None;
    }
    let here: Vec<&Flag> = shipped()
        .iter()
        .filter(|f| f.field == field && f.probes.iter().any(|p| probes.contains(p)))
        .collect();
    if here.is_empty() {
        return None;
    }
    // The flags whose bits all lie in the mask, which together cover it.
    let parts: Vec<&Flag> = here
        .iter()
        .copied()
        .filter(|f| i128::from(f.mask) & !mask == 0)
        .collect();
    let covered = parts.iter().fold(0i128, |acc, f| acc | i128::from(f.mask));
    (covered == mask).then_some(parts)
}

/// The flag named `name` documented for `field` at `target`.
pub fn named(target: &str, field: &str, name: &str) -> Option<&'static Flag> {
    shipped()
        .iter()
        .find(|f| f.name == name && f.field == field && f.probes.iter().any(|p| p == target))
}

/// Whether the request speaks of what one of `flags` means.
pub fn asked(flags: &[&Flag], intent: &Intent) -> bool {
    flags
        .iter()
        .any(|f| f.words.iter().any(|w| intent.uses_word(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_parses_and_names_its_source() {
        let flags = shipped();
        assert!(flags.len() >= 30, "{} flags", flags.len());
        for f in flags {
            assert!(!f.words.is_empty() && !f.source.is_empty(), "{}", f.name);
            assert!(f.mask > 0, "{}", f.name);
        }
    }

    #[test]
    fn a_flag_test_is_asked_for_only_in_words_of_its_meaning() {
        let unlinkat = vec!["syscalls:sys_enter_unlinkat".to_owned()];
        let removedir = documented(&unlinkat, "flag", 0x200).expect("documented");
        assert_eq!(removedir[0].name, "AT_REMOVEDIR");
        assert!(asked(
            &removedir,
            &Intent::read("which directories get removed")
        ));
        assert!(!asked(&removedir, &Intent::read("which files get removed")));
        // The same bit of another field or event is another flag.
        let openat = vec!["syscalls:sys_enter_openat".to_owned()];
        let trunc = documented(&openat, "flags", 0x200).expect("documented");
        assert_eq!(trunc[0].name, "O_TRUNC");
        // A union of documented flags, and a mask with an unknown bit.
        let access = documented(&openat, "flags", 0x3).expect("documented");
        assert_eq!(access.len(), 2);
        assert!(asked(&access, &Intent::read("files opened for writing")));
        assert!(documented(&openat, "flags", 0x3000_0000).is_none());
        assert!(documented(&unlinkat, "dfd", 0x200).is_none());
    }
}
