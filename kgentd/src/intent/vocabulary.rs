//! The shipped vocabulary (`specs-db/intent.toml`), parsed and compiled once per process.
//!
//! The file is embedded at build time; a test parses it, so a broken file fails `cargo test`
//! rather than the daemon. Should it still fail to load at run time, the error is logged and the
//! vocabulary is empty: requests are then read as asking for nothing in particular, which makes
//! kgent's checks weaker, never the daemon dead.
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::Concept;

pub(super) const SHIPPED: &str = include_str!("../../../specs-db/intent.toml");

/// Named word lists of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    Filesystems,
    EnglishSyscallNames,
    FunctionWords,
    LibcNames,
    OpensslNames,
    NotSubjects,
    /// Auxiliary verbs: after one, "each" is a pronoun ("how much does each ask for").
    Auxiliaries,
    /// Syscalls with everyday English names whose man page's first parameter is `sockfd`:
    /// written after "socket" ("socket shutdowns") they name the call.
    SocketCalls,
}

/// Named extractors: a regex whose first capture group is the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extract {
    ProcessNameFilter,
    /// A clause that sets something apart ("ignore …", "except …"): the calls it names are
    /// not calls to observe.
    SetApart,
    /// A size or time events must exceed ("more than 4 MiB", "10 ms or longer").
    Threshold,
    /// How often the output is wanted ("every 5 seconds").
    Period,
    /// What a tally is kept per ("per process name", "broken down by port").
    GroupBy,
    /// A port number the request names ("to port 443").
    Port,
    /// A directory the request keeps paths under ("under /tmp").
    Directory,
    /// A result the calls the request keeps return ("that return zero bytes", "returning 0").
    ResultValue,
    /// A threshold stated of what calls return ("recvfrom calls that return more than 4096
    /// bytes"): it matched.
    ResultThreshold,
    /// The request keeps what grows (first group: "grows a mapping", "expands") or shrinks
    /// (second group: "shrinks", "reduces").
    Growth,
    /// The request counts calls or events themselves ("count io_uring_enter calls", "how many
    /// times"), not a quantity they carry.
    CountsEvents,
    /// A request that shows events in the plural "with the <values>" ("Trace brk() calls with
    /// the address"): it matched when its first capture group did.
    ShowsEvents,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    concept: Vec<ConceptEntry>,
    #[serde(default)]
    extract: Vec<ExtractEntry>,
    #[serde(default)]
    list: Vec<ListEntry>,
    #[serde(default)]
    search: Vec<SearchEntry>,
    #[serde(default)]
    abbreviation: Vec<AbbreviationEntry>,
    #[serde(default)]
    errno: Vec<ErrnoEntry>,
    #[serde(default)]
    signal: Vec<SignalEntry>,
    #[serde(default)]
    phrase: Vec<PhraseEntry>,
}

/// A phrase a request uses for a value it could have written out: "standard output" is file
/// descriptor 1 (stdin(3)). The request's words are read with the phrase replaced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhraseEntry {
    /// How requests say it, lower case: `standard output`, `stdout`.
    pub said: Vec<String>,
    /// What it means, in words the rest of the reading knows: `file descriptor 1`.
    pub means: String,
    pub source: String,
}

/// A signal's number on this architecture (signal(7)).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalEntry {
    /// As C writes it: `SIGKILL`.
    pub name: String,
    pub value: i64,
    pub source: String,
}

/// An error number (errno(3)) and the words a request uses for the failure it stands for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrnoEntry {
    /// As C writes it: `ENOENT`.
    pub name: String,
    /// Its value on Linux (a failed syscall returns its negation).
    pub value: i64,
    /// Phrases of a request that mean this failure ("does not exist"); none where errno(3)'s
    /// description is too general to read as this error alone (ENOMEM's "out of memory" is
    /// also what the OOM killer acts on): then only the name states it.
    #[serde(default)]
    pub words: Vec<String>,
    pub source: String,
}

/// A short form the kernel writes in field names (`fd`, `addr`) and the words it stands for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AbbreviationEntry {
    short: String,
    words: Vec<String>,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConceptEntry {
    name: Concept,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    words: Vec<String>,
    /// Phrases that look like the concept but are not it ("99 times per second" is a sampling
    /// rate, not output per second): the patterns and words are matched with these blanked out.
    #[serde(default)]
    except: Vec<String>,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtractEntry {
    name: Extract,
    pattern: String,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListEntry {
    name: List,
    words: Vec<String>,
    source: String,
}

/// Retrieval vocabulary: a spoken word and the kernel's words for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchEntry {
    pub spoken: String,
    pub kernel: String,
    pub source: String,
    /// The spoken word names what the kernel words name (System V shared memory *is* shmget,
    /// shmat…), so a request using it is about them (the subject check); otherwise the kernel
    /// words only help retrieval.
    #[serde(default)]
    pub names: bool,
    /// The spoken words ask for this specs-DB span (`id` of a span in
    /// specs-db/attach-points.toml) where an event ends several: "off the CPU" is sched_switch's
    /// off-CPU span, not its default on-CPU one.
    #[serde(default)]
    pub span: Option<String>,
}

/// How one concept is recognised.
#[derive(Debug)]
pub struct ConceptRule {
    pub patterns: Vec<Regex>,
    /// Phrases matched at alphanumeric boundaries, lowercase.
    pub words: Vec<String>,
    /// Matches blanked out before `patterns` are tried.
    pub except: Vec<Regex>,
    pub source: String,
}

impl ConceptRule {
    /// Whether a pattern matches `text` once the `except` phrases are blanked out.
    pub fn matches(&self, text: &str) -> bool {
        let text = self.blanked(text);
        self.patterns.iter().any(|p| p.is_match(&text))
    }

    /// `text` with the `except` phrases blanked out (the words are looked for in it too).
    pub fn blanked<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let mut text = std::borrow::Cow::Borrowed(text);
        for e in &self.except {
            if e.is_match(&text) {
                text = std::borrow::Cow::Owned(e.replace_all(&text, " ").into_owned());
            }
        }
        text
    }
}

/// The compiled vocabulary.
#[derive(Debug, Default)]
pub struct Vocabulary {
    pub concepts: BTreeMap<Concept, ConceptRule>,
    pub extracts: BTreeMap<Extract, Regex>,
    pub lists: BTreeMap<List, Vec<String>>,
    pub search: Vec<SearchEntry>,
    /// Short forms of field names and the words they stand for (`fd` → file descriptor).
    pub abbreviations: BTreeMap<String, Vec<String>>,
    /// Error numbers and the words for them.
    pub errnos: Vec<ErrnoEntry>,
    /// Signal numbers.
    pub signals: Vec<SignalEntry>,
    /// Phrases for values said in other words (any case, whole words), and what they mean.
    pub phrases: Vec<(Regex, String)>,
}

impl Vocabulary {
    /// Parses and compiles a vocabulary file. Every concept, list and extractor the code knows
    /// must be defined exactly once, each with a source.
    pub fn parse(text: &str) -> Result<Vocabulary, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("intent.toml: {e}"))?;
        let regex = |p: &str| {
            RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("intent.toml: pattern `{p}`: {e}"))
        };
        let mut v = Vocabulary::default();
        for c in file.concept {
            if c.source.trim().is_empty() {
                return Err(format!("intent.toml: concept {:?} has no source", c.name));
            }
            let rule = ConceptRule {
                patterns: c
                    .patterns
                    .iter()
                    .map(|p| regex(p))
                    .collect::<Result<_, _>>()?,
                words: c.words.iter().map(|w| w.to_lowercase()).collect(),
                except: c
                    .except
                    .iter()
                    .map(|p| regex(p))
                    .collect::<Result<_, _>>()?,
                source: c.source,
            };
            if v.concepts.insert(c.name, rule).is_some() {
                return Err(format!("intent.toml: concept {:?} defined twice", c.name));
            }
        }
        for e in file.extract {
            if e.source.trim().is_empty() {
                return Err(format!("intent.toml: extractor {:?} has no source", e.name));
            }
            let re = regex(&e.pattern)?;
            if re.captures_len() < 2 {
                return Err(format!(
                    "intent.toml: extractor {:?} has no capture group",
                    e.name
                ));
            }
            if v.extracts.insert(e.name, re).is_some() {
                return Err(format!("intent.toml: extractor {:?} defined twice", e.name));
            }
        }
        for l in file.list {
            if l.source.trim().is_empty() {
                return Err(format!("intent.toml: list {:?} has no source", l.name));
            }
            let words = l.words.iter().map(|w| w.to_lowercase()).collect();
            if v.lists.insert(l.name, words).is_some() {
                return Err(format!("intent.toml: list {:?} defined twice", l.name));
            }
        }
        for s in &file.search {
            if s.source.trim().is_empty() {
                return Err(format!(
                    "intent.toml: search word {} has no source",
                    s.spoken
                ));
            }
        }
        v.search = file.search;
        for e in &file.errno {
            if e.source.trim().is_empty() || e.value <= 0 {
                return Err(format!(
                    "intent.toml: errno {:?} needs a positive value and a source",
                    e.name
                ));
            }
        }
        v.errnos = file.errno;
        if let Some(s) = file.signal.iter().find(|s| s.source.trim().is_empty()) {
            return Err(format!("intent.toml: signal {:?} has no source", s.name));
        }
        v.signals = file.signal;
        if let Some(p) = file
            .phrase
            .iter()
            .find(|p| p.source.trim().is_empty() || p.said.is_empty() || p.means.is_empty())
        {
            return Err(format!(
                "intent.toml: phrase {:?} needs what is said, what it means and a source",
                p.said
            ));
        }
        for p in file.phrase {
            let alternatives: Vec<String> = p.said.iter().map(|s| regex::escape(s)).collect();
            v.phrases.push((
                regex(&format!(r"\b({})\b", alternatives.join("|")))?,
                p.means,
            ));
        }
        for a in file.abbreviation {
            if a.source.trim().is_empty() || a.words.is_empty() {
                return Err(format!(
                    "intent.toml: abbreviation {:?} needs words and a source",
                    a.short
                ));
            }
            let words = a.words.iter().map(|w| w.to_lowercase()).collect();
            if v.abbreviations
                .insert(a.short.to_lowercase(), words)
                .is_some()
            {
                return Err(format!(
                    "intent.toml: abbreviation {:?} defined twice",
                    a.short
                ));
            }
        }
        for c in Concept::ALL {
            if !v.concepts.contains_key(c) {
                return Err(format!("intent.toml: concept {c:?} is not defined"));
            }
        }
        Ok(v)
    }

    pub fn list(&self, l: List) -> &[String] {
        self.lists.get(&l).map_or(&[], Vec::as_slice)
    }
}

/// The shipped vocabulary, compiled at first use.
pub fn shipped() -> &'static Vocabulary {
    static V: LazyLock<Vocabulary> = LazyLock::new(|| {
        Vocabulary::parse(SHIPPED).unwrap_or_else(|e| {
            tracing::error!("the request vocabulary did not load, requests are read as asking for nothing in particular: {e}");
            Vocabulary::default()
        })
    });
    &V
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_vocabulary_parses_whole() {
        let v = Vocabulary::parse(SHIPPED).expect("shipped vocabulary");
        assert_eq!(v.concepts.len(), Concept::ALL.len());
        for l in [
            List::Filesystems,
            List::EnglishSyscallNames,
            List::FunctionWords,
            List::LibcNames,
            List::OpensslNames,
            List::NotSubjects,
            List::Auxiliaries,
            List::SocketCalls,
        ] {
            assert!(!v.list(l).is_empty(), "{l:?}");
        }
        assert!(v.extracts.contains_key(&Extract::ProcessNameFilter));
        assert!(v.search.len() >= 50);
    }

    #[test]
    fn a_broken_file_is_refused_with_the_reason() {
        for (text, want) in [
            (
                "[[concept]]\nname = \"pid\"\npatterns = ['(']\nsource = \"x\"",
                "pattern",
            ),
            ("[[concept]]\nname = \"no_such\"\nsource = \"x\"", "no_such"),
            ("[[concept]]\nname = \"pid\"\nsource = \" \"", "no source"),
            (
                "[[concept]]\nname = \"pid\"\nsource = \"x\"",
                "is not defined",
            ),
        ] {
            let e = Vocabulary::parse(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
