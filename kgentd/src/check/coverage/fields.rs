//! The fields of the traced event the request names: parameters it asks to see, file names,
//! the local port, a size the request states.
use super::*;

/// A syscall parameter the request asks for by its man-page name, where the program's
/// `sys_enter_*` tracepoint has it under the kernel's name and the program reports no such
/// field: "the source" of a mount is `args->dev_name` (mount(2)'s SYNOPSIS against the
/// tracefs format, `SyscallMan::parameter_fields`). Only words the request uses as what it
/// names a value with ([`Intent::value_words`]: not "name" inside "process name"). A field the
/// program pins to one value (`args->family == 1` for "UNIX domain sockets") needs no report:
/// every line has that value.
pub(super) fn parameters_unreported(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
    reported: &str,
) -> Vec<String> {
    static PINNED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"args\s*->\s*(\w+)\s*==\s*-?(?:0x[0-9a-fA-F]+|\d+)\b").expect("static regex")
    });
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let mut read = args_fields(reported);
    read.extend(
        PINNED
            .captures_iter(&strip_comments(source))
            .filter_map(|c| c.get(1))
            .map(|m| m.as_str().to_owned()),
    );
    let mut out = Vec::new();
    for (target, tp) in tracepoint_probes(host, source) {
        let call = tp.event.trim_start_matches("sys_enter_");
        for (param, field) in
            man.event_parameters(&tp.event, tp.fields.iter().map(|f| f.name.as_str()))
        {
            // Named as the man page writes it ("the flags"), or spelled out ("the socket
            // descriptor" for getpeername(2)'s `sockfd`, the tracepoint's `fd`).
            let spelled = crate::intent::naming::spelled_out(&param);
            let said = if crate::intent::naming::said_as_measured(intent, &param) {
                None
            } else if intent.value_words.contains(&param) {
                Some(param.clone())
            } else if crate::intent::naming::says_spelled(intent, &spelled) {
                Some(spelled.join(" "))
            } else {
                None
            };
            let Some(said) = said.filter(|_| param != field) else {
                continue;
            };
            if !read.contains(&field) {
                out.push(format!(
                    "the request asks for the {said}, but the program never reports it: at {target} it is `args->{field}` ({call}(2) calls it {param})",
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether the request sums `field` in the plural ("add up the sectors") at an event that
/// also records how many of them there are (`nr_sector` beside `sector`): the sum is of that
/// count, and `field` itself is not asked for.
fn summed_as_count(intent: &Intent, tp: &crate::host::Tracepoint, field: &str) -> bool {
    let plural = format!("{field}s");
    intent.asks(Concept::Sum)
        && tp.fields.iter().any(|f| f.name == format!("nr_{field}"))
        && intent.words.contains(&plural)
        && !intent.words.iter().any(|w| w == field)
}

/// A kernel function the request asks for ("with its callback function", "per work
/// function") read from a field that holds its address (`function` of
/// timer:hrtimer_expire_entry and workqueue:workqueue_execute_start, `call_site` of kmem:*:
/// a `void *` or `unsigned long` in their tracefs format) and shown without `ksym()`: the
/// output is an address, not the function (bpftrace(8): ksym() "retrieve the name of the
/// function that contains address").
pub(super) fn function_addresses_unnamed(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Vec<String> {
    const CODE_FIELDS: [&str; 4] = ["function", "func", "call_site", "callback"];
    if !["function", "functions", "callback", "callbacks", "handler"]
        .iter()
        .any(|w| intent.uses_word(w))
    {
        return Vec::new();
    }
    let code = strip_comments(source);
    let mut out = Vec::new();
    for b in probe_blocks(&code) {
        let body = reported_in(&b.body);
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            let Some(tp) = host.tracepoints.get(&p.target) else {
                continue;
            };
            for f in tp
                .fields
                .iter()
                .filter(|f| CODE_FIELDS.contains(&f.name.as_str()))
            {
                let address = f.ctype.contains('*') || f.ctype.contains("long");
                let Ok(read) = Regex::new(&format!(r"args\s*->\s*{}\b", f.name)) else {
                    continue;
                };
                let Ok(named) =
                    Regex::new(&format!(r"\b[ku]sym\s*\(\s*\(?\s*args\s*->\s*{}\b", f.name))
                else {
                    continue;
                };
                if address && read.is_match(&body) && !named.is_match(&body) {
                    out.push(format!(
                        "the request asks for a function, but the program shows `args->{}` of tracepoint:{} as an address: print its name, `ksym(args->{})`",
                        f.name, p.target, f.name
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A field of one of the program's tracepoints that the request names, which the program
/// never reports: "the idle state" at `power:cpu_idle` is `args->state`, "the child pid" at
/// `sched:sched_process_fork` is `args->child_pid` (each event's tracefs format names its
/// fields; what counts as naming one is [`crate::intent::naming::names_field`]'s to say). On a
/// syscall's exit alone, the fields of its entry count too: they are the call's parameters.
pub(super) fn named_fields_unreported(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
    reported: &str,
) -> Vec<String> {
    let read = args_fields(reported);
    let probes = tracepoint_probes(host, source);
    // A call's parameters are at its entry: a program on a syscall's exit alone is judged on
    // its entry's fields too (they are to be saved at entry and reported at exit).
    let entries = untraced_entries(host, &probes);
    let mut out = Vec::new();
    for (target, tp) in probes.iter().chain(&entries) {
        let at_entry_only = entries.iter().any(|(e, _)| e == target);
        for f in &tp.fields {
            let name = f.name.as_str();
            // Read, or pinned by a value the request states ("writes to file descriptor 2"):
            // every line would show the same number (`stated_field_values_untested` wants the
            // test).
            if read.iter().any(|r| r == name)
                || !crate::intent::naming::values_stated_for(intent, name).is_empty()
            {
                continue;
            }
            // A sum of the plural ("add up the sectors") totals how many there are: the
            // event's `nr_` field beside it (block_rq_complete: `nr_sector` is
            // blk_rq_sectors(), `sector` is blk_rq_pos(), where the request starts; the
            // kernel's `nr_` prefix reads "number of"). Where a request is, it does not name.
            if summed_as_count(intent, tp, name) {
                continue;
            }
            let held = named_by_what_it_holds(intent, tp, name);
            // What a call returns, said in the words of what a field holds ("the number of
            // messages each recvmmsg() call returns"), is its result: recvmmsg(2) and
            // sendmmsg(2) return the number of messages moved, of at most `vlen`.
            if held.is_some()
                && intent.asks(Concept::ReturnValue)
                && read.iter().any(|r| r == "ret")
            {
                continue;
            }
            let named = held.is_some()
                || crate::intent::naming::names_field(intent, &tp.subsystem, &tp.event, name);
            let parts: Vec<&str> = match held {
                // Said as what the field holds ("congestion" for snd_cwnd): quote the word.
                Some(word) => vec![word],
                None => name.split('_').filter(|p| !p.is_empty()).collect(),
            };
            if named && at_entry_only {
                out.push(format!(
                    "the request names the {}, which the call takes as `args->{name}` at tracepoint:{target}, but the program traces only its exit and never reports it: save it at entry (keyed by tid) and report it at exit",
                    parts.join(" "),
                ));
            } else if named {
                out.push(format!(
                    "the request names the {}, which {target} carries as `args->{name}`, but the program never reports it",
                    parts.join(" "),
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The `sys_enter_*` tracepoints of the syscalls `probes` trace at their exit alone: where
/// their parameters are.
fn untraced_entries<'h>(
    host: &'h HostFacts,
    probes: &[(String, &'h crate::host::Tracepoint)],
) -> Vec<(String, &'h crate::host::Tracepoint)> {
    probes
        .iter()
        .filter_map(|(target, _)| {
            let call = target.strip_prefix("syscalls:sys_exit_")?;
            let entry = format!("syscalls:sys_enter_{call}");
            if probes.iter().any(|(t, _)| *t == entry) {
                return None;
            }
            host.tracepoints.get(&entry).map(|tp| (entry, tp))
        })
        .collect()
}

/// A field whose name does not say what it holds, named by a word for what it holds
/// (`specs-db/field-names.toml` `meaning`: "the new frequency" is `state` at
/// power:cpu_frequency). A word that is also a word of the event's name names the event when
/// said once ("count CPU frequency changes"); said again, it names the value too.
fn named_by_what_it_holds(
    intent: &Intent,
    tp: &crate::host::Tracepoint,
    field: &str,
) -> Option<&'static str> {
    let probe = format!("{}:{}", tp.subsystem, tp.event);
    crate::knowledge::field_names::meaning_words(&probe, field)
        .into_iter()
        .find(|m| {
            let said = intent.words().filter(|w| w.starts_with(m)).count();
            let of_event = tp
                .event
                .split('_')
                .chain(tp.subsystem.split('_'))
                .any(|p| p.len() >= 3 && (p.starts_with(m) || m.starts_with(p)));
            said >= if of_event { 2 } else { 1 }
        })
}

/// Whether `word` stands in the request where a value to show is named: after an article, a
/// possessive or a preposition that introduces one ("print the order", "with its allocation
/// order", "by mode"), at most two modifiers before it, in the same clause. "As acks come in"
/// names when to report, not an `ack` to show.
pub(super) fn introduced_as_value(lower: &str, word: &str) -> bool {
    const INTRODUCES: [&str; 12] = [
        "the", "its", "their", "his", "her", "with", "and", "per", "by", "each", "every", "which",
    ];
    let tokens: Vec<&str> = lower
        .split_inclusive(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .collect();
    // Words in order, each with whether punctuation (a clause break) follows it.
    let mut words: Vec<(&str, bool)> = Vec::new();
    for t in tokens {
        let w = t.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
        let breaks = t[w.len()..].contains([',', '.', ';', ':', '!', '?', '(', ')']);
        if !w.is_empty() {
            words.push((w, breaks));
        } else if breaks {
            if let Some(last) = words.last_mut() {
                last.1 = true;
            }
        }
    }
    words.iter().enumerate().any(|(i, (w, _))| {
        *w == word
            && (1..=3).any(|back| {
                i.checked_sub(back).is_some_and(|j| {
                    INTRODUCES.contains(&words[j].0) && words[j..i].iter().all(|(_, b)| !b)
                })
            })
    })
}

/// A value the request names by a field name that the program's event lacks, where events of
/// the same tracepoint system have a field of exactly that name: "each compaction attempt
/// with its allocation order" answered at `compaction:mm_compaction_begin` (zone pfns, no
/// `order`) while `mm_compaction_try_to_compact_pages` and others record `order`. The value
/// printed there is something else under that label. Each event's tracefs format names its
/// fields; syscalls are left out (each is its own call, with its own parameters), and so are
/// the builtins' words ("process", "cpu"), the report's shape ("count", "histogram") and the
/// words of the event's own name ("timer" at timer:hrtimer_expire_entry).
pub(super) fn named_field_elsewhere(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let words: Vec<&str> = intent
        .value_words
        .iter()
        .map(String::as_str)
        .filter(|w| w.len() >= 4)
        .filter(|w| !crate::intent::naming::SHAPE_WORDS.contains(w))
        .filter(|w| crate::intent::naming::builtins_named_by(w).is_empty())
        .collect();
    let lower = intent.text().to_ascii_lowercase();
    let probes = tracepoint_probes(host, source);
    for (target, tp) in &probes {
        if tp.subsystem == "syscalls" || tp.subsystem == "raw_syscalls" {
            continue;
        }
        for w in words.iter().filter(|w| introduced_as_value(&lower, w)) {
            // A word of the event's or its system's name names the event ("timer expiries" at
            // timer:hrtimer_expire_entry), not a field of it.
            let stem = w.trim_end_matches('s');
            if tp.subsystem.contains(stem) || tp.event.contains(stem) {
                continue;
            }
            let names = |f: &str| f == *w || format!("{f}s") == *w;
            // A field named by the word (or one the specs say holds it: `name` of
            // sock_exceed_buf_limit is the protocol's, specs-db/field-names.toml [[meaning]]).
            let probe = format!("{}:{}", tp.subsystem, tp.event);
            if tp.fields.iter().any(|f| {
                crate::intent::naming::used_by(&f.name, &[w])
                    || crate::knowledge::field_names::meaning_words(&probe, &f.name).contains(w)
            }) {
                continue;
            }
            // A field of the kind the word names, under another name (kmalloc records the
            // size asked for as `bytes_req`: specs-db/field-names.toml), records it.
            let kind = crate::knowledge::field_names::family_of(w)
                .or_else(|| crate::knowledge::field_names::family_of(stem));
            if kind.is_some_and(|k| tp.fields.iter().any(|f| k.names.contains(&f.name))) {
                continue;
            }
            // Or in another unit, with a byte twin elsewhere (`nr_sector`, 512-byte sectors:
            // specs-db/field-names.toml [[in_bytes]]).
            if kind.is_some_and(|k| k.kind == "size or length")
                && tp
                    .fields
                    .iter()
                    .any(|f| crate::knowledge::field_names::bytes_of(&f.name).is_some())
            {
                continue;
            }
            // Another traced event of the program may carry it.
            if probes
                .iter()
                .any(|(_, other)| other.fields.iter().any(|f| names(&f.name)))
            {
                continue;
            }
            // The events whose names the request's words say most come first.
            let said = |event: &str| {
                event
                    .split('_')
                    .filter(|p| p.len() >= 3)
                    .filter(|p| {
                        intent
                            .words()
                            .any(|w| w.starts_with(p) || (w.len() >= 4 && p.starts_with(w)))
                    })
                    .count()
            };
            let mut having: Vec<(usize, String)> = host
                .tracepoints
                .values()
                .filter(|t| t.subsystem == tp.subsystem && t.event != tp.event)
                .filter(|t| t.fields.iter().any(|f| names(&f.name)))
                .map(|t| {
                    (
                        said(&t.event),
                        format!("tracepoint:{}:{}", t.subsystem, t.event),
                    )
                })
                .collect();
            if having.is_empty() {
                continue;
            }
            having.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            having.truncate(4);
            let having: Vec<String> = having.into_iter().map(|(_, e)| e).collect();
            out.push(format!(
                "the request asks for the {w}, which {target} does not record (its fields: {}); events of {} that do: {}",
                tp.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .filter(|n| !n.starts_with("common_"))
                    .collect::<Vec<_>>()
                    .join(", "),
                tp.subsystem,
                having.join(", ")
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A request for the local port ("the local port", "each end's address and local port", "a
/// listening port") answered with ports of the other end only: the address accept(2),
/// connect(2), sendto(2), recvfrom(2) and getpeername(2) take or fill in is the peer's, and a
/// tracepoint's `dport` is the destination. The local port is the socket's own: `sport` of
/// sock:inet_sock_set_state and the tcp:* tracepoints, `skc_num`, or the address given to
/// bind(2) or filled in by getsockname(2).
pub(super) fn local_port_missing(intent: &Intent, source: &str, reported: &str) -> Option<String> {
    static PORT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"port|\bnum\b|\bbswap\b|<<\s*8\b").expect("static regex"));
    static LOCAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(sport|skc_num|inet_sport|num|lport)\b").expect("static regex")
    });
    static OWN_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\bsys_(enter|exit)_(bind|getsockname)\b").expect("static regex")
    });
    if !intent.asks(Concept::LocalPort)
        || !PORT.is_match(reported)
        || LOCAL.is_match(reported)
        || OWN_ADDRESS.is_match(source)
    {
        return None;
    }
    Some("the request asks for the local port, but the program shows only the other end's: the address accept(2), connect(2), sendto(2) and recvfrom(2) take or fill in is the peer's, and `dport` is the destination; the local port is the socket's own, `args->sport` of tracepoint:sock:inet_sock_set_state (its `saddr`/`sport` are this socket's end)".into())
}

/// A request that asks which files ([`Concept::FileName`]) answered, for some of its events,
/// by lines without the name those events carry: each block that prints, on a tracepoint
/// with a file-name string field (`filename`, `pathname`, `oldname`…), must print a file
/// name. Blocks on events without one (a `sys_exit_*` with only `ret`) are not judged.
pub(super) fn file_names_untold(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    if !intent.asks(Concept::FileName) {
        return None;
    }
    let rule = COMPILED
        .iter()
        .find(|c| c.rule.asked == Concept::FileName)?;
    // Only the event's own fields: a `sys_exit_*` line may report the result of a call whose
    // name its `sys_enter_*` line printed.
    let names_a_file = |target: &str| {
        host.tracepoints.get(target).is_some_and(|tp| {
            tp.fields.iter().any(|f| {
                f.is_string() && ["name", "path", "file"].iter().any(|n| f.name.contains(n))
            })
        })
    };
    let mut untold = Vec::new();
    for b in probe_blocks(source) {
        if !b.body.contains("printf") {
            continue;
        }
        let body = STRING
            .replace_all(&strip_comments(&b.body), "\"\"")
            .into_owned();
        let reported = reported_code(&format!("BEGIN {{{body}}}"), false);
        if rule.code.is_match(&reported) {
            continue;
        }
        untold.extend(
            b.probes
                .iter()
                .filter(|p| p.is_tracepoint() && names_a_file(&p.target))
                .map(|p| format!("tracepoint:{}", p.target)),
        );
    }
    (!untold.is_empty()).then(|| {
        format!(
            "the request asks which files, but the lines of {} print no file name though the event carries one: print it with str(args->FIELD) (its name or path field)",
            untold.join(", ")
        )
    })
}

/// A size the request states with a unit ("beyond 200 MB") that no constant of the program
/// equals, in bytes (binary or decimal) or as written: the test it asks for is missing, or
/// compares with another number. Constants are integer literals and products or shifts of
/// two or three of them (`200 * 1024 * 1024`, `200 << 20`).
pub(super) fn stated_size_unused(intent: &Intent, code: &str) -> Option<String> {
    static CONSTANT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(\d+)(?:\s*(\*|<<)\s*(\d+))?(?:\s*\*\s*(\d+))?\b").expect("static regex")
    });
    if intent.sizes.is_empty() {
        return None;
    }
    let mut constants: Vec<i128> = Vec::new();
    for c in CONSTANT.captures_iter(code) {
        let num = |k: usize| c.get(k).and_then(|m| m.as_str().parse::<i128>().ok());
        let Some(a) = num(1) else { continue };
        constants.push(a);
        let b = match (c.get(2).map(|m| m.as_str()), num(3)) {
            (Some("*"), Some(b)) => a.checked_mul(b),
            (Some("<<"), Some(b)) if b < 64 => a.checked_mul(1i128 << b),
            _ => None,
        };
        if let Some(b) = b {
            constants.push(b);
            constants.extend(num(4).and_then(|d| b.checked_mul(d)));
        }
    }
    // The number as written (the 4 of "4 MiB") counts only where the program scales a value
    // to the unit first (`arg0 / 1048576 > 4`, `>> 20`): compared with bytes, 4 is 4 bytes.
    static SCALES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"/\s*\(?\s*(1024|1000|1048576|1000000|1073741824|1000000000)\b|/\s*1024\s*/|>>\s*(10|20|30)\b")
            .expect("static regex")
    });
    let scales = SCALES.is_match(code);
    let unused: Vec<String> = intent
        .sizes
        .iter()
        .filter(|values| {
            let byte_values = if values.len() > 1 && !scales {
                &values[1..]
            } else {
                &values[..]
            };
            !byte_values.iter().any(|v| constants.contains(v))
        })
        .map(|values| {
            let shown: Vec<String> = values[1..].iter().map(i128::to_string).collect();
            format!("{} ({} bytes)", values[0], shown.join(" or "))
        })
        .collect();
    (!unused.is_empty()).then(|| {
        format!(
            "the request states the size {}, but the program compares nothing with it: test the size or amount the request is about against it",
            unused.join(" and ")
        )
    })
}

/// A port the request names ("each connect() to port 443") that the program never compares
/// with anything: every connection is shown where one port's were asked for. A port is
/// compared as the number or byte-swapped (ip(7): `sin_port` is in network byte order; 443 is
/// 47873 read as a host integer), in decimal or hex.
pub(super) fn stated_port_untested(intent: &Intent, code: &str) -> Option<String> {
    let untested: Vec<String> = intent
        .ports
        .iter()
        .filter(|p| {
            let forms = [**p, p.swap_bytes()];
            !forms.iter().any(|n| {
                Regex::new(&format!(r"(?i)\b({n}|0x0*{n:x})\b")).is_ok_and(|re| re.is_match(code))
            })
        })
        .map(|p| p.to_string())
        .collect();
    (!untested.is_empty()).then(|| {
        format!(
            "the request names port {}, but the program never compares a port with it: test the port (in host byte order: bswap of a __be16 `sin_port`, or the tracepoint's `dport`/`sport`) against it",
            untested.join(" and ")
        )
    })
}

/// What grows or shrinks ([`Intent::growth`]: "mremap calls that grow a mapping") at an event
/// that reports a size before and after (`old_len` and `new_len`, sizes of
/// `specs-db/field-names.toml`), in a block that never compares the two: every call shown
/// where those that grew were asked for (mremap(2): from old_size to new_size bytes).
pub(super) fn growth_uncompared(host: &HostFacts, intent: &Intent, source: &str) -> Option<String> {
    let grows = intent.growth?;
    let is_size = |f: &str| {
        crate::knowledge::field_names::family_of(f).is_some_and(|fam| fam.kind == "size or length")
    };
    for b in probe_blocks(&strip_comments(source)) {
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            let Some(tp) = host.tracepoints.get(&p.target) else {
                continue;
            };
            let names: Vec<&str> = tp.fields.iter().map(|f| f.name.as_str()).collect();
            let pair = names.iter().find_map(|old| {
                let rest = old
                    .strip_prefix("old_")
                    .or_else(|| old.strip_prefix("old"))?;
                let new = names
                    .iter()
                    .find(|n| **n == format!("new_{rest}") || **n == format!("new{rest}"))?;
                is_size(rest).then_some((*old, *new))
            });
            let Some((old, new)) = pair else { continue };
            let code = b.code();
            let compared = Regex::new(&format!(
                r"args\s*->\s*({old}|{new})\s*[<>]=?\s*\(?\s*args\s*->\s*({old}|{new})\b"
            ))
            .is_ok_and(|re| re.captures_iter(&code).any(|c| c[1] != c[2]));
            if !compared {
                let (op, what) = if grows {
                    (">", "grow")
                } else {
                    ("<", "shrink")
                };
                return Some(format!(
                    "the request keeps what {what}s, which tracepoint:{} reports as a size before (`args->{old}`) and after (`args->{new}`), but the program never compares the two: test `args->{new} {op} args->{old}`",
                    p.target
                ));
            }
        }
    }
    None
}

/// A size the request states ("beyond 200 MB") compared with a field that holds no size, at
/// an event that has one: `args->curr > 200 * 1024 * 1024` at `kmem:rss_stat`, whose format
/// holds the size in `size` (`curr` says whether the mm is the current task's). The
/// comparison then tests something else than what was asked, however the output looks. Sizes
/// are the "size or length" family of `specs-db/field-names.toml` (the tracefs names of byte
/// counts); a field of no family is judged only where its event has a size field.
pub(super) fn size_compared_with_another_field(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    static COMPARED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"args\s*->\s*(\w+)\s*(?:>=|<=|>|<)\s*(\d+(?:\s*\*\s*\d+)*)")
            .expect("static regex")
    });
    if intent.sizes.is_empty() {
        return None;
    }
    let is_size = |f: &str| {
        crate::knowledge::field_names::family_of(f).is_some_and(|fam| fam.kind == "size or length")
    };
    for b in probe_blocks(&strip_comments(source)) {
        let sized: Vec<&str> = b
            .probes
            .iter()
            .filter(|p| p.is_tracepoint())
            .filter_map(|p| host.tracepoints.get(&p.target))
            .flat_map(|tp| tp.fields.iter().map(|f| f.name.as_str()))
            .filter(|f| is_size(f))
            .collect();
        if sized.is_empty() {
            continue;
        }
        let code = format!(
            "{} {}",
            b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
            b.body
        );
        for c in COMPARED.captures_iter(&code) {
            let (Some(field), Some(n)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let value = n
                .as_str()
                .split('*')
                .map(|x| x.trim().parse::<i128>().ok())
                .try_fold(1i128, |acc, x| x.and_then(|x| acc.checked_mul(x)));
            let stated = value.is_some_and(|v| intent.sizes.iter().any(|s| s.contains(&v)));
            if stated && !is_size(field.as_str()) && !sized.contains(&field.as_str()) {
                return Some(format!(
                    "the request states a size, but the program compares it with args->{}, which holds no size; the event's size is in {}",
                    field.as_str(),
                    sized
                        .iter()
                        .map(|f| format!("args->{f}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    None
}

/// A pointer field compared with a number other than zero (`args->msg > 1000` at
/// `sys_enter_sendmsg`, whose format types `msg` as `struct user_msghdr *`): the test compares
/// a user-space address, not the size or count it was meant to, whatever the request states.
/// The tracefs format gives each field's C type; a test against 0 (a null check) is sound.
pub(super) fn pointer_compared_with_number(host: &HostFacts, source: &str) -> Option<String> {
    static COMPARED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"args\s*->\s*(\w+)\s*(?:>=|<=|>|<|==|!=)\s*(-?\d+)\b|\b(-?\d+)\s*(?:>=|<=|>|<|==|!=)\s*args\s*->\s*(\w+)")
            .expect("static regex")
    });
    for b in probe_blocks(&strip_comments(source)) {
        let fields: Vec<&crate::host::Field> = b
            .probes
            .iter()
            .filter(|p| p.is_tracepoint())
            .filter_map(|p| host.tracepoints.get(&p.target))
            .flat_map(|tp| tp.fields.iter())
            .collect();
        let code = format!(
            "{} {}",
            b.predicate.as_ref().map_or("", |p| p.condition.as_str()),
            b.body
        );
        for c in COMPARED.captures_iter(&code) {
            let (Some(field), Some(n)) = (c.get(1).or(c.get(4)), c.get(2).or(c.get(3))) else {
                continue;
            };
            if n.as_str().parse::<i128>().is_ok_and(|n| n == 0) {
                continue;
            }
            let Some(f) = fields.iter().find(|f| f.name == field.as_str()) else {
                continue;
            };
            if f.ctype.contains('*') {
                return Some(format!(
                    "the program compares args->{} with {}, but args->{} is a pointer ({}): its value is a user-space address, not a size or a count; compare what the request is about (a size argument, or args->ret at sys_exit_* for what a call returned)",
                    f.name,
                    n.as_str(),
                    f.name,
                    f.ctype
                ));
            }
        }
    }
    None
}

/// A total of something each event carries as a number ("the total number of messages they
/// send": sendmmsg(2)'s `vlen`, "the sum of the pages": `nr_pages`), which the program never
/// adds up: it counts the events, or keys a tally by the field. The field holds how many per
/// event (the tracefs format, `specs-db/field-names.toml` meanings), so the total is its
/// `sum()` (or a `+=`), per the request's keys.
pub(super) fn totals_not_summed(host: &HostFacts, intent: &Intent, source: &str) -> Vec<String> {
    static TOTAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:total|overall|combined)\s+(?:number|count|amount)\s+of\s+(?:the\s+)?([a-z_]+)|\b(?:sum|total)\s+of\s+(?:the\s+|all\s+)?([a-z_]+)")
            .expect("static regex")
    });
    let lower = intent.text().to_ascii_lowercase();
    let said: Vec<String> = TOTAL
        .captures_iter(&lower)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_owned())
        .collect();
    if said.is_empty() {
        return Vec::new();
    }
    let code = strip_comments(source);
    let mut out = Vec::new();
    for (target, tp) in tracepoint_probes(host, source) {
        let probe = format!("{}:{}", tp.subsystem, tp.event);
        for f in &tp.fields {
            let name = f.name.as_str();
            let Some(word) = said.iter().find(|w| {
                *w == name
                    || **w == format!("{name}s")
                    || crate::knowledge::field_names::meaning_words(&probe, name)
                        .iter()
                        .any(|m| w.starts_with(m))
            }) else {
                continue;
            };
            let field = regex::escape(name);
            let summed = Regex::new(&format!(
                r"\bsum\s*\([^;]*args\s*->\s*{field}\b|\+=\s*[^;]*args\s*->\s*{field}\b"
            ))
            .is_ok_and(|re| re.is_match(&code));
            if !summed {
                out.push(format!(
                    "the request asks for the total number of {word}, which {target} carries per event as `args->{name}`, but the program never adds it up: use sum(args->{name}) per key (a count() counts events, a key splits the total)"
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A request for two values of one kind ("the two pids", "both paths", "both descriptors")
/// where an event of the program carries two or more fields of that kind (kcmp(2)'s `pid1`
/// and `pid2`, symlink(2)'s `oldname` and `newname`; their tracefs formats) and the program
/// shows fewer than two of them: it answers half of what is asked.
pub(super) fn both_untold(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
    reported: &str,
) -> Option<String> {
    static BOTH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:both|the two|two)\s+(?:of\s+the\s+)?(?:\w+\s+)?([a-z]{2,}s)\b")
            .expect("static regex")
    });
    let lower = intent.text().to_ascii_lowercase();
    for c in BOTH.captures_iter(&lower) {
        let Some(plural) = c.get(1).map(|m| m.as_str()) else {
            continue;
        };
        let one = plural
            .strip_suffix("sses")
            .map(|s| format!("{s}ss"))
            .unwrap_or_else(|| plural.trim_end_matches('s').to_owned());
        let words = [one.as_str(), plural];
        for (target, tp) in tracepoint_probes(host, source) {
            let of_kind: Vec<&str> = tp
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|f| !f.starts_with("common_") && *f != "__syscall_nr")
                .filter(|f| crate::intent::naming::used_by(f, &words))
                .collect();
            if of_kind.len() < 2 {
                continue;
            }
            let shown: Vec<&str> = of_kind
                .iter()
                .copied()
                .filter(|f| {
                    Regex::new(&format!(r"\bargs\s*(->|\.)\s*{}\b", regex::escape(f)))
                        .is_ok_and(|re| re.is_match(reported))
                })
                .collect();
            if shown.len() < 2 {
                return Some(format!(
                    "the request asks for two {plural}, and {target} carries {}, but the program shows {}: report both",
                    of_kind
                        .iter()
                        .map(|f| format!("args->{f}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if shown.is_empty() {
                        "none of them".to_owned()
                    } else {
                        format!("only args->{}", shown[0])
                    }
                ));
            }
        }
    }
    None
}

/// A value the request states for a field of the program's events by writing it after the
/// field's name ("setuid calls that switch to uid 0", "writes to file descriptor 2":
/// [`crate::intent::naming::values_stated_for`]), which no test of the program keeps: the
/// field is never compared with it for equality, so every call is shown, or the test keeps the
/// others (`args->uid != 0`). A builtin of the same name is another value (`uid` is the
/// caller's, `args->uid` the one asked for at setuid(2)). On a syscall's exit alone, its
/// entry's fields count, carried in a map. An early `return` on `!=` keeps the value too.
pub(super) fn stated_field_values_untested(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Vec<String> {
    let code = strip_comments(source);
    let probes = tracepoint_probes(host, source);
    let entries = untraced_entries(host, &probes);
    let mut out = Vec::new();
    for (target, tp) in probes.iter().chain(&entries) {
        for f in &tp.fields {
            let name = f.name.as_str();
            for n in crate::intent::naming::values_stated_for(intent, name) {
                if compares_field_with(&code, name, n) {
                    continue;
                }
                out.push(format!(
                    "the request states the value {n} of what {target} carries as `args->{name}`, but no test of the program keeps `args->{name} == {n}`: filter on it (`/args->{name} == {n}/`)"
                ));
            }
        }
    }
    // A PID the request states ("system calls made by PID 1") at events that carry no PID
    // of their own (raw_syscalls:sys_enter): the process running the probe is that one, the
    // builtin `pid` (bpftrace(8)), which some test must keep.
    let own_pid = probes
        .iter()
        .chain(&entries)
        .any(|(_, tp)| tp.fields.iter().any(|f| f.name.contains("pid")));
    if !probes.is_empty() && !own_pid {
        for n in crate::intent::naming::values_stated_for(intent, "pid") {
            let number = format!(r"(?:\b{n}|\b0x0*{n:x})\b");
            let kept = Regex::new(&format!(
                r"(?:^|[^\w>.$@])pid\s*==\s*{number}|{number}\s*==\s*pid\b"
            ))
            .is_ok_and(|re| re.is_match(&code));
            if !kept {
                out.push(format!(
                    "the request states PID {n}, but no test of the program keeps `pid == {n}`: filter on the process running the probe (`/pid == {n}/`)"
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `code` keeps `args->FIELD == n`: compared for equality (or `<=`/`>=`) on either
/// side, read directly or through a variable or map stored from it, in decimal or hex; or
/// compared with `!=` where the program returns early.
fn compares_field_with(code: &str, field: &str, n: i128) -> bool {
    let Ok(stored) = Regex::new(&format!(
        r"([$@]\w+)\s*(?:\[[^\]]*\])?\s*=\s*(?:\(\w+\)\s*)?\(?\s*args\s*(?:->|\.)\s*{field}\b"
    )) else {
        return false;
    };
    let mut aliases = vec![format!(r"args\s*(?:->|\.)\s*{field}\b")];
    for c in stored.captures_iter(code) {
        let alias = regex::escape(&c[1]);
        aliases.push(if c[1].starts_with('@') {
            format!(r"{alias}\s*\[[^\]]*\]")
        } else {
            format!(r"{alias}\b")
        });
    }
    let ops = if code.contains("return") {
        "==|<=|>=|!="
    } else {
        "==|<=|>="
    };
    let number = if n < 0 {
        format!(r"-\s*\(?\s*{}\b", -n)
    } else {
        // In decimal, hex or octal (bpftrace, like C, reads `0700` as 448).
        format!(r"(?:\b{n}|\b0x0*{n:x}|\b0+{n:o})\b")
    };
    aliases.iter().any(|a| {
        let pattern = format!(
            r"(?i){a}\s*\)?\s*(?:{ops})\s*\(?\s*{number}|(?:^|[^\w.]){number}\s*\)?\s*(?:{ops})\s*\(?\s*(?:\(\w+\)\s*)?{a}"
        );
        Regex::new(&pattern).is_ok_and(|re| re.is_match(code))
    })
}
