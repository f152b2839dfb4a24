//! How a request's words name a program's values: bpftrace builtins ("process" → `comm`,
//! `pid`) and tracepoint fields (a word that is, starts or is started by a part of the field's
//! name: "port" → `dport`). Shared by the query repairs and the coverage check.

/// What the request calls bpftrace's builtins (bpftrace(8): comm is the process name, pid the
/// process ID, tid the thread ID, cpu the processor, uid the user ID): a word starting with
/// one of these names the builtin as a key.
pub const BUILTIN_WORDS: &[(&str, &[&str])] = &[
    (
        "comm",
        &[
            "process",
            "program",
            "command",
            "comm",
            "task",
            "executable",
            "binar",
            "app",
        ],
    ),
    ("pid", &["pid", "process", "task"]),
    ("tid", &["tid", "thread", "task"]),
    ("cpu", &["cpu", "core", "processor"]),
    ("uid", &["uid", "user"]),
    // kgent's query builtins for the parent (`ppid`, `pcomm`: curtask->real_parent).
    ("ppid", &["ppid", "parent"]),
    ("pcomm", &["pcomm", "parent"]),
];

/// The builtins a word names ([`BUILTIN_WORDS`]): those with the longest of their words that
/// start it, so "processor" is the cpu's and not a process's.
pub fn builtins_named_by(word: &str) -> Vec<&'static str> {
    let longest = BUILTIN_WORDS
        .iter()
        .flat_map(|(_, said)| said.iter())
        .filter(|x| word.starts_with(**x))
        .map(|x| x.len())
        .max();
    let Some(longest) = longest else {
        return Vec::new();
    };
    BUILTIN_WORDS
        .iter()
        .filter(|(_, said)| {
            said.iter()
                .any(|x| x.len() == longest && word.starts_with(*x))
        })
        .map(|(b, _)| *b)
        .collect()
}

/// Words that put a value on the far side of an event from the task or CPU it runs on: "per
/// target CPU" at an IPI, "by destination CPU", "per target PID" at kill(2).
const FAR_SIDE: &[&str] = &[
    "target",
    "targeted",
    "destination",
    "dest",
    "dst",
    "receiving",
    "receiver",
    "recipient",
    "woken",
    "wakee",
];

/// Where a grouping phrase names `builtin` with a qualifier, the phrase means an event field
/// and not the builtin (the CPU the event fired on, the task it ran in): the phrase, as
/// written, and the field. The field is one of `fields` that spells the qualifier too ("per
/// target CPU": `target_cpu` has both words, the builtin `cpu` only one), or, where the
/// qualifier puts the value on the far side ([`FAR_SIDE`]: "target", "destination"), the one
/// field the builtin's word names: the event records a CPU or a PID of its own only because
/// it is not the one the event runs on (ipi:ipi_send_cpu's `cpu` is the CPU the IPI is sent
/// to: include/trace/events/ipi.h; kill(2)'s `pid` the task signalled).
pub fn builtin_qualified_by_field(
    phrases: &[Vec<String>],
    builtin: &str,
    fields: &[&str],
) -> Option<(String, String)> {
    phrases.iter().find_map(|p| {
        let w = p.iter().find(|w| builtins_named_by(w).contains(&builtin))?;
        let spells_both = fields.iter().find(|f| {
            used_by(f, &[w.as_str()]) && p.iter().any(|o| o != w && used_by(f, &[o.as_str()]))
        });
        let far_side = || {
            if !p.iter().any(|o| FAR_SIDE.contains(&o.as_str())) {
                return None;
            }
            let mut named = fields.iter().filter(|f| used_by(f, &[w.as_str()]));
            match (named.next(), named.next()) {
                (Some(f), None) => Some(f),
                _ => None,
            }
        };
        let f = spells_both.or_else(far_side)?;
        Some((p.join(" "), (*f).to_owned()))
    })
}

/// Whether one of `words` names a field: a part of its name (split at `_`) is the word, starts
/// it or is started by it (3+ letters), also without the kernel's one-letter prefix (`saddr`,
/// `dport`: source, destination).
///
/// The prefix must not contradict the request: where it names one side only ("destination
/// port"), `sport` is not named by "port".
pub fn used_by(field: &str, words: &[&str]) -> bool {
    let says = |side: &[&str]| words.iter().any(|w| side.contains(w));
    let source = says(&["source", "src", "local", "sender", "sending"]);
    let destination = says(&["destination", "dest", "dst", "remote", "peer", "target"]);
    // A field whose name says the other side ("per destination CPU": `orig_cpu` of
    // sched_migrate_task is where the task came from) is another value of the same kind.
    let parts: Vec<String> = field
        .to_ascii_lowercase()
        .split('_')
        .map(str::to_owned)
        .collect();
    let has = |side: &[&str]| parts.iter().any(|p| side.contains(&p.as_str()));
    if (destination && !source && has(&["orig", "src", "source"]))
        || (source && !destination && has(&["dest", "dst", "target"]))
    {
        return false;
    }
    // A field spelled out from the kernel's short forms is named by its head word: `fd` by
    // "descriptor", `nid` by "node", `addrlen` by "length".
    let spelled = spelled_out(field);
    if let Some(head) = spelled.last().filter(|_| spelled_differs(field, &spelled)) {
        // A head that every process has ("name": `optname` is "the option name", not the
        // "process name") names the field only after one of its modifiers.
        let generic = head == "name";
        let modified = words.windows(2).any(|w| {
            is_or_plural(w[1], head) && spelled.iter().rev().skip(1).any(|m| is_or_plural(w[0], m))
        });
        if (!generic && words.iter().any(|w| is_or_plural(w, head))) || modified {
            return true;
        }
    }
    field
        .to_ascii_lowercase()
        .split('_')
        .filter(|part| part.len() >= 2)
        .any(|part| {
            let bare = if part.len() >= 4 {
                part.get(1..).unwrap_or(part)
            } else {
                part
            };
            let contradicted = match part.as_bytes().first() {
                Some(b's') => destination && !source,
                Some(b'd') => source && !destination,
                _ => false,
            };
            words.iter().any(|w| {
                let close = |a: &str, b: &str| a.len() >= 3 && b.starts_with(a);
                *w == part || close(part, w) || close(w, part) || (!contradicted && close(bare, w))
            })
        })
}

/// The words a field's name stands for, part by part: a part that is one of the kernel's short
/// forms (`specs-db/intent.toml` `abbreviation`: `fd`, `nid`) or runs several together
/// (`addrlen`, `sockfd`) is spelled out; any other part stays as written.
pub fn spelled_out(field: &str) -> Vec<String> {
    let short = &super::vocabulary::shipped().abbreviations;
    // The words of `part` if it is made of short forms only (the longest first, left to right).
    fn split(
        part: &str,
        short: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<String>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        if let Some(words) = short.get(part) {
            return Some(words.clone());
        }
        (2..part.len()).rev().find_map(|i| {
            let head = short.get(part.get(..i)?)?;
            let mut words = head.clone();
            words.extend(split(part.get(i..)?, short)?);
            Some(words)
        })
    }
    field
        .to_ascii_lowercase()
        .split('_')
        .filter(|p| !p.is_empty())
        .flat_map(|p| split(p, short).unwrap_or_else(|| vec![p.to_owned()]))
        .collect()
}

/// Whether the request says a name spelled out from the kernel's short forms: its one word as
/// a value word, or its head (last) word right after another of its words, in the singular or
/// plural. `sockfd` (socket, file, descriptor) is said as "file descriptor" or "socket
/// descriptor" (getpeername(2): 'the socket sockfd'), `addrlen` as "address length"; "the
/// length" alone does not name `addrlen` beside a call's own `len`.
/// Whether every time the request says `word` it says it as what a measure is of: "the mask
/// size", "the buffer length", "the key count" ask for a size, not for the mask itself.
pub fn said_as_measured(intent: &crate::intent::Intent, word: &str) -> bool {
    const MEASURES: [&str; 6] = ["size", "sizes", "length", "lengths", "len", "count"];
    let words = &intent.words;
    let at: Vec<usize> = (0..words.len())
        .filter(|&i| words[i] == word || words[i] == format!("{word}s"))
        .collect();
    !at.is_empty()
        && at.iter().all(|&i| {
            words
                .get(i + 1)
                .is_some_and(|n| MEASURES.contains(&n.as_str()))
        })
}

pub fn says_spelled(intent: &crate::intent::Intent, spelled: &[String]) -> bool {
    match spelled {
        [] => false,
        [one] => intent.value_words.iter().any(|w| is_or_plural(w, one)),
        [modifiers @ .., head] => intent
            .words
            .windows(2)
            .any(|w| is_or_plural(&w[1], head) && modifiers.iter().any(|m| is_or_plural(&w[0], m))),
    }
}

/// Whether spelling out changed anything (`fd`: yes; `flags`: no).
fn spelled_differs(field: &str, spelled: &[String]) -> bool {
    let plain: Vec<String> = field
        .to_ascii_lowercase()
        .split('_')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    plain != spelled
}

/// `word` is `base` or its plural.
pub(crate) fn is_or_plural(word: &str, base: &str) -> bool {
    word == base || word.strip_suffix('s') == Some(base)
}

/// Whether every word of `words` that names `field` ([`used_by`]) is a word of one of the
/// events' names (`events`: `subsystem:event` or `event`), said as it is or in the plural:
/// "ext4 inode allocations" names `ino` only by "inode", which names ext4_allocate_inode
/// itself. Such a word says what is observed, not a value to key or show by. False when no
/// word names the field.
pub fn named_only_as_its_event(field: &str, words: &[&str], events: &[&str]) -> bool {
    // A word is one of the event's own when it is a part of its name, or starts one that the
    // kernel spells as one word ("alarm" of `alarmtimer`, written "alarm timer").
    let event_word = |w: &str| {
        events.iter().any(|e| {
            e.split([':', '_']).any(|part| {
                part.len() >= 3 && (is_or_plural(w, part) || (w.len() >= 4 && part.starts_with(w)))
            })
        })
    };
    let mut naming = words.iter().filter(|w| used_by(field, &[**w])).peekable();
    naming.peek().is_some() && naming.all(|w| event_word(w))
}

/// Words requests use for the report's shape ("the time spent", "the number of"), which name
/// no field: `time` does not name `timeout_msecs`.
pub const SHAPE_WORDS: [&str; 6] = ["count", "time", "number", "total", "data", "value"];

/// The words of `words` said only before a size noun ("the buffer sizes", "path lengths"):
/// they say whose size, and name the size, not a value of their own (write(2): "up to count
/// bytes from the buffer starting at buf": the buffer's size is `count`, and `buf` its
/// address).
pub fn size_modifiers<'w>(words: &[&'w str]) -> Vec<&'w str> {
    const SIZE_NOUNS: [&str; 4] = ["size", "sizes", "length", "lengths"];
    let before_size = |i: usize| words.get(i + 1).is_some_and(|n| SIZE_NOUNS.contains(n));
    let mut out: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let only_there = words
            .iter()
            .enumerate()
            .all(|(j, x)| x != w || before_size(j));
        if before_size(i) && !SIZE_NOUNS.contains(w) && only_there && !out.contains(w) {
            out.push(w);
        }
    }
    out
}

/// Whether the request names `field` of the tracepoint `subsystem:event` as a value to show
/// (see `check::coverage`'s named-field rule): a one-word field by a word the request uses for
/// a value ([`crate::intent::Intent::value_words`], a plural too: "sizes" → `size`); a field of
/// several words (`child_pid`) by those words in order ("the child's pid"; `comm` spoken as
/// "name"). Never a field the builtins also provide (`pid`, `comm`, `uid`, `cpu`: whose they
/// are is the identity rules' business), a parent's (where a process forks, the running task
/// is the parent), a field named like the event itself ("queue work" at
/// `workqueue_queue_work`) or one named by the words requests use for the report's shape
/// ("count", "time", "number").
pub fn names_field(
    intent: &crate::intent::Intent,
    subsystem: &str,
    event: &str,
    field: &str,
) -> bool {
    const BUILTIN_LIKE: [&str; 8] = ["pid", "tid", "tgid", "comm", "uid", "gid", "cpu", "ret"];
    if field.starts_with('_') {
        return false;
    }
    let names_event = event.split('_').any(|part| part == field)
        || subsystem.split('_').any(|part| part == field);
    if names_event {
        return false;
    }
    // Named only by a word of the event's own name, said once ("count ext4 inode
    // allocations": `ino` at ext4_allocate_inode): the word says what is observed. Said again
    // ("each inode allocation with the inode number"), it names the value too.
    let all: Vec<&str> = intent.words.iter().map(String::as_str).collect();
    let event_name = format!("{subsystem}:{event}");
    if named_only_as_its_event(field, &all, &[event_name.as_str()]) {
        let said_once = all
            .iter()
            .filter(|w| used_by(field, &[**w]))
            .all(|w| all.iter().filter(|x| *x == w).count() == 1);
        if said_once {
            return false;
        }
    }
    // Spelled out from the kernel's short forms (`sockfd`, `addrlen`): named by its head word
    // after another of its words ("file descriptor", "socket descriptor", "address length"),
    // or its one word as a value word.
    let spelled = spelled_out(field);
    if spelled_differs(field, &spelled) && says_spelled(intent, &spelled) {
        return true;
    }
    let parts: Vec<&str> = field.split('_').filter(|p| !p.is_empty()).collect();
    // A call's own `uid`/`gid` parameter (setuid(2): "sets the effective user ID", the
    // `uid` passed) is what "the uid" of its calls means; the builtin is the caller's
    // current one. (`pid` is left to the task concepts: the caller's or the target's.)
    let call_parameter = subsystem == "syscalls" && matches!(field, "uid" | "gid");
    match parts.as_slice() {
        [one] => {
            one.len() >= 3
                && (!BUILTIN_LIKE.contains(one) || call_parameter)
                && !SHAPE_WORDS.contains(one)
                && intent
                    .value_words
                    .iter()
                    .any(|w| w == one || *w == format!("{one}s"))
        }
        [first, ..] => {
            if *first == "parent" {
                return false;
            }
            intent.words.windows(parts.len()).any(|w| {
                w.iter().zip(&parts).all(|(word, part)| {
                    word == part
                        || (*part == "comm" && word == "name")
                        || *word == format!("{part}s")
                })
            })
        }
        [] => false,
    }
}

/// The numbers the request writes right after a field's name, which state the field's value:
/// "setuid calls that switch to uid 0" (`uid == 0`), "writes to file descriptor 2" (`fd == 2`),
/// "kills of pid 1", "sets the group to 100". The name is the field's own (`uid`), or its spelled-out head word after
/// another of its words ("file descriptor", [`spelled_out`]); a one-word spelled name counts
/// alone ("signal 0" for `sig`). A number followed by a unit ("size 4096 bytes") or joined
/// to more ("fd 1 or 2") is left to the checks of sizes and lists: only a plain value is read.
pub fn values_stated_for(intent: &crate::intent::Intent, field: &str) -> Vec<i128> {
    const AFTER: [&str; 4] = ["or", "and", "to", "through"];
    const UNITS: [&str; 22] = [
        "ns",
        "us",
        "ms",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "millisecond",
        "milliseconds",
        "microsecond",
        "microseconds",
        "nanosecond",
        "nanoseconds",
        "minute",
        "minutes",
        "byte",
        "bytes",
        "kb",
        "mb",
        "pages",
        "percent",
    ];
    let words = &intent.words;
    let names_at = |i: usize| names_field_at(words, i, field);
    let mut out = Vec::new();
    for i in 1..words.len() {
        let Some(n) = crate::intent::stated_number(&words[i]) else {
            continue;
        };
        let plain = words.get(i + 1).is_none_or(|next| {
            !AFTER.contains(&next.as_str())
                && !UNITS.contains(&next.as_str())
                && next.parse::<f64>().is_err()
        }) && !intent.sizes.iter().flatten().any(|s| *s == n && n > 0);
        // Or joined to it by a word that says the value: "sets the group to 100", "a backlog
        // of 128", "whose uid is 0".
        let joined = i >= 2
            && matches!(words[i - 1].as_str(), "to" | "of" | "is" | "equals")
            && names_at(i - 2);
        if plain && (names_at(i - 1) || joined) && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Whether `words[i]` names `field`: its own name, or its spelled-out head word after one of
/// its modifiers ("file descriptor" for `fd`, "old descriptor" for `old_fd`).
fn names_field_at(words: &[String], i: usize, field: &str) -> bool {
    let w = words[i].as_str();
    if w == field.to_ascii_lowercase() {
        return true;
    }
    match spelled_out(field).as_slice() {
        [one] => w == one,
        [modifiers @ .., head] => {
            w == head && i > 0 && modifiers.iter().any(|m| *m == words[i - 1])
        }
        [] => false,
    }
}

/// The least value a request lets `field` (an event field, or its man-page name) have, where
/// it bounds that field from below by name: "an offset beyond 1 GiB", "a backlog of more than
/// 128", "a length of at least 64 KiB". The value is in bytes for a size (the least of its
/// binary and decimal readings), as written for a plain number; a time ("a delay over 5 ms")
/// is left out, its field's unit unknown here. A shown event's field is at least this.
pub fn bound_stated_for(intent: &crate::intent::Intent, field: &str) -> Option<i128> {
    const ONE: [&str; 6] = ["over", "above", "beyond", "exceeding", "past", "exceeds"];
    const TWO: [&str; 5] = ["more", "greater", "larger", "bigger", "least"];
    let words = &intent.words;
    for i in 0..words.len() {
        if !names_field_at(words, i, field) {
            continue;
        }
        let mut j = i + 1;
        if words.get(j).is_some_and(|w| w == "of" || w == "is") {
            j += 1;
        }
        let Some(w) = words.get(j) else { continue };
        if ONE.contains(&w.as_str()) {
            j += 1;
        } else if TWO.contains(&w.as_str()) && words.get(j + 1).is_some_and(|t| t == "than")
            || (w == "at" && words.get(j + 1).is_some_and(|t| t == "least"))
        {
            j += 2;
        } else {
            continue;
        }
        let Some(n) = words.get(j).and_then(|w| crate::intent::stated_number(w)) else {
            continue;
        };
        let unit = words.get(j + 1).map_or("", String::as_str);
        let readings = super::numbers(&format!("{} {unit}", words[j]));
        let sized = matches!(
            unit,
            "kib"
                | "mib"
                | "gib"
                | "kb"
                | "mb"
                | "gb"
                | "k"
                | "kilobytes"
                | "megabytes"
                | "gigabytes"
        );
        let timed = !sized && readings.len() > 1;
        if timed {
            continue;
        }
        return if sized {
            readings.into_iter().filter(|r| *r != n).min()
        } else {
            Some(n)
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_are_spelled_out_part_by_part() {
        assert_eq!(spelled_out("addrlen"), ["address", "length"]);
        assert_eq!(spelled_out("sockfd"), ["socket", "file", "descriptor"]);
        assert_eq!(spelled_out("nid"), ["node"]);
        assert_eq!(spelled_out("old_fd"), ["old", "file", "descriptor"]);
        // Not made of short forms: as written.
        assert_eq!(spelled_out("flags"), ["flags"]);
        assert_eq!(spelled_out("umyaddr"), ["umyaddr"]);
        // Named by the head word.
        assert!(used_by("nid", &["memory", "nodes"]));
        assert!(used_by("fd", &["descriptor"]));
        assert!(!used_by("fd", &["file"]));
    }

    #[test]
    fn a_standard_stream_states_its_descriptor() {
        let stated = |ask: &str| values_stated_for(&crate::intent::Intent::read(ask), "fd");
        // stdin(3): stdin, stdout and stderr are descriptors 0, 1 and 2.
        assert_eq!(
            stated("log ioctl() on standard input with the request code"),
            [0]
        );
        assert_eq!(stated("tally writes to stdout by program"), [1]);
        assert_eq!(stated("who prints the most to Standard Error?"), [2]);
        assert!(
            crate::intent::Intent::read("tally writes to stdout by program")
                .numbers
                .contains(&1)
        );
        // "Output" alone is no stream.
        assert!(stated("print the output of each read with its size").is_empty());
    }

    #[test]
    fn a_bound_is_read_after_the_fields_name() {
        let read =
            |ask: &str, field: &str| bound_stated_for(&crate::intent::Intent::read(ask), field);
        assert_eq!(
            read("pwrite calls at an offset beyond 2 GiB", "offset"),
            Some(2 << 30)
        );
        assert_eq!(
            read("listen() with a backlog of more than 64", "backlog"),
            Some(64)
        );
        assert_eq!(
            read("mmap with a length of at least 3 MB", "len"),
            Some(3_000_000)
        );
        // Another field, no comparison, or a time: nothing.
        assert_eq!(
            read("pwrite calls at an offset beyond 2 GiB", "count"),
            None
        );
        assert_eq!(read("reads of 4096 bytes with the offset", "offset"), None);
        assert_eq!(read("waits with a timeout over 5 ms", "timeout"), None);
    }

    #[test]
    fn a_field_is_named_by_its_parts_and_its_side() {
        assert!(used_by("dport", &["port"]));
        assert!(used_by("error_code", &["errors"]));
        assert!(!used_by("error_code", &["latency"]));
        // One side named: the other side's field is not.
        assert!(used_by("dport", &["destination", "port"]));
        assert!(!used_by("sport", &["destination", "port"]));
        assert!(!used_by("daddr", &["source", "address"]));
        assert!(used_by("sport", &["source", "and", "destination", "port"]));
        // A part of the name that says the side: `orig_cpu` is where a task came from.
        assert!(used_by("dest_cpu", &["destination", "cpu"]));
        assert!(!used_by("orig_cpu", &["destination", "cpu"]));
        assert!(!used_by("target_cpu", &["source", "cpu"]));
        assert!(used_by("orig_cpu", &["cpu"]));
    }
}
