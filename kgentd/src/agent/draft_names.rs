//! Numbers shown as names. A tracepoint field that the kernel itself prints by name has its
//! table in the event's tracefs `print fmt`: `__print_symbolic(REC->vec, { 0, "HI" },
//! { 1, "TIMER" }, …)` (include/trace/stages/stage3_trace_output.h; the kernel expands the
//! enum values to numbers when it writes the format). bpftrace reads the raw number. When the
//! request writes one of the table's names ("TIMER, NET_RX", "LISTEN", "background"), it wants
//! the names: each printed value and map key `args->FIELD` is shown through a map that a
//! `BEGIN` block fills from the table (`@kq_name_vec[args->vec]`, printed with `%s`), and an
//! `END` block clears it so it is not printed at exit.
//!
//! Only `__print_symbolic` (one value, one name); `__print_flags` combines bits and is left
//! alone. A field is rewritten only when every tracepoint of its block has the same table.
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::draft_types::{args_field_at, conversion_span, PrintfArgs};
use crate::host::HostFacts;
use crate::intent::Intent;
use crate::toolchain::bpftrace::expr::{self, Tok};
use crate::toolchain::bpftrace::probe_blocks;
use crate::toolchain::bpftrace::syntax::Edits;

/// One field's table: value → name, as the kernel prints it.
pub(super) type Table = Vec<(i128, String)>;

/// The `__print_symbolic` tables of a tracepoint's fields, from its tracefs `print fmt`.
pub(super) fn symbolic_tables(
    host: &HostFacts,
    subsystem: &str,
    event: &str,
) -> BTreeMap<String, Table> {
    parse_symbolic(&host.print_fmt(subsystem, event))
}

/// Tables of documented bit flags (`specs-db/flags.toml`) of a tracepoint's fields, for the
/// fields whose flags the request speaks of: every combination of the field's flags, named as
/// C writes it (`LOCK_EX|LOCK_NB`), and 0. Only fields with at most four single-bit flags (16
/// combinations); a field with more (open(2) flags) is left as a number.
fn flag_tables(intent: &Intent, subsystem: &str, event: &str) -> BTreeMap<String, Table> {
    let probe = format!("{subsystem}:{event}");
    let mut by_field: BTreeMap<&str, Vec<&crate::knowledge::flags::Flag>> = BTreeMap::new();
    for f in crate::knowledge::flags::shipped() {
        if f.probes.contains(&probe) {
            by_field.entry(f.field.as_str()).or_default().push(f);
        }
    }
    let mut out = BTreeMap::new();
    for (field, flags) in by_field {
        let single_bits = flags.iter().all(|f| f.mask.count_ones() == 1);
        if flags.len() > 4 || !single_bits || !crate::knowledge::flags::asked(&flags, intent) {
            continue;
        }
        let mut table: Table = vec![(0, "0".to_owned())];
        for combo in 1u32..(1 << flags.len()) {
            let chosen: Vec<&&crate::knowledge::flags::Flag> = flags
                .iter()
                .enumerate()
                .filter(|(i, _)| combo & (1 << i) != 0)
                .map(|(_, f)| f)
                .collect();
            let value: i128 = chosen.iter().map(|f| i128::from(f.mask)).sum();
            let name: Vec<&str> = chosen.iter().map(|f| f.name.as_str()).collect();
            table.push((value, name.join("|")));
        }
        table.sort();
        out.insert(field.to_owned(), table);
    }
    out
}

/// The tables of a `print fmt` line.
fn parse_symbolic(fmt: &str) -> BTreeMap<String, Table> {
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"__print_symbolic(?:_u64)?\(\s*(?:\([^()]*\)\s*)?REC->(\w+)\s*,")
            .expect("static regex")
    });
    static ENTRY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\{\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*,\s*"([^"]*)"\s*\}"#).expect("static regex")
    });
    let mut out = BTreeMap::new();
    for c in CALL.captures_iter(fmt) {
        let (Some(whole), Some(field)) = (c.get(0), c.get(1)) else {
            continue;
        };
        // The call's arguments end at the parenthesis that closes it.
        let rest = &fmt[whole.end()..];
        let mut depth = 1usize;
        let mut end = rest.len();
        for (i, ch) in rest.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let table: Table = ENTRY
            .captures_iter(&rest[..end])
            .filter_map(|e| {
                let v = &e[1];
                let value = match v.strip_prefix("0x") {
                    Some(hex) => i128::from_str_radix(hex, 16).ok()?,
                    None => v.parse().ok()?,
                };
                Some((value, e[2].to_owned()))
            })
            .collect();
        if !table.is_empty() {
            out.insert(field.as_str().to_owned(), table);
        }
    }
    out
}

/// Whether the request writes one of the table's names: whole, or without the prefix all
/// of them share (`ESTABLISHED` of `TCP_ESTABLISHED`), as a word of at least three letters.
fn request_names_one(intent: &Intent, table: &Table) -> bool {
    let names: Vec<String> = table.iter().map(|(_, n)| n.to_ascii_lowercase()).collect();
    let prefix = common_prefix(&names);
    names.iter().any(|n| {
        let short = n.strip_prefix(prefix.as_str()).unwrap_or(n);
        [n.as_str(), short]
            .iter()
            .any(|w| w.len() >= 3 && intent.names_word(w))
    })
}

/// The longest prefix ending in `_` that every name has (`tcp_`), or nothing.
fn common_prefix(names: &[String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    // Byte length of the shared prefix, kept on character boundaries.
    let mut len = first.len();
    for n in &names[1..] {
        len = first
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .map(|((i, a), _)| i + a.len_utf8())
            .last()
            .unwrap_or(0)
            .min(len);
    }
    let prefix = &first[..len];
    match prefix.rfind('_') {
        Some(i) if names.len() > 1 => prefix[..=i].to_owned(),
        _ => String::new(),
    }
}

/// See the module comment. The repaired source and one note per field shown by name.
pub(super) fn show_names(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    let mut edits = Edits::default();
    let mut notes: Vec<String> = Vec::new();
    // field → its table, for the BEGIN block (one table per field name across the program).
    let mut used: BTreeMap<String, Table> = BTreeMap::new();
    for block in probe_blocks(source) {
        let mut common: Option<BTreeMap<String, (Table, bool)>> = None;
        for p in &block.probes {
            let Some((subsystem, event)) = p.target.split_once(':').filter(|_| p.is_tracepoint())
            else {
                common = None;
                break;
            };
            let mut tables: BTreeMap<String, (Table, bool)> =
                symbolic_tables(host, subsystem, event)
                    .into_iter()
                    .map(|(f, t)| (f, (t, false)))
                    .collect();
            for (f, t) in flag_tables(intent, subsystem, event) {
                tables.entry(f).or_insert((t, true));
            }
            common = Some(match common {
                None => tables,
                Some(c) => c
                    .into_iter()
                    .filter(|(f, t)| tables.get(f) == Some(t))
                    .collect(),
            });
        }
        let Some(tables) = common else { continue };
        // A flag table is only built when the request speaks of its flags; a kernel table
        // when the request writes one of its names.
        let wanted: BTreeMap<&String, (&Table, bool)> = tables
            .iter()
            .filter(|(f, (t, flags))| {
                (*flags || request_names_one(intent, t)) && used.get(*f).is_none_or(|u| u == t)
            })
            .map(|(f, (t, flags))| (f, (t, *flags)))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let toks = expr::tokens(source, block.span.clone());
        let printf = PrintfArgs::of(source, &toks);
        let mut k = 0;
        while k < toks.len() {
            let Some((name, last)) = args_field_at(&toks, k) else {
                k += 1;
                continue;
            };
            let Some(&(table, flags)) = wanted.get(&name.to_owned()) else {
                k = last + 1;
                continue;
            };
            let span = toks[k].span.start..toks[last].span.end;
            let printed = printf.conversion(&span);
            // A map key: the whole key or one of its parts, inside `@m[…]`.
            let before = k.checked_sub(1).map(|j| &toks[j]);
            let after = toks.get(last + 1);
            let in_key = before.is_some_and(|t| t.is("[") || t.is(","))
                && after.is_some_and(|t| t.is("]") || t.is(","))
                && map_key_open(&toks, k);
            // A flag table names only the bits specs-db documents (setns(2) takes more
            // namespace types than flags.toml lists): a value it lacks would show as an empty
            // name, so the number is printed beside the name and a key keeps the number.
            if (printed.is_none() && !in_key) || (flags && printed.is_none()) {
                k = last + 1;
                continue;
            }
            match printed {
                Some((at, _)) if flags => {
                    edits.replace(span, format!("@kq_name_{name}[args->{name}], args->{name}"));
                    edits.replace(conversion_span(source, at), "s(%d)".to_owned());
                }
                Some((at, letter)) => {
                    edits.replace(span, format!("@kq_name_{name}[args->{name}]"));
                    if letter != 's' {
                        edits.replace(conversion_span(source, at), "s".to_owned());
                    }
                }
                None => edits.replace(span, format!("@kq_name_{name}[args->{name}]")),
            }
            used.insert(name.to_owned(), table.clone());
            let probe = block
                .probes
                .first()
                .map(|p| format!("{}:{}", p.prefix, p.target))
                .unwrap_or_default();
            let note = if flags {
                format!("args->{name} is shown by the names of its flags (specs-db/flags.toml, {probe}) beside its number: the request speaks of them")
            } else {
                format!("args->{name} is shown by name, as the kernel prints it ({probe}): the request names its values")
            };
            if !notes.contains(&note) {
                notes.push(note);
            }
            k = last + 1;
        }
    }
    if used.is_empty() {
        return (source.to_owned(), notes);
    }
    let mut fill = String::new();
    let mut clear = String::new();
    for (field, table) in &used {
        for (value, name) in table {
            fill.push_str(&format!("\n  @kq_name_{field}[{value}] = \"{name}\";"));
        }
        clear.push_str(&format!("\n  clear(@kq_name_{field});"));
    }
    // bpftrace allows one BEGIN and one END block: the tables go into the program's own.
    let blocks = probe_blocks(source);
    let own = |name: &str| {
        blocks
            .iter()
            .find(|b| b.probes.len() == 1 && b.probes[0].prefix == name)
            .map(|b| b.body_span.clone())
    };
    match own("BEGIN") {
        Some(body) => edits.replace(body.start..body.start, fill),
        None => edits.replace(0..0, format!("BEGIN\n{{{fill}\n}}\n\n")),
    }
    match own("END") {
        Some(body) => edits.replace(body.end..body.end, format!("{clear}\n")),
        None => edits.replace(
            source.len()..source.len(),
            format!("\nEND\n{{{clear}\n}}\n"),
        ),
    }
    (edits.apply(source), notes)
}

/// Whether the `[` that opens the key around token `k` follows a map (`@m[`), at depth 0.
fn map_key_open(toks: &[expr::Token], k: usize) -> bool {
    let mut depth = 0i32;
    for j in (0..k).rev() {
        match &toks[j].tok {
            Tok::Punct("]" | ")") => depth += 1,
            Tok::Punct("(") => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Tok::Punct("[") => {
                if depth == 0 {
                    return j > 0 && matches!(toks[j - 1].tok, Tok::Map(_));
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_tables_from_a_print_format() {
        let fmt = r#" "vec=%u [action=%s]", REC->vec, __print_symbolic(REC->vec, { 0, "HI" }, { 1, "TIMER" }, { 3, "NET_RX" }), __print_flags(REC->flags, "|", { 1, "A" })"#;
        let t = parse_symbolic(fmt);
        assert_eq!(t.len(), 1, "flags are not names of one value: {t:?}");
        assert_eq!(t["vec"][2], (3, "NET_RX".to_owned()));
    }

    #[test]
    fn a_shared_prefix_is_not_needed_to_name_a_value() {
        let names = ["tcp_established".to_owned(), "tcp_syn_sent".to_owned()];
        assert_eq!(common_prefix(&names), "tcp_");
        assert_eq!(common_prefix(&["hi".to_owned(), "timer".to_owned()]), "");
        let table: Table = vec![(1, "TCP_ESTABLISHED".into()), (10, "TCP_LISTEN".into())];
        let asks = Intent::read("print each socket going to LISTEN with its port");
        assert!(request_names_one(&asks, &table));
        let plain = Intent::read("print each socket state change with its port");
        assert!(!request_names_one(&plain, &table));
    }

    #[test]
    fn printed_values_and_map_keys_are_shown_by_name() {
        let dir = std::env::temp_dir().join(format!("kgent-names-{}", std::process::id()));
        let event = dir.join("events/irq/softirq_entry");
        std::fs::create_dir_all(&event).expect("mkdir");
        let format = "name: softirq_entry\nformat:\n\tfield:unsigned int vec;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt: \"vec=%u [action=%s]\", REC->vec, __print_symbolic(REC->vec, { 0, \"HI\" }, { 1, \"TIMER\" }, { 3, \"NET_RX\" })\n";
        std::fs::write(event.join("format"), format).expect("write");
        let mut host = HostFacts::for_tests_with_tracepoints(&[(
            "irq",
            "softirq_entry",
            &[("unsigned int", "vec")],
        )]);
        host.tracefs = Some(dir.clone());
        let intent = Intent::read("how often does each softirq kind run (NET_RX, TIMER and so on)");
        let src = "tracepoint:irq:softirq_entry { @n[args->vec] = count(); printf(\"%d\\n\", args->vec); }";
        let (out, notes) = show_names(&host, &intent, src);
        let numbers = Intent::read("how often does each softirq vector run");
        let plain = show_names(&host, &numbers, src).0;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(notes.len(), 1, "{out}");
        assert!(
            out.contains("@n[@kq_name_vec[args->vec]] = count()"),
            "{out}"
        );
        assert!(
            out.contains("printf(\"%s\\n\", @kq_name_vec[args->vec])"),
            "{out}"
        );
        assert!(out.contains("@kq_name_vec[3] = \"NET_RX\";"), "{out}");
        assert!(out.contains("clear(@kq_name_vec);"), "{out}");
        // Not asked for by name: left as numbers.
        assert_eq!(plain, src);
    }
}

/// The live catalog and the real bpftrace: a flock(2) operation, asked about in words of the
/// man page ("exclusive", "unlock"), shown as its documented flags; the program loads.
#[cfg(test)]
#[tokio::test]
async fn documented_flags_asked_about_are_shown_by_name_and_load() {
    use crate::toolchain::bpftrace::{check_load, LoadVerdict};
    use std::path::Path;
    use std::time::Duration;
    let bpftrace = Path::new("bpftrace");
    let host = HostFacts::discover(bpftrace);
    let draft = "tracepoint:syscalls:sys_enter_flock\n{\n  printf(\"%s fd=%d op=%d\\n\", comm, args->fd, args->cmd);\n}\n";
    let intent = Intent::read("who takes exclusive file locks and who releases them (unlock)");
    let (fixed, notes) = show_names(&host, &intent, draft);
    // The number beside the name: a value the table lacks (LOCK_MAND, 32) is not shown empty.
    assert!(fixed.contains("op=%s(%d)"), "{fixed}");
    assert!(
        fixed.contains("@kq_name_cmd[args->cmd], args->cmd)"),
        "{fixed}"
    );
    assert!(
        fixed.contains("@kq_name_cmd[6] = \"LOCK_EX|LOCK_NB\";"),
        "{fixed}"
    );
    assert!(fixed.contains("@kq_name_cmd[8] = \"LOCK_UN\";"), "{fixed}");
    assert_eq!(notes.len(), 1);
    // A map key keeps the number (a value the table lacks would share an empty name).
    let keyed = "tracepoint:syscalls:sys_enter_flock\n{\n  @locks[comm, args->cmd] = count();\n}\n";
    assert_eq!(show_names(&host, &intent, keyed).0, keyed);
    // Not asked about: the number stays.
    let plain = Intent::read("print every flock call with its fd");
    assert_eq!(show_names(&host, &plain, draft).0, draft);
    let report = check_load(bpftrace, &fixed, Duration::from_secs(60)).await;
    assert!(
        matches!(report.verdict, LoadVerdict::Attached { .. }),
        "{fixed}\n{}",
        report.diagnostic
    );
}

/// The live catalog and the real bpftrace: state names of a TCP socket, asked by name, shown
/// through the kernel's table; the program keeps its own BEGIN and END (bpftrace allows one
/// of each) and loads.
#[cfg(test)]
#[tokio::test]
async fn a_program_showing_names_loads_through_bpftrace() {
    use crate::toolchain::bpftrace::{check_load, LoadVerdict};
    use std::path::Path;
    use std::time::Duration;
    let bpftrace = Path::new("bpftrace");
    let host = HostFacts::discover(bpftrace);
    if symbolic_tables(&host, "sock", "inet_sock_set_state").is_empty() {
        return; // no tracefs, or this kernel formats the event otherwise
    }
    let draft = "BEGIN { printf(\"tracing\\n\"); }\ntracepoint:sock:inet_sock_set_state\n{\n  printf(\"%d -> %d %d\\n\", args->oldstate, args->newstate, args->sport);\n  @moves[args->newstate] = count();\n}\nEND { print(@moves); clear(@moves); }\n";
    let intent =
        Intent::read("show sockets moving between TCP states such as SYN_SENT and CLOSE_WAIT");
    let (fixed, notes) = super::repair::repair_all(&host, &intent, draft);
    assert!(
        fixed.contains("@kq_name_newstate[args->newstate]"),
        "{fixed}"
    );
    assert!(
        fixed.contains("@kq_name_oldstate[args->oldstate]"),
        "{fixed}"
    );
    assert!(fixed.contains("%s -> %s %d"), "{fixed}");
    assert_eq!(fixed.matches("BEGIN").count(), 1, "{fixed}");
    assert_eq!(fixed.matches("END").count(), 1, "{fixed}");
    assert!(!notes.is_empty());
    let report = check_load(bpftrace, &fixed, Duration::from_secs(60)).await;
    assert!(
        matches!(report.verdict, LoadVerdict::Attached { .. }),
        "{fixed}\n{}",
        report.diagnostic
    );
}
