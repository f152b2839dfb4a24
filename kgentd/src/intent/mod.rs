//! The only reader of English. A request is read once, here, into a typed [`Intent`]: what it
//! observes (calls written as calls, syscalls, kernel-function names, filesystems, binaries),
//! what it wants reported (identity, return value, duration and its unit, sizes, ports,
//! arguments, histograms, sums), what it filters (stated numbers, C constants, quoted strings,
//! a process name, activity it excludes). Grounding, query repairs, deterministic repairs, the
//! coverage check and the smoke run's oracle take the `Intent`, never the text.
//!
//! The wording → meaning rules are data: `specs-db/intent.toml`, each with its source (see
//! [`vocabulary`]). What stays in code is lexical: splitting words, numbers with their units,
//! `name(` as a call, quoted strings, snake_case identifiers.
//!
//! This module must not look at the host or the catalog: whether a named syscall or binary
//! exists here is for `knowledge` and `host` to decide from the candidates read here.
pub mod naming;
pub mod vocabulary;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::query::TimeUnit;
use vocabulary::{shipped, Extract, List, Vocabulary};

/// Something a request can ask for; recognised by the patterns of `specs-db/intent.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concept {
    // What the program must report (request coverage).
    ProcessName,
    Pid,
    Duration,
    /// The request asks how long something existed (a file, a process, a connection): from the
    /// event that creates it to the one that ends it, not one call's latency.
    Lifetime,
    Histogram,
    Sum,
    /// The request asks for an average (a mean) of a value: `avg()`, not its histogram.
    Average,
    /// The request speaks of each event on its own ("each fsync call", "every time",
    /// "whenever"): see [`Intent::wants_lines`].
    EachEvent,
    ReturnValue,
    Arguments,
    Port,
    /// The request asks for the local end's port (the socket's own), not only the peer's.
    LocalPort,
    Size,
    Octal,
    /// The parent process's PID (getppid(2)).
    ParentPid,
    /// The parent process's name.
    ParentName,
    /// The request asks to count events (or how often they happen): a tally, not a line each.
    Counting,
    /// The request wants figures per interval ("per second", "every 5 seconds"): printed and
    /// reset by an `interval` probe, not once at the end.
    Periodic,
    /// The request asks where events come from in the code (a stack trace, the code path).
    StackTrace,
    /// The request asks which files (their names or paths) the events are about.
    FileName,
    // What the host must be able to do.
    HardwareCounters,
    CpuSampling,
    // What the smoke run's output must show or leave out.
    Failure,
    /// The request wants a call's outcome either way ("the descriptor returned, or the
    /// error"; "whether it succeeded"): failures are reported, not the only events kept.
    EitherOutcome,
    /// The request is about the task acted on (the signalled, killed or woken one), which the
    /// event names in a field, not the task that runs the probe.
    TargetTask,
    /// The request also asks about the task that acts (the waker, the sender of a signal):
    /// with [`Concept::TargetTask`], both tasks are asked for.
    ActingTask,
    /// The request asks for the new child's pid or name where a process forks, which the task
    /// running the probe (the parent) is not.
    ChildTask,
    /// The request is about threads being created, not processes (CLONE_THREAD, clone(2)).
    NewThreads,
    /// The request is about system calls in general (their errors, counts, latency), which
    /// names none: all of them are meant.
    AllSyscalls,
    /// The request asks for the signal that killed a process (its termination signal).
    FatalSignal,
    /// The request asks which of several calls (or events) each report is about.
    WhichCall,
    /// The request wants one figure for the whole system ("system-wide", "overall"), not one
    /// per process or per anything else.
    SystemWide,
    Open,
    NonZeroExit,
    WorldWritable,
    Identifies,
    Connections,
    Ipv6,
    CommandLine,
    ExitStatus,
    RenamesSelf,
    /// The request sets apart the renames an exec does (comm set to the new program's name).
    ExecRenamesExcluded,
    Addresses,
    // Units and kinds of names.
    Milliseconds,
    Microseconds,
    Nanoseconds,
    SpeaksOfCalls,
}

impl Concept {
    /// A concept about the shape of the report (who, how long, how much, in which unit), not
    /// about what is observed: the words it matched are not subjects.
    pub const fn shapes_output(self) -> bool {
        matches!(
            self,
            Concept::ProcessName
                | Concept::Pid
                | Concept::Duration
                | Concept::Lifetime
                | Concept::Histogram
                | Concept::Sum
                | Concept::Average
                | Concept::EachEvent
                | Concept::ReturnValue
                | Concept::Arguments
                | Concept::Port
                | Concept::LocalPort
                | Concept::Size
                | Concept::Octal
                | Concept::ParentPid
                | Concept::ParentName
                | Concept::FileName
                | Concept::Periodic
                | Concept::StackTrace
                | Concept::Failure
                | Concept::EitherOutcome
                | Concept::TargetTask
                | Concept::ActingTask
                | Concept::ChildTask
                | Concept::FatalSignal
                | Concept::WhichCall
                | Concept::SystemWide
                | Concept::Identifies
                | Concept::CommandLine
                | Concept::Milliseconds
                | Concept::Microseconds
                | Concept::Nanoseconds
                | Concept::SpeaksOfCalls
        )
    }

    pub const ALL: &'static [Concept] = &[
        Concept::ProcessName,
        Concept::Pid,
        Concept::Duration,
        Concept::Lifetime,
        Concept::Histogram,
        Concept::Sum,
        Concept::Average,
        Concept::EachEvent,
        Concept::ReturnValue,
        Concept::Arguments,
        Concept::Port,
        Concept::LocalPort,
        Concept::Size,
        Concept::Octal,
        Concept::ParentPid,
        Concept::ParentName,
        Concept::Counting,
        Concept::Periodic,
        Concept::StackTrace,
        Concept::FileName,
        Concept::HardwareCounters,
        Concept::CpuSampling,
        Concept::Failure,
        Concept::EitherOutcome,
        Concept::TargetTask,
        Concept::ActingTask,
        Concept::ChildTask,
        Concept::NewThreads,
        Concept::AllSyscalls,
        Concept::FatalSignal,
        Concept::WhichCall,
        Concept::SystemWide,
        Concept::Open,
        Concept::NonZeroExit,
        Concept::WorldWritable,
        Concept::Identifies,
        Concept::Connections,
        Concept::Ipv6,
        Concept::CommandLine,
        Concept::ExitStatus,
        Concept::RenamesSelf,
        Concept::ExecRenamesExcluded,
        Concept::Addresses,
        Concept::Milliseconds,
        Concept::Microseconds,
        Concept::Nanoseconds,
        Concept::SpeaksOfCalls,
    ];
}

/// Activity a request filters away, which a correct answer leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// Successful opens (the request wants failed ones).
    SuccessfulOpens,
    /// Processes that exited with status 0 (the request wants non-zero exits).
    CleanExits,
    /// Permission changes that leave a file private (the request wants world-writable ones).
    PrivateChmods,
}

/// A word that may name what a request observes ("slab", "swapin", "namespace"), with the
/// kernel's names for it from the retrieval vocabulary (entries with `names = true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectWord {
    pub word: String,
    pub kernel: Vec<String>,
    /// Which phrase of the request it is in: subject words next to each other name one thing
    /// together ("slab cache allocations"); any other word or a comma ends a phrase.
    pub phrase: usize,
}

/// A request, read.
#[derive(Debug, Clone)]
pub struct Intent {
    text: String,
    /// `text` with ASCII letters lowercased (byte offsets equal `text`'s).
    ascii_lower: String,
    concepts: BTreeSet<Concept>,
    /// Names written as calls, lowercase, in order: `fsync(` → fsync.
    pub calls: Vec<String>,
    /// snake_case identifiers as written (`tcp_v4_connect`): kernel functions, maybe.
    pub identifiers: Vec<String>,
    /// Words that name a syscall if one of that name exists here, in order, once each: written
    /// as a call, a word that is not everyday English (4+ letters), or in a slash list
    /// (`open/openat`) when the request speaks of calls.
    pub syscall_words: Vec<String>,
    /// Syscall names the request may write apart as English, joined by `_` ("epoll waits":
    /// `epoll_wait`); most are no syscall, which the host tells. See [`Intent::syscall_names`].
    pub spelled_apart: Vec<String>,
    /// Filesystems the request names.
    pub filesystems: Vec<String>,
    /// Words that may name a binary or library for uprobes (paths, `lib*`, any word when the
    /// request speaks of functions); `glibc` is read as libc.
    pub binary_words: Vec<String>,
    /// Words of 3+ characters that rank a binary's symbols.
    pub symbol_words: Vec<String>,
    /// Numbers the request states, each also multiplied out by its unit (binary and decimal
    /// sizes; a time in each of s, ms, us and ns that it is a whole number of).
    pub numbers: Vec<i128>,
    /// Words said only before a size noun ("buffer" in "the buffer sizes"): they say whose
    /// size is meant, and name no value of their own ([`naming::size_modifiers`]).
    pub whose_size: Vec<String>,
    /// Sizes the request states with a unit ("200 MB", "64 KiB"), each as the values it may be
    /// written as: the number itself, times its binary and its decimal multiple. A size with a
    /// unit is a threshold or a bucket the program must test against.
    pub sizes: Vec<Vec<i128>>,
    /// Port numbers the request names ("connections to port 443").
    pub ports: Vec<u16>,
    /// Directories the request keeps paths under ("files opened under /tmp"), each ending in
    /// `/`: a path under one starts with it (path_resolution(7)).
    pub directories: Vec<String>,
    /// C constants the request names, written as man pages write them (or an error number it
    /// says in words: "does not exist" is `ENOENT`, `specs-db/intent.toml` `errno`): `SIGKILL`, `O_CREAT`,
    /// `ENOENT`. A test of a number may be such a constant's value.
    pub constants: Vec<String>,
    /// A quoted process name the request filters on: "processes named 'x'".
    pub process_name: Option<String>,
    /// The one time unit the request names, if it names exactly one.
    pub time_unit: Option<TimeUnit>,
    /// The smallest reading of a size or time the request says events must exceed ("over
    /// 64 MiB": 64, the number without its unit): a shown event has some value above it.
    pub threshold: Option<i128>,
    /// The period of output the request states, in seconds ("every 5 seconds": 5).
    pub period_s: Option<u64>,
    /// Words said only inside a phrase that names a builtin ("process name", "process id"):
    /// they name no field of an event (`name` at sys_enter_getxattr is the attribute's).
    pub builtin_phrase_words: Vec<String>,
    /// The result the calls the request keeps return ("recvfrom() calls that return zero
    /// bytes": 0): a program shows only calls whose `ret` is that value.
    pub result_value: Option<i128>,
    /// The threshold the request states is of what the calls return ("reads that return more
    /// than 4 KiB"): compared with the result (`ret`), not with an argument.
    pub result_threshold: bool,
    /// The request keeps what grows (`Some(true)`: "calls that grow a mapping") or shrinks
    /// (`Some(false)`).
    pub growth: Option<bool>,
    /// The request counts the calls or events themselves ("count io_uring_enter calls").
    pub counts_events: bool,
    /// The request shows events in the plural "with the <values>" ("Log swapoff() calls with
    /// the path"): each event with its values, unless a tally is asked ([`Intent::wants_lines`]).
    pub shows_events: bool,
    /// What the request groups by, phrase by phrase, as lowercase words: "per cpu" → [cpu];
    /// "split by program and remote port" → [program, and, remote, port]. Each phrase ends at a clause's end and has at most six
    /// words. "by" is also agentive ("written by cron"): a phrase is what might be a key.
    pub group_phrases: Vec<Vec<String>>,
    /// Activity the request filters away.
    pub exclusions: Vec<Exclusion>,
    /// The request with the kernel's words for what it says appended (for retrieval).
    pub search_text: String,
    /// Specs-DB spans the request asks for by name (`span` of a `[[search]]` entry it
    /// matches): "off-CPU time" is sched_switch's `off_cpu` span.
    pub spans: Vec<String>,
    /// The words of the clauses that set something apart ("except bash", "ignoring the
    /// rename every execve does"), lowercase.
    pub set_apart: Vec<String>,
    /// Words that may name what the request observes: its words of 3+ letters that are not
    /// function words, request verbs or quantity words (`not_subjects`), not inside a phrase a
    /// report-shape concept matched ("how long", "process name"), not quoted, not a path; a
    /// hyphenated pair also joined ("swap-in" → swapin). Whether the host's attach points speak
    /// of them is for `knowledge` to say.
    pub subjects: Vec<SubjectWord>,
    /// The request's words outside what report-shape concepts matched and outside quotes,
    /// lowercase, once each: the words that may name a value to show ("its source", "the
    /// flags"), where "name" in "process name" does not.
    pub value_words: Vec<String>,
    /// All the request's words in order, lowercase, a possessive and hyphens dropped
    /// ("the child's pid" → the, child, pid): for names of several words said in a row.
    pub words: Vec<String>,
}

impl Intent {
    /// Reads a request with the shipped vocabulary.
    pub fn read(text: &str) -> Intent {
        Intent::read_with(shipped(), text)
    }

    /// Reads a request with a given vocabulary.
    pub fn read_with(v: &Vocabulary, typed: &str) -> Intent {
        // "Standard output" is file descriptor 1 (`[[phrase]]`): the request is read as if it
        // said so, everywhere (its concepts, numbers, words and search text).
        let meant = with_phrases_meant(v, typed);
        let text: &str = &meant;
        let lower = text.to_lowercase();
        let ascii_lower = text.to_ascii_lowercase();
        let with_digits = spelled_quantities(&ascii_lower);
        let mut concepts: BTreeSet<Concept> = v
            .concepts
            .iter()
            .filter(|(_, rule)| {
                rule.matches(text)
                    || rule
                        .words
                        .iter()
                        .any(|w| contains_phrase(&rule.blanked(&lower), w))
            })
            .map(|(c, _)| *c)
            .collect();
        // A failure said in words ("a file that does not exist") is that error number.
        let errnos: Vec<String> = v
            .errnos
            .iter()
            .filter(|e| e.words.iter().any(|w| contains_phrase(&lower, w)))
            .map(|e| e.name.clone())
            .collect();
        if !errnos.is_empty() {
            concepts.insert(Concept::Failure);
        }
        if concepts.contains(&Concept::EitherOutcome) {
            concepts.remove(&Concept::Failure);
        }
        let has = |c| concepts.contains(&c);
        let time_unit = match (
            has(Concept::Milliseconds),
            has(Concept::Microseconds),
            has(Concept::Nanoseconds),
        ) {
            (true, false, false) => Some(TimeUnit::Ms),
            (false, true, false) => Some(TimeUnit::Us),
            (false, false, true) => Some(TimeUnit::Ns),
            _ => None,
        };
        let mut exclusions = Vec::new();
        if has(Concept::Failure) && has(Concept::Open) {
            exclusions.push(Exclusion::SuccessfulOpens);
        }
        if has(Concept::NonZeroExit) {
            exclusions.push(Exclusion::CleanExits);
        }
        if has(Concept::WorldWritable) {
            exclusions.push(Exclusion::PrivateChmods);
        }
        let (binary_words, symbol_words) = binary_words(v, &lower);
        let set_apart = set_apart(v, &ascii_lower);
        let masked = shape_ranges(v, text, &ascii_lower, &concepts);
        Intent {
            calls: with_socket_calls(v, calls(&lower), &ascii_lower),
            identifiers: identifiers(text),
            syscall_words: syscall_words(v, &ascii_lower, has(Concept::SpeaksOfCalls))
                .into_iter()
                .filter(|w| !set_apart.contains(w))
                .collect(),
            spelled_apart: spelled_apart(&ascii_lower),
            filesystems: v
                .list(List::Filesystems)
                .iter()
                .filter(|fs| contains_phrase(&lower, fs))
                .cloned()
                .collect(),
            binary_words,
            symbol_words,
            numbers: numbers(&with_digits),
            sizes: sizes(&with_digits),
            directories: v
                .extracts
                .get(&Extract::Directory)
                .map(|re| {
                    let mut dirs: Vec<String> = re
                        .captures_iter(text)
                        .filter_map(|c| c.iter().skip(1).flatten().next())
                        .map(|m| format!("{}/", m.as_str().trim_end_matches('/')))
                        .filter(|d| d.len() > 1)
                        .collect();
                    dirs.dedup();
                    dirs
                })
                .unwrap_or_default(),
            ports: v
                .extracts
                .get(&Extract::Port)
                .map(|re| {
                    re.captures_iter(&ascii_lower)
                        .filter_map(|c| c.get(1)?.as_str().parse::<u16>().ok())
                        .collect()
                })
                .unwrap_or_default(),
            constants: {
                let mut c = constants(text);
                for e in errnos {
                    if !c.contains(&e) {
                        c.push(e);
                    }
                }
                c
            },
            process_name: v
                .extracts
                .get(&Extract::ProcessNameFilter)
                .and_then(|re| re.captures(text))
                .and_then(|c| c.iter().skip(1).flatten().next())
                .map(|m| m.as_str().to_owned())
                .filter(|name| {
                    let lower = name.to_ascii_lowercase();
                    (3..=15).contains(&name.len()) && !v.list(List::NotSubjects).contains(&lower)
                }),
            time_unit,
            // Of what calls return, a bound needs no unit: "returns a descriptor above 100".
            threshold: threshold(v, &with_digits).or_else(|| {
                extract_matches(v, Extract::ResultThreshold, &ascii_lower)
                    .then(|| unitless_bound(&with_digits))
                    .flatten()
            }),
            period_s: period(v, &with_digits),
            builtin_phrase_words: builtin_phrase_words(v, text, &ascii_lower, &concepts),
            result_value: v
                .extracts
                .get(&Extract::ResultValue)
                .and_then(|re| re.captures(&ascii_lower))
                .and_then(|c| c.get(1))
                .and_then(|m| match m.as_str() {
                    "zero" | "no" => Some(0),
                    n => n.parse().ok(),
                }),
            counts_events: extract_matches(v, Extract::CountsEvents, &ascii_lower),
            growth: v
                .extracts
                .get(&Extract::Growth)
                .and_then(|re| re.captures(&ascii_lower))
                .map(|c| c.get(1).is_some()),
            result_threshold: extract_matches(v, Extract::ResultThreshold, &ascii_lower),
            shows_events: extract_matches(v, Extract::ShowsEvents, &ascii_lower),
            group_phrases: group_phrases(v, &ascii_lower),
            exclusions,
            search_text: search_text_with(v, text, &ascii_lower),
            spans: spans_asked(v, &ascii_lower),
            set_apart: set_apart.clone(),
            subjects: {
                // A C constant names a number the request gives (a flag, a signal, an errno),
                // never the thing observed: "unshare with CLONE_NEWUSER" observes unshare.
                let mut not_subjects = masked.clone();
                not_subjects.extend(CONSTANT.find_iter(text).map(|m| m.range()));
                subject_words(v, &ascii_lower, &not_subjects)
            },
            // A result the request states ("calls that return no events") names the result,
            // not a field called like its noun (`events`, epoll_wait's buffer).
            whose_size: whose_size(&ascii_lower),
            value_words: {
                let mut value_masked = masked.clone();
                if let Some(re) = v.extracts.get(&Extract::ResultValue) {
                    value_masked.extend(re.find_iter(&ascii_lower).map(|m| m.range()));
                }
                value_words(&value_masked, &ascii_lower)
            },
            words: ascii_lower
                .replace("'s ", " ")
                .replace(['-', '\''], " ")
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
            concepts,
            text: text.to_owned(),
            ascii_lower,
        }
    }

    /// The request as read: as typed, with each phrase for a value replaced by what it means
    /// ("standard output" by "file descriptor 1", `[[phrase]]` in specs-db/intent.toml).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Of `words`, those that may name an event's field: not the ones said only inside a
    /// builtin's phrase ("per process name" names no `name` field).
    /// Nor the parts of a C constant the request names ("SOCK_NONBLOCK" names no `sockaddr`):
    /// a constant is a value to test, and only the words said on their own name fields.
    pub fn naming_fields<'w>(&self, words: &[&'w str]) -> Vec<&'w str> {
        let in_constant = |w: &str| {
            self.constants
                .iter()
                .any(|c| c.to_ascii_lowercase().split('_').any(|part| part == w))
                && !self.words.iter().any(|own| own == w)
        };
        words
            .iter()
            .copied()
            .filter(|w| !self.builtin_phrase_words.iter().any(|b| b == w))
            .filter(|w| !in_constant(w))
            .collect()
    }

    /// A line per event, not a tally: the request speaks of each event ([`Concept::EachEvent`],
    /// or shows events "with the <values>": [`Intent::shows_events`])
    /// and of no aggregate — no count, histogram, sum, average or figures per interval, and no
    /// word that asks for one ("summarize", "distribution", "total", "top").
    pub fn wants_lines(&self) -> bool {
        const AGGREGATE_WORDS: [&str; 10] = [
            "summarize",
            "summarise",
            "summary",
            "distribution",
            "statistics",
            "stats",
            "total",
            "totals",
            "top",
            "tally",
        ];
        (self.asks(Concept::EachEvent) || self.shows_events)
            && ![
                Concept::Counting,
                Concept::Histogram,
                Concept::Sum,
                Concept::Average,
                Concept::Periodic,
            ]
            .iter()
            .any(|c| self.asks(*c))
            && !AGGREGATE_WORDS.iter().any(|w| self.names_word(w))
    }

    /// The error numbers among the constants the request names (`ENOENT` → 2), with the
    /// vocabulary's source for each.
    pub fn errnos(&self) -> Vec<(&str, i64, &'static str)> {
        let v = vocabulary::shipped();
        self.constants
            .iter()
            .filter_map(|c| {
                let e = v.errnos.iter().find(|e| e.name == *c)?;
                Some((c.as_str(), e.value, e.source.as_str()))
            })
            .collect()
    }

    /// The value of each constant the request names, where the vocabulary knows it (an error
    /// number, a signal number): `SIGKILL` → 9.
    pub fn constant_values(&self) -> Vec<(&str, Option<i64>)> {
        let v = vocabulary::shipped();
        self.constants
            .iter()
            .map(|c| {
                let errno = v.errnos.iter().find(|e| e.name == *c).map(|e| e.value);
                let signal = v.signals.iter().find(|s| s.name == *c).map(|s| s.value);
                (c.as_str(), errno.or(signal))
            })
            .collect()
    }

    /// The signals among the constants the request names, with their numbers.
    pub fn signals(&self) -> Vec<(&str, i64)> {
        let v = vocabulary::shipped();
        self.constants
            .iter()
            .filter_map(|c| {
                let s = v.signals.iter().find(|s| s.name == *c)?;
                Some((c.as_str(), s.value))
            })
            .collect()
    }

    pub fn asks(&self, c: Concept) -> bool {
        self.concepts.contains(&c)
    }

    pub fn concepts(&self) -> impl Iterator<Item = Concept> + '_ {
        self.concepts.iter().copied()
    }

    /// The request names `word` as a word of its own (`mode` in "the new mode", not in "model"):
    /// neither side touches a letter, digit or `_`.
    pub fn names_word(&self, word: &str) -> bool {
        !word.is_empty()
            && self
                .ascii_lower
                .match_indices(word)
                .any(|(i, _)| ident_boundary(&self.ascii_lower, i, word.len()))
    }

    /// The request has a word starting with `prefix` (`sector` in "sectors").
    pub fn names_prefix(&self, prefix: &str) -> bool {
        !prefix.is_empty()
            && self
                .ascii_lower
                .match_indices(prefix)
                .any(|(i, _)| i == 0 || !self.ascii_lower.as_bytes()[i - 1].is_ascii_alphanumeric())
    }

    /// Every word that names a syscall if one of that name exists here: the syscall words,
    /// then the names written apart ("epoll waits": `epoll_wait`) not among them.
    pub fn syscall_names(&self) -> impl Iterator<Item = &String> {
        self.syscall_words.iter().chain(
            self.spelled_apart
                .iter()
                .filter(|w| !self.syscall_words.contains(w)),
        )
    }

    /// The request's words, lowercase (split at anything but ASCII letters and digits).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.ascii_lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
    }

    /// The request quotes `s` ('s', "s" or `s`), case-insensitively.
    pub fn quotes(&self, s: &str) -> bool {
        let s = s.to_ascii_lowercase();
        ['\'', '"', '`']
            .iter()
            .any(|q| self.ascii_lower.contains(&format!("{q}{s}{q}")))
    }

    /// The request says `phrase` (lower case), as whole words: "in bytes".
    pub fn says_phrase(&self, phrase: &str) -> bool {
        contains_phrase(&self.ascii_lower, phrase)
    }

    /// The request uses a form of `word` ("writes", "written" for write): a word starting with
    /// its stem, at most three letters longer than it.
    pub fn uses_word(&self, word: &str) -> bool {
        let stem = word.trim_end_matches('e');
        self.ascii_lower
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| !stem.is_empty() && w.starts_with(stem) && w.len() <= word.len() + 3)
    }
}

impl Intent {
    /// Whether the request asks for an ID of the new threads it asks about ("with the thread
    /// ID"): the new thread's, where the task running the probe is its creator (clone(2)).
    pub fn asks_new_thread_id(&self) -> bool {
        self.asks(Concept::NewThreads)
            && self
                .words()
                .any(|w| matches!(w, "id" | "ids" | "tid" | "tids" | "pid" | "pids"))
    }

    /// Whether the request asks for the ID or name of a task being created: the child's
    /// ([`Concept::ChildTask`], fork(2)) or a new thread's ([`Intent::asks_new_thread_id`]).
    pub fn asks_for_new_task(&self) -> bool {
        self.asks(Concept::ChildTask) || self.asks_new_thread_id()
    }

    /// Whether the request sets `word` apart: "not anonymous", "non-anonymous", "except
    /// anonymous ones", "without O_CREAT" (a negation at most two words before it), in the
    /// forms [`Intent::uses_word`] accepts.
    pub fn negates_word(&self, word: &str) -> bool {
        const NEGATIONS: [&str; 8] = [
            "not",
            "non",
            "no",
            "except",
            "excluding",
            "without",
            "ignoring",
            "never",
        ];
        let stem = word.trim_end_matches('e');
        let words: Vec<&str> = self
            .ascii_lower
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
            .collect();
        words.iter().enumerate().any(|(i, w)| {
            let this = !stem.is_empty() && w.starts_with(stem) && w.len() <= word.len() + 3;
            let negated = (1..=2).any(|back| {
                i.checked_sub(back).is_some_and(|j| {
                    NEGATIONS.contains(&words[j])
                        || (words[j] == "than" && j > 0 && words[j - 1] == "other")
                })
            });
            this && negated
        })
    }
}

impl fmt::Display for Intent {
    /// One line a person can check: how the request was read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let concepts: Vec<String> = self.concepts.iter().map(|c| format!("{c:?}")).collect();
        write!(f, "asks for: [{}]", concepts.join(", "))?;
        let lists: [(&str, &[String]); 5] = [
            ("calls", &self.calls),
            ("syscall words", &self.syscall_words),
            ("identifiers", &self.identifiers),
            ("filesystems", &self.filesystems),
            ("binaries", &self.binary_words),
        ];
        for (name, l) in lists {
            if !l.is_empty() {
                write!(f, "; {name}: {}", l.join(", "))?;
            }
        }
        if !self.numbers.is_empty() {
            let n: Vec<String> = self.numbers.iter().map(i128::to_string).collect();
            write!(f, "; numbers: {}", n.join(", "))?;
        }
        if !self.constants.is_empty() {
            write!(f, "; constants: {}", self.constants.join(", "))?;
        }
        if let Some(n) = &self.process_name {
            write!(f, "; process named {n}")?;
        }
        if let Some(u) = self.time_unit {
            write!(f, "; unit: {}", u.suffix())?;
        }
        if let Some(n) = self.result_value {
            write!(f, "; calls returning {n}")?;
        }
        if !self.exclusions.is_empty() {
            write!(f, "; leaves out: {:?}", self.exclusions)?;
        }
        if !self.subjects.is_empty() {
            let s: Vec<&str> = self.subjects.iter().map(|s| s.word.as_str()).collect();
            write!(f, "; subjects: {}", s.join(", "))?;
        }
        Ok(())
    }
}

/// Search text for any text (a request or a catalog search): the text with the kernel's words
/// for what it says appended.
pub fn search_text(text: &str) -> String {
    search_text_with(shipped(), text, &text.to_ascii_lowercase())
}

/// `phrase` occurs in `s` with no letter or digit on either side.
/// The request with each phrase for a value (`specs-db/intent.toml` `[[phrase]]`: "standard
/// output", in any case) replaced by what it means ("file descriptor 1").
fn with_phrases_meant<'a>(v: &Vocabulary, text: &'a str) -> std::borrow::Cow<'a, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    for (re, means) in &v.phrases {
        if re.is_match(&out) {
            out = std::borrow::Cow::Owned(re.replace_all(&out, means.as_str()).into_owned());
        }
    }
    out
}

fn contains_phrase(s: &str, phrase: &str) -> bool {
    !phrase.is_empty()
        && s.match_indices(phrase)
            .any(|(i, _)| alnum_boundary(s, i, phrase.len()))
}

fn alnum_boundary(s: &str, start: usize, len: usize) -> bool {
    let before = s[..start].chars().next_back();
    let after = s[start + len..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

fn ident_boundary(s: &str, start: usize, len: usize) -> bool {
    let ok = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    ok(s[..start].chars().next_back()) && ok(s[start + len..].chars().next())
}

fn calls(lower: &str) -> Vec<String> {
    // `name(`, or a name the words after it say is a call: "the stat syscall", "the kill
    // system call", "the chown family of system calls" (how syscalls(2) and the man pages
    // speak of calls). The words before those must not be English function words.
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b([a-z_][a-z0-9_]*)(?:\(|\s+(?:syscalls?|system[ -]calls?|family of (?:system[ -]calls|syscalls))\b)")
            .expect("static regex")
    });
    const NOT_NAMES: &[&str] = &[
        "the", "a", "an", "any", "every", "each", "all", "of", "which", "what", "other", "some",
        "those", "these", "failed", "slow",
    ];
    let mut out: Vec<String> = Vec::new();
    for m in CALL.captures_iter(lower).filter_map(|c| c.get(1)) {
        let name = m.as_str();
        if !NOT_NAMES.contains(&name) && !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// `calls` and, after them, the socket calls the request names by their object: an English
/// syscall name whose first parameter is a socket ([`List::SocketCalls`]), in any number,
/// right after "socket" or "sockets" ("socket shutdowns", "socket binds"). Not "socket
/// connections": the word must be the call's name, or its name with a plural ending.
fn with_socket_calls(v: &Vocabulary, mut calls: Vec<String>, lower: &str) -> Vec<String> {
    static AFTER_SOCKET: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bsockets?\s+([a-z]+)\b").expect("static regex"));
    for c in AFTER_SOCKET.captures_iter(lower).filter_map(|c| c.get(1)) {
        let word = c.as_str();
        let named = v
            .list(List::SocketCalls)
            .iter()
            .find(|name| naming::is_or_plural(word, name));
        if let Some(name) = named {
            if !calls.contains(name) {
                calls.push(name.clone());
            }
        }
    }
    calls
}

fn identifiers(text: &str) -> Vec<String> {
    static IDENT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b").expect("static regex"));
    IDENT
        .find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// See [`Intent::threshold`]: the least of the values each stated threshold may be written as.
fn threshold(v: &Vocabulary, lower: &str) -> Option<i128> {
    let re = v.extracts.get(&Extract::Threshold)?;
    re.captures_iter(lower)
        .filter_map(|c| c.iter().skip(1).flatten().next())
        .flat_map(|m| numbers(m.as_str()))
        .filter(|n| *n >= 1)
        .min()
}

/// The least number written after a comparative ("above 100", "more than 8"), without a
/// unit: a bound on a count or a descriptor that a call returns.
fn unitless_bound(lower: &str) -> Option<i128> {
    static BOUND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(?:over|above|beyond|exceeding|(?:more|greater|higher|larger|bigger)\s+than|at\s+least)\s+(\d{1,12})\b",
        )
        .expect("static regex")
    });
    BOUND
        .captures_iter(lower)
        .filter_map(|c| c.get(1)?.as_str().parse::<i128>().ok())
        .filter(|n| *n >= 1)
        .min()
}

/// See [`Intent::period_s`]: the first stated period, in whole seconds (at least 1).
fn period(v: &Vocabulary, lower: &str) -> Option<u64> {
    let c = v.extracts.get(&Extract::Period)?.captures(lower)?;
    let n: u64 = c.get(1)?.as_str().parse().ok()?;
    let minutes = c.get(2).is_some_and(|u| u.as_str().starts_with('m'));
    Some(if minutes { n.saturating_mul(60) } else { n }.max(1))
}

/// The words of a captured clause: runs of ASCII letters, digits and `_`.
fn clause_words(clause: &str) -> impl Iterator<Item = &str> {
    clause
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// See [`Intent::group_phrases`]. A phrase that starts with a call the request names
/// ("returned by pread64() calls", "for each fsync() call") is the traced call, each of its
/// events, not a key to tally per.
fn group_phrases(v: &Vocabulary, lower: &str) -> Vec<Vec<String>> {
    let Some(re) = v.extracts.get(&Extract::GroupBy) else {
        return Vec::new();
    };
    // A phrase ends where another starts: "received by the network stack per network device
    // name" is the agent ("by the network stack") and then the key ("per … device name").
    static NEXT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\s(?:per|by|for each)\s").expect("static regex"));
    // A clause of its own ends it too: "per device and add up the sectors" groups by the
    // device; what follows "and" is another thing to compute ("by device and operation" is
    // two keys).
    static CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\s(?:and|then)\s+(?:also\s+)?(?:add|adds|sum|sums|total|count|counts|tally|show|shows|print|prints|list|report|give|measure|keep|track)\b",
        )
        .expect("static regex")
    });
    let named_calls = calls(lower);
    re.captures_iter(lower)
        .filter_map(|c| c.get(1))
        .flat_map(|m| {
            let phrase = m.as_str();
            let phrase = CLAUSE.find(phrase).map_or(phrase, |c| &phrase[..c.start()]);
            NEXT.split(phrase)
                .map(|part| {
                    clause_words(part)
                        .take(6)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .filter(|p| p.first().is_some_and(|w| !named_calls.contains(w)))
        .collect()
}

/// The words of the clauses that set something apart ("skip the rename every execve does").
fn set_apart(v: &Vocabulary, lower: &str) -> Vec<String> {
    let Some(re) = v.extracts.get(&Extract::SetApart) else {
        return Vec::new();
    };
    re.captures_iter(lower)
        .filter_map(|c| c.get(1))
        .flat_map(|m| {
            clause_words(m.as_str())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// See [`Intent::syscall_words`].
fn syscall_words(v: &Vocabulary, lower: &str, speaks_of_calls: bool) -> Vec<String> {
    let english = v.list(List::EnglishSyscallNames);
    let named_calls = calls(lower);
    let bytes = lower.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut start = None;
    for i in 0..=bytes.len() {
        let c = bytes.get(i).copied();
        if c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            start.get_or_insert(i);
            continue;
        }
        let Some(s) = start.take() else { continue };
        let word = &lower[s..i];
        // "the chown syscall", "the chown family of system calls": a call's name (see `calls`).
        // Or right before "call"/"calls" ("count accept calls"): a call's name, though an
        // English word, which the host's syscalls then confirm or not; not "system calls".
        static CALL_AFTER: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^\s+calls?\b").expect("static regex"));
        let before_call = CALL_AFTER.is_match(&lower[i..])
            && !matches!(
                word,
                "system"
                    | "the"
                    | "each"
                    | "every"
                    | "all"
                    | "any"
                    | "these"
                    | "those"
                    | "which"
                    | "what"
                    | "that"
                    | "who"
                    | "failed"
                    | "many"
            );
        let written_as_call =
            c == Some(b'(') || named_calls.iter().any(|n| n == word) || before_call;
        let jargon = !english.iter().any(|e| e == word) && word.len() >= 4;
        let in_slash_list = c == Some(b'/') || (s > 0 && bytes[s - 1] == b'/');
        if (written_as_call || jargon || (speaks_of_calls && in_slash_list))
            && !out.iter().any(|w| w == word)
        {
            out.push(word.to_owned());
        }
    }
    if speaks_of_calls {
        for word in listed_with_jargon(lower, english) {
            if !out.iter().any(|w| w == word) {
                out.push(word.to_owned());
            }
        }
    }
    out
}

/// Syscall names written apart as English ("epoll waits" is `epoll_wait`, "sync file range"
/// `sync_file_range`): two or three neighbouring words joined by `_`, the last also without
/// its plural `s`. syscalls(2) spells multi-word names with underscores; which of these are
/// syscalls is the host's to say.
fn spelled_apart(lower: &str) -> Vec<String> {
    let mut words: Vec<(usize, usize)> = Vec::new();
    let bytes = lower.as_bytes();
    let mut start = None;
    for i in 0..=bytes.len() {
        if bytes
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            words.push((s, i));
        }
    }
    let mut out = Vec::new();
    for i in 0..words.len() {
        if words[i].1 - words[i].0 < 3 {
            continue;
        }
        for n in [2, 3] {
            let Some(run) = words.get(i..i + n) else {
                continue;
            };
            if run.windows(2).any(|w| &lower[w[0].1..w[1].0] != " ") {
                continue;
            }
            let joined: Vec<&str> = run.iter().map(|(s, e)| &lower[*s..*e]).collect();
            let joined = joined.join("_");
            if let Some(singular) = joined.strip_suffix('s') {
                out.push(singular.to_owned());
            }
            out.push(joined);
        }
    }
    out
}

/// Single words of a comma list ("sync, syncfs, fsync or msync") in which at least two items,
/// and half of them, are names no English word has (`syncfs`, `fsync`): the list names calls,
/// everyday-looking ones too. The first
/// item is the last word before the first comma ("calls to read, write…"), the last item the
/// first word after the last separator ("…and readv per process").
fn listed_with_jargon<'t>(lower: &'t str, english: &[String]) -> Vec<&'t str> {
    let mut out = Vec::new();
    for clause in lower.split(['(', ')', ';', ':', '.', '?', '!', '\n']) {
        let items: Vec<&str> = clause
            .split(',')
            .flat_map(|i| i.split(" or "))
            .flat_map(|i| i.split(" and "))
            .map(str::trim)
            .collect();
        let last = items.len().saturating_sub(1);
        let words: Vec<&str> = items
            .iter()
            .enumerate()
            .map(|(k, i)| match k {
                0 => i.split_whitespace().last().unwrap_or(""),
                k if k == last => i.split_whitespace().next().unwrap_or(""),
                _ => i,
            })
            .filter(|i| {
                !i.is_empty()
                    && i.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
            .collect();
        // Two names no English word has, and they are at least half the list: one such word
        // ("which" in "the time, PID and which call") makes no list of calls.
        let jargon = words
            .iter()
            .filter(|w| w.len() >= 4 && !english.iter().any(|e| e == *w))
            .count();
        if items.len() >= 3
            && words.len() * 2 >= items.len()
            && jargon >= 2
            && jargon * 2 >= words.len()
        {
            out.extend(words);
        }
    }
    out
}

/// See [`Intent::binary_words`] and [`Intent::symbol_words`].
fn binary_words(v: &Vocabulary, lower: &str) -> (Vec<String>, Vec<String>) {
    let words: Vec<&str> = lower
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"' | '\'' | '`' | '?')
        })
        .map(|w| w.trim_end_matches(['.', ':']))
        .filter(|w| !w.is_empty())
        .collect();
    let speaks_of_functions = words
        .iter()
        .any(|w| v.list(List::FunctionWords).iter().any(|f| f == w));
    let libc_names = v.list(List::LibcNames);
    let openssl_names = v.list(List::OpensslNames);
    let mut binaries: Vec<String> = Vec::new();
    for w in &words {
        let w = if libc_names.iter().any(|n| n == w) {
            "libc"
        } else if openssl_names.iter().any(|n| n == w) {
            "libssl"
        } else {
            *w
        };
        let named = w.starts_with('/')
            || (w.starts_with("lib")
                && w.len() > 3
                && w.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '+' || c == '_' || c == '-' || c == '.'
                }))
            || (speaks_of_functions
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && w.len() > 1);
        if named {
            binaries.push(w.to_owned());
        }
    }
    let symbol_words = words
        .iter()
        .filter(|w| w.len() >= 3)
        .map(|w| (*w).to_owned())
        .collect();
    (binaries, symbol_words)
}

/// The numbers a request states, each also multiplied out by its unit: sizes in binary and
/// decimal multiples, times in every unit from seconds to nanoseconds that they are a whole
/// number of ("10 ms" is also 10000 us and 10000000 ns). Digits that end a word ("IPv4",
/// "ext4", "x86_64") are part of a name, not a number the request states.
fn numbers(lower: &str) -> Vec<i128> {
    static NUM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?:^|[^a-z0-9_])(\d+)\s*(kib|mib|gib|kb|mb|gb|k|minutes?|mins?|m|g|seconds?|secs?|s|milliseconds?|msecs?|ms|microseconds?|usecs?|us|µs|nanoseconds?|nsecs?|ns)?\b",
        )
        .expect("static regex")
    });
    let mut out = Vec::new();
    for c in NUM.captures_iter(lower) {
        let Some(n) = stated_number(&c[1]) else {
            continue;
        };
        out.push(n);
        let unit = c.get(2).map_or("", |m| m.as_str());
        let multiples: &[i128] = match unit {
            // IEC 80000-13: a KiB, MiB or GiB is a power of two only; a KB or k is either.
            "kib" => &[1 << 10],
            "mib" => &[1 << 20],
            "gib" => &[1 << 30],
            "k" | "kb" => &[1 << 10, 1_000],
            "m" | "mb" => &[1 << 20, 1_000_000],
            "g" | "gb" => &[1 << 30, 1_000_000_000],
            // In s, ms, us and ns.
            u if u.starts_with("min") => &[60, 60_000, 60_000_000, 60_000_000_000],
            // In ms, us and ns.
            u if u.starts_with('s') => &[1_000, 1_000_000, 1_000_000_000],
            // In us and ns.
            u if u.starts_with("ms") || u.starts_with("milli") => &[1_000, 1_000_000],
            // In ns.
            u if u.starts_with("us") || u.starts_with("µs") || u.starts_with("micro") => &[1_000],
            _ => &[],
        };
        // A number too large to multiply out states nothing more than itself.
        out.extend(multiples.iter().filter_map(|m| n.checked_mul(*m)));
    }
    out
}

/// The value of a number the request writes in digits. One with a leading zero is octal, as C
/// reads it (C11 6.4.4.1) and as chmod(1) and open(2) write modes: "mode 0700" is 448. Leading
/// zeros that cannot be octal ("08") are decimal.
pub fn stated_number(digits: &str) -> Option<i128> {
    if digits.len() > 1 && digits.starts_with('0') {
        if let Ok(n) = i128::from_str_radix(&digits[1..], 8) {
            return Some(n);
        }
    }
    digits.parse::<i128>().ok()
}

/// The text with quantities written in words as digits, where a unit follows: "one second" is
/// "1 second", "ten milliseconds" "10 milliseconds", "a second" "1 second", "half a second"
/// "500 ms". A number word without a unit ("one line", "each one") stays a word.
fn spelled_quantities(lower: &str) -> std::borrow::Cow<'_, str> {
    const WORDS: [(&str, u32); 27] = [
        ("a", 1),
        ("an", 1),
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("four", 4),
        ("five", 5),
        ("six", 6),
        ("seven", 7),
        ("eight", 8),
        ("nine", 9),
        ("ten", 10),
        ("eleven", 11),
        ("twelve", 12),
        ("fifteen", 15),
        ("twenty", 20),
        ("thirty", 30),
        ("forty", 40),
        ("fifty", 50),
        ("sixty", 60),
        ("ninety", 90),
        ("hundred", 100),
        ("thousand", 1000),
        ("a hundred", 100),
        ("one hundred", 100),
        ("a thousand", 1000),
        ("one thousand", 1000),
    ];
    static SPELLED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b(half an?|(?:an?|one) (?:hundred|thousand)|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|thousand)[ -](seconds?|milliseconds?|microseconds?|nanoseconds?|minutes?|kilobytes?|megabytes?|gigabytes?|kib|mib|gib|kb|mb|gb)\b",
        )
        .expect("static regex")
    });
    SPELLED.replace_all(lower, |c: &regex::Captures| {
        let (number, unit) = (&c[1], &c[2]);
        if number.starts_with("half") {
            // Half of a unit in the next smaller one.
            return match unit.trim_end_matches('s') {
                "second" => "500 milliseconds".to_owned(),
                "millisecond" => "500 microseconds".to_owned(),
                "microsecond" => "500 nanoseconds".to_owned(),
                "minute" => "30 seconds".to_owned(),
                _ => c[0].to_owned(),
            };
        }
        // "A second" is a quantity after a comparison ("longer than a second"), an ordinal
        // elsewhere ("a second time").
        let before = lower[..c.get(0).map_or(0, |m| m.start())]
            .split_whitespace()
            .last()
            .unwrap_or("");
        let compared = [
            "than", "over", "under", "above", "below", "exceeds", "exceed", "within", "past",
            "least", "most", "beyond",
        ]
        .contains(&before);
        if matches!(number, "a" | "an") && !compared {
            return c[0].to_owned();
        }
        match WORDS.iter().find(|(w, _)| *w == number) {
            Some((_, n)) => format!("{n} {unit}"),
            _ => c[0].to_owned(),
        }
    })
}

/// See [`Intent::sizes`].
fn sizes(lower: &str) -> Vec<Vec<i128>> {
    static SIZE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?:^|[^a-z0-9_])(\d+)\s*(kib|mib|gib|kb|mb|gb|kilobytes?|megabytes?|gigabytes?)\b",
        )
        .expect("static regex")
    });
    SIZE.captures_iter(lower)
        .filter_map(|c| {
            let n = c[1].parse::<i128>().ok()?;
            let (binary, decimal) = match c[2].chars().next()? {
                'k' => (1 << 10, 1_000),
                'm' => (1 << 20, 1_000_000),
                _ => (1 << 30, 1_000_000_000),
            };
            // IEC 80000-13: "KiB" is 1024 bytes and never 1000; "KB" and "kilobyte" are used
            // for both.
            if c[2].ends_with("ib") {
                return Some(vec![n, n.checked_mul(binary)?]);
            }
            Some(vec![n, n.checked_mul(binary)?, n.checked_mul(decimal)?])
        })
        .collect()
}

/// See [`Intent::constants`]: an upper-case word with an underscore (`O_CREAT`, `AF_INET6`),
/// a signal (`SIGTERM`) or an errno name (`E` and three or more capitals: `EACCES`).
/// A C constant as a request writes it: `O_CREAT`, `SIGUSR1`, `EPIPE`.
static CONSTANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]|SIG[A-Z0-9]{2,}|E[A-Z]{3,})\b")
        .expect("static regex")
});

fn constants(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in CONSTANT.find_iter(text) {
        if !out.iter().any(|c| c == m.as_str()) {
            out.push(m.as_str().to_owned());
        }
    }
    out
}

/// Whether one of the capture groups of extract `e` matched in `lower` (an extract that only
/// says whether the request reads a certain way).
fn extract_matches(v: &Vocabulary, e: Extract, lower: &str) -> bool {
    v.extracts
        .get(&e)
        .and_then(|re| re.captures(lower))
        .is_some_and(|c| c.iter().skip(1).any(|g| g.is_some()))
}

/// See [`Intent::spans`]: the spans of the `[[search]]` entries the request matches.
fn spans_asked(v: &Vocabulary, lower: &str) -> Vec<String> {
    let spaced = lower.replace('-', " ");
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for s in &v.search {
        let Some(span) = &s.span else { continue };
        let hit = if s.spoken.contains(' ') {
            spaced.contains(&s.spoken)
        } else {
            words.iter().any(|w| w.starts_with(&s.spoken))
        };
        if hit && !out.contains(span) {
            out.push(span.clone());
        }
    }
    out
}

/// The request with the kernel words for what it says appended. A spoken word matches the
/// start of a word of the request ("delet" matches "deleted"); a phrase matches anywhere.
fn search_text_with(v: &Vocabulary, text: &str, lower: &str) -> String {
    // A quoted string is a name the request filters on ("processes named 'sleep'"), not what
    // it observes: it adds no kernel words.
    let lower = &*QUOTED.replace_all(lower, " ");
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '/'))
        .filter(|w| !w.is_empty())
        .collect();
    let spaced = lower.replace('-', " ");
    let mut out = text.to_owned();
    for s in &v.search {
        let hit = if s.spoken.contains(' ') {
            spaced.contains(&s.spoken)
        } else {
            words.iter().any(|w| w.starts_with(&s.spoken))
        };
        if hit {
            out.push(' ');
            out.push_str(&s.kernel);
        }
    }
    out
}

/// Byte ranges of the request that name no thing of their own: what a report-shape concept
/// matched ("process name", "how long"; only its `shape` group where the pattern has one) and
/// quoted strings.
fn shape_ranges(
    v: &Vocabulary,
    text: &str,
    lower: &str,
    concepts: &BTreeSet<Concept>,
) -> Vec<std::ops::Range<usize>> {
    let mut masked: Vec<std::ops::Range<usize>> = Vec::new();
    for c in concepts.iter().filter(|c| c.shapes_output()) {
        if let Some(rule) = v.concepts.get(c) {
            // A pattern's `shape` group, where it has one, is the part that names no thing:
            // "sleep time" masks "time", and "sleep" may still be the request's subject.
            for p in &rule.patterns {
                masked.extend(
                    p.captures_iter(text)
                        .filter_map(|c| c.name("shape").or_else(|| c.get(0)).map(|m| m.range())),
                );
            }
        }
    }
    masked.extend(QUOTED.find_iter(lower).map(|m| m.range()));
    masked
}

/// A quoted string: '…', "…" or `…`. A single quote opens one only where no letter or digit
/// precedes it, and closes it only where none follows: the apostrophes of "a file's
/// permissions" or "don't" quote nothing (the match may take the character before and after).
static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[^A-Za-z0-9])'[^']*'(?:[^A-Za-z0-9]|$)|"[^"]*"|`[^`]*`"#)
        .expect("static regex")
});

/// A word of the lowercased request, as the value-word and builtin-phrase readers split it.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[a-z][a-z0-9_]*").expect("static regex"));

/// See [`Intent::builtin_phrase_words`].
fn builtin_phrase_words(
    v: &Vocabulary,
    text: &str,
    lower: &str,
    concepts: &BTreeSet<Concept>,
) -> Vec<String> {
    let ranges: Vec<std::ops::Range<usize>> = [Concept::ProcessName, Concept::Pid]
        .iter()
        .filter(|c| concepts.contains(c))
        .filter_map(|c| v.concepts.get(c))
        .flat_map(|rule| {
            rule.patterns
                .iter()
                .flat_map(|p| p.find_iter(text).map(|m| m.range()))
        })
        .collect();
    let inside = |m: &regex::Match| {
        ranges
            .iter()
            .any(|r| r.start <= m.start() && m.end() <= r.end)
    };
    // Each word once, in order, with whether every occurrence lies inside such a phrase.
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for m in WORD.find_iter(lower) {
        match seen.iter_mut().find(|(w, _)| *w == m.as_str()) {
            Some((_, all_inside)) => *all_inside &= inside(&m),
            None => seen.push((m.as_str(), inside(&m))),
        }
    }
    seen.into_iter()
        .filter(|(_, all_inside)| *all_inside)
        .map(|(w, _)| w.to_owned())
        .collect()
}

/// See [`Intent::value_words`]. A noun after an indefinite article, with at most two
/// modifiers between ("enters an idle state", "a deep sleep state", "takes a lock"), is a kind
/// of thing the request speaks of, not a value of one to show: that is "the state", "its
/// state", "which state". The phrase ends at punctuation and at a conjunction or preposition
/// ("a pid and state" shows the state).
fn value_words(masked: &[std::ops::Range<usize>], lower: &str) -> Vec<String> {
    const ENDS_PHRASE: [&str; 9] = ["and", "or", "with", "of", "per", "by", "the", "its", "to"];
    let words: Vec<regex::Match> = WORD.find_iter(lower).collect();
    // Whether word `i` ends a phrase an indefinite article opens.
    let after_article = |i: usize| {
        for back in 1..=3 {
            let Some(j) = i.checked_sub(back) else {
                return false;
            };
            let gap = &lower[words[j].end()..words[j + 1].start()];
            if !gap.chars().all(|c| c == ' ' || c == '-') {
                return false;
            }
            match words[j].as_str() {
                "a" | "an" => return true,
                w if ENDS_PHRASE.contains(&w) => return false,
                _ => {}
            }
        }
        false
    };
    // Whether word `i` is a sentence's imperative verb of tallying ("Count pages removed…"),
    // which names what to do, not a value (move_pages(2) calls a parameter `count`).
    const TALLY_VERBS: [&str; 4] = ["count", "tally", "sum", "total"];
    let imperative = |i: usize| {
        let starts = i == 0
            || lower[words[i - 1].end()..words[i].start()].contains(['.', ';', ':', '!', '?']);
        let next_word = words
            .get(i + 1)
            .is_some_and(|n| lower[words[i].end()..n.start()].chars().all(|c| c == ' '));
        starts && next_word && TALLY_VERBS.contains(&words[i].as_str())
    };
    let mut out: Vec<String> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let inside = masked
            .iter()
            .any(|m| m.start <= w.start() && w.end() <= m.end);
        let a_kind = after_article(i);
        if !inside && !a_kind && !imperative(i) && !out.iter().any(|o| o == w.as_str()) {
            out.push(w.as_str().to_owned());
        }
    }
    // "The buffer sizes": "buffer" says whose size, and names no value of its own.
    let modifiers = whose_size(lower);
    out.retain(|w| !modifiers.contains(w));
    out
}

/// See [`Intent::whose_size`]. Punctuation parts words ("count, size and pid").
fn whose_size(lower: &str) -> Vec<String> {
    let words: Vec<regex::Match> = WORD.find_iter(lower).collect();
    let mut all: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        all.push(w.as_str());
        let gap = words.get(i + 1).map_or("", |n| &lower[w.end()..n.start()]);
        if !gap.chars().all(|c| c == ' ' || c == '-') {
            all.push("|");
        }
    }
    naming::size_modifiers(&all)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// See [`Intent::subjects`].
fn subject_words(
    v: &Vocabulary,
    lower: &str,
    masked: &[std::ops::Range<usize>],
) -> Vec<SubjectWord> {
    let not_subjects = v.list(List::NotSubjects);
    let subject = |word: &str| {
        word.len() >= 3
            && word.bytes().any(|b| b.is_ascii_alphabetic())
            && !not_subjects.iter().any(|n| n == word)
    };
    // A spoken word starting the word, or a spoken phrase of the request containing it (a
    // hyphen read as a space: "off-cpu" is "off cpu"), that names kernel objects.
    let spaced = lower.replace('-', " ");
    let kernel_words = |word: &str| -> Vec<String> {
        v.search
            .iter()
            .filter(|s| s.names)
            .filter(|s| {
                if s.spoken.contains(' ') {
                    spaced.contains(&s.spoken) && s.spoken.split(' ').any(|p| word.starts_with(p))
                } else {
                    word.starts_with(&s.spoken)
                }
            })
            .flat_map(|s| s.kernel.split_whitespace().map(str::to_owned))
            .fold(Vec::new(), |mut all, k| {
                if !all.contains(&k) {
                    all.push(k);
                }
                all
            })
    };
    let mut out: Vec<SubjectWord> = Vec::new();
    let mut phrase = 0;
    let mut in_phrase = false;
    let mut push = |word: &str, phrase: usize| {
        if !out.iter().any(|s| s.word == word) {
            out.push(SubjectWord {
                word: word.to_owned(),
                kernel: kernel_words(word),
                phrase,
            });
        }
    };
    // Whitespace-separated tokens; a path names a file, not a subject.
    static TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\S+").expect("static regex"));
    static WORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[a-z0-9_]+").expect("static regex"));
    let inside =
        |r: &std::ops::Range<usize>| masked.iter().any(|m| m.start <= r.start && r.end <= m.end);
    for token in TOKEN.find_iter(lower) {
        let words: Vec<regex::Match> = if token.as_str().contains('/') {
            Vec::new()
        } else {
            WORD.find_iter(token.as_str()).collect()
        };
        if words.is_empty() && in_phrase {
            phrase += 1;
            in_phrase = false;
        }
        for w in &words {
            let at = token.start() + w.start()..token.start() + w.end();
            if !inside(&at) && subject(w.as_str()) {
                push(w.as_str(), phrase);
                in_phrase = true;
            } else if in_phrase {
                phrase += 1;
                in_phrase = false;
            }
        }
        // "swap-in" is also read as "swapin".
        if let [a, b] = words.as_slice() {
            let joined = format!("{}{}", a.as_str(), b.as_str());
            if token.as_str()[a.end()..b.start()] == *"-"
                && !inside(&token.range())
                && subject(&joined)
            {
                push(&joined, phrase);
                in_phrase = true;
            }
        }
        // A comma, a full stop or a colon ends a phrase.
        if in_phrase && token.as_str().ends_with([',', '.', ';', ':', '?', '!']) {
            phrase += 1;
            in_phrase = false;
        }
    }
    out
}

#[cfg(test)]
mod tests;
