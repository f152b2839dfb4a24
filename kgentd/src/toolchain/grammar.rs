//! A GBNF grammar (llama.cpp's grammar format) for the bpftrace subset kgent emits, generated
//! per request so that a constrained model *cannot* write an attach point outside the allowed
//! set, an `args->` field its probe lacks, an unknown builtin or function, or C syntax bpftrace
//! rejects (`continue` outside loops, declarations, bare assignments without `$`).
//!
//! The allowed probes come from the host catalog narrowed by retrieval; each probe gets its own
//! copy of the statement and expression rules, because the fields `args->` may name differ per
//! probe. This module knows bpftrace's syntax only; which probes are allowed is the caller's
//! decision. Backends without grammar support get the same guarantees from the checks that run
//! after generation.
use std::fmt::Write as _;

/// One attach point the grammar allows, with what its body may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedProbe {
    /// The probe exactly as written in a program, e.g. `tracepoint:syscalls:sys_enter_openat`.
    pub name: String,
    pub context: ProbeContext,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeContext {
    /// A tracepoint: `args->FIELD` for exactly these fields.
    Tracepoint { fields: Vec<String> },
    /// A uprobe: `arg0`..`arg5`.
    Uprobe,
    /// A uretprobe: `retval`.
    Uretprobe,
    /// BEGIN, END, interval and profile probes: no arguments.
    Plain,
}

impl AllowedProbe {
    pub fn tracepoint(name: impl Into<String>, fields: Vec<String>) -> Self {
        Self {
            name: name.into(),
            context: ProbeContext::Tracepoint { fields },
        }
    }
}

/// Rules shared by every probe variant: literals, names, operators.
const COMMON: &str = r#"
ws ::= [ ]{0,2}
sp ::= [ \t\n]{0,12}
nl ::= [ \t]{0,4} "\n"
comment ::= "//" [^\n]{0,100} "\n"
ident ::= [a-zA-Z_] [a-zA-Z0-9_]{0,24}
var ::= "$" ident
mapname ::= "@" ident?
int ::= "0x" [0-9a-fA-F]{1,16} | [0-9]{1,20}
string ::= "\"" ( [^"\\\n] | "\\" [nt"\\0-9] ){0,120} "\""
binop ::= "==" | "!=" | "<=" | ">=" | "<<" | ">>" | "<" | ">" | "&&" | "||" | "+" | "-" | "*" | "/" | "%" | "&" | "|" | "^"
assignop ::= "=" | "+=" | "-=" | "*=" | "/=" | "|=" | "&="
builtin ::= "pid" | "tid" | "comm" | "uid" | "gid" | "nsecs" | "elapsed" | "cpu" | "cgroup" | "curtask" | "kstack" | "ustack" | "probe" | "username" | "func"
structname ::= "sockaddr_in6" | "sockaddr_in" | "sockaddr" | "sock" | "task_struct" | "file" | "inode" | "dentry"
member ::= ("->" | ".") ident
aggname ::= "sum" | "avg" | "min" | "max" | "hist" | "stats"
end ::= "\n"{1,2}
"#;

/// Statement and expression rules, instantiated once per probe variant (`V` is its suffix,
/// `ARGS` the variant's argument terms).
const VARIANT: &str = r#"
body-V ::= "{" sp (stmt-V sp){0,16} "}"
pred-V ::= "/" ws expr-V ws "/"
stmt-V ::= comment | simple-V ws ";" | if-V
simple-V ::= printf-V | var ws assignop ws expr-V | map-V ws assignop ws (agg-V | expr-V) | map-V "++" | "delete(" map-V ")" | "print(" mapname (ws "," ws int)? ")" | "clear(" mapname ")" | "zero(" mapname ")" | "time(" string ")" | "join(" expr-V (ws "," ws string)? ")"
if-V ::= "if" ws "(" ws expr-V ws ")" ws "{" sp (stmt-V sp){0,8} "}" (sp "else" ws (if-V | "{" sp (stmt-V sp){0,8} "}"))?
printf-V ::= "printf(" string (ws "," ws expr-V){0,8} ")"
agg-V ::= "count()" | aggname "(" expr-V ")" | "lhist(" expr-V ws "," ws int ws "," ws int ws "," ws int ")"
map-V ::= mapname ("[" expr-V (ws "," ws expr-V){0,3} "]")?
expr-V ::= unary-V (ws binop ws unary-V){0,6} (ws "?" ws unary-V ws ":" ws unary-V)?
unary-V ::= ("!" | "-" | "~")? postfix-V
postfix-V ::= term-V member{0,3}
term-V ::= ARGS builtin | var | map-V | int | string | "(" ws expr-V ws ")" | "(struct " structname " *)" ws term-V | call-V
call-V ::= ("str" | "ntop" | "ksym" | "usym" | "strftime" | "strncmp" | "buf") "(" expr-V (ws "," ws expr-V){0,2} ")"
"#;

/// The grammar's text, or None when `allowed` holds no probe that observes an event (a program
/// of BEGIN/END/interval blocks alone observes nothing). BEGIN, END and intervals are always
/// allowed besides.
pub fn gbnf(allowed: &[AllowedProbe]) -> Option<String> {
    if allowed.iter().all(|p| p.context == ProbeContext::Plain) {
        return None;
    }
    let mut g = String::new();
    let mut events = Vec::new();
    let mut variants: Vec<(String, String)> = Vec::new(); // (suffix, args terms)

    // Plain probes share one variant.
    variants.push(("plain".into(), String::new()));
    // Periodic output only; CPU sampling (`profile:hz:N`) fires for every process on the host and
    // is allowed only when the caller lists it (a request about CPU time or hot code).
    let timer = r#"("interval:s:" [1-9] [0-9]? | "interval:ms:" [1-9] [0-9]{0,3}) sp (pred-plain sp)? body-plain"#;

    for (i, p) in allowed.iter().enumerate() {
        let (suffix, args) = match &p.context {
            ProbeContext::Plain => ("plain".to_owned(), String::new()),
            ProbeContext::Uprobe => ("uprobe".to_owned(), r#"("arg" [0-5]) | "#.to_owned()),
            ProbeContext::Uretprobe => ("uret".to_owned(), r#""retval" | "#.to_owned()),
            ProbeContext::Tracepoint { fields } if fields.is_empty() => {
                ("plain".to_owned(), String::new())
            }
            ProbeContext::Tracepoint { fields } => {
                let suffix = format!("p{i}");
                let alts: Vec<String> = fields.iter().map(|f| literal(f)).collect();
                let _ = writeln!(g, "field-{suffix} ::= {}", alts.join(" | "));
                (suffix.clone(), format!(r#""args->" field-{suffix} | "#))
            }
        };
        if !variants.iter().any(|(s, _)| *s == suffix) {
            variants.push((suffix.clone(), args));
        }
        events.push(format!(
            "{} sp (pred-{suffix} sp)? body-{suffix}",
            literal(&p.name)
        ));
    }

    // At least one block observes an event: BEGIN/END/interval alone observe nothing.
    // bpftrace 0.17 refuses a second BEGIN or END: one of each at most, first and last.
    g.push_str("root ::= \"```bpftrace\\n\" comment{0,3} (\"BEGIN\" sp body-plain end)? event (end (event | timer)){0,7} (end \"END\" sp body-plain)? \"\\n\"? \"```\"\n");
    let _ = writeln!(g, "timer ::= {timer}");
    let _ = writeln!(g, "event ::= {}", events.join(" | "));
    g.push_str(COMMON);
    for (suffix, args) in &variants {
        g.push_str(
            &VARIANT
                .replace("-V", &format!("-{suffix}"))
                .replace("ARGS ", args),
        );
    }
    Some(g)
}

/// The grammar of a plan: one to four of the allowed event probes, one per line, then one line
/// saying what to record. None when no event probe is allowed.
pub fn plan_gbnf(allowed: &[AllowedProbe]) -> Option<String> {
    let names: Vec<String> = allowed
        .iter()
        .filter(|p| p.context != ProbeContext::Plain)
        .map(|p| literal(&p.name))
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(format!(
        "root ::= \"Probes:\\n\" (\"- \" probe \"\\n\"){{1,4}} \"Record: \" [^\\n]{{1,160}} \"\\n\"\nprobe ::= {}\n",
        names.join(" | ")
    ))
}

/// A GBNF string literal.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<AllowedProbe> {
        vec![
            AllowedProbe::tracepoint(
                "tracepoint:syscalls:sys_enter_openat",
                vec![
                    "dfd".into(),
                    "filename".into(),
                    "flags".into(),
                    "mode".into(),
                ],
            ),
            AllowedProbe::tracepoint("tracepoint:syscalls:sys_exit_openat", vec!["ret".into()]),
            AllowedProbe {
                name: "uretprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:malloc".into(),
                context: ProbeContext::Uretprobe,
            },
        ]
    }

    #[test]
    fn each_tracepoint_gets_its_own_fields() {
        let g = gbnf(&sample()).expect("event probes");
        assert!(g.contains(r#"field-p0 ::= "dfd" | "filename" | "flags" | "mode""#));
        assert!(g.contains(r#"field-p1 ::= "ret""#));
        assert!(g.contains(r#"term-p1 ::= "args->" field-p1 | builtin"#));
        assert!(g.contains(r#"term-uret ::= "retval" | builtin"#));
        assert!(g.contains(r#"term-plain ::= builtin"#));
        // Each variant's rules are defined exactly once.
        assert_eq!(g.matches("\nbody-plain ::=").count(), 1);
        assert_eq!(g.matches("\nbody-p0 ::=").count(), 1);
    }

    #[test]
    fn probe_names_are_quoted_literals() {
        let g = gbnf(&sample()).expect("event probes");
        assert!(g.contains(r#""tracepoint:syscalls:sys_enter_openat" sp (pred-p0 sp)? body-p0"#));
        assert!(!g.contains("kprobe"));
        // CPU sampling only when the caller lists it.
        assert!(!g.contains("profile:hz"));
        let mut with_sampling = sample();
        with_sampling.push(AllowedProbe {
            name: "profile:hz:99".into(),
            context: ProbeContext::Plain,
        });
        let g = gbnf(&with_sampling).expect("grammar");
        assert!(g.contains(r#""profile:hz:99" sp (pred-plain sp)? body-plain"#));
    }

    #[test]
    fn a_plan_names_only_allowed_event_probes() {
        let g = plan_gbnf(&sample()).expect("plan grammar");
        assert!(
            g.starts_with("root ::= \"Probes:\\n\" (\"- \" probe \"\\n\"){1,4}"),
            "{g}"
        );
        assert!(g.contains(r#"probe ::= "tracepoint:syscalls:sys_enter_openat" | "tracepoint:syscalls:sys_exit_openat" | "uretprobe:"#));
    }

    #[test]
    fn no_event_probe_means_no_grammar() {
        assert_eq!(gbnf(&[]), None);
    }
}
