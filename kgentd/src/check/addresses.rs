//! Addresses shown as if they were data: a tracepoint field that points to a struct (`const
//! struct __kernel_timespec * rqtp`, `struct stat * statbuf`) printed as a number, or summed,
//! averaged or put in a histogram, shows where the data is in the traced process, not the data.
//! Pointers to buffers and integers (`void * buff`, `int * upeer_addrlen`) are left alone: a
//! program printing one beside what was asked shows noise, not a wrong answer. A
//! request for "the requested duration" answered with `args->rqtp` printed by `%d` passes every
//! other check: the program loads, fires and prints numbers.
//!
//! The type comes from the tracepoint's format file (tracefs); what it means to print a pointer
//! from bpftrace(8): integers print with `%d`/`%u`, a pointer's members are read with `->`
//! (bpftrace reads the memory; "Pointers … can be dereferenced like in C"). A `char *` is a
//! string (`str()`), not an address. A pointer printed in hex (`%x`, `%p`) or used as a map key
//! (the identity of a socket, a request) is deliberate and left alone.
//!
//! Values carried in a map or a scratch variable are followed one step: `@p[tid] =
//! args->rqtp` at entry, `printf("%d", @p[tid])` at exit shows the address all the same.
use std::collections::{BTreeMap, BTreeSet};

use crate::host::HostFacts;
use crate::symbolic::program::{read, Block, Stmt, Store};
use crate::toolchain::bpftrace::expr::{conversions, Expr, Node};

/// One line for the model when the program shows an address as a value; None otherwise.
pub(super) fn addresses_shown(host: &HostFacts, source: &str) -> Option<String> {
    let blocks = read(source);
    let mut pointers: BTreeMap<String, String> = BTreeMap::new(); // @map / $var → field
    let mut dereferenced: BTreeSet<String> = BTreeSet::new();
    for block in &blocks {
        let fields = pointer_fields(host, block);
        visit(&block.body, &mut |s| {
            let (name, value) = match s {
                Stmt::Map {
                    map,
                    store: Store::Value(v),
                    ..
                } => (format!("@{map}"), v),
                Stmt::Var(var, v) => (format!("${var}"), v),
                _ => return,
            };
            if let Some((field, ctype)) = value.args_field().and_then(|f| fields.get_key_value(f)) {
                pointers.insert(name, format!("args->{field} ({ctype})"));
            }
        });
        visit(&block.body, &mut |s| {
            for n in nodes_of(s) {
                members_of(n, &mut dereferenced);
            }
        });
    }
    let mut shown: Vec<String> = Vec::new();
    for block in &blocks {
        let fields = pointer_fields(host, block);
        let as_address = |n: &Node| -> Option<String> {
            let n = n.bare();
            if let Some((field, ctype)) = n.args_field().and_then(|f| fields.get_key_value(f)) {
                return Some(format!("args->{field} ({ctype})"));
            }
            let name = match &n.expr {
                Expr::Map(m) => format!("@{m}"),
                Expr::Index(base, _) => match &base.bare().expr {
                    Expr::Map(m) => format!("@{m}"),
                    _ => return None,
                },
                Expr::Var(v) => format!("${v}"),
                _ => return None,
            };
            if dereferenced.contains(&name) {
                return None;
            }
            pointers.get(&name).cloned()
        };
        visit(&block.body, &mut |s| match s {
            Stmt::Output { call, format, args } if call == "printf" => {
                for (conv, arg) in conversions(format).iter().zip(args) {
                    if matches!(conv.letter, 'd' | 'i' | 'u') {
                        shown.extend(as_address(arg));
                    }
                }
            }
            Stmt::Map {
                store: Store::Aggregate(agg, Some(v)),
                ..
            } if matches!(
                agg.as_str(),
                "sum" | "avg" | "min" | "max" | "hist" | "lhist"
            ) =>
            {
                shown.extend(as_address(v));
            }
            _ => {}
        });
    }
    shown.sort();
    shown.dedup();
    (!shown.is_empty()).then(|| {
        format!(
            "the program shows {} as a number: that is an address in the traced process, not \
             the data; read what it points to with `->` (e.g. args->FIELD->MEMBER), or print \
             it with %lx if the address itself is wanted",
            shown.join(" and ")
        )
    })
}

/// An integer field too narrow to hold an address (`int fd`, `int backlog`: 32 bits or less,
/// by its C type in the tracepoint's format file) cast to a struct pointer and read through:
/// bpftrace reads whatever memory that number names, so the program prints garbage that looks
/// like data. One line for the model; None otherwise.
pub(super) fn integers_read_as_structs(host: &HostFacts, source: &str) -> Option<String> {
    use std::sync::LazyLock;
    static CAST: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"\(\s*(?:const\s+)?struct\s+(\w+)\s*\*\s*\)\s*\(?\s*args\s*(?:->|\.)\s*(\w+)",
        )
        .expect("static regex")
    });
    // C integer types of at most 32 bits (an x86-64 address needs 64).
    let narrow = |ctype: &str| {
        let t = ctype.trim().trim_start_matches("const ").trim();
        !t.contains('*')
            && !t.contains('[')
            && matches!(
                t,
                "int"
                    | "unsigned int"
                    | "unsigned"
                    | "short"
                    | "unsigned short"
                    | "char"
                    | "unsigned char"
                    | "bool"
                    | "u32"
                    | "s32"
                    | "__u32"
                    | "__s32"
                    | "u16"
                    | "s16"
                    | "__u16"
                    | "__s16"
                    | "u8"
                    | "s8"
                    | "__u8"
                    | "__s8"
                    | "pid_t"
                    | "uid_t"
                    | "gid_t"
                    | "umode_t"
                    | "key_t"
                    | "qid_t"
                    | "clockid_t"
                    | "timer_t"
                    | "mqd_t"
                    | "__be16"
                    | "__be32"
            )
    };
    let mut found = Vec::new();
    for b in crate::toolchain::bpftrace::probe_blocks(source) {
        let text = source.get(b.span.clone()).unwrap_or_default();
        for c in CAST.captures_iter(text) {
            let (Some(st), Some(name)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let ctype = b.probes.iter().filter(|p| p.is_tracepoint()).find_map(|p| {
                host.tracepoints
                    .get(&p.target)?
                    .fields
                    .iter()
                    .find(|f| f.name == name.as_str())
                    .map(|f| f.ctype.clone())
            });
            if let Some(ctype) = ctype.filter(|t| narrow(t)) {
                found.push(format!(
                    "args->{} ({ctype}) is a number, not an address: casting it to struct {} * reads memory it does not point to",
                    name.as_str(),
                    st.as_str()
                ));
            }
        }
    }
    found.dedup();
    (!found.is_empty()).then(|| {
        format!(
            "{}; print the field itself, or read the struct from a pointer field of the event",
            found.join("; ")
        )
    })
}

/// The pointer fields (not strings) of a block's tracepoints, with their C types; empty when
/// its probes are not all tracepoints of this host that agree on a field's type.
fn pointer_fields(host: &HostFacts, block: &Block) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut conflicting: BTreeSet<String> = BTreeSet::new();
    for p in &block.probes {
        if !p.is_tracepoint() {
            return BTreeMap::new();
        }
        let Some(tp) = host.tracepoints.get(&p.target) else {
            return BTreeMap::new();
        };
        for f in &tp.fields {
            // A struct is what a request asks about (a timespec, a stat, an rusage); a bare
            // buffer or integer pointer printed beside the data is noise, not a wrong answer.
            let to_struct = f.ctype.contains("struct ") && f.ctype.contains('*');
            if !to_struct || f.is_string() {
                continue;
            }
            if out.get(&f.name).is_some_and(|t| *t != f.ctype) {
                conflicting.insert(f.name.clone());
            }
            out.insert(f.name.clone(), f.ctype.clone());
        }
    }
    out.retain(|name, _| !conflicting.contains(name));
    out
}

/// Every statement, nested ones included.
pub(super) fn visit(stmts: &[Stmt], f: &mut impl FnMut(&Stmt)) {
    for s in stmts {
        f(s);
        if let Stmt::If {
            then, otherwise, ..
        } = s
        {
            visit(then, f);
            visit(otherwise, f);
        }
    }
}

/// The expressions a statement holds (not those of nested statements).
fn nodes_of(s: &Stmt) -> Vec<&Node> {
    match s {
        Stmt::Var(_, v) => vec![v],
        Stmt::Map { keys, store, .. } => {
            let mut out: Vec<&Node> = keys.iter().collect();
            match store {
                Store::Value(v) | Store::Update(_, v) | Store::Aggregate(_, Some(v)) => out.push(v),
                Store::Aggregate(_, None) => {}
            }
            out
        }
        Stmt::Delete { keys, .. } => keys.iter().collect(),
        Stmt::Output { args, .. } => args.iter().collect(),
        Stmt::If { condition, .. } => vec![condition],
        Stmt::Exit | Stmt::Opaque(_) => Vec::new(),
    }
}

/// Maps and variables whose value is read through `->` or `.` somewhere in `n`.
fn members_of(n: &Node, out: &mut BTreeSet<String>) {
    match &n.expr {
        Expr::Member(base, _) => {
            match &base.bare().expr {
                Expr::Map(m) => {
                    out.insert(format!("@{m}"));
                }
                Expr::Index(b, _) => {
                    if let Expr::Map(m) = &b.bare().expr {
                        out.insert(format!("@{m}"));
                    }
                }
                Expr::Var(v) => {
                    out.insert(format!("${v}"));
                }
                _ => {}
            }
            members_of(base, out);
        }
        Expr::Index(a, b) | Expr::Binary(a, _, b) => {
            members_of(a, out);
            members_of(b, out);
        }
        Expr::Prefix(_, a) | Expr::Cast(_, a) | Expr::Group(a) => members_of(a, out),
        Expr::Call(_, args) | Expr::Tuple(args) => {
            for a in args {
                members_of(a, out);
            }
        }
        Expr::Ternary(a, b, c) => {
            members_of(a, out);
            members_of(b, out);
            members_of(c, out);
        }
        Expr::Int(_) | Expr::Str(_) | Expr::Ident(_) | Expr::Var(_) | Expr::Map(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Field;

    fn host() -> HostFacts {
        let mut h = HostFacts::for_tests_with_syscalls(&["nanosleep", "accept4"]);
        let field = |ctype: &str, name: &str| Field {
            ctype: ctype.into(),
            name: name.into(),
            ..Default::default()
        };
        if let Some(tp) = h.tracepoints.get_mut("syscalls:sys_enter_nanosleep") {
            tp.fields = vec![
                field("struct __kernel_timespec *", "rqtp"),
                field("struct __kernel_timespec *", "rmtp"),
            ];
        }
        if let Some(tp) = h.tracepoints.get_mut("syscalls:sys_enter_accept4") {
            tp.fields = vec![
                field("int", "fd"),
                field("struct sockaddr *", "upeer_sockaddr"),
                field("int *", "upeer_addrlen"),
                field("const char *", "name"),
            ];
        }
        h
    }

    #[test]
    fn an_integer_cast_to_a_struct_pointer_is_refused() {
        let h = host();
        let cast = "tracepoint:syscalls:sys_enter_accept4 { $s = (struct sockaddr_in *)args->fd; printf(\"%d\\n\", $s->sin_port); }";
        let why = integers_read_as_structs(&h, cast).expect("refused");
        assert!(why.contains("args->fd (int)"), "{why}");
        // A pointer field cast to the struct it points to is how sockaddrs are read.
        let fine = "tracepoint:syscalls:sys_enter_accept4 { $s = (struct sockaddr_in *)args->upeer_sockaddr; printf(\"%d\\n\", $s->sin_port); }";
        assert_eq!(integers_read_as_structs(&h, fine), None);
    }

    #[test]
    fn a_pointer_printed_as_a_number_is_an_address() {
        let h = host();
        let direct =
            "tracepoint:syscalls:sys_enter_nanosleep { printf(\"%s %d\\n\", comm, args->rqtp); }";
        let why = addresses_shown(&h, direct).expect("an address shown");
        assert!(why.contains("args->rqtp"), "{why}");
        // Carried from entry to exit in a map, it is the same address.
        let carried = "tracepoint:syscalls:sys_enter_nanosleep { @req[tid] = args->rqtp; }\n\
                       tracepoint:syscalls:sys_exit_nanosleep { printf(\"%lu\\n\", @req[tid]); delete(@req[tid]); }";
        assert!(addresses_shown(&h, carried).is_some());
        let summed =
            "tracepoint:syscalls:sys_enter_accept4 { @peers = sum(args->upeer_sockaddr); }";
        assert!(addresses_shown(&h, summed).is_some());
        // A pointer to an integer or a buffer printed beside the data is noise, not refused.
        let noise = "tracepoint:syscalls:sys_enter_accept4 { printf(\"%d %d\\n\", args->fd, args->upeer_addrlen); }";
        assert_eq!(addresses_shown(&h, noise), None);
    }

    #[test]
    fn members_strings_keys_and_hex_are_not_addresses_shown() {
        let h = host();
        for fine in [
            "tracepoint:syscalls:sys_enter_nanosleep { printf(\"%d\\n\", args->rqtp->tv_sec); }",
            "tracepoint:syscalls:sys_enter_nanosleep { printf(\"%lx\\n\", args->rqtp); }",
            "tracepoint:syscalls:sys_enter_accept4 { printf(\"%d %s\\n\", args->fd, str(args->name)); }",
            "tracepoint:syscalls:sys_enter_accept4 { @by[args->upeer_sockaddr] = count(); }",
            "tracepoint:syscalls:sys_enter_nanosleep { @t[tid] = args->rqtp; }\n\
             tracepoint:syscalls:sys_exit_nanosleep { printf(\"%d\\n\", @t[tid]->tv_sec); }",
            "profile:hz:99 { printf(\"%d\\n\", pid); }",
        ] {
            assert_eq!(addresses_shown(&h, fine), None, "{fine}");
        }
    }
}
