//! Which of this host's attach points speak of a word: the vocabulary behind the subject check.
//!
//! An attach point's words come from host data (its name and field names, read from tracefs)
//! and documentation (its description, how people ask for it and the kernel functions it
//! replaces: the catalog and the specs DB). A word of a request is one of its *subjects* when
//! the attach points most relevant to the whole request speak of it and few attach points do
//! (it discriminates: "slab", "swapin", "sync"; not "file" or "read", of which dozens speak), or
//! when the request writes it as a call (`sync()`). A program covers a subject when one of its
//! probes speaks of it.
//!
//! Nothing here reads English: the request's words come from the `Intent`.
use std::collections::{BTreeSet, HashMap};

use super::bm25;
use super::catalog::{Catalog, CatalogEntry, EntryKind};
use crate::intent::{Intent, SubjectWord};

/// Attach points most relevant to a request, whose words make a request word a subject.
const RELEVANT: usize = 10;
/// A word of more attach points than this share (in thousandths of the index) does not single
/// any out: with ~2,300 tracepoints, 35.
const COMMON_PER_MILLE: usize = 15;
/// A system's events lead the ranking when one of them is among this many most relevant.
const LEADING: usize = 3;
/// Attach points named for a subject, for the model and the user.
const NAMED: usize = 6;
/// A subject word is rare, and held by default, when at most this many attach points of the
/// host have it in their names.
pub const RARE: usize = 1;
/// A program covers a subject when one of its probes scores at least this share of the best
/// score an attach point of this host has for it.
const COVERED: f32 = 0.75;

/// One thing a request is about, as this host's attach points see it: a phrase of its subject
/// words ("slab cache allocations"), each weighted by how few attach points speak of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// The phrase's words that single out attach points, with their weights.
    pub words: Vec<(SubjectWord, f32)>,
    /// For each of `words`, how many attach points of this host have it in their names.
    pub df: Vec<usize>,
    /// For each of `words`, whether an attach point with it in its name is among those most
    /// relevant to the whole request (a word one unrelated attach point happens to have, like
    /// "balancing" of balance_dirty_pages in a NUMA request, is not what the request is about).
    pub near: Vec<bool>,
    /// For each of `words`, whether it names a tracepoint system whose events lead the
    /// request's relevance ranking (see [`SubjectIndex::names_system`]).
    pub system: Vec<bool>,
    /// Attach points of this host that cover the phrase best, best first.
    pub probes: Vec<String>,
    /// The best score an attach point of this host has for the phrase.
    pub best: f32,
    /// The request writes every word of one of these attach points' event names
    /// ("signals the kernel raises or generates": signal_generate): it names the event, and the subject
    /// is held whatever else the request names (see [`SubjectIndex::spelled`]).
    pub spelled: bool,
}

impl Subject {
    /// The phrase's words, as the request wrote them.
    pub fn phrase(&self) -> String {
        let words: Vec<&str> = self.words.iter().map(|(w, _)| w.word.as_str()).collect();
        words.join(" ")
    }
}

impl Subject {
    /// Whether the request's words for it are ones the intent vocabulary says name kernel
    /// objects (`names = true` in specs-db/intent.toml, each from a man page: "delete" names
    /// unlink/unlinkat/rmdir): such a subject is documented, not guessed from word statistics.
    pub fn named_by_vocabulary(&self) -> bool {
        self.words.iter().any(|(w, _)| !w.kernel.is_empty())
    }
}

/// The subjects an ask holds candidates to: all of them with `[agent] subject_check`; else
/// those the vocabulary names (a request about deleting files is not answered on renames), and
/// of the others their rare words: a word only a few attach points of this host have in their
/// names, one of them relevant to the whole request (`generate` of signal_generate, `bash` of
/// a bash uprobe), is what those attach points are for, while a common one (`read`, `run`) is
/// held to nothing. A request that names a syscall (`names_syscall`) has said what it observes:
/// then its rare words are not held ("datagrams sent with sendto()" is answered at sendto, not
/// at skb_copy_datagram_iovec). Measured on the labelled set: `kgentd bench --labels`.
pub fn enforced(
    index: &SubjectIndex,
    subjects: &[Subject],
    subject_check: bool,
    names_syscall: bool,
) -> Vec<Subject> {
    let rare = if names_syscall { None } else { Some(RARE) };
    enforced_up_to(index, subjects, subject_check, rare)
}

/// `enforced` with words held up to a given document frequency (`None`: no rare words), for
/// measuring the cut.
pub fn enforced_up_to(
    index: &SubjectIndex,
    subjects: &[Subject],
    subject_check: bool,
    max_df: Option<usize>,
) -> Vec<Subject> {
    subjects
        .iter()
        .filter_map(|s| {
            if subject_check || s.named_by_vocabulary() || s.spelled {
                Some(s.clone())
            } else {
                index.narrow(s, max_df?)
            }
        })
        .collect()
}

/// What an attach point speaks of.
struct Words {
    /// Every word of it (sorted, once each).
    all: Vec<String>,
    /// The words of its name and of the kernel functions it stands in for: what the kernel's
    /// words of a subject must meet (they are names: `unlink`, `kmem_cache_alloc`), not its
    /// field names, which many attach points share (`filename`).
    name: Vec<String>,
}

/// A phrase being gathered: its number, its weighted words with their document frequencies,
/// whether the request asks about it.
type Phrase = (
    usize,
    Vec<(SubjectWord, f32)>,
    Vec<(usize, bool, bool)>,
    bool,
);

/// A probe of a program with a sibling event that names the request's subject more closely
/// (see [`SubjectIndex::closer_events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloserEvent {
    /// The program's probe, `tracepoint:system:event`.
    pub probe: String,
    /// The sibling, `tracepoint:system:event` (for [`SubjectIndex::unnamed_events`], each
    /// sibling the request names, joined by " or ").
    pub sibling: String,
    /// The words of the probe's event that the sibling's lacks and the request does not say.
    pub extra: Vec<String>,
}

/// The words of every attach point a program can use here.
pub struct SubjectIndex {
    docs: Vec<(String, Words)>,
    by_name: HashMap<String, usize>,
}

/// An entry's words: its name, whole and split, its fields, its description, how people ask
/// for it and the kernel functions it stands in for.
fn entry_words(e: &CatalogEntry) -> Words {
    let mut names = e.name.clone();
    for f in &e.instead_of {
        names.push(' ');
        names.push_str(f);
    }
    let mut name: BTreeSet<String> = bm25::terms(&names).into_iter().collect();
    // The event's own name whole, so `kmem_cache_alloc` as the kernel writes it matches.
    for n in std::iter::once(&e.name).chain(&e.instead_of) {
        if let Some(last) = n.rsplit(':').next() {
            name.insert(last.to_ascii_lowercase());
        }
    }
    let mut text = e.description.clone();
    if e.kind == EntryKind::Tracepoint {
        for field in e.signature.split("; ") {
            if let Some(f) = field.rsplit([' ', '*']).next() {
                text.push(' ');
                text.push_str(f.split('[').next().unwrap_or(f));
            }
        }
    }
    for s in &e.people_say {
        text.push(' ');
        text.push_str(s);
    }
    let mut all: BTreeSet<String> = bm25::terms(&text).into_iter().collect();
    all.extend(name.iter().cloned());
    Words {
        all: all.into_iter().collect(),
        name: name.into_iter().collect(),
    }
}

/// A request word (stemmed) and an attach point's word name the same thing: equal; the
/// request's word (4+ letters) starts the kernel's (`open`/`openat`); or the kernel's
/// abbreviation (5+ letters) starts the request's (`alloc`/`allocation`, `sched`/`scheduler`).
fn same_word(request: &str, doc: &str) -> bool {
    request == doc
        || (request.len() >= 4 && doc.starts_with(request))
        || (doc.len() >= 5 && request.starts_with(doc))
}

/// Words of an event's name that mark a phase of one operation (`_entry`, `_exit`, `_start`,
/// `_done`), not another operation.
const PHASES: [&str; 12] = [
    "entry", "exit", "enter", "start", "end", "begin", "done", "return", "ret", "result",
    "complete", "finish",
];

/// Probes with bpftrace's short `t:` written out (`tracepoint:`).
fn full_names(probes: &[String]) -> Vec<String> {
    probes
        .iter()
        .map(|p| match p.split_once(':') {
            Some(("t", rest)) => format!("tracepoint:{rest}"),
            _ => p.clone(),
        })
        .collect()
}

/// Whether a word of `word` meets one of the request's terms `said` (stems and starts).
fn says(said: &[String], word: &str) -> bool {
    bm25::terms(word)
        .iter()
        .any(|t| said.iter().any(|r| same_word(r, t)))
}

/// A glob of bpftrace's (`sys_enter_*`) matches a name.
fn glob_matches(glob: &str, name: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// Whether an attach point is a tracepoint of this system (`tracepoint:SYSTEM:event`).
fn in_system(name: &str, system: &str) -> bool {
    name.strip_prefix("tracepoint:")
        .and_then(|t| t.split_once(':'))
        .is_some_and(|(s, _)| s == system)
}

impl SubjectIndex {
    pub fn build(catalog: &Catalog) -> Self {
        let docs: Vec<(String, Words)> = catalog
            .entries()
            .iter()
            .filter(|e| e.attachable())
            .map(|e| (e.name.clone(), entry_words(e)))
            .collect();
        let by_name = docs
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        SubjectIndex { docs, by_name }
    }

    /// Whether a tracepoint's words (description, fields, how people ask for it) have this
    /// word: it is a word of the kernel's prose, not only a name.
    pub fn in_tracepoint_prose(&self, word: &str) -> bool {
        let terms = bm25::terms(word);
        self.docs
            .iter()
            .filter(|(name, _)| name.starts_with("tracepoint:"))
            .any(|(_, w)| terms.iter().all(|t| w.all.binary_search(t).is_ok()))
    }

    /// Whether a word is the name of a tracepoint system of this host (tracefs groups a
    /// subsystem's events under `events/<system>/`: `writeback`, `kvm`, `btrfs`): a request naming
    /// one is about it, however many events it has. Not `syscalls`: the calls a request names
    /// are its subjects there.
    fn names_system(&self, word: &str) -> bool {
        word != "syscalls" && self.docs.iter().any(|(name, _)| in_system(name, word))
    }

    /// How many attach points may speak of a word before it stops singling any out.
    fn common(&self) -> usize {
        (self.docs.len() * COMMON_PER_MILLE / 1000).max(8)
    }

    /// Whether an attach point speaks of a request word anywhere: one of its words starts with
    /// it (or is a 5+ letter start of it), or its name has one of the word's kernel words (a
    /// kernel word with `_` is an identifier and must match whole). What a candidate's probe
    /// must do for a subject.
    fn speaks(words: &Words, w: &SubjectWord) -> bool {
        bm25::terms(&w.word)
            .iter()
            .any(|t| words.all.iter().any(|d| same_word(t, d)))
            || Self::kernel_names(words, w)
    }

    /// Whether an attach point's name (or a kernel function it stands in for) speaks of a
    /// request word. Only names make a word a subject: descriptions and field names share
    /// everyday words by chance.
    fn names(words: &Words, w: &SubjectWord) -> bool {
        bm25::terms(&w.word)
            .iter()
            .any(|t| words.name.iter().any(|d| same_word(t, d)))
            || Self::kernel_names(words, w)
    }

    fn kernel_names(words: &Words, w: &SubjectWord) -> bool {
        w.kernel.iter().any(|k| {
            if k.contains('_') {
                words.name.iter().any(|d| d == k)
            } else {
                bm25::terms(k)
                    .iter()
                    .any(|t| words.name.iter().any(|d| same_word(t, d)))
            }
        })
    }

    /// Whether an attach point's name has a request word, or one of its kernel words, whole.
    fn names_whole(words: &Words, w: &SubjectWord) -> bool {
        // A kernel word with `_` is an identifier, matched whole; others are stemmed as the
        // names' words are (`unshare` and the name word of sys_enter_unshare meet as "unshar").
        let kernel = w.kernel.iter().flat_map(|k| {
            if k.contains('_') {
                vec![k.clone()]
            } else {
                bm25::terms(k)
            }
        });
        bm25::terms(&w.word)
            .into_iter()
            .chain(kernel)
            .any(|t| words.name.contains(&t))
    }

    /// The words of a probe as a program names it (`tracepoint:kmem:kmem_cache_alloc`,
    /// `t:sched:sched_switch`, `tracepoint:syscalls:sys_enter_*`, `uprobe:/bin/bash:readline`):
    /// the index's words of every attach point it names, or its own words when the index does
    /// not know it.
    fn probe_words(&self, probe: &str) -> Vec<&Words> {
        let (prefix, target) = probe.split_once(':').unwrap_or((probe, ""));
        let name = match prefix {
            "t" | "tracepoint" => format!("tracepoint:{target}"),
            _ => probe.to_owned(),
        };
        if name.contains('*') {
            return self
                .docs
                .iter()
                .filter(|(n, _)| glob_matches(&name, n))
                .map(|(_, w)| w)
                .collect();
        }
        match self.by_name.get(&name) {
            Some(&i) => vec![&self.docs[i].1],
            None => Vec::new(),
        }
    }

    /// An attach point's score for a subject: the weights of the phrase's words it speaks of
    /// (anywhere, for a candidate's probe; in its name, for the host's best).
    fn phrase_score(words: &Words, s: &Subject, by_name: bool) -> f32 {
        s.words
            .iter()
            .filter(|(w, _)| {
                if by_name {
                    Self::names(words, w)
                } else {
                    Self::speaks(words, w)
                }
            })
            .map(|(_, weight)| weight)
            .sum()
    }

    /// A probe's score for a subject (the best attach point it names, for a glob).
    fn score(&self, probe: &str, s: &Subject) -> f32 {
        let phrase = |words: &Words| Self::phrase_score(words, s, false);
        let known = self.probe_words(probe);
        if known.is_empty() {
            let own = bm25::terms(probe);
            return phrase(&Words {
                all: own.clone(),
                name: own,
            });
        }
        known.into_iter().map(phrase).fold(0.0, f32::max)
    }

    /// Tracepoints of the program that a sibling of theirs names more closely: an event of the
    /// same system whose name's words are a part of the program's event's words, each word the
    /// request does not say among the rest. "when the kernel wakes up a task" answered at
    /// `sched:sched_wakeup_new` (new tasks only), while `sched:sched_wakeup` is exactly what
    /// it says; "CPU frequency changes" at `power:cpu_frequency_limits`, not
    /// `power:cpu_frequency`. Extra words that mark a phase of one operation (`_entry`,
    /// `_exit`, `_start`, `_done`) do not make another event, and a program that also uses the
    /// sibling is not judged. Host data only: the names tracefs lists.
    pub fn closer_events(&self, intent: &Intent, probes: &[String]) -> Vec<CloserEvent> {
        let said: Vec<String> = bm25::terms(intent.text());
        let named = |word: &str| says(&said, word);
        let used = full_names(probes);
        let mut out = Vec::new();
        for probe in &used {
            let Some((system, event)) = probe
                .strip_prefix("tracepoint:")
                .and_then(|t| t.split_once(':'))
            else {
                continue;
            };
            if event.contains('*') || !self.by_name.contains_key(probe) {
                continue;
            }
            let words: BTreeSet<&str> = event.split('_').filter(|w| !w.is_empty()).collect();
            let own: BTreeSet<&str> = system.split('_').collect();
            for (name, _) in self.docs.iter().filter(|(n, _)| in_system(n, system)) {
                let Some(sibling) = name.rsplit(':').next() else {
                    continue;
                };
                let theirs: BTreeSet<&str> = sibling.split('_').filter(|w| !w.is_empty()).collect();
                if theirs.len() >= words.len() || !theirs.is_subset(&words) || used.contains(name) {
                    continue;
                }
                let extra: Vec<&str> = words.difference(&theirs).copied().collect();
                let speaks = theirs
                    .iter()
                    .any(|w| !own.contains(w) && !["sys", "enter", "exit"].contains(w) && named(w));
                if speaks && !extra.iter().any(|w| PHASES.contains(w) || named(w)) {
                    out.push(CloserEvent {
                        probe: probe.clone(),
                        sibling: name.clone(),
                        extra: extra.iter().map(|w| w.to_string()).collect(),
                    });
                }
            }
        }
        out
    }

    /// Tracepoints of the program named for what the request does not say, beside a sibling
    /// of the same system named for what it does: "workqueue items executed" answered at
    /// `workqueue:workqueue_queue_work` (queued, not run), while
    /// `workqueue:workqueue_execute_start` is named by "executed". Only the words that tell
    /// the two names apart count: neither the system's name, nor a phase (`_start`,
    /// `_exit`), nor the request's grouping words ("per work function" names a key, not the
    /// event); and the request must say at least half of the sibling's
    /// (`blk_zone_append_update_request_bio` is not named by "requests"). A program that also uses a sibling the request names is not judged. Host data
    /// only: the event names tracefs lists.
    pub fn unnamed_events(&self, intent: &Intent, probes: &[String]) -> Vec<CloserEvent> {
        let grouping: BTreeSet<&str> = intent
            .group_phrases
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let said: Vec<String> = intent
            .subjects
            .iter()
            .filter(|w| !grouping.contains(w.word.as_str()))
            .flat_map(|w| bm25::terms(&w.word))
            .collect();
        // A phase the request says sets events apart too: "completed requests" are
        // block_rq_complete's, not block_rq_issue's.
        let named = |word: &str| word.len() >= 4 && says(&said, word);
        let used = full_names(probes);
        let event_of = |name: &str| -> Option<(String, String)> {
            let (system, event) = name.strip_prefix("tracepoint:")?.split_once(':')?;
            Some((system.to_owned(), event.to_owned()))
        };
        // The words of an event's name that are neither its system's nor a phase.
        let own_words = |system: &str, event: &str| -> BTreeSet<String> {
            let system: Vec<&str> = system.split('_').collect();
            event
                .split('_')
                .filter(|w| !w.is_empty() && !system.contains(w))
                .map(str::to_owned)
                .collect()
        };
        let mut out = Vec::new();
        for probe in &used {
            let Some((system, event)) = event_of(probe) else {
                continue;
            };
            if system == "syscalls" || system == "raw_syscalls" || event.contains('*') {
                continue;
            }
            if !self.by_name.contains_key(probe) {
                continue;
            }
            let mine = own_words(&system, &event);
            let mut best: Option<(String, Vec<String>)> = None;
            for (name, _) in self.docs.iter().filter(|(n, _)| in_system(n, &system)) {
                let Some((_, sibling)) = event_of(name) else {
                    continue;
                };
                if sibling == event {
                    continue;
                }
                let theirs = own_words(&system, &sibling);
                let apart: Vec<&String> =
                    theirs.difference(&mine).filter(|w| w.len() >= 3).collect();
                let says: Vec<String> = apart
                    .iter()
                    .filter(|w| named(w))
                    .map(|w| (*w).clone())
                    .collect();
                // Named for what the request says: at least half of what sets it apart
                // ("execute" of workqueue_execute_start), not one word among many
                // (blk_zone_append_update_request_bio for "requests").
                if says.is_empty() || says.len() * 2 < apart.len() {
                    continue;
                }
                if used.contains(name) {
                    best = None;
                    break;
                }
                if mine.difference(&theirs).any(|w| named(w)) {
                    continue;
                }
                match &mut best {
                    None => best = Some((name.clone(), says)),
                    Some((siblings, words)) => {
                        siblings.push_str(" or ");
                        siblings.push_str(name);
                        for w in says {
                            if !words.contains(&w) {
                                words.push(w);
                            }
                        }
                    }
                }
            }
            if let Some((sibling, says)) = best {
                out.push(CloserEvent {
                    probe: probe.clone(),
                    sibling,
                    extra: says,
                });
            }
        }
        out
    }

    /// What the request is about, by the vocabulary's word for kernel objects
    /// (`specs-db/intent.toml` `[[search]]` with `names = true`: "directory entry cache" names
    /// dcache, dentry, d_lookup), that no attach point of this host is named by: nothing here
    /// observes it, so any program would watch something else. The request's words for it and
    /// the kernel's, or `None`.
    pub fn unobservable(&self, intent: &Intent) -> Option<(String, Vec<String>)> {
        let named_here = |k: &str| {
            let terms = if k.contains('_') {
                vec![k.to_owned()]
            } else {
                bm25::terms(k)
            };
            self.docs
                .iter()
                .any(|(_, words)| terms.iter().any(|t| words.name.contains(t)))
        };
        let w = intent
            .subjects
            .iter()
            .find(|w| !w.kernel.is_empty() && !w.kernel.iter().any(|k| named_here(k)))?;
        let said: Vec<&str> = intent
            .subjects
            .iter()
            .filter(|o| o.phrase == w.phrase && o.kernel == w.kernel)
            .map(|o| o.word.as_str())
            .collect();
        Some((said.join(" "), w.kernel.clone()))
    }

    /// Whether one of a program's probes covers a subject, with the best share it reaches.
    pub fn covers(&self, probes: &[String], s: &Subject) -> (bool, f32) {
        // An event the request spells by name is covered by that event only: a neighbour whose
        // description shares its words (amd_pstate_perf for "CPU frequency") is another event.
        if s.spelled {
            let ok = probes.iter().any(|p| {
                let name = p.strip_prefix("tracepoint:").unwrap_or(p);
                s.probes
                    .iter()
                    .any(|e| e.strip_prefix("tracepoint:").unwrap_or(e) == name)
            });
            return (ok, if ok { 1.0 } else { 0.0 });
        }
        // Where the vocabulary names the subject's kernel objects by their identifiers only
        // (`names = true`, "TCP state changes": inet_sock_set_state), those are what observe
        // it: a neighbour sharing the request's everyday words (tcp_cong_state_set) is another
        // event.
        let ids: Vec<&String> = s.words.iter().flat_map(|(w, _)| &w.kernel).collect();
        if !ids.is_empty() && ids.iter().all(|k| k.contains('_')) {
            let ok = probes.iter().any(|p| {
                self.probe_words(p)
                    .iter()
                    .any(|words| ids.iter().any(|k| words.name.contains(*k)))
            });
            return (ok, if ok { 1.0 } else { 0.0 });
        }
        let best = probes.iter().map(|p| self.score(p, s)).fold(0.0, f32::max);
        let share = if s.best > 0.0 { best / s.best } else { 1.0 };
        (share >= COVERED, share)
    }

    /// The request's subjects: the phrases of its subject words that the attach points most
    /// relevant to it speak of (or that it writes as calls), keeping the words that single out
    /// few attach points, each weighted by its inverse document frequency; a phrase's last
    /// word, its head in English ("network *namespaces*"), weighs double.
    ///
    /// A word that starts too many of the kernel's words to single any out (`open`: openat,
    /// open_tree, open_by_handle_at…) is counted by the attach points that have it as a whole
    /// word; a program still covers it with any word it starts.
    pub fn subjects(&self, catalog: &Catalog, intent: &Intent) -> Vec<Subject> {
        let ranked: Vec<String> = catalog
            .search_where(&intent.search_text, RELEVANT * 6, CatalogEntry::attachable)
            .into_iter()
            .map(|(e, _)| e.name.clone())
            .collect();
        let rank = |name: &str| ranked.iter().position(|r| r == name).unwrap_or(usize::MAX);
        let n = self.docs.len().max(1) as f32;
        let subjects = self.joined(&intent.subjects);
        let head = |w: &SubjectWord| {
            subjects
                .iter()
                .rev()
                .find(|s| s.phrase == w.phrase)
                .is_some_and(|last| last.word == w.word)
        };
        // (phrase number, its weighted words, whether the request asks about it)
        // The events of a filesystem nothing here mounts (and the request does not name)
        // cannot fire: they are not named to the user as what observes a subject. They still
        // count in how common a word is: discounted, everyday verbs become rare ("grows",
        // once xfs_growfs is set aside, singles out tcp_rcvbuf_grow), measured on the dev set.
        let idle: Vec<String> = crate::host::idle_filesystems()
            .into_iter()
            .filter(|fs| !intent.filesystems.contains(fs) && !intent.names_word(fs))
            .collect();
        let fires = |name: &str| !idle.iter().any(|fs| in_system(name, fs));
        let mut phrases: Vec<Phrase> = Vec::new();
        for w in &subjects {
            // Only names single attach points out: the kernel's names for the word, or the
            // word itself as a whole word of attach point names (`sync`, `kmem`, `softirq`).
            let speaking: Vec<&str> = self
                .docs
                .iter()
                .filter(|(_, words)| Self::names_whole(words, w))
                .map(|(name, _)| name.as_str())
                .collect();
            let df = speaking.len();
            // Asked: written as a call or as a kernel identifier (`sched_yield`), a word the
            // vocabulary says names kernel objects, or named by attach points among the most
            // relevant to the whole request.
            let near = speaking.iter().any(|name| rank(name) < RELEVANT);
            // A system's name ("writeback") is what the request is about when it heads its
            // phrase and that system's events lead the ranking; as an ordinary word ("did they
            // block") or a modifier ("TCP packets" the kernel drops, seen at skb:kfree_skb) it
            // is not.
            let system = self.names_system(&w.word)
                && head(w)
                && speaking
                    .iter()
                    .any(|name| rank(name) < LEADING && in_system(name, &w.word));
            if df == 0 || (df > self.common() && !system) {
                continue;
            }
            let asked = intent.calls.contains(&w.word)
                || intent.identifiers.contains(&w.word)
                || !w.kernel.is_empty()
                || near;
            let mut weight = (n / df as f32).ln().max(0.1);
            if head(w) {
                weight *= 2.0;
            }
            match phrases.iter_mut().find(|(p, _, _, _)| *p == w.phrase) {
                Some((_, words, dfs, required)) => {
                    words.push((w.clone(), weight));
                    dfs.push((df, near, system));
                    *required |= asked;
                }
                None => phrases.push((
                    w.phrase,
                    vec![(w.clone(), weight)],
                    vec![(df, near, system)],
                    asked,
                )),
            }
        }
        phrases
            .into_iter()
            .filter(|(_, _, _, required)| *required)
            .map(|(p, words, stats, required)| {
                // A call written as a call is what its phrase is about: "one mlock() request"
                // is about mlock(2), not about the block layer's requests.
                let call = |w: &SubjectWord| intent.calls.contains(&w.word);
                if !words.iter().any(|(w, _)| call(w)) {
                    return (p, words, stats, required);
                }
                let (words, stats): (Vec<_>, Vec<_>) = words
                    .into_iter()
                    .zip(stats)
                    .filter(|((w, _), _)| call(w))
                    .unzip();
                (p, words, stats, required)
            })
            .map(|(_, words, stats, _)| {
                let mut s = self.best_for(words, stats, &rank);
                s.probes.retain(|p| fires(p));
                s
            })
            .collect()
    }

    /// The request's subject words with two neighbours of one phrase joined where together
    /// they are one word of this host's attach point names, written apart in English: "alarm
    /// timer" is the `alarmtimer` system, "soft irq" `softirq`, "work queue" `workqueue`.
    fn joined(&self, words: &[SubjectWord]) -> Vec<SubjectWord> {
        let mut out: Vec<SubjectWord> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            if let Some(next) = words.get(i + 1).filter(|n| n.phrase == w.phrase) {
                let word = format!("{}{}", w.word, next.word);
                // The kernel's own name, spelled apart: asked like a kernel identifier, and a
                // subject of its own ("alarm timer expirations" is about the alarmtimer
                // events whatever "expirations" also matches).
                let one = SubjectWord {
                    kernel: vec![word.clone()],
                    word,
                    phrase: usize::MAX - i,
                };
                let named = self.names_system(&one.word)
                    || self.docs.iter().any(|(_, d)| Self::names_whole(d, &one));
                // Two words, not an identifier and a word ("pass" and `o_creat`).
                let plain = !w.word.contains('_') && !next.word.contains('_');
                if w.word.len() >= 3 && next.word.len() >= 3 && plain && named {
                    out.push(one);
                    i += 2;
                    continue;
                }
            }
            out.push(w.clone());
            i += 1;
        }
        out
    }

    /// A subject of these words: the attach points whose names cover them best.
    fn best_for(
        &self,
        words: Vec<(SubjectWord, f32)>,
        stats: Vec<(usize, bool, bool)>,
        rank: &dyn Fn(&str) -> usize,
    ) -> Subject {
        let mut s = Subject {
            words,
            df: stats.iter().map(|(df, _, _)| *df).collect(),
            near: stats.iter().map(|(_, near, _)| *near).collect(),
            system: stats.iter().map(|(_, _, system)| *system).collect(),
            probes: Vec::new(),
            best: 0.0,
            spelled: false,
        };
        let mut scored: Vec<(&str, f32)> = self
            .docs
            .iter()
            .map(|(name, words)| (name.as_str(), Self::phrase_score(words, &s, true)))
            .filter(|(_, score)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| rank(a.0).cmp(&rank(b.0)))
                .then_with(|| a.0.cmp(b.0))
        });
        s.best = scored.first().map_or(0.0, |(_, score)| *score);
        s.probes = scored
            .into_iter()
            .take(NAMED)
            .map(|(name, _)| name.to_owned())
            .collect();
        s
    }

    /// The tracepoints whose whole event name the request writes among its subject words, in
    /// any order (`signal_generate` in "which signals did the kernel generate"), as one subject of
    /// those words: a request that spells an event's name asks about that event, even when it
    /// also names a call ("not only kill()"). Syscall tracepoints are left to the syscall
    /// grounding; one-word names are not spelled (they are ordinary subjects). `None` when the
    /// request spells no name.
    pub fn spelled(&self, intent: &Intent) -> Option<Subject> {
        let request: Vec<(usize, String)> = intent
            .subjects
            .iter()
            .enumerate()
            .flat_map(|(i, w)| bm25::terms(&w.word).into_iter().map(move |t| (i, t)))
            .collect();
        // The request's words in order, each with its stem: an event's name written apart
        // ("CPU frequency" for power:cpu_frequency) may use a word that is no subject alone
        // ("frequency" also asks how often).
        let raw: Vec<&str> = intent.words().collect();
        let stems: Vec<String> = raw
            .iter()
            .map(|w| bm25::terms(w).into_iter().next().unwrap_or_default())
            .collect();
        let subject_at = |w: &str| intent.subjects.iter().position(|s| s.word == w);
        let mut extra: Vec<SubjectWord> = Vec::new();
        let mut used: BTreeSet<usize> = BTreeSet::new();
        let mut events: Vec<&str> = Vec::new();
        for (name, _) in &self.docs {
            let Some(event) = name
                .strip_prefix("tracepoint:")
                .and_then(|t| t.split_once(':'))
                .map(|(_, event)| event)
            else {
                continue;
            };
            if event.starts_with("sys_enter_") || event.starts_with("sys_exit_") {
                continue;
            }
            let terms = bm25::terms(event);
            if terms.len() < 2 || terms.len() != event.split('_').count() {
                continue;
            }
            let found: Vec<usize> = terms
                .iter()
                .filter_map(|t| request.iter().find(|(_, r)| r == t).map(|(i, _)| *i))
                .collect();
            if found.len() == terms.len() {
                used.extend(found);
                events.push(name);
                continue;
            }
            // Written apart, in order, next to each other, with a subject word among them.
            let Some(at) = stems
                .windows(terms.len())
                .position(|w| w == terms.as_slice())
            else {
                continue;
            };
            let said = &raw[at..at + terms.len()];
            let Some(anchor) = said.iter().find_map(|w| subject_at(w)) else {
                continue;
            };
            for w in said {
                match subject_at(w) {
                    Some(i) => {
                        used.insert(i);
                    }
                    None if !extra.iter().any(|e| e.word == *w) => extra.push(SubjectWord {
                        word: (*w).to_owned(),
                        kernel: Vec::new(),
                        phrase: intent.subjects[anchor].phrase,
                    }),
                    None => {}
                }
            }
            events.push(name);
        }
        if used.is_empty() {
            return None;
        }
        // A kernel name the vocabulary gives a word of the request ("high-resolution" is
        // `hrtimer`) that extends a word of a spelled event's name names the event of the
        // same system spelled with it: "high-resolution timer starts" is hrtimer_start, not
        // timer_start.
        let kernel_names: Vec<&str> = intent
            .subjects
            .iter()
            .flat_map(|w| w.kernel.iter().map(String::as_str))
            .collect();
        let events: Vec<&str> = events
            .into_iter()
            .map(|name| {
                let Some((system, event)) = name
                    .strip_prefix("tracepoint:")
                    .and_then(|t| t.split_once(':'))
                else {
                    return name;
                };
                let closer = event.split('_').find_map(|part| {
                    kernel_names
                        .iter()
                        .filter(|k| **k != part && k.ends_with(part))
                        .find_map(|k| {
                            let alt = format!("tracepoint:{system}:{}", event.replacen(part, k, 1));
                            self.docs
                                .iter()
                                .find(|(n, _)| *n == alt)
                                .map(|(n, _)| n.as_str())
                        })
                });
                closer.unwrap_or(name)
            })
            .collect();
        let n = self.docs.len().max(1) as f32;
        let (words, stats): (Vec<_>, Vec<_>) = used
            .into_iter()
            .map(|i| intent.subjects[i].clone())
            .chain(extra)
            .map(|w| {
                let df = self
                    .docs
                    .iter()
                    .filter(|(_, words)| Self::names_whole(words, &w))
                    .count();
                let weight = (n / df.max(1) as f32).ln().max(0.1);
                ((w, weight), (df, true, false))
            })
            .unzip();
        // The spelled events come first among the attach points named for the subject.
        let rank = |name: &str| events.iter().position(|e| *e == name).unwrap_or(usize::MAX);
        let mut s = self.best_for(words, stats, &rank);
        s.probes.retain(|p| events.contains(&p.as_str()));
        s.spelled = true;
        Some(s)
    }

    /// A subject's rare words (at most `max_df` attach points have each in their names, one of
    /// them relevant to the whole request) and the words naming a tracepoint system (see
    /// [`SubjectIndex::names_system`]) as a subject of their own; `None` when it has none.
    pub fn narrow(&self, s: &Subject, max_df: usize) -> Option<Subject> {
        let keep: Vec<usize> = (0..s.words.len())
            .filter(|&i| s.near[i] && (s.df[i] <= max_df || s.system[i]))
            .collect();
        if keep.is_empty() {
            return None;
        }
        let words = keep.iter().map(|&i| s.words[i].clone()).collect();
        let stats = keep
            .iter()
            .map(|&i| (s.df[i], s.near[i], s.system[i]))
            .collect();
        // Attach points already named for the whole phrase come first among equals.
        let rank = |name: &str| {
            s.probes
                .iter()
                .position(|p| p == name)
                .unwrap_or(usize::MAX)
        };
        Some(self.best_for(words, stats, &rank))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_meet_at_their_stems_and_starts() {
        assert!(same_word("allocation", "alloc"));
        assert!(same_word("open", "openat"));
        assert!(!same_word("swapin", "swap"));
        assert!(same_word("irq", "irq"));
        assert!(!same_word("irq", "irqs_disabled"));
        assert!(!same_word("sync", "fsync"));
        assert!(!same_word("net", "netif"));
    }

    #[test]
    fn globs_match_like_bpftrace() {
        assert!(glob_matches(
            "tracepoint:syscalls:sys_enter_*",
            "tracepoint:syscalls:sys_enter_openat"
        ));
        assert!(glob_matches(
            "tracepoint:*:*_alloc",
            "tracepoint:kmem:kmem_cache_alloc"
        ));
        assert!(!glob_matches(
            "tracepoint:syscalls:sys_exit_*",
            "tracepoint:syscalls:sys_enter_openat"
        ));
        assert!(!glob_matches("a*bc", "abc_"));
    }
}
