//! Values, flags and codes the request names in words (`specs-db/values.toml`, `flags.toml`,
//! the letters of `rwbs`): each must be tested or read by the block on its event.
use super::*;

/// A value of a field of the program's tracepoint that the request speaks of in words
/// (`specs-db/values.toml`: "preempted" is `prev_state == 0`, TASK_RUNNING, at
/// `sched:sched_switch`), which the block on that tracepoint never compares the field with:
/// every switch counted where the preempted ones were asked for.
pub(super) fn named_values_untested(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in probe_blocks(source) {
        let text = b.code();
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            for v in crate::knowledge::values::asked_at(intent, &p.target) {
                let field = regex::escape(&v.field);
                let value = v.value;
                if let Some(mask) = v.mask {
                    if !masked_value_tested(&text, &v.field, mask, value) {
                        out.push(format!(
                            "the request speaks of {}, which {} reports in the bits 0x{mask:x} of `args->{}`; a call may OR flags into its other bits, so `args->{} == {value}` misses those calls: test `(args->{} & 0x{mask:x}) == {value}`",
                            v.name,
                            p.target,
                            v.field,
                            v.field,
                            v.field
                        ));
                    }
                    continue;
                }
                let compared = Regex::new(&format!(
                    r"args\s*->\s*{field}\s*(==|!=|<=|>=|<|>)\s*{value}\b|\b{value}\s*(==|!=|<=|>=|<|>)\s*args\s*->\s*{field}\b|!\s*args\s*->\s*{field}\b|\(\s*args\s*->\s*{field}\s*&\s*(0x[0-9a-fA-F]+|\d+)\s*\)\s*(==|!=)\s*{value}\b"
                ))
                .is_ok_and(|re| re.is_match(&text));
                if !compared {
                    out.push(format!(
                        "the request speaks of {} ({}), which {} reports as `args->{} == {}`, but the program never tests it there",
                        v.words.first().map_or("", String::as_str),
                        v.name,
                        p.target,
                        v.field,
                        v.value
                    ));
                }
            }
            for v in crate::knowledge::values::apart_at(intent, &p.target) {
                let field = regex::escape(&v.field);
                let tested = Regex::new(&format!(
                    r"args\s*->\s*{field}\s*(==|!=|<=|>=|<|>)|(==|!=|<=|>=|<|>)\s*(\(\s*\w+\s*\)\s*)?args\s*->\s*{field}\b|\)\s*args\s*->\s*{field}\s*(==|!=|<=|>=|<|>)"
                ))
                .is_ok_and(|re| re.is_match(&text));
                if !tested {
                    out.push(format!(
                        "{} also fires with `args->{} == {}` ({}), which is not what the request asks about, but the program never tests `args->{}` there: leave those events out",
                        p.target, v.field, v.value, v.name, v.field
                    ));
                }
            }
        }
    }
    out.extend(named_value_events_missing(intent, source));
    out.sort();
    out.dedup();
    out
}

/// Whether `text` compares the bits `mask` of `args->FIELD` with `value`: `(args->type & 0xf)
/// == 3`, the mask in decimal, hex or octal, the sides either way.
fn masked_value_tested(text: &str, field: &str, mask: i64, value: i64) -> bool {
    let mask_re = r"\(?\s*(0[xX][0-9a-fA-F]+|0[0-7]+|[0-9]+)\s*\)?";
    let Ok(re) = Regex::new(&format!(
        r"\(\s*\(?\s*args\s*->\s*{f}\s*\)?\s*&\s*{mask_re}\s*\)\s*(?:==|!=)\s*{value}\b|\b{value}\s*(?:==|!=)\s*\(\s*\(?\s*args\s*->\s*{f}\s*\)?\s*&\s*{mask_re}\s*\)",
        f = regex::escape(field)
    )) else {
        return false;
    };
    let found = re.captures_iter(text).any(|c| {
        c.get(1)
            .or_else(|| c.get(2))
            .and_then(|m| crate::toolchain::bpftrace::expr::integer(m.as_str()))
            .is_some_and(|m| m == i128::from(mask))
    });
    found
}

/// A value the request names as C writes it (`SCHED_FIFO`, `MADV_DONTNEED`), documented only
/// for a field of some tracepoints (`specs-db/values.toml`), while the program attaches to none
/// of them: "switched to SCHED_FIFO" answered at `sched_switch`, which never sees a policy.
fn named_value_events_missing(intent: &Intent, source: &str) -> Vec<String> {
    let blocks = probe_blocks(source);
    let attached: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b.probes.iter())
        .filter(|p| p.is_tracepoint())
        .map(|p| p.target.as_str())
        .collect();
    let mut out = Vec::new();
    for name in &intent.constants {
        let defs: Vec<&crate::knowledge::values::NamedValue> = crate::knowledge::values::shipped()
            .iter()
            .filter(|v| v.name == *name)
            .collect();
        let Some(first) = defs.first() else {
            continue;
        };
        let probes: Vec<&str> = defs
            .iter()
            .flat_map(|v| v.probes.iter().map(String::as_str))
            .collect();
        // An event the value's call fires observes it too (prctl(2) PR_SET_NAME fires
        // task:task_rename: `fired_by` in specs-db/attach-points.toml).
        let calls: Vec<&str> = probes
            .iter()
            .filter_map(|p| p.strip_prefix("syscalls:sys_enter_"))
            .collect();
        let on = attached.iter().any(|t| {
            probes
                .iter()
                .any(|p| t == p || *t == p.replace(":sys_enter_", ":sys_exit_"))
                || crate::knowledge::specs::fired_by(&format!("tracepoint:{t}"))
                    .iter()
                    .any(|c| calls.contains(&c.as_str()))
        });
        if !on {
            let shown: Vec<String> = probes.iter().map(|p| format!("tracepoint:{p}")).collect();
            out.push(format!(
                "the request names {name}, a value of `args->{}` at {}, but the program attaches to none of them: test `args->{} == {}` there",
                first.field,
                shown.join(", "),
                first.field,
                first.value
            ));
        }
    }
    out
}

/// A flag the request names as C writes it (`O_CREAT`), documented for a field of some
/// syscalls (`specs-db/flags.toml`), that no block of the program on one of those syscalls
/// tests: "opens with O_CREAT" answered at creat(2) alone, or at openat(2) without looking at
/// its flags. A bit test is `FIELD & MASK` with the mask written in decimal, hex or octal.
pub(super) fn named_flags_untested(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let blocks = probe_blocks(source);
    for name in &intent.constants {
        let defs: Vec<&crate::knowledge::flags::Flag> = crate::knowledge::flags::shipped()
            .iter()
            .filter(|f| f.name == *name)
            .collect();
        let Some(first) = defs.first() else {
            continue;
        };
        let tested = defs.iter().any(|f| {
            let masks = [
                f.mask.to_string(),
                format!("0x{:x}", f.mask),
                format!("0{:o}", f.mask),
            ];
            let field = format!("args->{}", f.field);
            blocks.iter().any(|b| {
                let on = b.probes.iter().any(|p| {
                    f.probes.iter().any(|fp| {
                        p.target == *fp || p.target == fp.replace(":sys_enter_", ":sys_exit_")
                    })
                });
                let text = b.code().replace(' ', "");
                on && text.contains(&field.replace(' ', ""))
                    && masks.iter().any(|m| {
                        text.to_ascii_lowercase().contains(&format!("&{m}"))
                            || text.contains(&format!("&({m})"))
                    })
            })
        });
        if !tested {
            let all: Vec<&str> = defs
                .iter()
                .flat_map(|f| f.probes.iter().map(String::as_str))
                .collect();
            // A call the request names that the flag is not documented for here takes it in
            // an argument of its own (mq_open(3) `oflag` takes O_CREAT, as open(2) `flags`
            // does): a block on that call testing the bit in any argument keeps it.
            let other_call = blocks.iter().find_map(|b| {
                let call = b.probes.iter().find_map(|p| {
                    let call = p.target.strip_prefix("syscalls:sys_enter_")?;
                    let named = intent.syscall_names().any(|w| w == call);
                    (named && !all.contains(&p.target.as_str())).then_some(call)
                })?;
                let masked = masks_in(&strip_comments(&b.code()))
                    .iter()
                    .any(|m| m & i128::from(first.mask) != 0);
                Some((call, masked))
            });
            match other_call {
                Some((_, true)) => continue,
                Some((call, false)) => {
                    out.push(format!(
                        "the request names {name} (0x{:x}, {}), but the program's {call}() block tests no argument for it: filter on the argument of {call}() that takes it (`args->FIELD & 0x{:x}`)",
                        first.mask,
                        first.source.split(':').next().unwrap_or(""),
                        first.mask
                    ));
                    continue;
                }
                None => {}
            }
            // Where the request names the calls, only theirs: "with openat (O_EXCL)" is not
            // answered at open(2) as well.
            let named: Vec<&str> = all
                .iter()
                .copied()
                .filter(|p| {
                    p.strip_prefix("syscalls:sys_enter_")
                        .is_some_and(|call| intent.syscall_names().any(|w| w == call))
                })
                .collect();
            // The field and mask of a flag documented at those calls (CLONE_NEWNS is
            // `unshare_flags` at unshare, `clone_flags` at clone).
            let first = defs
                .iter()
                .find(|f| f.probes.iter().any(|p| named.contains(&p.as_str())))
                .unwrap_or(first);
            let probes: Vec<String> = if named.is_empty() { all } else { named }
                .iter()
                .filter(|p| first.probes.iter().any(|fp| fp == *p))
                .map(|p| format!("tracepoint:{p}"))
                .collect();
            out.push(format!(
                "the request names {name}, a bit of `args->{}` at {} ({}), but no block of the program there tests it: filter with `args->{} & 0x{:x}`",
                first.field,
                probes.join(", "),
                first.source.split(':').next().unwrap_or(""),
                first.field,
                first.mask
            ));
        }
    }
    out
}

/// A flag the request names as C writes it (`RENAME_EXCHANGE`) that only a numbered version
/// of a call takes (renameat2), in a program that also reports calls of an older version
/// (rename, renameat), which have no flags argument: syscalls(2), "a newer version of a call
/// that adds a flags argument carries a number". Those calls never pass the flag, so every
/// one of them reported is one the request did not ask for.
pub(super) fn flag_on_older_versions(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let blocks = probe_blocks(&strip_comments(source));
    for name in &intent.constants {
        let defs: Vec<&crate::knowledge::flags::Flag> = crate::knowledge::flags::shipped()
            .iter()
            .filter(|f| f.name == *name)
            .collect();
        let newer: Vec<&str> = defs
            .iter()
            .flat_map(|f| f.probes.iter())
            .filter_map(|p| p.strip_prefix("syscalls:sys_enter_"))
            .filter(|c| c.ends_with(|ch: char| ch.is_ascii_digit()))
            .collect();
        // renameat2 → renameat, rename; dup3 → dup, dup2; pipe2 → pipe.
        let digits = |c: &str| {
            c.trim_end_matches(|ch: char| ch.is_ascii_digit())
                .to_owned()
        };
        // A call flags.toml documents the flag for takes it, numbered or not (chmod(2)'s
        // fchmodat passes S_IWGRP in `mode` as fchmodat2 does).
        let takes = |call: &str| {
            defs.iter().any(|f| {
                f.probes
                    .iter()
                    .any(|p| p.strip_prefix("syscalls:sys_enter_") == Some(call))
            })
        };
        let older = |call: &str| {
            newer.iter().any(|n| {
                let base = digits(n);
                digits(call) == base || base.strip_suffix("at") == Some(call)
            }) && !takes(call)
        };
        let reported: Vec<&str> = blocks
            .iter()
            .filter(|b| b.body.contains("printf") || b.body.contains('@'))
            .flat_map(|b| &b.probes)
            .filter_map(|p| {
                p.target
                    .strip_prefix("syscalls:sys_enter_")
                    .or_else(|| p.target.strip_prefix("syscalls:sys_exit_"))
            })
            .filter(|c| older(c))
            .collect();
        if let Some(first) = reported.first() {
            out.push(format!(
                "the request names {name}, which only {} takes (a newer version of the call that adds a flags argument: syscalls(2)), but the program also reports {first}, which has no flags argument and never passes it: leave those calls out",
                newer.join(", ")
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Flags the request speaks of (`spoken`: "makes memory executable" is PROT_EXEC 0x4 of
/// mprotect's `prot`), where the block tests bits of that field with `&` and none of its
/// masks holds any of them (`args->prot & 0x10000000`): it keeps other bits than the ones
/// meant. A mask of no bit at all asked is judged; an equality test is left to the others.
fn other_bits_tested(
    spoken: &[&crate::knowledge::flags::Flag],
    target: &str,
    text: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut fields: Vec<&str> = spoken.iter().map(|f| f.field.as_str()).collect();
    fields.dedup();
    for field in fields {
        let Ok(re) = Regex::new(&format!(
            r"args\s*->\s*{field}\s*&\s*\(?\s*(0x[0-9a-fA-F]+|\d+)\b|\b(0x[0-9a-fA-F]+|\d+)\s*\)?\s*&\s*args\s*->\s*{field}\b"
        )) else {
            continue;
        };
        let masks: Vec<i128> = re
            .captures_iter(text)
            .filter_map(|c| c.get(1).or_else(|| c.get(2)))
            .filter_map(|m| {
                let t = m.as_str();
                match t.strip_prefix("0x") {
                    Some(h) => i128::from_str_radix(h, 16).ok(),
                    None => t.parse().ok(),
                }
            })
            .collect();
        let meant: Vec<&&crate::knowledge::flags::Flag> =
            spoken.iter().filter(|f| f.field == field).collect();
        let wanted = meant.iter().fold(0i128, |acc, f| acc | i128::from(f.mask));
        if masks.is_empty() || masks.iter().any(|m| m & wanted != 0) {
            continue;
        }
        let names: Vec<String> = meant
            .iter()
            .map(|f| format!("{} 0x{:x}", f.name, f.mask))
            .collect();
        out.push(format!(
            "the program tests bits 0x{:x} of `args->{field}` at tracepoint:{target}, but what the request speaks of is {} (specs-db/flags.toml): test those bits",
            masks[0],
            names.join(", ")
        ));
    }
    out
}

/// A flag the request speaks of in words ("opens for writing": O_WRONLY and O_RDWR of
/// `openat`'s `flags`, `specs-db/flags.toml`) at a tracepoint a block attaches to, while that
/// block never reads the field: every open is reported, whatever its mode. Reading the field
/// (a test, or printing it) is enough here; which bits to keep is the request's to state and
/// `draft_filters`' to judge.
pub(super) fn flag_meanings_unread(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in probe_blocks(source) {
        let text = b.code();
        let read = args_fields(&text);
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            out.extend(alternatives_untested(intent, &p.target, &text));
            let spoken: Vec<&crate::knowledge::flags::Flag> = crate::knowledge::flags::shipped()
                .iter()
                .filter(|f| f.probes.contains(&p.target))
                .filter(|f| f.words.iter().any(|w| intent.uses_word(w)))
                .collect();
            out.extend(other_bits_tested(&spoken, &p.target, &text));
            let asked: Vec<&crate::knowledge::flags::Flag> = spoken
                .iter()
                .copied()
                .filter(|f| !read.contains(&f.field))
                .collect();
            let Some(first) = asked.first() else {
                continue;
            };
            let names: Vec<String> = asked
                .iter()
                .filter(|f| f.field == first.field)
                .map(|f| format!("{} 0x{:x}", f.name, f.mask))
                .collect();
            let word = first
                .words
                .iter()
                .find(|w| intent.uses_word(w))
                .map_or("", String::as_str);
            out.push(format!(
                "the request speaks of {word}, which tracepoint:{} reports as bits of `args->{}` ({}), but the program never reads `args->{}` there: test the bits the request means",
                p.target,
                first.field,
                names.join(", "),
                first.field
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A flag the request speaks of whose bit a block tests, beside flags the same words mean as
/// well (`also` in `specs-db/flags.toml`) whose bits it never tests: "opened for writing"
/// answered with `args->flags & 1` (O_WRONLY) drops the files opened O_RDWR.
pub(super) fn alternatives_untested(intent: &Intent, target: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in crate::knowledge::flags::shipped()
        .iter()
        .filter(|f| !f.also.is_empty() && f.probes.iter().any(|p| p == target))
        .filter(|f| f.words.iter().any(|w| intent.uses_word(w)))
    {
        let tested = masks_tested(text, &f.field);
        if tested & i128::from(f.mask) == 0 {
            continue;
        }
        let missing: Vec<String> = f
            .also
            .iter()
            .filter_map(|name| crate::knowledge::flags::named(target, &f.field, name))
            .filter(|other| tested & i128::from(other.mask) == 0)
            .map(|other| format!("{} 0x{:x}", other.name, other.mask))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "the program tests {} (0x{:x}) of `args->{}` at {target}, but the request's words mean {} as well: test those bits too",
                f.name,
                f.mask,
                f.field,
                missing.join(", ")
            ));
        }
    }
    out
}

/// The bits of `args->FIELD` that `text` tests with a mask (`args->flags & 3`,
/// `0x2 & args->flags`), masks in decimal, hex or octal, OR-ed together.
pub(super) fn masks_tested(text: &str, field: &str) -> i128 {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let field = regex::escape(field);
    let number = r"(0[xX][0-9a-fA-F]+|0[0-7]+|[0-9]+)";
    let Ok(re) = Regex::new(&format!(
        r"args->{field}\)?&\(?{number}|{number}\)?&\(?args->{field}\b"
    )) else {
        return 0;
    };
    re.captures_iter(&compact)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .filter_map(|m| crate::toolchain::bpftrace::expr::integer(m.as_str()))
        .fold(0, |acc, m| acc | m)
}

/// A kind of event the request speaks of in words ("writes", "reads") that a tracepoint
/// reports as a code letter of a field (`rwbs` of the block events: W write, R read;
/// `specs-db/attach-points.toml` `[[codes]]`), in a program that never reads that field on
/// those events: every request counted where the writes were asked for. Reading it in one
/// block (a test, a key, a value a span's start keeps for its end) is enough here; which
/// letters stay is the filter checks' business.
pub(super) fn code_meanings_unread(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let blocks = probe_blocks(source);
    // Read anywhere on the events that carry it: a span's start may keep it for its end.
    let read_on = |c: &crate::knowledge::specs::Codes| {
        blocks.iter().any(|b| {
            let text = b.code();
            b.probes
                .iter()
                .any(|p| format!("tracepoint:{}", p.target).starts_with(&c.probes))
                && args_fields(&text).contains(&c.field)
        })
    };
    for b in &blocks {
        for p in b.probes.iter().filter(|p| p.is_tracepoint()) {
            let probe = format!("tracepoint:{}", p.target);
            for c in crate::knowledge::specs::codes()
                .iter()
                .filter(|c| probe.starts_with(&c.probes) && !read_on(c))
            {
                let spoken: Vec<String> = c
                    .letters
                    .iter()
                    .filter(|(letter, _)| c.stated(letter, intent))
                    .map(|(letter, word)| format!("{letter} = {word}"))
                    .collect();
                if !spoken.is_empty() {
                    out.push(format!(
                        "the request speaks of {}, which {probe} reports as code letters of `args->{}`, but the program never reads `args->{}`: test it (in a query, WHERE contains(args->{}, \"W\") keeps writes)",
                        spoken.join(", "),
                        c.field,
                        c.field,
                        c.field
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// An error the request names (`ENOENT`, or in words: "a file that does not exist"; see
/// [`Intent::errnos`]) that the program never tests a result against: a failed syscall returns
/// -errno (syscalls(2)), so failures with that error are `ret == -2`, and a program testing
/// only `ret < 0` shows every failure.
pub(super) fn errnos_untested(intent: &Intent, source: &str) -> Vec<String> {
    // `-(61)`, as the query compiler writes a negated constant, is `-61`.
    static NEGATED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"-\s*\(\s*(\d+)\s*\)").expect("static regex"));
    let code = NEGATED
        .replace_all(&strip_comments(source), "-$1")
        .into_owned();
    intent
        .errnos()
        .into_iter()
        .filter(|(_, value, _)| !compared_with(&code, &format!(r"\B-\s*{value}")))
        .map(|(name, value, source)| {
            format!(
                "the request asks for failures with {name} (errno {value}, {}), but the program never compares a result with -{value}: a failed call returns -errno at its exit (`args->ret == -{value}`)",
                source.split(';').next().unwrap_or(source)
            )
        })
        .collect()
}

/// A signal the request names (`SIGKILL`) that the program never compares anything with: a
/// program on kill(2) or signal_generate without `sig == 9` shows every signal.
pub(super) fn signals_untested(intent: &Intent, source: &str) -> Vec<String> {
    let code = strip_comments(source);
    let mut out: Vec<String> = intent
        .signals()
        .into_iter()
        .filter(|(_, value)| !compared_with(&code, &format!(r"\b{value}")))
        .map(|(name, value)| {
            format!(
                "the request names {name} (signal {value}, signal(7)), but the program never compares a signal number with {value}: test the event's signal field (`args->sig == {value}`)"
            )
        })
        .collect();
    // A signal written as its number ("signal 0", which kill(2) sends to check that a process
    // exists): a signal field must be compared with it, not any value (`pid != 0`).
    let w = &intent.words;
    for i in 1..w.len() {
        let Ok(n) = w[i].parse::<u32>() else { continue };
        if !matches!(w[i - 1].as_str(), "signal" | "sig") || n > 64 {
            continue;
        }
        let on_signal = Regex::new(&format!(
            r"\w*sig\w*\s*\)?\s*[=!]=\s*\(?\s*{n}\b|\b{n}\s*\)?\s*[=!]=\s*\(?\s*(?:args\s*->\s*|\$)?\w*sig"
        ))
        .is_ok_and(|re| re.is_match(&code));
        if !on_signal {
            out.push(format!(
                "the request asks for signal {n}, but the program never compares a signal field with {n}: test the event's signal (`args->sig == {n}` at kill(2) and signal events)"
            ));
        }
    }
    out
}

/// A constant the request names as C writes it (`POSIX_FADV_DONTNEED`, `F_SETLKW`) that
/// `specs-db/` does not document but this host's C headers define
/// ([`crate::host::constants`]), which the program never compares anything with nor masks with:
/// every call shown where the ones passing that constant were asked for, or a test of a number
/// the model made up (`advice == 2048`). Which argument takes it is the model's to find: the
/// headers say what a constant is, not where it goes.
pub(super) fn header_constants_untested(intent: &Intent, source: &str) -> Vec<String> {
    let code = strip_comments(source);
    let mut out = Vec::new();
    for (name, known) in intent.constant_values() {
        if known.is_some() || crate::knowledge::documents_constant(name) {
            continue;
        }
        let Some(value) = crate::host::constants::value(name) else {
            continue;
        };
        let number = if value < 0 {
            format!(r"\B-\s*{}", value.unsigned_abs())
        } else {
            format!(r"\b(?:{value}|0[xX]0*{value:x})")
        };
        let masked = value > 0 && masks_in(&code).iter().any(|m| m & i128::from(value) != 0);
        if !compared_with_argument(&code, &number) && !masked {
            let how = if value > 0 {
                format!("`== {value}`, or `& {value}` for a flag")
            } else {
                format!("`== {value}`")
            };
            out.push(format!(
                "the request names {name}, which is {value} in this host's C headers (those of the system calls' man pages), but the program never compares anything with {value}: test the argument that takes {name} ({how})"
            ));
        }
    }
    out
}

/// Whether `code` compares for equality something other than a bpftrace builtin (an argument,
/// a variable, a map value) with the number the regex `number` matches: `uid == 0` is not a
/// test of FUTEX_WAIT (0).
fn compared_with_argument(code: &str, number: &str) -> bool {
    let operand = r"([A-Za-z_$@][\w$@]*(?:\s*->\s*\w+|\.\w+|\[[^\]]*\])*)";
    let Ok(re) = Regex::new(&format!(
        r"{operand}\s*\)?\s*[=!]=\s*\(?\s*{number}\b|{number}\s*\)?\s*[=!]=\s*\(?\s*{operand}"
    )) else {
        return false;
    };
    let found = re.captures_iter(code).any(|c| {
        c.get(1)
            .or_else(|| c.get(2))
            .is_some_and(|m| !crate::query::BUILTINS.contains(&m.as_str()))
    });
    found
}

/// The masks `code` applies with `&` (`args->flags & 0x2`, `(2 & args->flags)`), in decimal,
/// hex or octal.
fn masks_in(code: &str) -> Vec<i128> {
    static MASK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&\s*\(?\s*(0[xX][0-9a-fA-F]+|0[0-7]+|[0-9]+)\b|\b(0[xX][0-9a-fA-F]+|0[0-7]+|[0-9]+)\s*\)?\s*&[^&]")
            .expect("static regex")
    });
    MASK.captures_iter(code)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .filter_map(|m| crate::toolchain::bpftrace::expr::integer(m.as_str()))
        .collect()
}

/// Whether `code` tests something for equality (`==`, `!=`) with the constant the regex
/// `constant` matches, on either side and in parentheses or not.
fn compared_with(code: &str, constant: &str) -> bool {
    Regex::new(&format!(
        r"[=!]=\s*\(?\s*{constant}\b|{constant}\s*\)?\s*[=!]="
    ))
    .is_ok_and(|re| re.is_match(code))
}

/// A directory the request keeps paths under ("opened under /tmp": `Intent::directories`)
/// that the program never tests a path's start against: `str(args->filename) == "/tmp"` keeps
/// the directory itself and nothing in it. A prefix test is bpftrace's `strncmp(s, "/tmp/", 5)
/// == 0` (bpftrace(8)).
pub(super) fn directories_untested(intent: &Intent, source: &str) -> Vec<String> {
    let code = strip_comments(source);
    intent
        .directories
        .iter()
        .filter(|dir| {
            let bare = dir.trim_end_matches('/');
            // An escaped literal always compiles; were it not to, the prefix counts as tested.
            Regex::new(&format!(
                r#"\bstrncmp\s*\([^;]*"{}/?"\s*,\s*\d+\s*\)"#,
                regex::escape(bare)
            ))
            .is_ok_and(|prefix| !prefix.is_match(&code))
        })
        .map(|dir| {
            format!(
                "the request keeps paths under {dir}, but the program never tests where a path starts: test `strncmp(str(args->filename), \"{dir}\", {}) == 0` (a path equal to \"{}\" is the directory itself, not what is in it)",
                dir.len(),
                dir.trim_end_matches('/')
            )
        })
        .collect()
}

/// The result the request keeps ("recvfrom() calls that return zero bytes": `ret == 0`,
/// [`Intent::result_value`]), which the program never tests where calls return: at a
/// `sys_exit_*` tracepoint (`args->ret`, or a variable holding it) or a uretprobe (`retval`).
/// A program on syscall entries alone never sees the result at all.
pub(super) fn result_value_untested(intent: &Intent, source: &str) -> Vec<String> {
    let Some(n) = intent.result_value else {
        return Vec::new();
    };
    let blocks = probe_blocks(source);
    let at_return: Vec<&crate::toolchain::bpftrace::ProbeBlock> = blocks
        .iter()
        .filter(|b| b.probes.iter().any(returns))
        .collect();
    if at_return.is_empty() {
        let entries: Vec<String> = blocks
            .iter()
            .flat_map(|b| &b.probes)
            .filter(|p| p.is_tracepoint() && p.target.starts_with("syscalls:sys_enter_"))
            .map(|p| p.target.replace("sys_enter_", "sys_exit_"))
            .collect();
        return match entries.first() {
            Some(exit) => vec![format!(
                "the request keeps calls that return {n}, but the program never sees what a call returns: attach to tracepoint:{exit} and test `args->ret == {n}`"
            )],
            None => Vec::new(),
        };
    }
    let result = r"(?:args\s*->\s*ret|retval|\$\w+)";
    let mut test = format!(r"{result}\s*==\s*{n}\b|\b{n}\s*==\s*{result}");
    if n == 0 {
        test.push_str(&format!(r"|!\s*\(?\s*{result}"));
    }
    let tested = Regex::new(&test).is_ok_and(|re| at_return.iter().any(|b| re.is_match(&b.code())));
    if tested {
        return Vec::new();
    }
    let target = at_return
        .iter()
        .flat_map(|b| &b.probes)
        .find(|p| returns(p))
        .map_or_else(String::new, |p| format!("{}:{}", p.prefix, p.target));
    vec![format!(
        "the request keeps calls that return {n}, but the program never tests the result: at {target} show only calls with `args->ret == {n}` (`retval` in a uretprobe)"
    )]
}

/// Where calls return: a `sys_exit_*` tracepoint or a uretprobe.
fn returns(p: &ProbeSpec) -> bool {
    (p.is_tracepoint()
        && (p.target.starts_with("syscalls:sys_exit_") || p.target == "raw_syscalls:sys_exit"))
        || matches!(p.prefix.as_str(), "uretprobe" | "ur")
}

/// A threshold the request states of what calls return ("recvfrom calls that return more than
/// 4096 bytes": [`Intent::result_threshold`]) that no block where calls return compares a
/// result with: `args->size > 4096` at the entry keeps the calls that offered a big buffer,
/// whatever they received (recv(2): the calls return the number of bytes received).
pub(super) fn result_threshold_uncompared(intent: &Intent, source: &str) -> Option<String> {
    let n = intent.threshold.filter(|_| intent.result_threshold)?;
    let code = strip_comments(source);
    let blocks = probe_blocks(&code);
    let result = r"(?:args\s*->\s*ret|retval|\$\w+)\b";
    let compared = Regex::new(&format!(r"{result}\s*\)?\s*[<>]=?|[<>]=?\s*\(?\s*{result}")).ok()?;
    let at_return = blocks.iter().filter(|b| b.probes.iter().any(returns));
    if at_return.clone().any(|b| compared.is_match(&b.code())) {
        return None;
    }
    let exit = blocks
        .iter()
        .flat_map(|b| &b.probes)
        .find(|p| returns(p) || (p.is_tracepoint() && p.target.starts_with("syscalls:sys_enter_")))
        .map_or_else(
            || "the call's exit".to_owned(),
            |p| format!("tracepoint:{}", p.target.replace("sys_enter_", "sys_exit_")),
        );
    Some(format!(
        "the request states a threshold ({n}) of what the calls return, but the program never compares a result with it: a call returns the bytes it transferred (syscalls(2) RETURN VALUE), which {exit} reports as `args->ret`; an argument such as the buffer's size is what the caller offered"
    ))
}

/// A size the request states in bytes ("more than 64 KiB") compared with a field that holds no
/// byte count: `args->vlen > 65536` at readv, where vlen is how many iovec structures the
/// caller passed (readv(2)). The fields that hold a size or length are
/// `specs-db/field-names.toml`'s "size or length" family (or a count beside its byte field,
/// `nr_sector`); what a call that moves bytes transferred is its result
/// (`specs-db/contracts.toml` `byte_count_result`).
pub(super) fn byte_bound_on_a_count(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Vec<String> {
    static LEFT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"args\s*->\s*(\w+)\s*\)?\s*[<>]=?\s*\(?\s*(\d+)\b").expect("static regex")
    });
    static RIGHT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(\d+)\s*\)?\s*[<>]=?\s*\(?\s*args\s*->\s*(\w+)").expect("static regex")
    });
    let bytes: Vec<i128> = intent
        .sizes
        .iter()
        .flat_map(|s| s.iter().skip(1).copied())
        .filter(|b| *b >= 1024)
        .collect();
    if bytes.is_empty() {
        return Vec::new();
    }
    let holds_bytes = |f: &str| {
        crate::knowledge::field_names::family_of(f).is_some_and(|k| k.kind == "size or length")
            || crate::knowledge::field_names::bytes_of(f).is_some()
    };
    let code = strip_comments(source);
    let mut out = Vec::new();
    for b in probe_blocks(&code) {
        let body = b.code();
        let compared = LEFT
            .captures_iter(&body)
            .map(|c| (c[1].to_owned(), c[2].to_owned()))
            .chain(
                RIGHT
                    .captures_iter(&body)
                    .map(|c| (c[2].to_owned(), c[1].to_owned())),
            );
        for (field, number) in compared {
            let Ok(n) = number.parse::<i128>() else {
                continue;
            };
            if !bytes.contains(&n) || holds_bytes(&field) || field == "ret" {
                continue;
            }
            let Some(p) = b.probes.iter().find(|p| {
                p.is_tracepoint()
                    && host
                        .tracepoints
                        .get(&p.target)
                        .is_some_and(|tp| tp.fields.iter().any(|f| f.name == field))
            }) else {
                continue;
            };
            // A file offset is a number of bytes (lseek(2): "offset bytes"; include/linux/
            // types.h `off_t`, `loff_t`): pread64's `pos`, lseek's `offset`.
            let offset_typed = host.tracepoints.get(&p.target).is_some_and(|tp| {
                tp.fields
                    .iter()
                    .any(|f| f.name == field && matches!(f.ctype.trim(), "off_t" | "loff_t"))
            });
            if offset_typed {
                continue;
            }
            let call = p
                .target
                .strip_prefix("syscalls:sys_enter_")
                .or_else(|| p.target.strip_prefix("syscalls:sys_exit_"));
            let instead = match call {
                Some(c) if crate::symbolic::contract::bytes_are_result_of(intent, c).is_some() => format!(
                    "what {c}() transferred is its result, `args->ret` at tracepoint:syscalls:sys_exit_{c}"
                ),
                _ => "compare a field that holds a size in bytes".to_owned(),
            };
            out.push(format!(
                "the request states a size in bytes ({n}), but the program compares it with `args->{field}` at tracepoint:{}, which holds no byte count: {instead}",
                p.target
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A size asked "in bytes" reported in another unit: a field that counts 512-byte sectors
/// (`nr_sector`, with a byte twin in specs-db/field-names.toml [[in_bytes]]) shown or
/// aggregated without `* 512`, or a field in bytes (the "size or length" family) divided or
/// shifted down (`args->bytes / 512`: sectors). Only where the request says "in bytes".
pub(super) fn bytes_in_another_unit(intent: &Intent, source: &str) -> Vec<String> {
    static FIELD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(\b\d+\s*\*\s*)?\bargs\s*->\s*(\w+)(\s*(?:\*|/|<<|>>)\s*\d+)?")
            .expect("static regex")
    });
    if !intent.says_phrase("in bytes") {
        return Vec::new();
    }
    let reported = reported_code(source, false);
    let mut out = Vec::new();
    for c in FIELD.captures_iter(&strip_comments(&reported)) {
        let field = &c[2];
        let before = c.get(1).map_or("", |m| m.as_str()).replace(' ', "");
        let after = c.get(3).map_or("", |m| m.as_str()).replace(' ', "");
        let scaled_up = before == "512*" || after == "*512" || after == "<<9";
        let scaled_down = after.starts_with('/') || after.starts_with(">>");
        if let Some(bytes) = crate::knowledge::field_names::bytes_of(field) {
            if !scaled_up {
                out.push(format!(
                    "the request asks for bytes, but the program reports `args->{field}`, a count of 512-byte sectors (include/trace/events/block.h): report `args->{field} * 512` (or `args->{bytes}` where the event has it)"
                ));
            }
        } else if scaled_down
            && crate::knowledge::field_names::family_of(field)
                .is_some_and(|k| k.kind == "size or length")
        {
            out.push(format!(
                "the request asks for bytes, but the program reports `args->{field}{after}`: `args->{field}` is in bytes already, and dividing it gives another unit"
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A threshold the request states ("longer than 10 ms", "over 64 MiB", "more than one second":
/// [`Intent::threshold`], its least reading) that no comparison of the program makes, in any
/// unit it may be read in: every event is shown or counted where only those beyond it were
/// asked for. A comparison's constant reads the threshold when it is the number times a unit
/// step (1, 1000, 10^6, 10^9 for times; 1024, 2^20, 2^30 for sizes; 60 and its multiples for
/// minutes), written whole or as a product or shift (`10 * 1000000`, `64 << 20`).
pub(super) fn stated_threshold_uncompared(intent: &Intent, code: &str) -> Option<String> {
    // A constant on either side of a comparison, each side matched on its own so that
    // `x / 1000000 > 20` yields both 1000000 and 20.
    const CONSTANT: &str = r"(\d+(?:\s*(?:\*|<<)\s*\(?\s*\d+\s*\)?)*)";
    static RIGHT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"(?:[<>]=?|==)\s*\(?\s*{CONSTANT}")).expect("static regex")
    });
    static LEFT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"{CONSTANT}\s*\)?\s*(?:[<>]=?|==)")).expect("static regex")
    });
    const STEPS: [i128; 10] = [
        1,
        1_000,
        1_000_000,
        1_000_000_000,
        1 << 10,
        1 << 20,
        1 << 30,
        60,
        60_000,
        60_000_000,
    ];
    let t = intent.threshold?;
    let value = |text: &str| -> Option<i128> {
        let mut parts = text.split(['*', '<', '(', ')']);
        let mut acc: i128 = parts.next()?.trim().parse().ok()?;
        let shifted = text.contains("<<");
        for p in parts.filter(|p| !p.trim().is_empty()) {
            let n: i128 = p.trim().parse().ok()?;
            acc = if shifted {
                acc.checked_mul(1i128.checked_shl(u32::try_from(n).ok()?)?)?
            } else {
                acc.checked_mul(n)?
            };
        }
        Some(acc)
    };
    let reads_threshold = |c: i128| STEPS.iter().any(|s| t.checked_mul(*s) == Some(c));
    let compared = [&*RIGHT, &*LEFT].iter().any(|re| {
        re.captures_iter(code)
            .filter_map(|c| c.get(1))
            .filter_map(|m| value(m.as_str()))
            .any(reads_threshold)
    });
    (!compared).then(|| {
        format!(
            "the request asks only for events beyond a threshold ({t}, in the unit it states), but no comparison of the program tests it: compare the value with it (converted to the unit the value is in) in a predicate or an if"
        )
    })
}

/// A flag whose meaning the request sets apart ("a file (not anonymous memory)": MAP_ANONYMOUS,
/// `specs-db/flags.toml`), which a block on its event keeps instead: it tests the bit set
/// (`args->flags & 0x20`, `!= 0`, `== 0x20`) and never clear (`== 0`, `!(…)`). The program
/// shows exactly what was excluded.
pub(super) fn negated_flags_kept(intent: &Intent, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let blocks = probe_blocks(source);
    for f in crate::knowledge::flags::shipped() {
        let Some(word) = f.words.iter().find(|w| intent.negates_word(w)) else {
            continue;
        };
        if f.words
            .iter()
            .any(|w| intent.uses_word(w) && !intent.negates_word(w))
        {
            continue;
        }
        let masks = [
            f.mask.to_string(),
            format!("0x{:x}", f.mask),
            format!("0{:o}", f.mask),
        ];
        for b in &blocks {
            let on = b.probes.iter().any(|p| {
                f.probes.iter().any(|fp| {
                    p.target == *fp || p.target == fp.replace(":sys_enter_", ":sys_exit_")
                })
            });
            if !on {
                continue;
            }
            let squeeze = |t: &str| {
                strip_comments(t)
                    .replace([' ', '\t', '\n'], "")
                    .to_ascii_lowercase()
            };
            let condition = b
                .predicate
                .as_ref()
                .map_or(String::new(), |p| squeeze(&p.condition));
            let (mut set, mut clear) = (false, false);
            for (text, is_condition) in [(condition, true), (squeeze(&b.body), false)] {
                for m in &masks {
                    let test = format!("args->{}&{}", f.field, m.to_ascii_lowercase());
                    for (at, _) in text.match_indices(&test) {
                        let after = text[at + test.len()..].trim_start_matches(')');
                        let before = text[..at].trim_end_matches('(');
                        if after.starts_with("==0") || before.ends_with('!') {
                            clear = true;
                        } else if (is_condition && after.is_empty())
                            || after.starts_with("!=0")
                            || after.starts_with(">0")
                            || after.starts_with(&format!("=={}", m.to_ascii_lowercase()))
                            || after.starts_with('/')
                            || after.starts_with('{')
                            || after.starts_with("&&")
                            || after.starts_with("||")
                        {
                            set = true;
                        }
                    }
                }
            }
            if set && !clear {
                let probes: Vec<String> = b.probes.iter().map(|p| p.target.clone()).collect();
                out.push(format!(
                    "the request sets apart what {} marks (\"{word}\"), but the block on {} keeps only events with that bit set: test that it is clear, `(args->{} & 0x{:x}) == 0`",
                    f.name,
                    probes.join(", "),
                    f.field,
                    f.mask
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
