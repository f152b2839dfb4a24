//! Type repairs of free-form bpftrace drafts, from the field types the host catalog knows
//! (tracefs `format` files). Each has one sensible fix and is reported with a note:
//! - `str()` of an integer narrower than an address (`str(args->irq)`): bpftrace reads a string
//!   *at the address* given (bpftrace(8) `str(char *data)`: "reads a NULL terminated string
//!   from data"); a 32-bit value is no address on a 64-bit kernel, so the value itself is meant
//!   and the `str()` is dropped (a `%s` that printed it becomes `%d`); so is `str()` of a
//!   syscall's `ret` at its exit, a count or -errno (syscall(2)), never a string's address;
//! - `ntop()` of an integer of 16 bits or fewer (`ntop(args->dport)`): ntop renders an IPv4
//!   address from a 32-bit integer or a 4-byte array, IPv6 from a 16-byte array (bpftrace(8)
//!   `ntop`); 2 bytes are a port, not an address, so the number is printed (`%s` → `%d`). `ntop`
//!   of a `u8[4]`/`u8[16]` array is right as it is;
//! - a `__data_loc char[]` field read without `str()` (`@[args->name]`): bpftrace gives the
//!   field's location word, an integer; the string is read with `str(args->name)` (bpftrace
//!   0.12.0 CHANGELOG, "Support for tracepoint __data_loc fields", #1542); a printf
//!   conversion that is not `%s` for it becomes `%s`;
//! - an address array printed as a number (`printf("%d", args->daddr)` of a `__u8[4]` or
//!   `__u8[16]`): bpftrace rejects an array for `%d`; ntop renders a 4- or 16-byte array as an
//!   IPv4 or IPv6 address (bpftrace(8) `ntop`), so it is printed with `ntop()` and `%s`; a
//!   `char[N]` array printed as a number is a string (`%s`, as bpftrace prints `comm`);
//! - `*` applied to an integer field (`*args->count`): pointers are dereferenced as in C
//!   (bpftrace(8), "Pointers"); an integer is the value, so the `*` goes;
//! - a member of a pointer field read with `.` (`args->statbuf.st_size`): bpftrace refuses it
//!   ("Can not access field … on type 'struct stat *'. Try dereferencing it first, or using
//!   '->'"), and `->` is C's member access through a pointer;
//! - a member of an address family read through a `struct sockaddr *` field
//!   (`args->uservaddr->sin_port`): `struct sockaddr` has only `sa_family` and `sa_data`; the
//!   members belong to the family's own struct, cast to it: `sin_*` to `struct sockaddr_in`
//!   (ip(7)), `sin6_*` to `struct sockaddr_in6` (ipv6(7)), `sun_*` to `struct sockaddr_un`
//!   (unix(7));
//! - a printf whose values are all string literals (a column header) with a conversion letter
//!   or an argument count that does not fit them: the constant text it means is printed
//!   (printf(3) widths kept), see `constant_printfs`;
//! - a builtin printed with a conversion of the other type (`%s` of `pid`, `%d` of `comm`):
//!   bpftrace(8) types its builtins; the conversion follows the builtin, see `builtin_conversions`;
//! - an address array used as a map key (`@[args->daddr]`): bpftrace refuses it ("context
//!   cannot be used as a map key"); the key becomes `ntop(args->daddr)`, the address as text.
//!
//! It repairs only blocks whose probes are all tracepoints of this host that agree on the
//! field's type; it does not judge what the program means (see `draft_filters` for that).
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::host::HostFacts;
use crate::toolchain::bpftrace::expr::{self, Tok, Token};
use crate::toolchain::bpftrace::probe_blocks;
use crate::toolchain::bpftrace::syntax::{Edits, ProbeBlock};

/// What a tracepoint field is, read from its C type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A pointer to a string (`const char *`, `char **`).
    Pointer,
    /// A pointer to data the call reads or fills in: a number or an array of numbers (`int *`,
    /// `unsigned long *`, `int __user *stat_addr` at wait4), or untyped memory (`void *`: read(2)'s
    /// buffer, seccomp(2)'s `args`, which NULL gives a meaning of its own).
    DataPointer,
    /// A pointer to a generic socket address (`struct sockaddr *`).
    SockaddrPointer,
    /// A pointer to another struct (`struct __kernel_timespec *`, `struct sigaction *`).
    StructPointer,
    /// `__data_loc char[]`: a string stored in the record.
    DataLocString,
    /// An array of characters or other elements (`char[16]`); its length when the type says it.
    Array(Option<usize>),
    /// An array of bytes (`__u8[4]`, `unsigned char[16]`): addresses; its length when known.
    Bytes(Option<usize>),
    /// An integer; its width in bits when the type name tells it (`int`, `__u16`, `u64`).
    Integer(Option<u32>),
    /// A 64-bit integer whose type says it is a quantity, never an address: signed (`long`,
    /// `s64`, `loff_t`: a user address is `unsigned long`, as in mmap(2)'s and brk(2)'s
    /// definitions in include/linux/syscalls.h) or a size, offset, sector or inode number
    /// (`size_t`, `sector_t`, `ino_t`).
    Quantity64,
}

impl FieldType {
    /// Reads a tracefs C type: `const char *`, `__data_loc char[]`, `__u8[16]`, `pid_t`.
    pub(super) fn of(ctype: &str) -> FieldType {
        let t = ctype.trim();
        if t.contains('*') {
            let bare = t.replace(' ', "");
            if bare.ends_with("structsockaddr*") {
                return FieldType::SockaddrPointer;
            }
            if bare.contains("struct") {
                // An array of struct pointers (io_submit(2)'s `struct iocb **`) is an address
                // of data too, not a string list like `const char *const *argv`.
                return if bare.contains("**") {
                    FieldType::DataPointer
                } else {
                    FieldType::StructPointer
                };
            }
            let pointee = t
                .split('*')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter(|w| !matches!(*w, "const" | "volatile" | "__user" | "unsigned" | "signed"))
                .collect::<Vec<_>>()
                .join(" ");
            if !bare.contains("**") && !matches!(pointee.as_str(), "char" | "u8" | "__u8" | "") {
                return FieldType::DataPointer;
            }
            return FieldType::Pointer;
        }
        if t.starts_with("__data_loc") {
            return FieldType::DataLocString;
        }
        if let Some(open) = t.find('[') {
            let len = t[open + 1..].trim_end_matches(']').parse().ok();
            let element = t[..open].trim().trim_start_matches("const ").trim();
            return match element {
                "u8" | "__u8" | "unsigned char" | "uint8_t" => FieldType::Bytes(len),
                _ => FieldType::Array(len),
            };
        }
        let bare = t
            .trim_start_matches("const ")
            .trim_start_matches("volatile ")
            .trim();
        if QUANTITY_64.contains(&bare) {
            return FieldType::Quantity64;
        }
        FieldType::Integer(integer_bits(bare))
    }

    /// The type of a tracepoint field: its C type, and where that is a typedef of unknown
    /// width (`xfs_lsn_t`), the size and signedness its format file states: a signed 64-bit
    /// integer is a quantity, a narrower one an integer of that width.
    pub(super) fn of_field(f: &crate::host::Field) -> FieldType {
        let ty = FieldType::of(&f.ctype);
        match (ty, f.layout) {
            (FieldType::Integer(None), Some((8, true))) => FieldType::Quantity64,
            (FieldType::Integer(None), Some((size @ 1..=8, _))) => {
                FieldType::Integer(Some(size * 8))
            }
            _ => ty,
        }
    }

    /// An integer narrower than an address on a 64-bit kernel.
    pub(super) fn narrow_integer(self) -> bool {
        matches!(self, FieldType::Integer(Some(bits)) if bits < 64)
    }

    /// What a field of this type compared with 0 is, for [`super::stated`]: a pointer is an
    /// address (a NULL check), an integer of known width a number the request must state a
    /// test of; arrays and strings are no numbers (compared with 0 they test nothing real); a
    /// typedef of unknown width may be anything. A 64-bit integer may hold a user address
    /// (mmap(2)'s `addr` is `unsigned long`), but a test of it against 0 the request does not
    /// state drops events all the same: `args->arg2 != 0` at keyctl or `args->index != 0` at
    /// a page-cache event keeps what no one asked to keep, and leaving it out only shows more.
    pub(super) fn zero_value(self) -> super::stated::Value {
        use super::stated::Value;
        match self {
            FieldType::Pointer | FieldType::SockaddrPointer => Value::Pointer,
            // A NULL struct pointer a syscall takes has a documented meaning (utimensat(2)
            // `times`: set both timestamps to now; sigaction(2) `act`: only query; select(2)
            // `timeout`: block forever): testing it against 0 picks calls by that meaning, a
            // choice the request must state.
            FieldType::StructPointer => Value::Integer,
            // So has a NULL pointer to a value the call fills in or reads (wait4(2): status is
            // stored "if wstatus is not NULL"; socketpair(2)'s `sv`): not structure either.
            FieldType::DataPointer => Value::Integer,
            FieldType::Integer(Some(_)) | FieldType::Quantity64 => Value::Integer,
            FieldType::Array(_) | FieldType::Bytes(_) | FieldType::DataLocString => Value::Integer,
            FieldType::Integer(None) => Value::Unknown,
        }
    }
}

/// See [`FieldType::Quantity64`].
const QUANTITY_64: [&str; 15] = [
    "long",
    "long int",
    "long long",
    "signed long",
    "s64",
    "__s64",
    "ssize_t",
    "loff_t",
    "off_t",
    "size_t",
    "sector_t",
    "ino_t",
    "ktime_t",
    "time64_t",
    "blkcnt_t",
];

/// The width of an integer type name on a 64-bit (LP64) kernel: C's types, the kernel's fixed
/// widths (include/uapi/asm-generic/int-ll64.h) and its common typedefs (include/linux/types.h).
fn integer_bits(name: &str) -> Option<u32> {
    Some(match name {
        "char" | "signed char" | "unsigned char" | "u8" | "__u8" | "s8" | "__s8" | "bool"
        | "_Bool" => 8,
        "short" | "short int" | "signed short" | "unsigned short" | "unsigned short int"
        | "u16" | "__u16" | "s16" | "__s16" | "__be16" | "__le16" | "umode_t" => 16,
        "int" | "signed int" | "unsigned int" | "unsigned" | "signed" | "u32" | "__u32" | "s32"
        | "__s32" | "__be32" | "__le32" | "pid_t" | "uid_t" | "gid_t" | "gfp_t" | "dev_t"
        | "clockid_t" | "key_serial_t" => 32,
        "long" | "long int" | "unsigned long" | "unsigned long int" | "long long"
        | "unsigned long long" | "u64" | "__u64" | "s64" | "__s64" | "__be64" | "__le64"
        | "size_t" | "ssize_t" | "loff_t" | "off_t" | "sector_t" | "ino_t" | "ktime_t"
        | "time64_t" | "blkcnt_t" => 64,
        _ => return None,
    })
}

/// The types of the `args` fields a block can read: its probes must all be tracepoints of
/// this host, and a field is listed when every one of them has it with the same type.
pub(super) fn block_field_types(
    host: &HostFacts,
    block: &ProbeBlock,
) -> BTreeMap<String, FieldType> {
    let mut out: BTreeMap<String, FieldType> = BTreeMap::new();
    let mut tps = Vec::new();
    for p in &block.probes {
        match host.tracepoints.get(&p.target) {
            Some(tp) if p.is_tracepoint() => tps.push(tp),
            _ => return BTreeMap::new(),
        }
    }
    let Some((first, rest)) = tps.split_first() else {
        return out;
    };
    for f in &first.fields {
        let ty = FieldType::of_field(f);
        let agreed = rest.iter().all(|tp| {
            tp.fields
                .iter()
                .any(|g| g.name == f.name && FieldType::of_field(g) == ty)
        });
        if agreed {
            out.insert(f.name.clone(), ty);
        }
    }
    out
}

/// The fields of a block whose values the kernel prints by name: every tracepoint of the block
/// formats the field with `__print_symbolic` or `__print_flags` in its tracefs `print fmt`
/// (include/trace/stages/stage3_trace_output.h), e.g. `newstate` → `TCP_ESTABLISHED`. A number
/// compared with such a field may be a value the request names in words.
pub(super) fn named_value_fields(host: &HostFacts, block: &ProbeBlock) -> BTreeSet<String> {
    if host.tracefs.is_none() {
        return BTreeSet::new();
    }
    let mut common: Option<BTreeSet<String>> = None;
    for p in &block.probes {
        let Some((subsystem, event)) = p.target.split_once(':').filter(|_| p.is_tracepoint())
        else {
            return BTreeSet::new();
        };
        let named = host.fields_printed_by_name(subsystem, event);
        common = Some(match common {
            None => named,
            Some(c) => c.intersection(&named).cloned().collect(),
        });
    }
    common.unwrap_or_default()
}

/// `args->name` / `args.name` starting at token `k`: its field name and its last token's index.
pub(super) fn args_field_at(toks: &[Token], k: usize) -> Option<(&str, usize)> {
    let is_args = matches!(&toks.get(k)?.tok, Tok::Ident(a) if a == "args");
    let arrow = matches!(&toks.get(k + 1)?.tok, Tok::Punct("->" | "."));
    match &toks.get(k + 2)?.tok {
        Tok::Ident(name) if is_args && arrow => Some((name, k + 2)),
        _ => None,
    }
}

fn is_punct(t: Option<&Token>, p: &str) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(q)) if *q == p)
}

/// One argument of one printf: where its conversion letter is.
pub(super) struct PrintfArgs {
    /// (argument span, the source offset of its conversion letter, the letter).
    args: Vec<(Range<usize>, usize, char)>,
}

impl PrintfArgs {
    pub(super) fn of(text: &str, toks: &[Token]) -> PrintfArgs {
        let mut args = Vec::new();
        for call in expr::calls(toks, "printf") {
            let Some((format, values)) = call.args.split_first() else {
                continue;
            };
            let Some(inner) = text
                .get(format.clone())
                .and_then(|f| f.strip_prefix('"'))
                .and_then(|f| f.strip_suffix('"'))
            else {
                continue;
            };
            let convs = expr::conversions(inner);
            if convs.len() != values.len() {
                continue;
            }
            for (v, c) in values.iter().zip(convs) {
                args.push((v.clone(), format.start + 1 + c.at, c.letter));
            }
        }
        PrintfArgs { args }
    }

    /// The conversion of the printf argument that is exactly `span`, if it is one.
    pub(super) fn conversion(&self, span: &Range<usize>) -> Option<(usize, char)> {
        self.args
            .iter()
            .find(|(a, _, _)| a == span)
            .map(|(_, at, letter)| (*at, *letter))
    }
}

/// Every type repair of the module comment, on a source without comments; the repaired
/// source and one note per repair (the same repair of the same field noted once).
pub(super) fn repair_types(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let mut fix = Fixes {
        source,
        edits: Edits::default(),
        notes: Vec::new(),
    };
    for block in probe_blocks(source) {
        let types = block_field_types(host, &block);
        if types.is_empty() {
            continue;
        }
        let toks = expr::tokens(source, block.span.clone());
        let at = Block {
            toks: &toks,
            types: &types,
            printf: PrintfArgs::of(source, &toks),
            syscall_exits: block
                .probes
                .iter()
                .all(|p| p.target.starts_with("syscalls:sys_exit_")),
        };
        let mut k = 0;
        while k < toks.len() {
            k = fix
                .value_call(&at, k)
                .or_else(|| fix.dereference(&at, k))
                .or_else(|| fix.data_loc(&at, k))
                .or_else(|| fix.printed_array(&at, k))
                .or_else(|| fix.member_access(&at, k))
                .or_else(|| fix.address_key(&at, k))
                .unwrap_or(k + 1);
        }
    }
    let mut source = fix.edits.apply(source);
    let (constant, n) = constant_printfs(&source);
    if !n.is_empty() {
        source = constant;
        fix.notes.extend(n);
    }
    let (whole, n) = ntop_of_address_structs(&source);
    if !n.is_empty() {
        source = whole;
        fix.notes.extend(n);
    }
    let (converted, n) = builtin_conversions(&source);
    if !n.is_empty() {
        source = converted;
        fix.notes.extend(n);
    }
    let (unwrapped, n) = str_of_string_maps(&source);
    if !n.is_empty() {
        source = unwrapped;
        fix.notes.extend(n);
    }
    (source, fix.notes)
}

/// `ntop()` of an address struct (`ntop($sa->sin_addr)`): bpftrace rejects a record ("ntop()
/// expects an integer or array argument, got record"); the address is the struct's one
/// member: `s_addr` of `struct in_addr` (ip(7): `struct in_addr { uint32_t s_addr; }`), and
/// the bytes of `struct in6_addr` (ipv6(7) `s6_addr`, which include/uapi/linux/in6.h defines
/// as `in6_u.u6_addr8`, the name BTF has).
fn ntop_of_address_structs(source: &str) -> (String, Vec<String>) {
    const MEMBERS: &[(&str, &str, &str)] = &[
        ("sin_addr", ".s_addr", "struct in_addr"),
        ("sin6_addr", ".in6_u.u6_addr8", "struct in6_addr"),
    ];
    let toks = expr::tokens(source, 0..source.len());
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for site in expr::calls(&toks, "ntop") {
        let Some(arg) = site.args.last() else {
            continue;
        };
        let inside: Vec<&Token> = toks
            .iter()
            .filter(|t| t.span.start >= arg.start && t.span.end <= arg.end)
            .collect();
        let [.., access, last] = inside.as_slice() else {
            continue;
        };
        if !(access.is("->") || access.is(".")) {
            continue;
        }
        let Some(&(name, member, ty)) = MEMBERS.iter().find(|(n, ..)| last.ident() == Some(n))
        else {
            continue;
        };
        edits.replace(last.span.end..last.span.end, member.to_owned());
        let note = format!("ntop() of {name} (a {ty}) reads its address member: {name}{member}");
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    (edits.apply(source), notes)
}

/// `str()` of a map whose every value is a string already (`@path[tid] = str(args->special)`,
/// then `str(@path[tid])`): bpftrace(8) `str()` reads a string at an address, and refuses a
/// string ("str() expects an integer or a pointer type as first argument (string[64]
/// provided)"); the map's value is what was meant, so the `str()` goes.
fn str_of_string_maps(source: &str) -> (String, Vec<String>) {
    static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(@\w*)\s*(?:\[[^\]\n]*\])?\s*=\s*([^=;\n}][^;\n}]*)").expect("static regex")
    });
    let code = crate::toolchain::bpftrace::syntax::strip_comments(source);
    let mut kinds: BTreeMap<String, bool> = BTreeMap::new();
    for c in ASSIGN.captures_iter(&code) {
        let value = c[2].trim_start();
        let string = value.starts_with("str(")
            || value.starts_with('"')
            || value == "comm"
            || value.starts_with("comm ")
            || value.starts_with("comm;");
        *kinds.entry(c[1].to_owned()).or_insert(true) &= string;
    }
    let toks = expr::tokens(source, 0..source.len());
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for site in expr::calls(&toks, "str") {
        let [arg] = site.args.as_slice() else {
            continue;
        };
        let Some(text) = source.get(arg.clone()) else {
            continue;
        };
        let map: String = text
            .chars()
            .take_while(|ch| *ch == '@' || ch.is_alphanumeric() || *ch == '_')
            .collect();
        let rest = text[map.len()..].trim();
        let whole_map = rest.is_empty() || (rest.starts_with('[') && rest.ends_with(']'));
        if !map.starts_with('@') || !whole_map || kinds.get(&map) != Some(&true) {
            continue;
        }
        edits.replace(site.span.clone(), text.to_owned());
        let note = format!("{map} holds strings already (str() results): str() of it dropped");
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    (edits.apply(source), notes)
}

/// A printf conversion that does not fit the builtin printed with it: bpftrace(8) "Builtins"
/// types `pid`, `tid`, `uid`, `gid`, `cpu`, `nsecs`, `elapsed`, `cgroup` as integers and
/// `comm`, `probe`, `func` as strings, and rejects `%s` of an integer ("%s specifier expects a
/// value of type string (integer supplied)") and `%d` of a string. The builtin says what was
/// meant: the conversion letter becomes `d` (`u` kept) or `s`, flags and width kept.
fn builtin_conversions(source: &str) -> (String, Vec<String>) {
    const INTEGERS: &[&str] = &[
        "pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "cgroup",
    ];
    const STRINGS: &[&str] = &["comm", "probe", "func"];
    const STRING_CALLS: &[&str] = &["str", "ksym", "usym", "ntop", "strftime"];
    let toks = expr::tokens(source, 0..source.len());
    let printf = PrintfArgs::of(source, &toks);
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for (arg, at, letter) in &printf.args {
        let inside: Vec<&Token> = toks
            .iter()
            .filter(|t| t.span.start >= arg.start && t.span.end <= arg.end)
            .collect();
        // A call that returns a string (bpftrace(8): `str()`, `ksym()`, `usym()`, `ntop()`,
        // `strftime()`), whole: `str(args->filename)`.
        if let [first, open, .., close] = inside.as_slice() {
            let string_call = matches!(&first.tok, Tok::Ident(f) if STRING_CALLS.contains(&f.as_str()))
                && open.is("(")
                && close.is(")")
                && close.span.end == arg.end
                && toks
                    .iter()
                    .position(|t| t.span == open.span)
                    .and_then(|o| expr::matching(&toks, o))
                    .is_some_and(|c| toks[c].span == close.span);
            if string_call && matches!(letter, 'd' | 'i' | 'u' | 'x') {
                let Tok::Ident(f) = &first.tok else { continue };
                edits.replace(conversion_span(source, *at), "s".to_owned());
                let note = format!("{f}() is printed with %s: it returns a string");
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            continue;
        }
        let [t] = inside.as_slice() else { continue };
        let Tok::Ident(name) = &t.tok else { continue };
        let want = if INTEGERS.contains(&name.as_str()) && *letter == 's' {
            'd'
        } else if STRINGS.contains(&name.as_str()) && matches!(letter, 'd' | 'i' | 'u' | 'x') {
            's'
        } else {
            continue;
        };
        edits.replace(conversion_span(source, *at), want.to_string());
        let note = format!(
            "{name} is printed with %{want}: bpftrace types it as {}",
            if want == 's' {
                "a string"
            } else {
                "an integer"
            }
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    (edits.apply(source), notes)
}

/// A printf whose values are all string literals (a column header: `printf("%-6s %-6d\n",
/// "PID", "UID")`) prints constant text: it becomes that text (`printf("PID    UID\n")`), each
/// literal padded as its conversion says (printf(3): `-` left-justifies, the digits are the
/// field width). The model's headers often get a conversion letter or the argument count
/// wrong, which bpftrace rejects ("%d specifier expects a value of type integer", "Not
/// enough arguments for format string"); the text is what was meant. Consistent ones (every
/// conversion `%s`, one literal each) are left as written.
fn constant_printfs(source: &str) -> (String, Vec<String>) {
    let toks = expr::tokens(source, 0..source.len());
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for call in expr::calls(&toks, "printf") {
        let Some((format, values)) = call.args.split_first() else {
            continue;
        };
        let literal = |span: &Range<usize>| -> Option<&str> {
            let inside: Vec<&Token> = toks
                .iter()
                .filter(|t| t.span.start >= span.start && t.span.end <= span.end)
                .collect();
            match inside.as_slice() {
                [t] if matches!(t.tok, Tok::Str(_)) => source
                    .get(t.span.clone())
                    .and_then(|s| s.strip_prefix('"'))
                    .and_then(|s| s.strip_suffix('"')),
                _ => None,
            }
        };
        let Some(fmt) = literal(format) else { continue };
        let Some(texts) = values.iter().map(literal).collect::<Option<Vec<&str>>>() else {
            continue;
        };
        if texts.is_empty() {
            continue;
        }
        let convs = expr::conversions(fmt);
        if convs.len() == texts.len() && convs.iter().all(|c| c.letter == 's') {
            continue;
        }
        let Some(rendered) = render_constant(fmt, &texts) else {
            continue;
        };
        edits.replace(call.span.clone(), format!("printf(\"{rendered}\")"));
        notes.push(format!(
            "a printf of constant text ({} literal{} for \"{fmt}\") is printed as the text itself: bpftrace checks each conversion against its argument's type and count",
            texts.len(),
            if texts.len() == 1 { "" } else { "s" }
        ));
    }
    (edits.apply(source), notes)
}

/// A format's text with each conversion replaced by the next literal (an empty one once they
/// run out), padded to the conversion's width; `None` for a conversion it cannot read.
fn render_constant(fmt: &str, texts: &[&str]) -> Option<String> {
    let bytes = fmt.as_bytes();
    let mut out = String::new();
    let mut next = texts.iter();
    let mut k = 0;
    while k < bytes.len() {
        if bytes[k] != b'%' {
            let end = fmt[k..].find('%').map_or(fmt.len(), |i| k + i);
            out.push_str(&fmt[k..end]);
            k = end;
            continue;
        }
        if bytes.get(k + 1) == Some(&b'%') {
            out.push_str("%%");
            k += 2;
            continue;
        }
        k += 1;
        let mut left = false;
        while let Some(b) = bytes.get(k).filter(|b| b"-+ #0".contains(b)) {
            left |= *b == b'-';
            k += 1;
        }
        let width_start = k;
        while bytes.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        let width: usize = fmt[width_start..k].parse().unwrap_or(0);
        if bytes.get(k) == Some(&b'.') {
            k += 1;
            while bytes.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
        }
        while bytes.get(k).is_some_and(|b| b"hlzjtL".contains(b)) {
            k += 1;
        }
        if !bytes.get(k).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        k += 1;
        let text = next.next().copied().unwrap_or("").replace('%', "%%");
        let pad = " ".repeat(width.saturating_sub(text.chars().count()));
        if left {
            out.push_str(&text);
            out.push_str(&pad);
        } else {
            out.push_str(&pad);
            out.push_str(&text);
        }
    }
    Some(out)
}

/// One block's tokens and what the catalog says about them.
struct Block<'b> {
    toks: &'b [Token],
    types: &'b BTreeMap<String, FieldType>,
    printf: PrintfArgs,
    /// Every probe of the block is a syscall's exit, whose `ret` is the call's result.
    syscall_exits: bool,
}

impl Block<'_> {
    fn ty(&self, field: &str) -> Option<FieldType> {
        self.types.get(field).copied()
    }
}

/// The repairs made so far, and their notes (the same repair of the same field noted once).
struct Fixes<'s> {
    source: &'s str,
    edits: Edits,
    notes: Vec<String>,
}

impl Fixes<'_> {
    fn note(&mut self, n: String) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// `str(args->f[, n])` of a narrow integer, `ntop([af, ]args->f)` of a port, at token `k`:
    /// the call is replaced by the field. The index of the token after the call.
    fn value_call(&mut self, b: &Block, k: usize) -> Option<usize> {
        let toks = b.toks;
        let t = toks.get(k)?;
        let call = match &t.tok {
            Tok::Ident(c) if c == "str" || c == "ntop" => c.as_str(),
            _ => return None,
        };
        let site = expr::calls(&toks[k..], call).into_iter().next()?;
        if site.span.start != t.span.start {
            return None;
        }
        if call == "ntop" {
            if let Some(end) = self.ntop_address_first(b, &site) {
                return Some(end);
            }
        }
        let field_arg = if call == "str" {
            site.args.first()
        } else {
            site.args.last()
        }?;
        let (name, _) = field_tokens(toks, field_arg)?;
        let ty = b.ty(name)?;
        // A char array (`char comm[16]`) is a string already: bpftrace refuses str() of it, and
        // prints and compares the array itself.
        let chars = call == "str" && matches!(ty, FieldType::Array(_));
        // A syscall's result is a number or -errno (syscall(2)), never a string's address.
        let result = b.syscall_exits && name == "ret";
        let wrong = if call == "str" {
            ty.narrow_integer() || chars || result
        } else {
            matches!(ty, FieldType::Integer(Some(bits)) if bits <= 16)
        };
        // Compared with a string, a number has no one right form: left alone.
        let before = k.checked_sub(1).and_then(|j| toks.get(j));
        let after = toks.iter().find(|x| x.span.start >= site.span.end);
        let compared = [before, after]
            .into_iter()
            .any(|x| x.is_some_and(|x| matches!(x.tok, Tok::Punct("==" | "!="))));
        if !wrong || (compared && !chars) {
            return None;
        }
        let field = self.source.get(field_arg.clone())?.to_owned();
        self.edits.replace(site.span.clone(), field);
        if chars {
            self.note(format!(
                "args->{name} is a char array, a string already: str() dropped"
            ));
            let end = toks.iter().position(|x| x.span.start >= site.span.end);
            return Some(end.unwrap_or(toks.len()));
        }
        if let Some((at, 's')) = b.printf.conversion(&site.span) {
            self.edits.replace(at..at + 1, "d".to_owned());
        }
        self.note(match ty {
            FieldType::Integer(Some(bits)) if call == "ntop" => format!(
                "args->{name} is {bits}-bit, not an address: printed as a number (ntop() dropped)"
            ),
            _ => format!(
                "args->{name} is an integer, not a string's address: printed as a number (str() dropped)"
            ),
        });
        let end = toks.iter().position(|x| x.span.start >= site.span.end);
        Some(end.unwrap_or(toks.len()))
    }

    /// `ntop(args->f, n)` with an address array first: bpftrace(8) reads two arguments as
    /// `ntop(af, addr)`, so the array is taken for a family ("ntop() only supports integer
    /// arguments"); an array's length already tells IPv4 (4 bytes) from IPv6 (16), so the
    /// second argument goes. The index of the token after the call.
    fn ntop_address_first(&mut self, b: &Block, site: &expr::CallSite) -> Option<usize> {
        let [first, _] = site.args.as_slice() else {
            return None;
        };
        let (name, _) = field_tokens(b.toks, first)?;
        if !matches!(b.ty(name)?, FieldType::Bytes(Some(4 | 16))) {
            return None;
        }
        let field = self.source.get(first.clone())?.to_owned();
        self.edits
            .replace(site.span.clone(), format!("ntop({field})"));
        self.note(format!(
            "args->{name} is an address array: ntop() takes it alone (ntop(af, addr) reads a \
             second argument as the address); the extra argument dropped"
        ));
        let end = b.toks.iter().position(|x| x.span.start >= site.span.end);
        Some(end.unwrap_or(b.toks.len()))
    }

    /// `*args->f` / `*(args->f)` of an integer field at token `k`: the `*` goes.
    fn dereference(&mut self, b: &Block, k: usize) -> Option<usize> {
        let toks = b.toks;
        let t = toks.get(k)?;
        if !matches!(t.tok, Tok::Punct("*")) || !is_prefix_position(toks, k) {
            return None;
        }
        let open = is_punct(toks.get(k + 1), "(");
        let (name, last) = args_field_at(toks, if open { k + 2 } else { k + 1 })?;
        if open && !is_punct(toks.get(last + 1), ")") {
            return None;
        }
        if !matches!(b.ty(name)?, FieldType::Integer(_) | FieldType::Quantity64) {
            return None;
        }
        self.edits.replace(t.span.clone(), String::new());
        self.note(format!(
            "args->{name} is an integer, not a pointer: read as it is (the * dereference removed)"
        ));
        Some(last + 1)
    }

    /// `args->f` of a __data_loc string outside `str()` at token `k`: wrapped in `str()`.
    fn data_loc(&mut self, b: &Block, k: usize) -> Option<usize> {
        let toks = b.toks;
        let (name, last) = args_field_at(toks, k)?;
        if b.ty(name) != Some(FieldType::DataLocString) {
            return None;
        }
        let in_str = k >= 2
            && is_punct(toks.get(k - 1), "(")
            && matches!(&toks[k - 2].tok, Tok::Ident(s) if s == "str");
        if in_str {
            return Some(last + 1);
        }
        let span = toks[k].span.start..toks[last].span.end;
        let field = self.source.get(span.clone())?;
        self.edits.replace(span.clone(), format!("str({field})"));
        if let Some((at, letter)) = b.printf.conversion(&span) {
            if letter != 's' {
                self.edits.replace(at..at + 1, "s".to_owned());
            }
        }
        self.note(format!(
            "args->{name} is a __data_loc string: read with str(args->{name})"
        ));
        Some(last + 1)
    }

    /// A printf argument `args->f` of an array type with a numeric conversion, at token `k`:
    /// an address array is printed with `ntop()` and `%s`, a character array with `%s`.
    fn printed_array(&mut self, b: &Block, k: usize) -> Option<usize> {
        let toks = b.toks;
        let (name, last) = args_field_at(toks, k)?;
        let span = toks[k].span.start..toks[last].span.end;
        let (at, letter) = b.printf.conversion(&span)?;
        if letter == 's' {
            return Some(last + 1);
        }
        match b.ty(name)? {
            FieldType::Bytes(Some(len @ (4 | 16))) => {
                let field = self.source.get(span.clone())?.to_owned();
                self.edits.replace(span, format!("ntop({field})"));
                self.note(format!(
                    "args->{name} is a {len}-byte address, not a number: printed with ntop() and %s"
                ));
            }
            FieldType::Array(_) => self.note(format!(
                "args->{name} is a character array, not a number: printed with %s"
            )),
            _ => return None,
        }
        self.edits
            .replace(conversion_span(self.source, at), "s".to_owned());
        Some(last + 1)
    }
}

impl Fixes<'_> {
    /// `args->f.m` of a pointer field, or `args->f->m` of a `struct sockaddr *` field with a
    /// member of one address family, at token `k`: `.` becomes `->`; the sockaddr is cast to
    /// its family's struct.
    fn member_access(&mut self, b: &Block, k: usize) -> Option<usize> {
        let toks = b.toks;
        let (name, last) = args_field_at(toks, k)?;
        let sep = toks.get(last + 1)?;
        let member = toks.get(last + 2)?.ident()?;
        let ty = b.ty(name)?;
        if !matches!(
            ty,
            FieldType::Pointer
                | FieldType::DataPointer
                | FieldType::SockaddrPointer
                | FieldType::StructPointer
        ) {
            return None;
        }
        if sep.is(".") {
            self.edits.replace(sep.span.clone(), "->".to_owned());
            self.note(format!(
                "args->{name} is a pointer: its member {member} is read with ->"
            ));
        }
        if ty == FieldType::SockaddrPointer && (sep.is(".") || sep.is("->")) {
            let family = if member.starts_with("sin6_") {
                "sockaddr_in6"
            } else if member.starts_with("sin_") {
                "sockaddr_in"
            } else if member.starts_with("sun_") {
                "sockaddr_un"
            } else {
                return Some(last + 3);
            };
            let span = toks[k].span.start..toks[last].span.end;
            let field = self.source.get(span.clone())?;
            self.edits
                .replace(span, format!("((struct {family} *){field})"));
            self.note(format!(
                "args->{name} is a struct sockaddr *: read as struct {family} for {member}"
            ));
        }
        Some(last + 3)
    }

    /// A map key that is exactly `args->f` of a 4- or 16-byte address, at token `k`: keyed by
    /// `ntop(args->f)`.
    fn address_key(&mut self, b: &Block, k: usize) -> Option<usize> {
        let toks = b.toks;
        if !matches!(toks.get(k)?.tok, Tok::Map(_)) || !toks.get(k + 1)?.is("[") {
            return None;
        }
        let close = expr::matching(toks, k + 1)?;
        let mut start = k + 2;
        let mut depth = 0usize;
        for j in k + 2..=close {
            let t = &toks[j];
            if t.is("(") || t.is("[") {
                depth += 1;
            } else if (t.is(")") || t.is("]")) && j != close {
                depth = depth.saturating_sub(1);
            }
            if depth == 0 && (t.is(",") || j == close) {
                if let Some((name, last)) = args_field_at(toks, start) {
                    let whole = last + 1 == j;
                    if whole && matches!(b.ty(name), Some(FieldType::Bytes(Some(4 | 16)))) {
                        let span = toks[start].span.start..toks[last].span.end;
                        let field = self.source.get(span.clone())?.to_owned();
                        self.edits.replace(span, format!("ntop({field})"));
                        self.note(format!(
                            "args->{name} is an address array, which bpftrace cannot use as a map key: keyed by ntop(args->{name})"
                        ));
                    }
                }
                start = j + 1;
            }
        }
        Some(k + 1)
    }
}

/// The span of a conversion's length modifiers and letter (`lu` of `%-8lu`), given the
/// letter's offset in `source`: what a repair replaces to change the conversion.
pub(super) fn conversion_span(source: &str, letter_at: usize) -> Range<usize> {
    let bytes = source.as_bytes();
    let mut start = letter_at;
    while start > 0 && bytes.get(start - 1).is_some_and(|b| b"hlzjt".contains(b)) {
        start -= 1;
    }
    start..letter_at + 1
}

/// The field of an argument that is `args->f` and nothing else.
fn field_tokens<'t>(toks: &'t [Token], arg: &Range<usize>) -> Option<(&'t str, usize)> {
    let first = toks.iter().position(|t| t.span.start == arg.start)?;
    let (name, last) = args_field_at(toks, first)?;
    (toks[last].span.end == arg.end).then_some((name, last))
}

/// `*` at `k` is a prefix (dereference), not a multiplication: what precedes it is not a
/// value.
fn is_prefix_position(toks: &[Token], k: usize) -> bool {
    let Some(prev) = k.checked_sub(1).and_then(|j| toks.get(j)) else {
        return true;
    };
    match &prev.tok {
        Tok::Punct(p) => !matches!(*p, ")" | "]"),
        Tok::Ident(w) => w == "return",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts::for_tests_with_tracepoints(&[
            (
                "irq",
                "irq_handler_entry",
                &[("int", "irq"), ("__data_loc char[]", "name")],
            ),
            (
                "sock",
                "inet_sock_set_state",
                &[
                    ("const void *", "skaddr"),
                    ("__u16", "sport"),
                    ("__u16", "dport"),
                    ("__u16", "family"),
                    ("__u8[4]", "daddr"),
                    ("__u8[16]", "daddr_v6"),
                ],
            ),
            (
                "task",
                "task_rename",
                &[
                    ("pid_t", "pid"),
                    ("char[16]", "oldcomm"),
                    ("char[16]", "newcomm"),
                ],
            ),
            (
                "syscalls",
                "sys_enter_newstat",
                &[("const char *", "filename"), ("struct stat *", "statbuf")],
            ),
            (
                "syscalls",
                "sys_enter_bind",
                &[
                    ("int", "fd"),
                    ("struct sockaddr *", "umyaddr"),
                    ("int", "addrlen"),
                ],
            ),
            ("syscalls", "sys_exit_read", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_read",
                &[
                    ("unsigned int", "fd"),
                    ("char *", "buf"),
                    ("size_t", "count"),
                ],
            ),
        ])
    }

    #[test]
    fn field_types_are_read_from_tracefs_types() {
        assert_eq!(FieldType::of("const char *"), FieldType::Pointer);
        assert_eq!(FieldType::of("void *"), FieldType::DataPointer);
        assert_eq!(FieldType::of("int *"), FieldType::DataPointer);
        assert_eq!(FieldType::of("unsigned long *"), FieldType::DataPointer);
        assert_eq!(FieldType::of("const char *const *"), FieldType::Pointer);
        assert_eq!(FieldType::of("struct iocb * *"), FieldType::DataPointer);
        assert_eq!(
            FieldType::of("struct __kernel_timespec *"),
            FieldType::StructPointer
        );
        assert_eq!(
            FieldType::of("struct sockaddr *"),
            FieldType::SockaddrPointer
        );
        assert_eq!(FieldType::of("__data_loc char[]"), FieldType::DataLocString);
        assert_eq!(FieldType::of("__u8[16]"), FieldType::Bytes(Some(16)));
        assert_eq!(FieldType::of("char[16]"), FieldType::Array(Some(16)));
        assert_eq!(
            FieldType::of("unsigned short"),
            FieldType::Integer(Some(16))
        );
        assert_eq!(FieldType::of("pid_t"), FieldType::Integer(Some(32)));
        assert_eq!(FieldType::of("size_t"), FieldType::Quantity64);
        // A typedef the name does not tell: the format's size and sign do.
        let typedef = |layout| crate::host::Field {
            ctype: "foo_seq_t".into(),
            name: "seq".into(),
            layout,
        };
        assert_eq!(
            FieldType::of_field(&typedef(Some((8, true)))),
            FieldType::Quantity64
        );
        assert_eq!(
            FieldType::of_field(&typedef(Some((4, false)))),
            FieldType::Integer(Some(32))
        );
        assert_eq!(
            FieldType::of_field(&typedef(Some((8, false)))),
            FieldType::Integer(Some(64))
        );
        assert_eq!(
            FieldType::of_field(&typedef(None)),
            FieldType::Integer(None)
        );
        assert_eq!(FieldType::of("long"), FieldType::Quantity64);
        assert_eq!(FieldType::of("unsigned long"), FieldType::Integer(Some(64)));
        assert_eq!(FieldType::of("enum zone_type"), FieldType::Integer(None));
        assert!(FieldType::of("int").narrow_integer());
        assert!(!FieldType::of("unsigned long").narrow_integer());
    }

    #[test]
    fn str_of_a_narrow_integer_is_the_number() {
        let src = "tracepoint:irq:irq_handler_entry { printf(\"%s %s\\n\", str(args->irq), str(args->name)); @[str(args->irq)] = count(); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:irq:irq_handler_entry { printf(\"%d %s\\n\", args->irq, str(args->name)); @[args->irq] = count(); }"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // A 64-bit integer may be an address: left alone.
        let wide = "tracepoint:syscalls:sys_enter_read { printf(\"%s\\n\", str(args->count)); }";
        assert_eq!(repair_types(&host(), wide).0, wide);
        // A syscall's result is a number, however wide.
        let result =
            "tracepoint:syscalls:sys_exit_read { printf(\"%s %s\\n\", comm, str(args->ret)); }";
        assert_eq!(
            repair_types(&host(), result).0,
            "tracepoint:syscalls:sys_exit_read { printf(\"%s %d\\n\", comm, args->ret); }"
        );
    }

    #[test]
    fn members_through_pointers_are_read_with_arrows_and_the_address_familys_struct() {
        let dotted = "tracepoint:syscalls:sys_enter_newstat { printf(\"%s %d\\n\", str(args->filename), args->statbuf.st_mode); }";
        let (fixed, notes) = repair_types(&host(), dotted);
        assert!(fixed.contains("args->statbuf->st_mode"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let generic = "tracepoint:syscalls:sys_enter_bind { printf(\"%d %d\\n\", args->umyaddr->sin_port, args->umyaddr->sa_family); $a = args->umyaddr.sin6_port; }";
        let (fixed, _) = repair_types(&host(), generic);
        assert!(
            fixed.contains("((struct sockaddr_in *)args->umyaddr)->sin_port"),
            "{fixed}"
        );
        assert!(
            fixed.contains("((struct sockaddr_in6 *)args->umyaddr)->sin6_port"),
            "{fixed}"
        );
        // sa_family is struct sockaddr's own member: left alone.
        assert!(fixed.contains("args->umyaddr->sa_family"), "{fixed}");
        // Integers and arrays have no members to repair.
        let fine = "tracepoint:syscalls:sys_enter_read { printf(\"%d\\n\", args->fd); }";
        assert_eq!(repair_types(&host(), fine).0, fine);
    }

    #[test]
    fn an_address_array_keys_a_map_as_text() {
        let src = "tracepoint:sock:inet_sock_set_state { @conns[args->daddr, args->dport] = count(); @v6[args->daddr_v6] = count(); @by[args->sport] = count(); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:sock:inet_sock_set_state { @conns[ntop(args->daddr), args->dport] = count(); @v6[ntop(args->daddr_v6)] = count(); @by[args->sport] = count(); }"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        // Already text: left alone.
        let text = "tracepoint:sock:inet_sock_set_state { @[ntop(args->daddr)] = count(); }";
        assert_eq!(repair_types(&host(), text).0, text);
    }

    #[test]
    fn str_of_a_char_array_is_the_array() {
        let src = "tracepoint:task:task_rename /str(args->newcomm) == \"cron\"/ { printf(\"%s %s %d\\n\", str(args->oldcomm), str(args->newcomm), args->pid); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:task:task_rename /args->newcomm == \"cron\"/ { printf(\"%s %s %d\\n\", args->oldcomm, args->newcomm, args->pid); }"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("char array"), "{notes:?}");
    }

    #[test]
    fn ntop_of_a_port_prints_the_port_and_of_an_address_stays() {
        let src = "tracepoint:sock:inet_sock_set_state { printf(\"%s:%s %s\\n\", ntop(args->daddr), ntop(2, args->dport), ntop(args->daddr_v6)); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:sock:inet_sock_set_state { printf(\"%s:%d %s\\n\", ntop(args->daddr), args->dport, ntop(args->daddr_v6)); }"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("16-bit"), "{notes:?}");
    }

    #[test]
    fn an_address_array_given_a_length_as_well_is_printed_alone() {
        let src = "tracepoint:sock:inet_sock_set_state { printf(\"%s %s\\n\", ntop(args->daddr, 4), ntop(args->daddr_v6, 16)); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:sock:inet_sock_set_state { printf(\"%s %s\\n\", ntop(args->daddr), ntop(args->daddr_v6)); }"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        // The family-first form is already right.
        let (again, notes) = repair_types(
            &host(),
            "tracepoint:sock:inet_sock_set_state { printf(\"%s\\n\", ntop(2, args->daddr)); }",
        );
        assert!(
            notes.is_empty() && again.contains("ntop(2, args->daddr)"),
            "{again} {notes:?}"
        );
    }

    #[test]
    fn data_loc_strings_are_read_with_str() {
        let src = "tracepoint:irq:irq_handler_entry { @[args->name] = count(); printf(\"%d %s\\n\", args->name, str(args->name)); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:irq:irq_handler_entry { @[str(args->name)] = count(); printf(\"%s %s\\n\", str(args->name), str(args->name)); }"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (again, notes) = repair_types(&host(), &fixed);
        assert_eq!((again, notes.len()), (fixed, 0));
    }

    #[test]
    fn a_dereferenced_integer_is_read_as_it_is() {
        let src = "tracepoint:syscalls:sys_enter_read { @a = hist(*args->count); @b = sum(*(args->fd)); @c = 2 * args->fd; $p = *args->buf; }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:syscalls:sys_enter_read { @a = hist(args->count); @b = sum((args->fd)); @c = 2 * args->fd; $p = *args->buf; }"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn address_arrays_printed_as_numbers_are_printed_with_ntop() {
        let src = "tracepoint:sock:inet_sock_set_state { printf(\"%d:%u %-16lu %s\\n\", args->daddr, args->dport, args->daddr_v6, ntop(args->daddr)); }";
        let (fixed, notes) = repair_types(&host(), src);
        assert_eq!(
            fixed,
            "tracepoint:sock:inet_sock_set_state { printf(\"%s:%u %-16s %s\\n\", ntop(args->daddr), args->dport, ntop(args->daddr_v6), ntop(args->daddr)); }"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("4-byte address"), "{notes:?}");
    }

    #[test]
    fn character_arrays_printed_as_numbers_are_printed_as_strings() {
        let host = HostFacts::for_tests_with_tracepoints(&[(
            "task",
            "task_rename",
            &[("pid_t", "pid"), ("char[16]", "newcomm")],
        )]);
        let src = "tracepoint:task:task_rename { printf(\"%d %d\\n\", args->pid, args->newcomm); }";
        let (fixed, notes) = repair_types(&host, src);
        assert_eq!(
            fixed,
            "tracepoint:task:task_rename { printf(\"%d %s\\n\", args->pid, args->newcomm); }"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    /// The live catalog and the real bpftrace: what each repair makes loads and attaches; the
    /// draft that reads a __data_loc field without str() did not.
    #[tokio::test]
    async fn repaired_drafts_load_through_bpftrace() {
        use crate::toolchain::bpftrace::{check_load, LoadVerdict};
        use std::path::Path;
        use std::time::Duration;
        let bpftrace = Path::new("bpftrace");
        let host = HostFacts::discover(bpftrace);
        let drafts = [
            "tracepoint:irq:irq_handler_entry { printf(\"%s %s\\n\", str(args->irq), args->name); @[args->name] = count(); }",
            "tracepoint:sock:inet_sock_set_state { printf(\"%s:%s\\n\", ntop(args->daddr), ntop(args->dport)); }",
            "tracepoint:syscalls:sys_enter_read { @bytes = hist(*args->count); }",
            "tracepoint:sock:inet_sock_set_state { printf(\"%s %d:%lu %d\\n\", comm, args->daddr, args->dport, args->daddr_v6); }",
            "tracepoint:task:task_rename /str(args->newcomm) != \"x\"/ { printf(\"%s -> %s\\n\", str(args->oldcomm), str(args->newcomm)); }",
            "tracepoint:syscalls:sys_enter_connect { printf(\"%s %s\\n\", ntop(((struct sockaddr_in *)args->uservaddr)->sin_addr), ntop(((struct sockaddr_in6 *)args->uservaddr)->sin6_addr)); }",
        ];
        for draft in drafts {
            let (fixed, notes) = repair_types(&host, draft);
            assert!(!notes.is_empty(), "{draft}");
            let report = check_load(bpftrace, &fixed, Duration::from_secs(60)).await;
            assert!(
                matches!(report.verdict, LoadVerdict::Attached { .. }),
                "{fixed}\n{}",
                report.diagnostic
            );
        }
        let before = check_load(bpftrace, drafts[0], Duration::from_secs(60)).await;
        assert_eq!(
            before.verdict,
            LoadVerdict::Rejected,
            "{}",
            before.diagnostic
        );
    }

    #[test]
    fn blocks_without_known_types_are_left_alone() {
        for src in [
            "kprobe:do_sys_open { printf(\"%s\\n\", str(arg1)); }",
            "tracepoint:irq:irq_handler_entry, kprobe:x { @[args->name] = count(); }",
            "tracepoint:nope:nope { @[str(args->irq)] = count(); }",
        ] {
            let (fixed, notes) = repair_types(&host(), src);
            assert_eq!((fixed.as_str(), notes.len()), (src, 0));
        }
    }

    #[test]
    fn ntop_of_an_address_struct_reads_its_address_member() {
        let (fixed, notes) = ntop_of_address_structs(
            "t:syscalls:sys_exit_accept4 { $sa = (struct sockaddr_in *)@a[tid]; printf(\"%s %s\\n\", ntop($sa->sin_addr), ntop(AF_INET6, ((struct sockaddr_in6 *)@a[tid])->sin6_addr)); }",
        );
        assert!(fixed.contains("ntop($sa->sin_addr.s_addr)"), "{fixed}");
        assert!(fixed.contains("->sin6_addr.in6_u.u6_addr8)"), "{fixed}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        // Already a member, or no struct: left alone.
        let done = "t:x:y { printf(\"%s\", ntop($sa->sin_addr.s_addr)); printf(\"%s\", ntop(args->daddr)); }";
        assert_eq!(ntop_of_address_structs(done), (done.to_owned(), vec![]));
    }

    #[test]
    fn str_of_a_map_of_strings_is_the_map() {
        let src = "tracepoint:syscalls:sys_enter_quotactl { @dev[tid] = str(args->special); }\n\
                   tracepoint:syscalls:sys_exit_quotactl /@dev[tid] != \"\"/ { printf(\"%s %d\\n\", str(@dev[tid]), args->ret); delete(@dev[tid]); }";
        let (out, notes) = str_of_string_maps(src);
        assert!(
            out.contains("printf(\"%s %d\\n\", @dev[tid], args->ret)"),
            "{out}"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // A map of addresses is read with str(): left alone.
        let ptr = "tracepoint:syscalls:sys_enter_openat { @f[tid] = args->filename; }\n\
                   tracepoint:syscalls:sys_exit_openat { printf(\"%s\\n\", str(@f[tid])); }";
        assert_eq!(str_of_string_maps(ptr), (ptr.to_owned(), vec![]));
    }

    #[test]
    fn a_builtin_printed_with_the_wrong_conversion_gets_its_type() {
        let src = "tracepoint:capability:cap_capable { printf(\"%-6s %-16d %lu %s %d\\n\", pid, comm, uid, probe, args->cap); }";
        let (out, notes) = builtin_conversions(src);
        assert!(out.contains("\"%-6d %-16s %lu %s %d\\n\""), "{out}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        // Right as written: untouched.
        let ok = "tracepoint:capability:cap_capable { printf(\"%d %s %s\\n\", pid, comm, str(args->cap)); }";
        assert_eq!(builtin_conversions(ok), (ok.to_owned(), vec![]));
        // A call that returns a string, printed as a number.
        let path = "tracepoint:syscalls:sys_enter_chdir { printf(\"%s %-5d %x\\n\", comm, str(args->filename), ksym(args->filename) + 1); }";
        let (out, notes) = builtin_conversions(path);
        assert!(out.contains("\"%s %-5s %x\\n\""), "{out}");
        assert_eq!(notes, ["str() is printed with %s: it returns a string"]);
    }

    #[test]
    fn a_header_printf_of_literals_becomes_its_text() {
        let src = "BEGIN { printf(\"%-6s %-8s %d\\n\", \"PID\", \"COMM\", \"RET\"); }\n\
                   BEGIN { printf(\"%-6s %s %s\\n\", \"A\", \"B\"); }\n\
                   BEGIN { printf(\"%-4s|%s\\n\", \"X\", \"Y\"); }\n\
                   BEGIN { printf(\"%d %s\\n\", pid, \"Y\"); }";
        let (out, notes) = constant_printfs(src);
        assert!(out.contains("printf(\"PID    COMM     RET\\n\")"), "{out}");
        assert!(out.contains("printf(\"A      B \\n\")"), "{out}");
        // Consistent, or not all constant: as written.
        assert!(
            out.contains("printf(\"%-4s|%s\\n\", \"X\", \"Y\")"),
            "{out}"
        );
        assert!(out.contains("printf(\"%d %s\\n\", pid, \"Y\")"), "{out}");
        assert_eq!(notes.len(), 2, "{notes:?}");
    }
}
