//! What tallies are keyed by: a key the request asks for that the map lacks, and keys no word
//! of the request names.
use super::*;
pub(super) use crate::toolchain::bpftrace::syntax::split_top_level;

/// One key of a tally: an event field (read there or carried from an earlier event), a
/// builtin, or anything else (taken as asked for).
enum Key {
    Field(String),
    Builtin(&'static str),
    Other(String),
}

/// The builtins a tally may be keyed by that a request names in words
/// ([`crate::intent::naming::BUILTIN_WORDS`]).
const BUILTIN_KEYS: [&str; 5] = ["comm", "pid", "tid", "cpu", "uid"];

/// A tally or histogram keyed by an event field or a builtin the request never names, where
/// the request says what it groups by and another key accounts for each of its grouping
/// phrases: "each process migrated" keyed by `comm, args->dest_cpu, args->orig_cpu` splits
/// every process's count by CPU pair, "per memory node" keyed by `comm, pid, args->nid` every
/// node's by process. A field names itself by a word of the request
/// ([`crate::intent::naming::used_by`]), by what it holds (`specs-db/field-names.toml`
/// `meaning`), or is a category the kernel prints by name (`__print_symbolic`); a key carried
/// from an earlier event (`@start_tvp[tid]` stored from `args->tvp`) is that field; a builtin
/// is named by its words ([`crate::intent::naming::builtins_named_by`]: "process", "CPU").
/// A request that groups by nothing (no grouping phrase, no "each X" but the traced call
/// itself) keys by no field it never names: "a histogram of the bytes each write() call
/// writes" keyed by `args->fd` is one histogram per descriptor.
pub(super) fn unasked_keys(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    unasked_keys_found(host, intent, source).map(|(message, _)| message)
}

/// The keys [`unasked_keys`] finds that kgent may leave out itself ([`KeyDrop`]): where the
/// request never asks for them and the keys that stay account for what it groups by.
pub fn droppable_keys(host: &HostFacts, intent: &Intent, source: &str) -> Option<KeyDrop> {
    unasked_keys_found(host, intent, source).and_then(|(_, drop)| drop)
}

fn unasked_keys_found(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<(String, Option<KeyDrop>)> {
    let phrases = grouping_phrases(intent);
    if let Some(m) = system_wide_keys(intent, source, &phrases) {
        return Some((m, None));
    }
    // No grouping at all: only field keys are judged (a builtin may be the request's filter,
    // `comm` of "processes named python3").
    let ungrouped = phrases.is_empty();
    let code = strip_comments(source);
    let words: Vec<&str> = intent
        .words()
        .filter(|w| !crate::intent::naming::SHAPE_WORDS.contains(w))
        .collect();
    let blocks = probe_blocks(&code);
    let events: Vec<(String, String)> = blocks
        .iter()
        .flat_map(|b| &b.probes)
        .filter(|p| p.is_tracepoint())
        .filter_map(|p| p.target.split_once(':'))
        .map(|(s, e)| (s.to_owned(), e.to_owned()))
        .collect();
    // Each event's format is read once, not once per key.
    let printed_by_name: BTreeSet<String> = events
        .iter()
        .flat_map(|(s, e)| host.fields_printed_by_name(s, e))
        .collect();
    // A field named like a builtin (`comm`, `pid`) is named by the builtin's words.
    let as_builtin =
        |field: &str, w: &str| crate::intent::naming::builtins_named_by(w).contains(&field);
    // A field named like its event (`personality` at sys_enter_personality) is named by the
    // word that names the event only where a grouping phrase says it.
    let event_names: Vec<String> = events.iter().map(|(s, e)| format!("{s}:{e}")).collect();
    let event_names: Vec<&str> = event_names.iter().map(String::as_str).collect();
    // A field named like its event, or only by words of its event's name ("ext4 inode
    // allocations": `ino` at ext4_allocate_inode), is a key only where grouped by.
    let names_its_event = |field: &str| {
        events
            .iter()
            .any(|(s, e)| e.split('_').chain(s.split('_')).any(|part| part == field))
            || crate::intent::naming::named_only_as_its_event(field, &words, &event_names)
    };
    let grouped_by = |field: &str| {
        phrases.iter().any(|p| {
            crate::intent::naming::used_by(field, &p.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    // A syscall parameter is also named by its man page's name for it ("the advice" is
    // `behavior` at sys_enter_madvise).
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let man_name = |field: &str| {
        events.iter().find_map(|(s, e)| {
            let tp = host.tracepoints.get(&format!("{s}:{e}"))?;
            let entry;
            let tp = match e.strip_prefix("sys_exit_") {
                Some(call) => {
                    entry = format!("syscalls:sys_enter_{call}");
                    host.tracepoints.get(&entry)?
                }
                None => tp,
            };
            man.man_name_of(&tp.event, tp.fields.iter().map(|f| f.name.as_str()), field)
        })
    };
    let named_as = |field: &str, words: &[&str]| {
        crate::intent::naming::used_by(field, words)
            || man_name(field).is_some_and(|p| crate::intent::naming::used_by(&p, words))
    };
    // "Per process name" names no `name` field: words said only in a builtin's phrase.
    let field_words = intent.naming_fields(&words);
    // Where the request groups by phrases, the process's name and PID are keys only when a
    // phrase says them (not the parent's: "per parent process name") or the request asks for
    // them: "count process forks per parent process name" keyed by `comm, pid` splits each
    // parent's count by the forking task.
    let creating = super::creates_processes_only(host, source);
    let builtin_asked = |b: &str| {
        let concept = match b {
            "comm" => Some(Concept::ProcessName),
            "pid" => Some(Concept::Pid),
            _ => None,
        };
        match concept {
            Some(c) if !intent.group_phrases.is_empty() => {
                intent.asks(c)
                    || phrases.iter().any(|p| {
                        if p.first().is_some_and(|w| w == "parent") {
                            // Where processes are created the running task is the parent:
                            // its name is `comm`, its PID `pid` (fork(2)).
                            return creating && parent_phrase_holds(p, b);
                        }
                        // "Per name of the woken process" names no PID, "per process ID" no name.
                        if phrase_kind(p).is_some_and(|k| k != b) {
                            return false;
                        }
                        p.iter()
                            .any(|w| crate::intent::naming::builtins_named_by(w).contains(&b))
                    })
            }
            _ => words
                .iter()
                .any(|w| crate::intent::naming::builtins_named_by(w).contains(&b)),
        }
    };
    let asked = |field: &str| {
        (named_as(field, &field_words)
            && (!names_its_event(field) || grouped_by(field)))
            // A field named like the process's name or PID (`comm`, `pid` at sched_wakeup) is
            // asked for as the builtin would be.
            || (matches!(field, "comm" | "pid") && builtin_asked(field))
            || (!matches!(field, "comm" | "pid") && words.iter().any(|w| as_builtin(field, w)))
            || printed_by_name.contains(field)
            || events.iter().any(|(s, e)| {
                let probe = format!("{s}:{e}");
                crate::knowledge::field_names::named_by_meaning(intent, &probe, field)
                    && (ungrouped
                        || crate::knowledge::field_names::grouped_by_meaning(
                            intent, &probe, field, &phrases,
                        ))
            })
            // A field of code letters the request speaks of ("reads and writes": rwbs).
            || events.iter().any(|(s, e)| {
                let probe = format!("tracepoint:{s}:{e}");
                crate::knowledge::specs::codes().iter().any(|c| {
                    c.field == field
                        && probe.starts_with(&c.probes)
                        && c.letters.iter().any(|(letter, _)| c.stated(letter, intent))
                })
            })
    };
    // A field the program aggregates as a value (`sum(args->nr_sector)`) that no grouping
    // phrase names is what the request adds up, not what it splits the figures by: "per
    // device and add up the sectors" keyed by the sector count gives one row per size.
    static AGGREGATED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:sum|avg|min|max|stats|hist|lhist)\(\s*args\s*->\s*(\w+)")
            .expect("static regex")
    });
    let aggregated: BTreeSet<String> = AGGREGATED
        .captures_iter(&code)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .collect();
    let summed_not_grouped = |f: &str| !ungrouped && aggregated.contains(f) && !grouped_by(f);
    // The fields every traced event has (a key read from one of them is defined everywhere).
    let shared_fields: Vec<&str> = {
        let formats: Vec<&crate::host::Tracepoint> = events
            .iter()
            .filter_map(|(s, e)| host.tracepoints.get(&format!("{s}:{e}")))
            .collect();
        match formats.split_first() {
            Some((first, rest)) if formats.len() == events.len() => first
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|f| rest.iter().all(|t| t.fields.iter().any(|g| g.name == *f)))
                .collect(),
            _ => Vec::new(),
        }
    };
    // A builtin key (`comm`, `pid`) is asked for where a word names it ("process", "CPU").
    for Tally { map, keys } in tallies(&code) {
        // "Per target CPU" keyed by `cpu` and `args->target_cpu`: the phrase means the field.
        let fields: Vec<&str> = keys
            .iter()
            .filter_map(|k| match k {
                Key::Field(f) => Some(f.as_str()),
                _ => None,
            })
            .collect();
        // A builtin key a grouping phrase qualifies as one of `among`, with the phrase and the
        // field it means.
        let qualified = |among: &[&str]| {
            keys.iter().find_map(|k| match k {
                Key::Builtin(b) => {
                    crate::intent::naming::builtin_qualified_by_field(&phrases, b, among)
                        .map(|s| (*b, s))
                }
                _ => None,
            })
        };
        if let Some((b, (phrase, f))) = qualified(&fields) {
            return Some((format!(
                "the program keys its tally by {b} and args->{f}, but the request groups by \"{phrase}\", which args->{f} holds: the builtin {b} is another value and splits each count by it; leave it out"
            ), None));
        }
        // "Per target CPU" keyed by the builtin `cpu` alone where every event has a field for
        // it (`cpu` at ipi:ipi_send_cpu).
        if let Some((b, (phrase, f))) = qualified(&shared_fields) {
            return Some((format!(
                "the request groups by \"{phrase}\", which the event's own args->{f} holds, but the program keys its tally by the builtin {b} (where the event fired): key it by args->{f}"
            ), None));
        }
        // A phrase names one thing, its last word in English ("network *interface*"): a field
        // key named only by a word before it (`network_offset` by "network"), beside a key its
        // last word names (`name`, the interface), is another value. Not where the last word
        // says only what kind of value it is ("process name", "signal number").
        let held_by = |k: &Key, w: &str| match k {
            Key::Field(f) => {
                crate::intent::naming::used_by(f, &[w])
                    || as_builtin(f, w)
                    || events.iter().any(|(s, e)| {
                        crate::knowledge::field_names::meaning_words(&format!("{s}:{e}"), f)
                            .iter()
                            .any(|m| w.starts_with(m))
                    })
            }
            Key::Builtin(b) => crate::intent::naming::builtins_named_by(w).contains(b),
            Key::Other(_) => false,
        };
        let modifier_only = |f: &str| {
            let key = Key::Field(f.to_owned());
            let parts: Vec<&[String]> = phrases
                .iter()
                .flat_map(|p| p.split(|w| w == "and" || w == "or"))
                .filter(|p| !p.is_empty())
                .collect();
            let in_other = |skip: usize| {
                parts
                    .iter()
                    .enumerate()
                    .any(|(i, p)| i != skip && p.iter().any(|w| held_by(&key, w)))
            };
            parts.iter().enumerate().any(|(i, p)| {
                let Some((head, before)) = p.split_last() else {
                    return false;
                };
                !before.is_empty()
                    && !KIND_WORDS.contains(&head.as_str())
                    && !held_by(&key, head)
                    && before.iter().any(|w| held_by(&key, w))
                    && keys.iter().any(|k| held_by(k, head))
                    && !in_other(i)
            })
        };
        let is_asked = |key: &Key| match key {
            Key::Field(f) => asked(f) && !modifier_only(f) && !summed_not_grouped(f),
            Key::Builtin(b) => ungrouped || builtin_asked(b),
            // The exiting task's status (`curtask->exit_code`, wait(2)) is asked for only by
            // exit-status words: "guest exits by exit reason" at kvm_exit names none.
            Key::Other(o) if o.contains("exit_code") => {
                intent.asks(Concept::ExitStatus)
                    || intent.asks(Concept::NonZeroExit)
                    || intent.asks(Concept::FatalSignal)
            }
            Key::Other(_) => true,
        };
        let positions: Vec<usize> = (0..keys.len()).filter(|i| !is_asked(&keys[*i])).collect();
        let unasked: Vec<String> = positions
            .iter()
            .map(|i| match &keys[*i] {
                Key::Field(f) => format!("args->{f}"),
                Key::Builtin(b) => (*b).to_owned(),
                Key::Other(o) => o.clone(),
            })
            .collect();
        if unasked.is_empty() {
            continue;
        }
        let drop = KeyDrop {
            map: map.clone(),
            arity: keys.len(),
            positions,
            names: unasked.clone(),
        };
        if ungrouped {
            return Some((format!(
                "the program keys its tally by {}, but the request groups by nothing and never names it: each value splits the one figure asked for; leave that key out",
                unasked.join(", ")
            ), Some(drop)));
        }
        // Each grouping phrase must be accounted for by a key that stays, or an unnamed key
        // may be what a phrase means.
        let kept_says = |w: &str| {
            keys.iter().any(|k| match k {
                Key::Field(f) => {
                    asked(f)
                        && (named_as(f, &[w])
                            || as_builtin(f, w)
                            || events.iter().any(|(s, e)| {
                                crate::knowledge::field_names::meaning_words(&format!("{s}:{e}"), f)
                                    .iter()
                                    .any(|m| w.starts_with(m))
                            }))
                }
                Key::Builtin(b) => {
                    builtin_asked(b) && crate::intent::naming::builtins_named_by(w).contains(b)
                }
                Key::Other(o) => crate::intent::naming::builtins_named_by(w)
                    .iter()
                    .any(|b| o.contains(b)),
            })
        };
        let accounted = phrases.iter().all(|p| p.iter().any(|w| kept_says(w)));
        // A builtin no word of the request names is no phrase's meaning either: "per device"
        // keyed by `comm` splits each device's count by process, whatever the other keys are.
        // Only for phrases the request groups by ("per", "by"), not the word after "each".
        let builtins: Vec<&str> = keys
            .iter()
            .filter_map(|k| match k {
                // A thread's ID stands for the PID asked for (the other's own concern).
                Key::Builtin(b)
                    if !is_asked(k)
                        && (!matches!(*b, "pid" | "tid") || !intent.asks(Concept::Pid)) =>
                {
                    Some(*b)
                }
                _ => None,
            })
            .collect();
        if !accounted && !builtins.is_empty() && !intent.group_phrases.is_empty() {
            return Some((format!(
                "the program keys its tally by {}, which no word of the request names: each value splits the figure it asks for; key only by what the request groups by",
                builtins.join(", ")
            ), None));
        }
        if accounted {
            return Some((format!(
                "the program keys its tally by {}, which the request never asks for: each value splits the figure it asks for; key only by what the request groups by",
                unasked.join(", ")
            ), Some(drop)));
        }
    }
    None
}

/// What the request groups by: its grouping phrases, or else the word after "each", "every",
/// "which" or "what" ("each process is moved", "which processes issue the most I/O": process), but not
/// the traced call itself ("each write() call"); "per second", "per minute" are periods, not
/// groupings.
fn grouping_phrases(intent: &Intent) -> Vec<Vec<String>> {
    let words: Vec<&str> = intent.words().collect();
    let phrases: Vec<Vec<String>> = if intent.group_phrases.is_empty() {
        words
            .windows(2)
            .filter(|w| matches!(w[0], "each" | "every" | "which" | "what"))
            .filter(|w| !intent.calls.iter().any(|c| c == w[1]))
            .map(|w| vec![w[1].to_owned()])
            .collect()
    } else {
        intent.group_phrases.clone()
    };
    phrases
        .into_iter()
        .filter(|p| !p.iter().all(|w| PERIODS.contains(&w.as_str())))
        .collect()
}

/// What a grouping phrase's head asks for, where it says: a name (`comm`: "process name",
/// "name of the woken process") or an ID (`pid`: "process ID", "pid of the sender"). The head
/// is the word before "of", or else the last word.
fn phrase_kind(phrase: &[String]) -> Option<&'static str> {
    let head = match phrase.iter().position(|w| w == "of") {
        Some(i) if i > 0 => phrase.get(i - 1),
        _ => phrase.last(),
    };
    head.and_then(|w| kind_of_head(w))
}

/// The builtin a phrase's head word says it asks for: a name (`comm`) or an ID (`pid`).
fn kind_of_head(word: &str) -> Option<&'static str> {
    match word {
        "name" | "names" | "comm" | "command" => Some("comm"),
        "pid" | "pids" | "id" | "ids" => Some("pid"),
        _ => None,
    }
}

/// Whether a phrase about the parent ("parent process name", "parent PID", "parent") is held
/// by the builtin `b` where the running task is the parent: its last word says which value.
fn parent_phrase_holds(phrase: &[String], b: &str) -> bool {
    match phrase.last().and_then(|w| kind_of_head(w)) {
        Some(kind) => b == kind,
        None => matches!(b, "comm" | "pid"),
    }
}

/// The keys of each tally of `code` (comments stripped): `@m[comm, args->x] = count()`. A key
/// read from a map stored from a field at an earlier event (`@inp[tid] = args->inp`, then
/// `@h[@inp[tid]]`) is that field.
/// One tally a program keeps: its map (`@n`) and its keys, as [`Key`]s.
struct Tally {
    map: String,
    keys: Vec<Key>,
}

/// Keys of a tally that kgent may leave out itself: the request never asks for them and the
/// keys that stay account for every grouping phrase (or the request groups by nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDrop {
    /// The map (`@count`).
    pub map: String,
    /// How many keys the map has, and which of them (0-based) to leave out.
    pub arity: usize,
    pub positions: Vec<usize>,
    /// The keys left out, as the coverage check names them (`args->orig_cpu`, `comm`).
    pub names: Vec<String>,
}

fn tallies(code: &str) -> Vec<Tally> {
    static AGG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w*)\[([^\]\n]*(?:\[[^\]\n]*\][^\]\n]*)*)\]\s*=\s*(count|sum|hist|lhist|avg|min|max|stats)\s*\(")
            .expect("static regex")
    });
    static STORED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w+)\s*\[[^\]]*\]\s*=\s*(?:str\s*\()?\s*args\s*->\s*(\w+)")
            .expect("static regex")
    });
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:str\s*\()?\s*args\s*->\s*(\w+)").expect("static regex"));
    static ANY_FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"args\s*->\s*(\w+)").expect("static regex"));
    static CARRIED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(@\w+)\s*\[").expect("static regex"));
    let carried: Vec<(String, String)> = STORED
        .captures_iter(code)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect();
    AGG.captures_iter(code)
        .map(|c| Tally {
            map: c[1].to_owned(),
            keys: split_top_level(&c[2])
                .iter()
                .map(|k| {
                    let k = k.trim();
                    if let Some(f) = FIELD.captures(k) {
                        return Key::Field(f[1].to_owned());
                    }
                    if let Some(b) = BUILTIN_KEYS.iter().find(|b| **b == k) {
                        return Key::Builtin(b);
                    }
                    let carried_field = CARRIED.captures(k).and_then(|map| {
                        carried
                            .iter()
                            .find(|(m, _)| *m == map[1])
                            .map(|(_, f)| f.clone())
                    });
                    if let Some(f) = carried_field {
                        return Key::Field(f);
                    }
                    // An expression of one field (`args->ret / 1000`, a cast of a carried
                    // pointer's member: `((struct sockaddr_in *)@addr[tid])->sin_port`) splits
                    // the tally by that field.
                    let mut inside: Vec<String> = ANY_FIELD
                        .captures_iter(k)
                        .map(|c| c[1].to_owned())
                        .chain(
                            carried
                                .iter()
                                .filter(|(m, _)| k.contains(&format!("{m}[")))
                                .map(|(_, f)| f.clone()),
                        )
                        .collect();
                    inside.sort();
                    inside.dedup();
                    match inside.as_slice() {
                        [one] => Key::Field(one.clone()),
                        _ => Key::Other(k.to_owned()),
                    }
                })
                .collect(),
        })
        .collect()
}

/// A request that tallies per something the program can key by — a builtin ("per CPU",
/// "per process") or a field of its tracepoints ("per vector" at `irq:softirq_entry`: `vec`;
/// [`crate::intent::naming`]) — answered with tallies that have no key at all: one histogram
/// for everything where one per vector was asked. "Per second" or "per call" name nothing to
/// key by and demand nothing.
pub(super) fn tallies_without_key(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    use crate::intent::naming::{builtins_named_by, used_by};
    static TALLY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"@(\w*)\s*(\[)?[^=;{}]*?=\s*(count|sum|avg|min|max|hist|lhist|stats)\s*\(")
            .expect("static regex")
    });
    let code = strip_comments(source);
    let tallies: Vec<(String, bool)> = TALLY
        .captures_iter(&code)
        .map(|c| (format!("@{}", &c[1]), c.get(2).is_some()))
        .collect();
    if tallies.is_empty() || tallies.iter().any(|(_, keyed)| *keyed) {
        return None;
    }
    let fields: Vec<String> = probe_blocks(source)
        .into_iter()
        .flat_map(|b| b.probes)
        .filter(|p| p.is_tracepoint())
        .filter_map(|p| host.tracepoints.get(&p.target))
        .flat_map(|tp| tp.fields.iter().map(|f| f.name.clone()))
        .filter(|f| !f.starts_with('_'))
        .collect();
    let phrase = intent.group_phrases.iter().find_map(|phrase| {
        phrase.iter().find_map(|w| {
            if let Some(b) = builtins_named_by(w).first() {
                return Some((phrase.join(" "), format!("`{b}`")));
            }
            fields
                .iter()
                .find(|f| used_by(f, &[w.as_str()]))
                .map(|f| (phrase.join(" "), format!("`args->{f}`")))
        })
    })?;
    let mut maps: Vec<&str> = tallies.iter().map(|(m, _)| m.as_str()).collect();
    maps.dedup();
    Some(format!(
        "the request tallies per {}, but the program's {} {} no key: key {} by {}",
        phrase.0,
        maps.join(", "),
        if maps.len() == 1 { "has" } else { "have" },
        if maps.len() == 1 { "it" } else { "them" },
        phrase.1
    ))
}

/// A grouping phrase of the request that no key of a keyed tally holds, where the phrase names
/// a field of the program's tracepoints and no builtin ("per command number" at sys_enter_bpf:
/// `cmd`, bpf(2)'s name for it). A tally keyed by
/// `comm` alone then answers "per command number and process name" with half its keys. A
/// number is no name: a phrase asking for one ("command number", "error code") is not held by
/// `comm`, the process name, though "command" alone says it. Keys kgent cannot read (an
/// expression, a variable) are taken to hold any phrase.
pub(super) fn phrase_without_key(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    use crate::intent::naming::{builtins_named_by, used_by};
    // "Per command number and process name" groups by two things, each held by its own key.
    let phrases: Vec<Vec<String>> = intent
        .group_phrases
        .iter()
        .flat_map(|p| p.split(|w| w == "and" || w == "or"))
        .filter(|p| !p.is_empty() && !p.iter().all(|w| PERIODS.contains(&w.as_str())))
        .map(<[String]>::to_vec)
        .collect();
    if phrases.is_empty() {
        return None;
    }
    let code = strip_comments(source);
    let mut fields: Vec<String> = Vec::new();
    let mut events: Vec<String> = Vec::new();
    for p in probe_blocks(&code).into_iter().flat_map(|b| b.probes) {
        if !p.is_tracepoint() {
            continue;
        }
        events.push(p.target.clone());
        let entry = p
            .target
            .strip_prefix("syscalls:sys_exit_")
            .map(|call| format!("syscalls:sys_enter_{call}"));
        for target in std::iter::once(p.target.clone()).chain(entry) {
            if let Some(tp) = host.tracepoints.get(&target) {
                fields.extend(
                    tp.fields
                        .iter()
                        .map(|f| f.name.clone())
                        .filter(|f| !f.starts_with('_') && f != "ret"),
                );
            }
        }
    }
    fields.sort();
    fields.dedup();
    // The builtins a phrase names: not a name where it asks for a number.
    let builtins_of = |p: &[String]| -> Vec<&'static str> {
        let numbered = p.iter().any(|w| NUMBER_WORDS.contains(&w.as_str()));
        p.iter()
            .flat_map(|w| builtins_named_by(w))
            .filter(|b| !(numbered && NAME_BUILTINS.contains(b)))
            .collect()
    };
    for Tally { keys, .. } in tallies(&code) {
        if keys.is_empty() || keys.iter().any(|k| matches!(k, Key::Other(_))) {
            continue;
        }
        for p in &phrases {
            // A phrase naming a builtin is judged by the keys' words elsewhere: at a fork the
            // task running is the parent, so "per parent" may be `comm`.
            if !builtins_of(p).is_empty() {
                continue;
            }
            let words: Vec<&str> = p.iter().map(String::as_str).collect();
            let held = keys.iter().any(|k| match k {
                // A field named like a builtin (`args->comm`) is named by its words too.
                Key::Field(f) => {
                    used_by(f, &words)
                        || builtins_of(p).contains(&f.as_str())
                        || events.iter().any(|e| {
                            crate::knowledge::field_names::meaning_words(e, f)
                                .iter()
                                .any(|m| words.iter().any(|w| w.starts_with(m)))
                        })
                }
                Key::Builtin(b) => builtins_of(p).contains(b),
                Key::Other(_) => true,
            });
            if held {
                continue;
            }
            if let Some(f) = fields.iter().find(|f| used_by(f, &words)) {
                return Some(format!(
                    "the request groups by \"{}\", but no key of the program's tally holds it: key it by args->{f} too",
                    p.join(" ")
                ));
            }
        }
    }
    None
}

/// Last words of a phrase that say what kind of value it is, not what: "process *name*",
/// "signal *number*", "error *code*".
const KIND_WORDS: &[&str] = &[
    "name", "names", "number", "numbers", "id", "ids", "code", "codes", "type", "types", "value",
    "values", "kind", "kinds",
];

/// The builtins that are names (strings: bpftrace(8) `comm`, and kgent's `pcomm`).
const NAME_BUILTINS: &[&str] = &["comm", "pcomm"];

/// Words that ask for a number: a phrase with one asks for no name.
const NUMBER_WORDS: &[&str] = &["number", "numbers", "code", "codes", "id", "ids"];

/// "Per second", "per minute": periods, not groupings.
const PERIODS: [&str; 7] = [
    "second", "seconds", "sec", "minute", "minutes", "hour", "interval",
];

/// A request for one figure for the whole system ("bytes read per second, system-wide")
/// answered with a tally keyed by what none of its grouping phrases names: each key splits
/// the one figure.
fn system_wide_keys(intent: &Intent, source: &str, phrases: &[Vec<String>]) -> Option<String> {
    static KEYED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w*)\[([^\]\n]*)\]\s*=\s*(count|sum|hist|lhist|avg|min|max|stats)\s*\(")
            .expect("static regex")
    });
    if !intent.asks(Concept::SystemWide) {
        return None;
    }
    let code = strip_comments(source);
    let c = KEYED.captures(&code)?;
    let keys = split_top_level(&c[2]);
    let grouped = phrases.iter().flatten().any(|w| {
        keys.iter().any(|k| {
            crate::intent::naming::builtins_named_by(w)
                .iter()
                .any(|b| k.contains(b))
                || args_fields(k)
                    .iter()
                    .any(|f| crate::intent::naming::used_by(f, &[w.as_str()]))
        })
    });
    if grouped {
        return None;
    }
    let map = c[1].to_owned();
    Some(format!(
        "the request asks for one system-wide figure, but the program keys {} by {}: each key splits it; aggregate without a key (`{} = ...`)",
        if map == "@" { "its tally".to_owned() } else { map.clone() },
        keys.join(", "),
        if map == "@" { "@total".to_owned() } else { map }
    ))
}
