//! Property tests (test builds only): the code that reads text a user, a request or a model
//! wrote (the query parser, the bpftrace syntax functions, the coverage check, the
//! deterministic repairs, reply extraction) and the decoder of map output never panic, whatever
//! they are fed. A panic in the daemon ends an ask half-way, so these feed random text, text in
//! other scripts (a multi-byte char next to ASCII is where byte slicing breaks) and fragments
//! of the languages involved, and check an invariant where one is plain.
//!
//! Owns no production code; each function under test keeps its own unit tests beside it.
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::agent::query_repair;
use crate::agent::{parse_reply, Origin, ProgramTarget, Reply};
use crate::check::{check_coverage, expectation, judge, Observation};
use crate::exec::btf_types::TypeTable;
use crate::exec::decode::{decode, log2_histogram, render_map, to_text, MapDump};
use crate::host::HostFacts;
use crate::intent::Intent;
use crate::knowledge::specs::query_facts;
use crate::query::{self, compile::compile, Agg, BinOp, Expr, Item, Term, TimeUnit};
use crate::toolchain::bpftrace::syntax::with_begin_statement;
use crate::toolchain::bpftrace::{args_fields, condense, probe_blocks, strip_comments};

/// Cases per property: enough to find the byte-slicing kind of bug, quick in a debug build.
fn config() -> Config {
    Config::with_cases(256)
}

/// What input is made of: query and bpftrace words, operators, quotes, braces and comment
/// markers, request words the checks look for, and chars of other scripts, including some
/// whose lower case is longer than they are (`İ`) and whitespace that is not ASCII.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "SELECT", "select", " FROM ", "from", " WHERE ", " GROUP BY ", "GROUP", " BY", " as ", " AND ",
    " OR ", "NOT ", "count(", "hist(", "sum(", "avg(", "str(", "contains(", "args->", "args.",
    "->", "comm", "pid", "tid", "ret", "retval", "duration_us", "process_age_ms", "exit_code",
    "arg0", "arg9", "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_read",
    "t:syscalls:sys_enter_read", "tracepoint:syscalls:sys_enter", "kprobe:__x64_sys_openat",
    "kretprobe:__x64_sys_unlink", "uprobe:/bin/bash:readline", "profile:hz:99", "BEGIN", "END",
    "interval:s:1", "{", "}", "(", ")", "[", "]", "/", "//", "/*", "*/", "\"", "\\", "'", "`",
    "```", "```bpftrace\n", ",", ";", "==", "!=", "<", ">=", "&&", "||", "=", "+", "-", "*",
    "%", "&", "|", "@", "$sa->sin_port", "@start[tid]", "nsecs", "ntop(args->daddr)",
    "printf(\"%s %d\\n\", comm, pid);", "printf(\"µs=%d\\n\", $d);", "if (", "if", "64 MiB",
    "0x1f", "99999999999999999999999999999999999999", "9 GiB", " ", "\n", "\t", "µ", "µs", "é",
    "→", "✓", "😀", "\u{a0}", "\u{200b}", "ß", "İ", "ﬁ", "中文", "UNSUPPORTED:",
    "bpftrace -e '", "read()", "bind()", "process name", "how long", "histogram", "octal",
    "port", "errno", "arguments", "size", "named 'x'", "IPv6", "exit code",
];

/// Random text: any chars, printable chars, and sequences of the pieces above mixed with a few
/// random chars.
fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(PIECES).prop_map(str::to_owned);
    prop_oneof![
        "\\PC*",
        any::<String>(),
        prop::collection::vec(piece.clone(), 0..40).prop_map(|v| v.concat()),
        prop::collection::vec(prop_oneof![3 => piece, 1 => "\\PC{0,3}"], 0..40)
            .prop_map(|v| v.concat()),
    ]
}

/// A host with the tracepoints the pieces name, with fields, so checks and repairs get past
/// their lookups; kprobes are unavailable (as `for_tests` says), so kprobe repairs run too.
fn host() -> HostFacts {
    HostFacts::for_tests_with_tracepoints(&[
        (
            "syscalls",
            "sys_enter_openat",
            &[
                ("int", "dfd"),
                ("const char *", "filename"),
                ("int", "flags"),
            ],
        ),
        ("syscalls", "sys_exit_openat", &[("long", "ret")]),
        (
            "syscalls",
            "sys_enter_read",
            &[("unsigned int", "fd"), ("size_t", "count")],
        ),
        ("syscalls", "sys_exit_read", &[("long", "ret")]),
        (
            "syscalls",
            "sys_enter_unlink",
            &[("const char *", "pathname")],
        ),
        ("syscalls", "sys_exit_unlink", &[("long", "ret")]),
        (
            "syscalls",
            "sys_enter_bind",
            &[("struct sockaddr *", "umyaddr"), ("int", "addrlen")],
        ),
        ("syscalls", "sys_exit_bind", &[("long", "ret")]),
        ("raw_syscalls", "sys_enter", &[("long", "id")]),
        ("raw_syscalls", "sys_exit", &[("long", "ret")]),
        (
            "sock",
            "inet_sock_set_state",
            &[
                ("__u16", "family"),
                ("__u16", "dport"),
                ("__u8[4]", "daddr"),
                ("__u8[16]", "daddr_v6"),
                ("__u8[4]", "saddr"),
                ("__u8[16]", "saddr_v6"),
            ],
        ),
        (
            "block",
            "block_rq_issue",
            &[("char[8]", "rwbs"), ("unsigned int", "bytes")],
        ),
    ])
}

/// A query the language accepts, as text, with the parse it must have.
fn valid_query() -> impl Strategy<Value = (String, query::Query)> {
    let term = |s: &str| {
        Expr::Term(match s {
            "comm" | "pid" => Term::Builtin(s.to_owned()),
            "ret" => Term::Ret,
            "duration_us" => Term::Duration(TimeUnit::Us),
            f => Term::Field(f.trim_start_matches("args->").to_owned()),
        })
    };
    let items = prop::collection::vec(
        prop::sample::select(
            &[
                "comm",
                "pid",
                "args->filename",
                "ret",
                "duration_us",
                "count()",
                "hist(duration_us)",
                "sum(args->count)",
            ][..],
        ),
        1..5,
    );
    let from = prop::sample::subsequence(
        &[
            "tracepoint:syscalls:sys_enter_openat",
            "tracepoint:syscalls:sys_enter_read",
            "tracepoint:block:block_rq_issue",
        ][..],
        1..=3,
    );
    // A string literal holds anything but quotes and backslashes: keywords, commas,
    // parentheses and other scripts included.
    let literal = prop_oneof![
        (0i128..10_000_000_000).prop_map(|n| (n.to_string(), Expr::Int(n))),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(&[" FROM ", "GROUP BY", ",", "(", ")", "µ", "é", "😀"][..])
                    .prop_map(str::to_owned),
                "[^\"\\\\`]{0,4}",
            ],
            0..4
        )
        .prop_map(|v| {
            let s = v.concat();
            (format!("\"{s}\""), Expr::Str(s))
        }),
    ];
    let test = (
        prop::sample::select(&["comm", "pid", "args->flags", "ret"][..]),
        prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]),
        literal,
    );
    let filter = prop::collection::vec(test, 0..4);
    let group_by = prop::sample::subsequence(&["comm", "pid", "args->fd"][..], 0..=3);
    let lower_keywords = any::<bool>();
    (items, from, filter, group_by, lower_keywords).prop_map(
        move |(items, from, filter, group_by, lower)| {
            let kw = |k: &str| {
                if lower {
                    k.to_lowercase()
                } else {
                    k.to_owned()
                }
            };
            let mut text = format!(
                "{} {} {} {}",
                kw("SELECT"),
                items.join(", "),
                kw("FROM"),
                from.join(", ")
            );
            let select = items
                .iter()
                .map(|i| match *i {
                    "count()" => Item::Agg(Agg::Count, None),
                    "hist(duration_us)" => Item::Agg(Agg::Hist, Some(term("duration_us"))),
                    "sum(args->count)" => Item::Agg(Agg::Sum, Some(term("args->count"))),
                    v => Item::Value(term(v)),
                })
                .collect();
            let mut cond: Option<Expr> = None;
            for (i, (t, op, (lit, value))) in filter.iter().enumerate() {
                text.push_str(if i == 0 { " WHERE " } else { " AND " });
                text.push_str(&format!("{t} {op} {lit}"));
                let op = BinOp::from_symbol(op).expect("a listed operator");
                let test = Expr::Binary(Box::new(term(t)), op, Box::new(value.clone()));
                cond = Some(match cond {
                    None => test,
                    Some(c) => Expr::Binary(Box::new(c), BinOp::And, Box::new(test)),
                });
            }
            if !group_by.is_empty() {
                text.push_str(&format!(" {} {}", kw("GROUP BY"), group_by.join(", ")));
            }
            let q = query::Query {
                select,
                from: from.iter().map(|p| (*p).to_owned()).collect(),
                filter: cond,
                group_by: group_by.iter().map(|g| term(g)).collect(),
            };
            (text, q)
        },
    )
}

/// bpftrace blocks with known probes and bodies free of braces, quotes and comment markers.
fn known_blocks() -> impl Strategy<Value = Vec<(String, String)>> {
    let probe = prop::sample::select(
        &[
            "tracepoint:syscalls:sys_enter_openat",
            "t:syscalls:sys_exit_read",
            "kprobe:vfs_read",
            "uprobe:/bin/bash:readline",
            "END",
        ][..],
    )
    .prop_map(str::to_owned);
    prop::collection::vec((probe, "[^{}\"/\\\\]{0,30}"), 0..5)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_query_parser_never_panics(text in text(), request in text()) {
        let _ = query::parse(&text);
        let intent = Intent::read(&request);
        let _ = intent.to_string();
        if let Ok(mut q) = query::parse_reply(&text) {
            let _ = query_repair::normalize(&mut q, &intent);
            let events = [query_repair::EventKeys {
                subsystem: request.chars().skip(3).take(5).collect(),
                event: request.chars().take(12).collect(),
                fields: vec!["name".into(), "bytes".into(), text.chars().take(6).collect()],
                named: vec![request.chars().rev().take(4).collect()],
                types: Default::default(),
            }];
            let _ = query_repair::field_names(&mut q, &events);
            let _ = query_repair::keys(&mut q, &intent, &events);
            let _ = query_repair::named_fields(&mut q, &intent, &events);
            let _ = query_repair::prune_filter(&mut q, &intent, &[]);
            if !q.from.iter().any(|p| p.starts_with("uprobe:") || p.starts_with("uretprobe:")) {
                let _ = compile(&host(), query_facts(), &q);
            }
        }
    }

    #[test]
    fn a_valid_query_parses_to_what_it_says((text, want) in valid_query(), request in text()) {
        prop_assert_eq!(query::parse(&text), Ok(want.clone()));
        let fenced = format!("Here it is:\n```sql\n{text};\n```\nDone.");
        prop_assert_eq!(query::parse_reply(&fenced), Ok(want.clone()));
        let mut q = want;
        let intent = Intent::read(&request);
        let _ = query_repair::normalize(&mut q, &intent);
        let _ = query_repair::prune_filter(&mut q, &intent, &[]);
        let _ = compile(&host(), query_facts(), &q);
    }

    #[test]
    fn the_bpftrace_syntax_functions_never_panic(source in text(), stmt in text()) {
        for b in probe_blocks(&source) {
            let _ = args_fields(&b.body);
        }
        let _ = strip_comments(&source);
        let c = condense(&source);
        prop_assert!(c.chars().count() <= 2_402, "{} chars", c.chars().count());
        let with = with_begin_statement(&source, &stmt);
        prop_assert!(with.script.contains(&stmt));
    }

    #[test]
    fn blocks_are_found_with_their_probes_and_bodies(blocks in known_blocks()) {
        let source: String = blocks
            .iter()
            .map(|(probe, body)| format!("{probe}\n{{{body}}}\n"))
            .collect();
        let found = probe_blocks(&source);
        prop_assert_eq!(found.len(), blocks.len(), "{}", source);
        for ((probe, body), b) in blocks.iter().zip(&found) {
            let spec = &b.probes[0];
            let name = if spec.target.is_empty() {
                spec.prefix.clone()
            } else {
                format!("{}:{}", spec.prefix, spec.target)
            };
            prop_assert_eq!(&name, probe);
            prop_assert_eq!(&b.body, body);
        }
    }

    #[test]
    fn coverage_repairs_and_reply_extraction_never_panic(request in text(), source in text()) {
        let h = host();
        let c = check_coverage(&h, &Intent::read(&request), &source);
        prop_assert_eq!(c.passed(), c.detail().starts_with("the program provides"));
        for target in [ProgramTarget::Bpftrace, ProgramTarget::C] {
            for origin in [Origin::Compiled, Origin::Written] {
                let (fixed, notes) = target.repair(&h, &Intent::read(&request), &source, origin, None);
                if notes.is_empty() {
                    prop_assert_eq!(&fixed, &source);
                }
            }
            let _ = target.parse_reply(&source);
        }
        if let Reply::Program { source: program, .. } = parse_reply(&source) {
            prop_assert!(program.ends_with('\n'));
        }
    }

    #[test]
    fn the_smoke_judge_never_panics(request in text(), lines in prop::collection::vec(text(), 0..20)) {
        let obs = Observation { lines, ..Default::default() };
        let _ = judge(&expectation(&Intent::read(&request)), &obs);
    }

    #[test]
    fn histograms_draw_every_bucket_within_52_columns(
        slots in prop::collection::vec((0u64..80, any::<u64>()), 0..40)
    ) {
        let lines = log2_histogram(&slots);
        match (slots.iter().map(|s| s.0).min(), slots.iter().map(|s| s.0).max()) {
            (Some(lo), Some(hi)) => {
                let hi = hi.min(63);
                prop_assert_eq!(lines.len() as u64, hi - lo.min(hi) + 1);
            }
            _ => prop_assert!(lines.is_empty()),
        }
        for l in &lines {
            let bar = l.split_once(" |").map(|(_, b)| b).unwrap_or_default();
            prop_assert_eq!(bar.chars().count(), 53, "{}", l);
            prop_assert!(bar.ends_with('|'));
        }
    }

    #[test]
    fn maps_render_whatever_their_bytes(
        name in prop::sample::select(&["hist", "@us_hist", "counts", "µ"][..]),
        entries in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..20), prop::collection::vec(any::<u8>(), 0..20)),
            0..20,
        ),
        top in prop::option::of(0usize..5),
    ) {
        let dump = MapDump { name, key_type: None, value_type: None, entries, top };
        let _ = render_map(&TypeTable::default(), &dump);
    }

    #[test]
    fn any_btf_and_any_bytes_decode_without_panic(
        types in prop::collection::vec(
            (0u32..64, 0u32..20, 0u32..4, any::<bool>(), any::<u32>(), prop::collection::vec(any::<u32>(), 0..12)),
            0..12,
        ),
        strings in "[a-z_µ]{0,30}",
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        field in prop::sample::select(&["", "daddr", "saddr_v6", "ip", "µ"][..]),
    ) {
        // A well-formed header and string section around random type records.
        let mut ty = Vec::new();
        for (name_off, kind, vlen, kflag, size, extra) in &types {
            let info = (kind << 24) | vlen | (u32::from(*kflag) << 31);
            for w in [*name_off, info, *size].iter().chain(extra) {
                ty.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut str_section = vec![0u8];
        str_section.extend_from_slice(strings.as_bytes());
        str_section.push(0);
        let mut btf = Vec::new();
        btf.extend_from_slice(&0xeb9fu16.to_le_bytes());
        btf.extend_from_slice(&[1, 0]);
        for w in [24u32, 0, ty.len() as u32, ty.len() as u32, str_section.len() as u32] {
            btf.extend_from_slice(&w.to_le_bytes());
        }
        btf.extend_from_slice(&ty);
        btf.extend_from_slice(&str_section);
        if let Ok(table) = TypeTable::parse(&btf) {
            for id in 0..types.len() as u32 + 2 {
                let _ = to_text(&decode(&table, id, &bytes, field));
                let _ = table.size_of(id);
                let _ = table.name_of(id);
            }
            let _ = table.map_definitions();
        }
    }

    #[test]
    fn verifier_logs_condense_without_panic(log in text()) {
        let _ = crate::exec::verifier_log::condense(&log);
    }
}

#[test]
fn the_non_ascii_queries_a_new_user_tries_are_refused_with_the_reason() {
    for (text, want) in [
        (
            "SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE comm == µ",
            "unexpected `µ`",
        ),
        (
            "SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE comm == \"µ\" GROUP é",
            "GROUP must be followed by BY",
        ),
        ("SELECTé comm FROM a:b", "unexpected `é"),
        (
            "SELECT comm FROM a:b WHERE args->len > 99999999999999999999999999999999999 GiB",
            "too large",
        ),
    ] {
        let e = query::parse(text).expect_err(text);
        assert!(e.0.contains(want), "{text}: {e}");
    }
    let q = query::parse(
        "SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE comm == \"µs→é\"",
    )
    .expect("a string in any script parses");
    assert_eq!(
        q.filter,
        Some(Expr::Binary(
            Box::new(Expr::Term(Term::Builtin("comm".into()))),
            BinOp::Eq,
            Box::new(Expr::Str("µs→é".into()))
        ))
    );
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!(
        "SELECT comm FROM a:b WHERE {}pid{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(query::parse(&deep).is_err());
    let negations = format!("SELECT comm FROM a:b WHERE {}pid", "-".repeat(100_000));
    assert!(query::parse(&negations).is_err());
    let long = format!("SELECT comm FROM a:b WHERE pid{}", " + 1".repeat(100_000));
    assert!(query::parse(&long).is_err());
    let fine = format!(
        "SELECT comm FROM a:b WHERE {}pid{} > 0",
        "(".repeat(10),
        ")".repeat(10)
    );
    assert!(query::parse(&fine).is_ok());
}

#[test]
fn a_candidate_with_non_ascii_text_is_checked_for_coverage() {
    let source = "tracepoint:syscalls:sys_enter_read { if (args->count > 0) { printf(\"µs→ %s %d\\n\", comm, args->count); } }";
    let c = check_coverage(
        &host(),
        &Intent::read("print the process name and size of every read()"),
        source,
    );
    assert!(c.passed(), "{}", c.detail());
    let filtered =
        "tracepoint:syscalls:sys_enter_read { if (comm == \"é\") { printf(\"µs\\n\"); } }";
    let c = check_coverage(
        &host(),
        &Intent::read("print the process name of every read()"),
        filtered,
    );
    assert!(
        !c.passed(),
        "comm only in a condition is not reported: {}",
        c.detail()
    );
}

#[test]
fn two_keys_in_one_bucket_stay_within_the_bar() {
    let lines = log2_histogram(&[(3, 10), (3, 10), (4, 15)]);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].contains(&format!("20 |{}|", "@".repeat(52))),
        "{lines:?}"
    );
    let huge = log2_histogram(&[(1, u64::MAX), (1, u64::MAX), (2, 1)]);
    assert!(huge[0].contains(&"@".repeat(52)), "{huge:?}");
}

/// Found by `any_btf_and_any_bytes_decode_without_panic`: a typedef or array that names itself
/// (malformed, but BTF comes from a compiled object) made `name_of` recurse until the stack
/// overflowed.
#[test]
fn a_btf_type_that_names_itself_is_named_without_a_stack_overflow() {
    for (kind, name_off, extra) in [(3u32, 0u32, vec![1u32, 1, 4]), (8, 0, vec![])] {
        // kind 3: an array of itself (btf_array: elem 1, index 1, 4 elements);
        // kind 8: a typedef with no name whose target is itself (type id 1).
        let mut ty = Vec::new();
        let size_or_type = if kind == 8 { 1 } else { 0 };
        for w in [name_off, kind << 24, size_or_type].iter().chain(&extra) {
            ty.extend_from_slice(&w.to_le_bytes());
        }
        let strings = [0u8];
        let mut btf = Vec::new();
        btf.extend_from_slice(&0xeb9fu16.to_le_bytes());
        btf.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            ty.len() as u32,
            ty.len() as u32,
            strings.len() as u32,
        ] {
            btf.extend_from_slice(&w.to_le_bytes());
        }
        btf.extend_from_slice(&ty);
        btf.extend_from_slice(&strings);
        let table = TypeTable::parse(&btf).expect("a well-formed table");
        assert!(table.name_of(1).contains('?'), "{}", table.name_of(1));
        let _ = to_text(&decode(&table, 1, &[0; 16], ""));
    }
}
