//! Contracts: what a program's output must mean for the request it answers. Derived from the
//! typed request ([`Intent`]) and the program's own probes, each from a documented fact
//! (`specs-db/contracts.toml`), or written by a user in a small language of `assume`/`assert`
//! over bpftrace expressions.
//!
//! Owns what is claimed and over which events; proving a claim is `solve`'s job.
use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::program::{self, Block};
use crate::host::Tracepoint;
use crate::intent::{Concept, Intent};
use crate::toolchain::bpftrace::expr::{self, Node};

const SHIPPED: &str = include_str!("../../../specs-db/contracts.toml");

#[derive(Debug, Deserialize)]
struct ByteCount {
    syscalls: Vec<String>,
    /// What the result counts where it is not bytes ("messages" of sendmmsg(2)): the words a
    /// request speaks of it with. Empty: bytes (`byte_words`).
    #[serde(default)]
    words: Vec<String>,
    source: String,
}

impl ByteCount {
    /// Whether the request speaks of what this result counts.
    fn spoken_of(&self, intent: &Intent, byte_words: &[String]) -> bool {
        let words = if self.words.is_empty() {
            byte_words
        } else {
            &self.words
        };
        words.iter().any(|w| intent.names_word(w))
    }
}

#[derive(Debug, Deserialize)]
struct Family {
    inet6: i64,
    source: String,
}

#[derive(Debug, Deserialize)]
struct FailureSpec {
    field: String,
    source: String,
}

#[derive(Debug, Deserialize)]
struct Facts {
    /// Words a request uses for the bytes a call transferred.
    byte_words: Vec<String>,
    /// Words with which a request speaks of the size a caller asks for instead.
    asked_size_words: Vec<String>,
    /// Words with which a request keeps only one outcome of a call ("successful").
    outcome_words: Vec<String>,
    /// Why an event's result does not decide whether it is shown, unless asked.
    result_unfiltered_source: String,
    byte_count_result: Vec<ByteCount>,
    address_family: Family,
    failure: FailureSpec,
}

/// The shipped facts; a malformed file is a build defect caught by the tests, and yields no
/// facts (no contract derived from them) rather than a panic.
static FACTS: LazyLock<Option<Facts>> = LazyLock::new(|| {
    let facts: Facts = toml::from_str(SHIPPED).ok()?;
    let sourced = facts.byte_count_result.iter().all(|b| !b.source.is_empty())
        && !facts.result_unfiltered_source.is_empty()
        && !facts.address_family.source.is_empty()
        && !facts.failure.source.is_empty();
    sourced.then_some(facts)
});

/// Whether a program answering `intent` may show an event depending on its result. A request
/// that keeps no outcome (no failure, success, exit status or threshold words) shows an event
/// whatever its result: a program printing only when a saved `ret` is zero keeps what no one
/// asked it to (`result_unfiltered_source`). A request for sizes or bytes measures the result,
/// and a failed call transferred none (see `BytesAreResult`): leaving out `ret < 0` there is
/// right. The filter pruning of drafts (`agent::stated`) and the symbolic check share this.
pub fn may_filter_by_result(intent: &Intent) -> bool {
    let Some(facts) = FACTS.as_ref() else {
        return true;
    };
    let measures_result = intent.asks(Concept::Size)
        || intent.asks(Concept::Sum)
        || facts.byte_words.iter().any(|w| intent.names_word(w));
    intent.asks(Concept::Failure)
        || intent.asks(Concept::NonZeroExit)
        || intent.threshold.is_some()
        || intent.result_value.is_some()
        || measures_result
        || facts.outcome_words.iter().any(|w| intent.names_word(w))
}

/// Where a request speaks of bytes (`byte_words`) and `syscall` returns the number of bytes
/// it transferred (`byte_count_result`), the man page that says so: the bytes asked for are
/// the call's result.
pub fn bytes_are_result_of(intent: &Intent, syscall: &str) -> Option<&'static str> {
    let facts = FACTS.as_ref()?;
    facts
        .byte_count_result
        .iter()
        .find(|b| b.syscalls.iter().any(|x| x == syscall))
        .filter(|b| b.spoken_of(intent, &facts.byte_words))
        .map(|b| b.source.as_str())
}

/// Whether the request speaks of the size a caller asks a call for ("the bytes programs
/// request"), not of what the call transferred (`asked_size_words`).
pub fn speaks_of_asked_size(intent: &Intent) -> bool {
    FACTS
        .as_ref()
        .is_some_and(|f| f.asked_size_words.iter().any(|w| intent.uses_word(w)))
}

/// The events one contract is judged over: a call's entry and the event where its result is
/// known (a syscall's `sys_enter_*`/`sys_exit_*`, a function's uprobe/uretprobe; both happen in
/// every call, watched or not), or one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub enter: Option<String>,
    pub exit: String,
    /// For messages: `openat()`, `readline()`, `inet_sock_set_state`.
    pub name: String,
}

impl Call {
    pub fn label(&self) -> &str {
        &self.name
    }

    /// The syscall this call is, if it is one.
    pub fn syscall(&self) -> Option<&str> {
        self.exit.strip_prefix("tracepoint:syscalls:sys_exit_")
    }
}

/// A contract written by a user: assumptions on the inputs and one claim.
#[derive(Debug, Clone)]
pub struct Written {
    pub assumes: Vec<Node>,
    pub claim: Node,
}

#[derive(Debug, Clone)]
pub enum Claim {
    /// Nothing is shown for a call that succeeded (`ret >= 0`).
    OnlyFailures,
    /// Some failed call can be shown.
    FailureShown,
    /// Whether a failed call is shown does not depend on which error it was.
    EveryFailureAlike,
    /// Whether an event is shown does not depend on its result at all (the request filters
    /// on no outcome): two events alike but for `ret` are both shown or both not.
    ShownWhateverResult,
    /// Every shown value read from a big-endian field is byte-swapped to host order.
    HostOrderPorts,
    /// Something can be shown for an IPv6 socket (family AF_INET6).
    Ipv6Shown {
        inet6: i64,
    },
    /// A duration shown at a call's exit is that thread's own exit time minus its own entry
    /// time (in ns, µs or ms), even when another thread of the process entered in between.
    LatencySameThread,
    /// What is summed over one call that succeeded is its result (`failed: false`); over one
    /// that failed, nothing (`failed: true`).
    BytesAreResult {
        failed: bool,
    },
    /// Every shown event has some value above the least reading of the request's threshold
    /// (`n`: "over 64 MiB" gives 64): a program that also shows events whose every input is at
    /// most `n` shows what the request leaves out.
    AboveThreshold {
        n: i128,
    },
    /// Every shown event carries one of the constants the request names, in the field that
    /// takes it: `(args->F & v) == v` or `args->F == v` for one (field, value) pair.
    ConstantKept {
        pairs: Vec<(String, i128)>,
    },
    /// Some shown event carries this constant (one of the (field, value) pairs): a program
    /// that tests it away (`(args->flags & MAP_ANONYMOUS) == 0` for "with MAP_ANONYMOUS and
    /// MAP_SHARED") shows none that the request asks for.
    ConstantShown {
        pairs: Vec<(String, i128)>,
    },
    /// A call passing the bit `bit` in `args->field` with other bits of the same mask
    /// (`others`: the bits of the other constants the man page lists for it) is shown like one
    /// passing it alone: the parameter is a bit mask (specs-db/syscall-man.toml `masks`), so
    /// `args->flags == 1` misses GRND_NONBLOCK | GRND_RANDOM.
    BitWithOthers {
        field: String,
        bit: i128,
        others: i128,
    },
    /// Every shown event has `args->field >= n`: the request bounds that field by name ("an
    /// offset beyond 1 GiB"; [`crate::intent::naming::bound_stated_for`]), so a program that
    /// tests another value against the number (`count > 1 GiB`) shows what it leaves out.
    FieldAtLeast {
        field: String,
        n: i128,
    },
    Written(Written),
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub call: Call,
    pub claim: Claim,
    /// The contract in words, as evidence shows it.
    pub text: String,
    /// The fact it rests on.
    pub source: String,
}

/// The contracts the request implies for this program, one per call it applies to.
pub fn from_intent(
    intent: &Intent,
    blocks: &[Block],
    tracepoints: &BTreeMap<String, Tracepoint>,
) -> Vec<Contract> {
    let Some(facts) = FACTS.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for call in calls(blocks, tracepoints) {
        let syscall = call.syscall().map(str::to_owned);
        let label = call.label().to_owned();
        let mut add = |claim: Claim, text: String, source: &str| {
            out.push(Contract {
                call: call.clone(),
                claim,
                text,
                source: source.to_owned(),
            })
        };
        if intent.asks(Concept::Failure) && syscall.is_some() {
            let src = &facts.failure.source;
            let ret = &facts.failure.field;
            add(
                Claim::OnlyFailures,
                format!("at {label}: shown ⇒ args->{ret} < 0"),
                src,
            );
            add(
                Claim::FailureShown,
                format!("at {label}: some call with args->{ret} < 0 is shown"),
                src,
            );
            let names_errno = intent.constants.iter().any(|c| c.starts_with('E'));
            if !names_errno {
                add(
                    Claim::EveryFailureAlike,
                    format!("at {label}: args->{ret} < 0 is shown whatever the error"),
                    src,
                );
            }
        }
        if !may_filter_by_result(intent) && has_result(&call, tracepoints) {
            add(
                Claim::ShownWhateverResult,
                format!("at {label}: whether an event is shown does not depend on its result"),
                &facts.result_unfiltered_source,
            );
        }
        if intent.asks(Concept::Port) || intent.asks(Concept::Connections) {
            add(
                Claim::HostOrderPorts,
                format!("at {label}: a port read from a __be16 field is shown in host byte order (bswap)"),
                "byteorder(3): network byte order is big-endian; ip(7) sin_port is __be16",
            );
        }
        if intent.asks(Concept::Ipv6) {
            let fam = &facts.address_family;
            add(
                Claim::Ipv6Shown { inet6: fam.inet6 },
                format!(
                    "at {label}: a socket of family AF_INET6 ({}) can be shown",
                    fam.inet6
                ),
                &fam.source,
            );
        }
        // A lifetime runs between two events (creation, removal), which this per-call
        // contract does not describe: request-coverage judges it.
        if intent.asks(Concept::Duration) && !intent.asks(Concept::Lifetime) && call.enter.is_some()
        {
            add(
                Claim::LatencySameThread,
                format!(
                    "at {label}: a shown duration is this thread's exit time minus its own entry time"
                ),
                "a call's latency is measured per thread: the same task enters and exits it (bpftrace(8) tid)",
            );
        }
        if let Some(n) = intent.threshold {
            add(
                Claim::AboveThreshold { n },
                format!("at {label}: a shown event has some value above {n}, the request's threshold read in its smallest unit"),
                "the request states a size or time events must exceed; a value at or under it, in any unit, is under it",
            );
        }
        let kept = kept_constants(intent, &call, tracepoints);
        for (name, pairs) in &kept {
            add(
                Claim::ConstantShown {
                    pairs: pairs.clone(),
                },
                format!("at {label}: some shown event passes {name}"),
                "the request names the constant as what the events pass (specs-db/syscall-man.toml `constants`, specs-db/flags.toml): a program that can show none that passes it, or tests it away, shows other calls",
            );
        }
        if !kept.is_empty() {
            let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
            let pairs: Vec<(String, i128)> =
                kept.iter().flat_map(|(_, p)| p.iter().cloned()).collect();
            let shown: Vec<String> = pairs
                .iter()
                .map(|(f, v)| format!("args->{f} has {v:#x}"))
                .collect();
            add(
                Claim::ConstantKept { pairs },
                format!(
                    "at {label}: a shown event passes {} ({})",
                    names.join(" or "),
                    shown.join(" or ")
                ),
                "the request names the constant(s) as what the events pass; the call's man page lists them as values of that parameter (specs-db/syscall-man.toml `constants`) or specs-db/flags.toml documents the field",
            );
        }
        for (field, n) in bounded_fields(intent, &call, tracepoints) {
            add(
                Claim::FieldAtLeast {
                    field: field.clone(),
                    n,
                },
                format!("at {label}: a shown event has args->{field} ≥ {n}"),
                "the request bounds that value by name (its field, or the call's man-page name for it); a size in bytes, the least of its binary and decimal readings",
            );
        }
        for (field, bit, others, name, page) in mask_bits(intent, &call, tracepoints) {
            add(
                Claim::BitWithOthers {
                    field: field.clone(),
                    bit,
                    others,
                },
                format!(
                    "at {label}: a call passing {name} with other bits of args->{field} set ({others:#x}) is shown like one passing {name} alone"
                ),
                &format!(
                    "{page}(2) lists {name} among values OR-ed together into that parameter (specs-db/syscall-man.toml `masks`)"
                ),
            );
        }
        let bytes = syscall.as_deref().and_then(|s| {
            facts
                .byte_count_result
                .iter()
                .find(|b| b.syscalls.iter().any(|x| x == s))
        });
        if let Some(b) = bytes.filter(|b| b.spoken_of(intent, &facts.byte_words)) {
            let what = b.words.first().map_or("bytes", String::as_str);
            add(
                Claim::BytesAreResult { failed: false },
                format!("at {label}: the {what} summed for a successful call are its args->ret"),
                &b.source,
            );
            add(
                Claim::BytesAreResult { failed: true },
                format!("at {label}: a failed call (args->ret < 0) adds no {what}"),
                &b.source,
            );
        }
    }
    out
}

/// Each constant's name with the (field, value) pairs an event passing it has.
type KeptConstants = Vec<(String, Vec<(String, i128)>)>;

/// The constants the request names as what a syscall's events pass (not an error, a signal,
/// nor one it sets apart: "except O_RDONLY"), each with its non-zero value and the field of the
/// call's entry that takes it: the parameter its man page lists it under
/// ([`crate::knowledge::syscall_man::SyscallMan::params_listing`]) or the field
/// `specs-db/flags.toml` documents it for. `None` when no constant has such a field here: what
/// a constant is not documented for is not guessed.
fn kept_constants(
    intent: &Intent,
    call: &Call,
    tracepoints: &BTreeMap<String, Tracepoint>,
) -> KeptConstants {
    let Some(enter) = call
        .enter
        .as_deref()
        .and_then(|e| e.strip_prefix("tracepoint:"))
    else {
        return Vec::new();
    };
    let Some(tp) = tracepoints.get(enter) else {
        return Vec::new();
    };
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let by_param: BTreeMap<String, String> = man
        .man_names(&tp.event, tp.fields.iter().map(|f| f.name.as_str()))
        .into_iter()
        .map(|(field, param)| (param, field))
        .collect();
    let errnos: Vec<&str> = intent.errnos().into_iter().map(|(n, _, _)| n).collect();
    let mut out: KeptConstants = Vec::new();
    for (name, value) in intent.constant_values() {
        let signal = name.starts_with("SIG") && !name.starts_with("SIG_");
        if errnos.contains(&name) || signal || intent.negates_word(&name.to_ascii_lowercase()) {
            continue;
        }
        let Some(v) = value
            .or_else(|| crate::knowledge::constant_value(name))
            .filter(|v| *v != 0)
        else {
            continue;
        };
        let mut fields: Vec<String> = man
            .params_listing(name)
            .into_iter()
            .filter_map(|p| {
                by_param
                    .get(p)
                    .cloned()
                    .or_else(|| tp.fields.iter().any(|f| f.name == p).then(|| p.to_owned()))
            })
            .collect();
        fields.extend(
            crate::knowledge::flags::shipped()
                .iter()
                .filter(|f| f.name == name && f.probes.iter().any(|p| p == enter))
                .map(|f| f.field.clone()),
        );
        fields.sort();
        fields.dedup();
        if fields.is_empty() || out.iter().any(|(n, _)| n == name) {
            continue;
        }
        out.push((
            name.to_owned(),
            fields.into_iter().map(|f| (f, i128::from(v))).collect(),
        ));
    }
    out
}

/// The fields of `call`'s entry (or its only event) that the request bounds from below by
/// name, under the field's own name or its man page's ([`crate::intent::naming::bound_stated_for`]),
/// with the least value it lets them have.
fn bounded_fields(
    intent: &Intent,
    call: &Call,
    tracepoints: &BTreeMap<String, Tracepoint>,
) -> Vec<(String, i128)> {
    let Some(tp) = call
        .enter
        .as_deref()
        .unwrap_or(call.exit.as_str())
        .strip_prefix("tracepoint:")
        .and_then(|e| tracepoints.get(e))
    else {
        return Vec::new();
    };
    let man = crate::knowledge::syscall_man::SyscallMan::shipped()
        .man_names(&tp.event, tp.fields.iter().map(|f| f.name.as_str()));
    tp.fields
        .iter()
        .filter(|f| f.name != "__syscall_nr" && f.name != "ret")
        .filter_map(|f| {
            let n = crate::intent::naming::bound_stated_for(intent, &f.name).or_else(|| {
                man.get(&f.name)
                    .and_then(|p| crate::intent::naming::bound_stated_for(intent, p))
            })?;
            Some((f.name.clone(), n))
        })
        .collect()
}

/// The one constant the request names for a parameter of `call` that its man page documents
/// as a bit mask (`masks`), each as (field, its bit, the bits of the other constants listed
/// for that parameter, its name, the page). Only where every listed constant is a single bit
/// of its own (futex(2)'s FUTEX_WAKE 1 and FUTEX_REQUEUE 3 are commands, not bits), and the
/// request names no other constant of that parameter (it may keep the other apart).
fn mask_bits(
    intent: &Intent,
    call: &Call,
    tracepoints: &BTreeMap<String, Tracepoint>,
) -> Vec<(String, i128, i128, String, String)> {
    let Some(tp) = call
        .enter
        .as_deref()
        .and_then(|e| e.strip_prefix("tracepoint:"))
        .and_then(|e| tracepoints.get(e))
    else {
        return Vec::new();
    };
    let Some(kernel_call) = tp.event.strip_prefix("sys_enter_") else {
        return Vec::new();
    };
    let man = crate::knowledge::syscall_man::SyscallMan::shipped();
    let Some(page) = man.page_of(kernel_call) else {
        return Vec::new();
    };
    let by_param: BTreeMap<String, String> = man
        .man_names(&tp.event, tp.fields.iter().map(|f| f.name.as_str()))
        .into_iter()
        .map(|(field, param)| (param, field))
        .collect();
    let mut out = Vec::new();
    for param in &page.masks {
        let (Some(field), Some(listed)) = (by_param.get(param), page.constants.get(param)) else {
            continue;
        };
        let named: Vec<&String> = listed
            .iter()
            .filter(|c| intent.constants.contains(*c))
            .collect();
        let [name] = named.as_slice() else { continue };
        if intent.negates_word(&name.to_ascii_lowercase()) {
            continue;
        }
        // A constant this host's headers do not define is another architecture's (PROT_SAO is
        // powerpc's): no call here passes it.
        let bits: Vec<i128> = listed
            .iter()
            .filter_map(|c| crate::knowledge::constant_value(c).map(i128::from))
            .filter(|v| *v != 0)
            .collect();
        let single = bits.iter().all(|v| *v > 0 && v.count_ones() == 1);
        let mut distinct = bits.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if !single || distinct.len() != bits.len() {
            continue;
        }
        let Some(bit) = crate::knowledge::constant_value(name).map(i128::from) else {
            continue;
        };
        let others = bits.iter().filter(|v| **v != bit).fold(0, |acc, v| acc | v);
        if bit == 0 || others == 0 {
            continue;
        }
        out.push((
            field.clone(),
            bit,
            others,
            (*name).clone(),
            page.page.clone(),
        ));
    }
    out
}

/// Whether the event where `call`'s result is known carries one: a syscall's exit, a
/// function's return, or a tracepoint with a `ret` field in its format.
fn has_result(call: &Call, tracepoints: &BTreeMap<String, Tracepoint>) -> bool {
    call.syscall().is_some()
        || call.exit.starts_with("uretprobe:")
        || call
            .exit
            .strip_prefix("tracepoint:")
            .and_then(|t| tracepoints.get(t))
            .is_some_and(|t| t.fields.iter().any(|f| f.name == "ret"))
}

/// The calls a program observes: a syscall or a uprobed function (entry and exit, whichever
/// the program watches), or any other event alone. Wildcards are expanded against this host's
/// tracepoints.
pub fn calls(blocks: &[Block], tracepoints: &BTreeMap<String, Tracepoint>) -> Vec<Call> {
    let mut probes: Vec<String> = Vec::new();
    for block in blocks {
        for p in block.probes.iter().filter(|p| p.observes_events()) {
            let prefix = program::full_prefix(&p.prefix);
            if prefix == "tracepoint" && p.target.contains('*') {
                probes.extend(
                    tracepoints
                        .keys()
                        .map(|k| format!("tracepoint:{k}"))
                        .filter(|name| block.attaches_to(name)),
                );
            } else {
                probes.push(format!("{prefix}:{}", p.target));
            }
        }
    }
    let mut out: Vec<Call> = Vec::new();
    for p in probes {
        let syscall = p
            .strip_prefix("tracepoint:syscalls:sys_enter_")
            .or_else(|| p.strip_prefix("tracepoint:syscalls:sys_exit_"));
        let function = p
            .strip_prefix("uprobe:")
            .or_else(|| p.strip_prefix("uretprobe:"));
        let call = match (syscall, function) {
            (Some(name), _) => Call {
                enter: Some(format!("tracepoint:syscalls:sys_enter_{name}")),
                exit: format!("tracepoint:syscalls:sys_exit_{name}"),
                name: format!("{name}()"),
            },
            (None, Some(target)) => Call {
                enter: Some(format!("uprobe:{target}")),
                exit: format!("uretprobe:{target}"),
                name: format!("{}()", target.rsplit(':').next().unwrap_or(target)),
            },
            (None, None) => Call {
                enter: None,
                name: p.rsplit(':').next().unwrap_or(&p).to_owned(),
                exit: p,
            },
        };
        if !out.contains(&call) {
            out.push(call);
        }
    }
    out
}

/// A user's contract: statements separated by `;`, each `assume EXPR` or `assert EXPR`, exactly
/// one `assert`. EXPR is a bpftrace expression over `args->FIELD`, `ret`, builtins (`pid`,
/// `tid`, `comm`, `nsecs`), `printed` (the program showed something), `out(N)` (the Nth value
/// the last `printf` shown printed, from 0), `bswap(…)`, and `A => B` (implication, loosest).
pub fn parse_written(text: &str) -> Result<Written, String> {
    let mut assumes = Vec::new();
    let mut claim = None;
    for stmt in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (word, rest) = stmt.split_once(char::is_whitespace).unwrap_or((stmt, ""));
        let node = formula(rest.trim())
            .ok_or_else(|| format!("cannot read `{}` as an expression", rest.trim()))?;
        match word {
            "assume" => assumes.push(node),
            "assert" if claim.is_none() => claim = Some(node),
            "assert" => return Err("a contract has exactly one `assert`".into()),
            other => {
                return Err(format!(
                    "`{other}`: a contract statement starts with `assume` or `assert`"
                ))
            }
        }
    }
    let claim = claim.ok_or("a contract needs one `assert EXPR`")?;
    Ok(Written { assumes, claim })
}

/// An expression with `A => B` read as `!(A) || (B)`.
fn formula(text: &str) -> Option<Node> {
    let text = match text.split_once("=>") {
        Some((a, b)) => format!("!({}) || ({})", a.trim(), b.trim()),
        None => text.to_owned(),
    };
    let toks = expr::tokens(&text, 0..text.len());
    expr::parse(&toks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolic::program;

    #[test]
    fn the_shipped_facts_parse_and_name_their_sources() {
        assert!(
            FACTS.is_some(),
            "specs-db/contracts.toml must parse, every entry sourced"
        );
    }

    #[test]
    fn a_syscall_exit_pairs_with_its_entry_when_watched() {
        let blocks = program::read(
            "tracepoint:syscalls:sys_enter_pread64 { @t[tid] = nsecs; }\n\
             tracepoint:syscalls:sys_exit_pread64 { @t[tid] = 0; }\n\
             tracepoint:sched:sched_process_exit { }",
        );
        let calls = calls(&blocks, &BTreeMap::new());
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[0].enter.as_deref(),
            Some("tracepoint:syscalls:sys_enter_pread64")
        );
        assert_eq!(calls[0].name, "pread64()");
        assert_eq!(calls[1].exit, "tracepoint:sched:sched_process_exit");
        assert_eq!(calls[1].enter, None);
    }

    #[test]
    fn the_request_decides_which_contracts_apply() {
        let blocks = program::read(
            "tracepoint:syscalls:sys_exit_unlinkat /args->ret < 0/ { printf(\"%d\\n\", args->ret); }",
        );
        let failing = Intent::read("which unlinkat calls fail, and with what error?");
        let claims: Vec<_> = from_intent(&failing, &blocks, &BTreeMap::new())
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(claims.len(), 3, "{claims:?}");
        // A request that keeps no outcome: whether a call shows may not depend on its result.
        let plain = Intent::read("show unlinkat calls");
        let claims: Vec<_> = from_intent(&plain, &blocks, &BTreeMap::new())
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(claims.len(), 1, "{claims:?}");
        assert!(
            claims[0].contains("does not depend on its result"),
            "{claims:?}"
        );
        let kept = Intent::read("show unlinkat calls that succeed");
        assert!(from_intent(&kept, &blocks, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn written_contracts_read_assume_assert_and_implication() {
        let w = parse_written("assume args->fd > 2; assert printed => ret < 0").expect("parse");
        assert_eq!(w.assumes.len(), 1);
        assert!(parse_written("assume ret > 0").is_err());
        assert!(parse_written("assert ret >; ").is_err());
        assert!(parse_written("prove ret > 0").is_err());
    }
}
