//! Deterministic repairs: mistakes with exactly one sensible fix are fixed here, without asking
//! the model again. Each repair is reported, so the answer says what kgent changed.
//!
//! Each repair has exactly one sensible reading:
//! - an `args` field the program's tracepoints lack, when exactly one real field is plainly what
//!   was meant (another case, one name containing the other, a spelling within two edits);
//! - a pointer field used as a truth value (`if (args->pathname)`), which bpftrace refuses:
//!   compared with 0 instead;
//! - a `char *` field printed with `%s` without `str()`;
//! - `ntop(addr, 16)`: bpftrace's `ntop([int af, ]addr)` takes an optional address family
//!   first and no length, so the length goes (`ntop(addr)`; the array's size tells v4 from v6);
//! - a mask compared without parentheses (`args->flags & 2 == 2`, which parses as
//!   `args->flags & (2 == 2)`, as in C): grouped as `(args->flags & 2) == 2`;
//! - a kprobe/kretprobe on a syscall's kernel entry point (unavailable here when kprobes are),
//!   moved to the syscall's tracepoint when the body reads no raw arguments;
//! - a port read from a kernel struct member in network byte order (`sin_port`, `sin6_port`,
//!   `skc_dport`: `__be16`) in a block that never swaps bytes: swapped to host order;
//! - an IPv4-only address print on a tracepoint that carries IPv4 and IPv6 sockets (it has
//!   `daddr` and `daddr_v6`): the printf is doubled, the IPv6 copy taken when `family` is 10.
//! - a map updated by hand (`@m[k] = @m[k] + e`, `@m[k] += e`) that the program also fills with
//!   `sum()` or `count()`: bpftrace refuses to mix an aggregation with plain values in one map
//!   ("Type mismatch … map already contains a value of type 'sum'"); the update becomes
//!   `@m[k] = sum(e)` (or `count()` for `+ 1` on a count), which is what it adds up;
//! - `tracepoint:syscalls:sys_enter` (every syscall, a name that does not exist) →
//!   `tracepoint:raw_syscalls:sys_enter`;
//! - the process name the request filters on ("processes named 'worker2'") that the program
//!   never mentions: every block observing events keeps only that name (`comm == "worker2"`,
//!   joined to its predicate);
//! - a call the request names (`tkill()`, or in a list of call names) that the program never
//!   attaches to, while a block handles another call the request names (`kill()`) on the same
//!   side (entry or
//!   exit) and reads only fields the missing call's tracepoint has too: the missing call's
//!   tracepoint is added to that block (its variants are tried in order, see
//!   `knowledge::syscall_variants`);
//! - an enter/exit pair that does not pair up: a value saved per `tid` at `sys_enter_fsync` and
//!   read at `sys_exit_fdatasync` (each call's exit is missed). Both sides get every syscall
//!   either side names, where the tracepoint exists and has the fields the block reads.
//!
//! - a syscall tracepoint the smoke workload's calls never reach on this host, while another
//!   entry point of the same call does (measured, `check::provoked`: glibc's `stat()` is
//!   `newfstatat` here, `fork()` is `clone`): the measured entry point is added to the block,
//!   when its tracepoint has the fields the block reads (see [`measured_entry_points`]).
//!
//! - new threads asked for ([`Concept::NewThreads`]) from a block on `sched:sched_process_fork`
//!   alone, which fires for processes and threads alike and carries no clone flags: the block
//!   moves to `task:task_newtask` (fired in the creating task, with the new task's `pid`,
//!   `comm` and `clone_flags`: include/trace/events/task.h) and keeps tasks created with
//!   CLONE_THREAD (clone(2)); `child_pid`/`child_comm` become `pid`/`comm` of the event and
//!   `parent_pid`/`parent_comm` the creating task's `pid`/`comm`.
//!
//! - figures per interval asked for ([`Concept::Periodic`]: "per second", "every 5 seconds")
//!   from a program whose maps print only when it ends: an `interval:s:N` block prints and
//!   clears each aggregation map (N: the stated period, else 1).
//! - a stated period ("every 2 seconds") that the program's one printing `interval` block does
//!   not keep (`interval:s:1`, `interval:ms:500`): the probe becomes `interval:s:N`. A timer
//!   that prints nothing (one that ends the trace) is no output period and stays.
//! - the reverse: an `interval` block that only prints and clears (or zeroes) the maps, in a
//!   program for a request that asks for no figures per interval: it is removed, so the maps
//!   hold the whole trace and print when it ends (bpftrace(8): maps print at exit; `clear()`
//!   discards what was counted, and `print(@m, N)` shows only the top N entries).
//!
//! A repair rewrites the block it means at that block's span in the parsed program
//! ([`Edits`]), never by searching for the block's text: two blocks that read alike stay two
//! blocks.
//!
//! Programs the model wrote also get the type repairs of `draft_types` and lose the filter
//! tests the request does not state (`draft_filters`): see [`repair_written`].
use std::collections::BTreeMap;
use std::ops::Range;

use regex::Regex;

use crate::host::HostFacts;
use crate::intent::{Concept, Intent};
use crate::toolchain::bpftrace::syntax::Edits;
use crate::toolchain::bpftrace::{args_fields, probe_blocks, strip_comments};

/// Every deterministic repair, in order; the repaired source and one line per repair.
///
/// Repairs work on the program without its comments (block bodies are matched as
/// `probe_blocks` sees them, and that is without comments); a program that needs no repair is
/// returned as written, comments included.
pub fn repair_all(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    let (named, mut notes) = named_calls_added(host, intent, &strip_comments(source));
    let (repaired, n) = repair_uncommented(host, &named);
    notes.extend(n);
    let (repaired, n) = identity_in_prints(host, &repaired, intent);
    notes.extend(n);
    let (repaired, n) = stated_process_filter(&repaired, intent);
    notes.extend(n);
    let (repaired, n) = threads_on_newtask(host, intent, &repaired);
    notes.extend(n);
    let (repaired, n) = children_returned(host, intent, &repaired);
    notes.extend(n);
    let (repaired, n) = periodic_prints(intent, &repaired);
    notes.extend(n);
    let (repaired, n) = stated_period(intent, &repaired);
    notes.extend(n);
    let (repaired, n) = unasked_resets(intent, &repaired);
    notes.extend(n);
    let (repaired, n) = super::draft_names::show_names(host, intent, &repaired);
    notes.extend(n);
    if notes.is_empty() {
        (source.to_owned(), notes)
    } else {
        (repaired, notes)
    }
}

/// Keys of a tally the request never asks for, where the keys that stay account for what it
/// groups by (`crate::check::droppable_keys`: "task migrations per destination CPU" keyed by
/// `comm, args->dest_cpu, args->orig_cpu`): each splits the figure asked for, so they are
/// left out of every use of that map, and the program is kept otherwise. A map whose uses
/// disagree on how many keys it has is left as written.
fn unasked_tally_keys(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    let mut code = source.to_owned();
    let mut notes = Vec::new();
    // One tally per round; a program has few.
    for _ in 0..4 {
        let Some(drop) = crate::check::droppable_keys(host, intent, &code) else {
            break;
        };
        let Some(rewritten) = without_keys(&code, &drop) else {
            break;
        };
        notes.push(format!(
            "left out the key(s) {} of {}: the request never asks for them, and the others hold what it groups by",
            drop.names.join(", "),
            drop.map
        ));
        code = rewritten;
    }
    (code, notes)
}

/// `code` with the keys `drop` names left out of every `@map[...]`, or `None` if a use has
/// another number of keys. A map left with no key is written bare (`@n = count()`).
fn without_keys(code: &str, drop: &crate::check::KeyDrop) -> Option<String> {
    let open = format!("{}[", drop.map);
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        let mut depth = 1usize;
        let mut end = None;
        for (i, ch) in after.char_indices() {
            match ch {
                '[' | '(' => depth += 1,
                ']' | ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end?;
        let keys = crate::toolchain::bpftrace::syntax::split_top_level(&after[..end]);
        if keys.len() != drop.arity {
            return None;
        }
        let kept: Vec<&str> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop.positions.contains(i))
            .map(|(_, k)| k.as_str())
            .collect();
        out.push_str(&rest[..at]);
        out.push_str(&drop.map);
        if !kept.is_empty() {
            out.push('[');
            out.push_str(&kept.join(", "));
            out.push(']');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A program the model wrote: [`repair_all`], then the repairs that judge what it wrote
/// against the catalog's types (`draft_types`) and the request (`draft_filters`). A program
/// kgent compiled from a query gets [`repair_all`] only: its compiler owns its types, and its
/// filter was pruned as a query.
pub fn repair_written(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    let (repaired, mut notes) = repair_all(host, intent, source);
    let uncommented = strip_comments(&repaired);
    let (typed, n) = super::draft_types::repair_types(host, &uncommented);
    notes.extend(n);
    let (pruned, n) = super::draft_filters::prune_filters(host, intent, &typed);
    notes.extend(n);
    let (pruned, n) = unasked_tally_keys(host, intent, &pruned);
    notes.extend(n);
    if notes.is_empty() {
        (source.to_owned(), notes)
    } else {
        (pruned, notes)
    }
}

fn repair_uncommented(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let (s, mut notes) = replace_syscall_kprobes(host, source);
    let (s, n) = all_syscalls_tracepoint(host, &s);
    notes.extend(n);
    let (s, n) = repair_fields(host, &s);
    notes.extend(n);
    let (s, n) = pointer_conditions(host, &s);
    notes.extend(n);
    let (s, n) = mask_comparisons(&s);
    notes.extend(n);
    let (s, n) = ntop_lengths(&s);
    notes.extend(n);
    let (s, n) = str_for_string_fields(host, &s);
    notes.extend(n);
    let (s, n) = host_order_ports(&s);
    notes.extend(n);
    let (s, n) = dual_stack_addresses(host, &s);
    notes.extend(n);
    let (s, n) = pair_enter_exit(host, &s);
    notes.extend(n);
    let (s, n) = hand_updates_of_aggregations(&s);
    notes.extend(n);
    let (s, n) = cleanups_of_unused_maps(&s);
    notes.extend(n);
    let (s, n) = tallies_kept_at_end(&s);
    notes.extend(n);
    (s, notes)
}

/// `clear(@m)` / `zero(@m)` / `delete(@m)` in `END` of an aggregation the program never prints
/// (`toolchain::bpftrace::syntax::tallies_emptied_unprinted`): bpftrace prints the maps left when tracing
/// ends, so emptying the tally there throws away the answer. The statement goes; scratch maps
/// (`@start[tid] = nsecs`) are no aggregations and keep their cleanup.
fn tallies_kept_at_end(source: &str) -> (String, Vec<String>) {
    static EMPTY: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\b(?:clear|zero|delete)\s*\(\s*(@\w*)\s*\)\s*;?").expect("static regex")
    });
    let maps = crate::toolchain::bpftrace::syntax::tallies_emptied_unprinted(source);
    if maps.is_empty() {
        return (source.to_owned(), Vec::new());
    }
    let mut edits = Edits::default();
    for b in probe_blocks(source)
        .iter()
        .filter(|b| b.probes.iter().any(|p| p.prefix == "END"))
    {
        // Repairs see the program without comments: the body is the source text there.
        let body_at = b.body_span.start;
        for c in EMPTY.captures_iter(&b.body) {
            if let (Some(all), Some(map)) = (c.get(0), c.get(1)) {
                if maps.iter().any(|m| m == map.as_str()) {
                    edits.replace(body_at + all.start()..body_at + all.end(), String::new());
                }
            }
        }
    }
    let notes = maps
        .iter()
        .map(|m| format!("removed the clearing of {m} in END: bpftrace prints the maps left when tracing ends, and that tally is the answer"))
        .collect();
    (edits.apply(source), notes)
}

/// `clear(@m)`, `zero(@m)`, `print(@m)` or `delete(@m[k])` of a map the program never stores
/// into nor reads: bpftrace rejects the whole program ("Undefined map"), so the statement goes
/// (a leftover of a map renamed or dropped while drafting).
fn cleanups_of_unused_maps(source: &str) -> (String, Vec<String>) {
    static MAP: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"@\w*").expect("static regex"));
    static CLEANUP: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\b(?:clear|zero|print|delete)\s*\(\s*(@\w*)").expect("static regex")
    });
    // The end of the call opened at `open` (its `(`), and of a `;` right after it.
    let call_end = |open: usize| {
        let mut depth = 0usize;
        for (i, ch) in source[open..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        let end = open + i + 1;
                        let rest = &source[end..];
                        let semi = rest.len() - rest.trim_start().len();
                        return Some(if rest.trim_start().starts_with(';') {
                            end + semi + 1
                        } else {
                            end
                        });
                    }
                }
                ';' | '{' | '}' => return None,
                _ => {}
            }
        }
        None
    };
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for m in MAP.find_iter(source) {
        *uses.entry(m.as_str()).or_default() += 1;
    }
    let mut cleanups: BTreeMap<String, Vec<Range<usize>>> = BTreeMap::new();
    for c in CLEANUP.captures_iter(source) {
        let (Some(all), Some(map)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let Some(open) = source[all.start()..].find('(').map(|i| all.start() + i) else {
            continue;
        };
        if let Some(end) = call_end(open) {
            cleanups
                .entry(map.as_str().to_owned())
                .or_default()
                .push(all.start()..end);
        }
    }
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for (map, spans) in cleanups {
        // Every mention of the map is in one of these statements, each naming it once.
        if uses.get(map.as_str()).copied() != Some(spans.len()) {
            continue;
        }
        for span in spans {
            edits.replace(span, String::new());
        }
        notes.push(format!(
            "removed the clear/print/delete of {map}: the program never stores into it, and bpftrace rejects a map it never defines"
        ));
    }
    if notes.is_empty() {
        return (source.to_owned(), notes);
    }
    (edits.apply(source), notes)
}

/// See the module comment: `@m[k] = @m[k] + e;` / `@m[k] += e;` where `@m` is elsewhere
/// assigned `sum(…)` or `count()`.
fn hand_updates_of_aggregations(source: &str) -> (String, Vec<String>) {
    static UPDATE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(
            r"(@\w*)\s*(\[[^\]\n;]*\])?\s*(?:\+=\s*|=\s*(@\w*)\s*(\[[^\]\n;]*\])?\s*\+\s*)([^;{}\n]+?)\s*;",
        )
        .expect("static regex")
    });
    static AGGREGATE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"(@\w*)\s*(?:\[[^\]\n;]*\])?\s*=\s*(sum|count)\s*\(").expect("static regex")
    });
    let kinds: BTreeMap<&str, &str> = AGGREGATE
        .captures_iter(source)
        .filter_map(|c| Some((c.get(1)?.as_str(), c.get(2)?.as_str())))
        .collect();
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for c in UPDATE.captures_iter(source) {
        let (Some(whole), Some(map), Some(value)) = (c.get(0), c.get(1), c.get(5)) else {
            continue;
        };
        let key = c.get(2).map_or("", |k| k.as_str());
        if let Some(read) = c.get(3) {
            let read_key = c.get(4).map_or("", |k| k.as_str());
            if read.as_str() != map.as_str() || squash(read_key) != squash(key) {
                continue;
            }
        }
        let value = value.as_str().trim();
        let update = match kinds.get(map.as_str()) {
            Some(&"sum") => format!("sum({value})"),
            Some(&"count") if value == "1" => "count()".to_owned(),
            _ => continue,
        };
        edits.replace(whole.range(), format!("{}{key} = {update};", map.as_str()));
        notes.push(format!(
            "{} is a {} aggregation: the hand-written update is `{update}` (bpftrace does not mix aggregations and plain values in one map)",
            map.as_str(),
            kinds.get(map.as_str()).copied().unwrap_or_default()
        ));
    }
    (edits.apply(source), notes)
}

/// The side (`enter`/`exit`) and syscalls of a block made only of syscall tracepoints of one
/// side; `None` for any other block.
fn syscall_side(
    b: &crate::toolchain::bpftrace::syntax::ProbeBlock,
) -> Option<(String, Vec<String>)> {
    let mut dir: Option<String> = None;
    let mut calls = Vec::new();
    for p in &b.probes {
        let (d, call) = p
            .target
            .strip_prefix("syscalls:sys_")
            .filter(|_| p.is_tracepoint())?
            .split_once('_')?;
        if dir.get_or_insert_with(|| d.to_owned()) != d {
            return None;
        }
        calls.push(call.to_owned());
    }
    Some((dir?, calls))
}

/// Whether tracepoint `tp` (`system:event`) exists here with every field of `reads`.
fn has_fields(host: &HostFacts, tp: &str, reads: &[String]) -> bool {
    host.tracepoints
        .get(tp)
        .is_some_and(|t| reads.iter().all(|f| t.fields.iter().any(|g| g.name == *f)))
}

/// The `args` fields a block reads, in its predicate and body.
fn block_reads(b: &crate::toolchain::bpftrace::syntax::ProbeBlock) -> Vec<String> {
    let mut reads = args_fields(&b.body);
    if let Some(p) = &b.predicate {
        reads.extend(args_fields(&p.condition));
    }
    reads
}

/// See the module comment: `provoked` is what the smoke workload's calls reach on this host
/// (`None` before it is measured: nothing is changed). A block of syscall tracepoints gets the
/// provoked entry points of its calls ([`syscall_variants`](crate::knowledge::syscall_variants))
/// when none of its own tracepoints was provoked, the program attaches to them nowhere, and
/// they have every field the block reads.
pub fn measured_entry_points(
    host: &HostFacts,
    provoked: Option<&crate::check::Provoked>,
    source: &str,
) -> (String, Vec<String>) {
    let Some(provoked) = provoked else {
        return (source.to_owned(), Vec::new());
    };
    let as_written = source;
    let source = &strip_comments(as_written);
    let blocks = probe_blocks(source);
    let attached: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b.probes.iter().map(|p| p.target.as_str()))
        .collect();
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for b in &blocks {
        let Some((dir, calls)) = syscall_side(b) else {
            continue;
        };
        let own = |c: &String| format!("syscalls:sys_{dir}_{c}");
        if calls.iter().any(|c| provoked.contains(&own(c))) {
            continue;
        }
        let reads = block_reads(b);
        let mut added: Vec<String> = Vec::new();
        for c in &calls {
            for v in crate::knowledge::syscall_variants(host, c) {
                let tp = format!("syscalls:sys_{dir}_{v}");
                if has_fields(host, &tp, &reads)
                    && provoked.contains(&tp)
                    && !attached.contains(&tp.as_str())
                    && !added.contains(&tp)
                {
                    added.push(tp);
                }
            }
        }
        let Some(written) = source.get(b.probes_span()) else {
            continue;
        };
        if added.is_empty() {
            continue;
        }
        let shown: Vec<String> = added.iter().map(|t| format!("tracepoint:{t}")).collect();
        notes.push(format!(
            "{} added: on this host the calls the block means ({}) are made through {} (measured), and {} the fields the block reads",
            shown.join(", "),
            calls.join(", "),
            if added.len() == 1 { "it" } else { "them" },
            if added.len() == 1 { "it has" } else { "they have" },
        ));
        edits.replace(
            b.probes_span(),
            format!("{written},\n{}", shown.join(",\n")),
        );
    }
    if notes.is_empty() {
        return (as_written.to_owned(), notes);
    }
    (edits.apply(source), notes)
}

/// One side of an enter/exit pair: a block of syscall tracepoints only.
struct PairSide {
    enter: bool,
    /// The syscalls its probes name.
    calls: Vec<String>,
    /// The fields its body reads.
    fields: Vec<String>,
    /// Its probe list in the source.
    header: Range<usize>,
}

/// See the module comment: calls the request names, added to the block of a sibling call.
fn named_calls_added(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    let blocks = probe_blocks(source);
    // The syscall and side (enter/exit) of each probe of a block made only of syscall
    // tracepoints.
    let attached: Vec<String> = blocks
        .iter()
        .flat_map(|b| b.probes.iter().map(|p| p.target.clone()))
        .collect();
    // Calls written as calls, and the syscall names a request lists ("sync, fsync or msync").
    let mut names: Vec<&String> = intent.calls.iter().collect();
    names.extend(intent.syscall_names().filter(|w| !intent.calls.contains(w)));
    let named: Vec<(String, Vec<String>)> = names
        .into_iter()
        .map(|c| (c.clone(), crate::knowledge::syscall_variants(host, c)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for b in &blocks {
        let Some((dir, calls)) = syscall_side(b) else {
            continue;
        };
        let handles_named = named
            .iter()
            .any(|(_, v)| calls.iter().any(|c| v.contains(c)));
        if !handles_named {
            continue;
        }
        let reads = block_reads(b);
        let mut added: Vec<String> = Vec::new();
        let is_attached = |v: &str| {
            attached.iter().any(|a| {
                *a == format!("syscalls:sys_enter_{v}") || *a == format!("syscalls:sys_exit_{v}")
            })
        };
        for (name, variants) in &named {
            let seen = variants.iter().any(|v| is_attached(v));
            if seen {
                // The named call's own entry point, beside a variant the block handles
                // ("chmod calls" answered at fchmodat2 alone misses every chmod(2) call, which
                // enters at sys_enter_chmod): a variant is another way to make the call, not
                // the call itself.
                let own = crate::knowledge::syscall_man::kernel_spellings(name)
                    .into_iter()
                    .find(|k| variants.contains(k));
                let on_block = calls.iter().any(|c| variants.contains(c));
                if let Some(own) = own.filter(|o| on_block && !is_attached(o)) {
                    let tp = format!("syscalls:sys_{dir}_{own}");
                    if has_fields(host, &tp, &reads) {
                        added.push(format!("tracepoint:{tp}"));
                    }
                }
                continue;
            }
            let fits = variants
                .iter()
                .find(|v| has_fields(host, &format!("syscalls:sys_{dir}_{v}"), &reads));
            if let Some(v) = fits {
                added.push(format!("tracepoint:syscalls:sys_{dir}_{v}"));
            }
        }
        let Some(written) = source.get(b.probes_span()) else {
            continue;
        };
        if added.is_empty() {
            continue;
        }
        notes.push(format!(
            "{} added: the request names {} and the block for {} reads only fields {} too",
            added.join(", "),
            if added.len() == 1 {
                "that call"
            } else {
                "those calls"
            },
            calls.join(", "),
            if added.len() == 1 {
                "it has"
            } else {
                "they have"
            }
        ));
        edits.replace(
            b.probes_span(),
            format!("{written},\n{}", added.join(",\n")),
        );
        // Once: a call added to one block is seen by every later one.
        return (edits.apply(source), notes);
    }
    (source.to_owned(), Vec::new())
}

/// See the module comment: `sys_enter_X` saving per `tid` and `sys_exit_Y` reading it, X ≠ Y.
fn pair_enter_exit(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let unchanged = (source.to_owned(), Vec::new());
    let blocks = probe_blocks(source);
    let mut sides: Vec<PairSide> = Vec::new();
    for b in &blocks {
        let names: Vec<(&str, &str)> = b
            .probes
            .iter()
            .filter_map(|p| {
                let ev = p.target.strip_prefix("syscalls:sys_")?;
                p.is_tracepoint().then_some(())?;
                ev.split_once('_')
            })
            .collect();
        if names.is_empty() || names.len() != b.probes.len() {
            continue;
        }
        let enter = names[0].0 == "enter";
        if names.iter().any(|(d, _)| (*d == "enter") != enter) || !b.body.contains("[tid]") {
            return unchanged; // mixed headers or no per-thread pairing: not this pattern
        }
        let calls = names.iter().map(|(_, n)| n.to_string()).collect();
        sides.push(PairSide {
            enter,
            calls,
            fields: args_fields(&b.body),
            header: b.probes_span(),
        });
    }
    let union = |enter: bool| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for side in sides.iter().filter(|s| s.enter == enter) {
            v.extend(
                side.calls
                    .iter()
                    .filter(|c| !v.contains(c))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        v
    };
    let (enters, exits) = (union(true), union(false));
    if enters.is_empty()
        || exits.is_empty()
        || enters.iter().all(|c| exits.contains(c)) && exits.iter().all(|c| enters.contains(c))
    {
        return unchanged;
    }
    // Only one block per side is rewritten: several blocks per side are a different shape.
    if sides.iter().filter(|s| s.enter).count() != 1
        || sides.iter().filter(|s| !s.enter).count() != 1
    {
        return unchanged;
    }
    let mut all = enters.clone();
    all.extend(exits.iter().filter(|c| !enters.contains(c)).cloned());
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for PairSide {
        enter,
        fields,
        header,
        ..
    } in &sides
    {
        let dir = if *enter { "enter" } else { "exit" };
        let usable: Vec<String> = all
            .iter()
            .filter(|c| {
                host.tracepoints
                    .get(&format!("syscalls:sys_{dir}_{c}"))
                    .is_some_and(|tp| {
                        fields
                            .iter()
                            .all(|f| tp.fields.iter().any(|g| &g.name == f))
                    })
            })
            .map(|c| format!("tracepoint:syscalls:sys_{dir}_{c}"))
            .collect();
        let Some(written) = source.get(header.clone()) else {
            return unchanged;
        };
        let missing: Vec<&String> = usable
            .iter()
            .filter(|u| !written.contains(u.as_str()))
            .collect();
        if missing.is_empty() {
            continue;
        }
        notes.push(format!(
            "{} added so that every call's {dir} is seen (the program pairs sys_enter_* with sys_exit_* per thread)",
            missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
        ));
        let added: Vec<&str> = missing.iter().map(|m| m.as_str()).collect();
        edits.replace(header.clone(), format!("{written},\n{}", added.join(",\n")));
    }
    (edits.apply(source), notes)
}

/// Field types of the tracepoints `source` attaches to, by field name, when every tracepoint
/// that has the field agrees on whether it is a pointer / a string.
fn field_kinds(host: &HostFacts, source: &str) -> BTreeMap<String, (bool, bool)> {
    let mut kinds: BTreeMap<String, Option<(bool, bool)>> = BTreeMap::new();
    for block in probe_blocks(source) {
        for p in block.probes.iter().filter(|p| p.is_tracepoint()) {
            let Some(tp) = host.tracepoints.get(&p.target) else {
                continue;
            };
            for f in &tp.fields {
                let k = (f.ctype.contains('*'), f.is_string());
                let e = kinds.entry(f.name.clone()).or_insert(Some(k));
                if *e != Some(k) {
                    *e = None;
                }
            }
        }
    }
    kinds
        .into_iter()
        .filter_map(|(n, k)| k.map(|k| (n, k)))
        .collect()
}

/// `if (args->p)` / `/args->p/` on a pointer field → `args->p != 0` (`!args->p` → `== 0`).
fn pointer_conditions(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let mut fixed = source.to_owned();
    let mut notes = Vec::new();
    for (name, (pointer, _)) in field_kinds(host, source) {
        if !pointer {
            continue;
        }
        let pattern = format!(
            r"(if\s*\(|/)\s*(!)?\s*args\s*->\s*{}\s*(\)|/)",
            regex::escape(&name)
        );
        let Ok(re) = Regex::new(&pattern) else {
            continue;
        };
        let replaced = re
            .replace_all(&fixed, |c: &regex::Captures| {
                let op = if c.get(2).is_some() { "==" } else { "!=" };
                format!("{}args->{name} {op} 0{}", &c[1], &c[3])
            })
            .into_owned();
        if replaced != fixed {
            fixed = replaced;
            notes.push(format!(
                "args->{name} is a pointer: compared with 0 (bpftrace refuses a pointer as a condition)"
            ));
        }
    }
    (fixed, notes)
}

/// `args->flags & 2 == 2`, which bpftrace parses as C does, `args->flags & (2 == 2)` (`==` and
/// `!=` bind tighter than `&`: bpftrace's parser.yy, C11 6.5.9-6.5.10): a test of bit 0 where
/// bit 1 was meant. Parenthesized as `(args->flags & 2) == 2`, the one reading a mask compared
/// with a number has; clang warns of the same mistake (-Wparentheses).
fn mask_comparisons(source: &str) -> (String, Vec<String>) {
    static UNGROUPED: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        let number = r"0[xX][0-9a-fA-F]+|\d+";
        Regex::new(&format!(
            r"(^|[^&\w>$.])(args\s*->\s*\w+|\$\w+|[A-Za-z_]\w*)\s*&\s*({number})\s*(==|!=)\s*(-?(?:{number}))\b"
        ))
        .expect("static regex")
    });
    let mut notes = Vec::new();
    let fixed = UNGROUPED
        .replace_all(source, |c: &regex::Captures| {
            let (pre, lhs, mask, op, value) = (&c[1], &c[2], &c[3], &c[4], &c[5]);
            let note = format!(
                "`{lhs} & {mask} {op} {value}` parses as `{lhs} & ({mask} {op} {value})` (== and != bind tighter than &, as in C): parenthesized as `({lhs} & {mask}) {op} {value}`"
            );
            if !notes.contains(&note) {
                notes.push(note);
            }
            format!("{pre}({lhs} & {mask}) {op} {value}")
        })
        .into_owned();
    (fixed, notes)
}

/// `ntop(args->saddr, 16)`: bpftrace(8) documents `ntop([int af, ]int|char[4|16] addr)`, an
/// optional address family first and no length, so bpftrace reads the address as the family
/// and refuses it ("ntop() only supports integer arguments (array provided)"). A second
/// argument of 4 or 16 after an address is its length in bytes, which the address's own type
/// (`u8[16]`, `u32`) already tells: it goes.
fn ntop_lengths(source: &str) -> (String, Vec<String>) {
    static WITH_LENGTH: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(
            r"\bntop\(\s*((?:args\s*->\s*\w+|\$\w+)(?:\s*->\s*\w+|\.\w+)*)\s*,\s*(4|16)\s*\)",
        )
        .expect("static regex")
    });
    let mut notes = Vec::new();
    let fixed = WITH_LENGTH
        .replace_all(source, |c: &regex::Captures| {
            let note = format!(
                "ntop({}, {}) → ntop({}): bpftrace's ntop([af, ]addr) takes no length (the address's type gives it)",
                &c[1], &c[2], &c[1]
            );
            if !notes.contains(&note) {
                notes.push(note);
            }
            format!("ntop({})", &c[1])
        })
        .into_owned();
    (fixed, notes)
}

/// One `printf(…);` statement; string literals may hold `;`.
static PRINTF_CALL: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
    Regex::new(r#"printf\s*\((?:[^;"]|"(?:[^"\\]|\\.)*")*\)\s*;"#).expect("static regex")
});

/// A `char *` field given to printf without `str()` → `str(args->f)`.
fn str_for_string_fields(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let strings: Vec<String> = field_kinds(host, source)
        .into_iter()
        .filter(|(_, (_, string))| *string)
        .map(|(n, _)| n)
        .collect();
    let mut notes = Vec::new();
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for m in PRINTF_CALL.find_iter(source) {
        out.push_str(&source[last..m.start()]);
        let mut call = m.as_str().to_owned();
        for name in &strings {
            let Ok(re) = Regex::new(&format!(
                r"(str\s*\(\s*)?args\s*->\s*{}\b",
                regex::escape(name)
            )) else {
                continue;
            };
            let wrapped = re
                .replace_all(&call, |c: &regex::Captures| match c.get(1) {
                    Some(_) => c[0].to_owned(),
                    None => format!("str(args->{name})"),
                })
                .into_owned();
            if wrapped != call {
                notes.push(format!("args->{name} is a C string: printed with str()"));
                call = wrapped;
            }
        }
        out.push_str(&call);
        last = m.end();
    }
    out.push_str(&source[last..]);
    notes.dedup();
    (out, notes)
}

/// `printf(…, ntop(args->daddr), …);` on a tracepoint that also has `daddr_v6` →
/// `if (args->family == 10) { printf(…, ntop(args->daddr_v6), …); } else { printf(…); }`.
fn dual_stack_addresses(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    static NTOP_V4: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"ntop\s*\(\s*(?:(?:2|AF_INET)\s*,\s*)?args\s*->\s*([sd]addr)\s*\)")
            .expect("static regex")
    });
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for block in probe_blocks(source) {
        let dual = !block.probes.is_empty()
            && block.probes.iter().all(|p| {
                p.is_tracepoint()
                    && host.tracepoints.get(&p.target).is_some_and(|tp| {
                        ["saddr_v6", "daddr_v6", "family"]
                            .iter()
                            .all(|f| tp.fields.iter().any(|x| x.name == *f))
                    })
            });
        if !dual || block.body.contains("_v6") || block.body.contains("family") {
            continue;
        }
        let body = PRINTF_CALL
            .replace_all(&block.body, |c: &regex::Captures| {
                let v4 = &c[0];
                if !NTOP_V4.is_match(v4) {
                    return v4.to_owned();
                }
                let v6 = NTOP_V4.replace_all(v4, "ntop(args->${1}_v6)");
                format!("if (args->family == 10) {{ {v6} }} else {{ {v4} }}")
            })
            .into_owned();
        if body != block.body {
            notes.push(format!(
                "{} carries IPv4 and IPv6 sockets: addresses printed from daddr_v6/saddr_v6 when family is AF_INET6",
                block.probes[0].target
            ));
            edits.replace(block.body_span, body);
        }
    }
    (edits.apply(source), notes)
}

/// `$sa->sin_port` (a `__be16`) → `(($sa->sin_port >> 8) | (($sa->sin_port & 0xff) << 8))`, in
/// blocks that do no byte swapping of their own.
fn host_order_ports(source: &str) -> (String, Vec<String>) {
    static PORT: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"(?:\$\w+|args\s*->\s*\w+)\s*->\s*(?:sin6?_port|skc_dport)\b")
            .expect("static regex")
    });
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for block in probe_blocks(source) {
        if block.body.contains(">> 8") || block.body.contains("<< 8") || !PORT.is_match(&block.body)
        {
            continue;
        }
        let swapped = PORT
            .replace_all(&block.body, |c: &regex::Captures| {
                let v = &c[0];
                format!("(({v} >> 8) | (({v} & 0xff) << 8))")
            })
            .into_owned();
        edits.replace(block.body_span, swapped);
        notes.push(
            "ports in kernel structs are __be16 (network byte order): swapped to host order"
                .to_owned(),
        );
    }
    (edits.apply(source), notes)
}

/// See the module comment: the process name the request filters on, when the program never
/// names it, becomes a predicate of every block that observes events.
fn stated_process_filter(source: &str, intent: &Intent) -> (String, Vec<String>) {
    let Some(name) = intent.process_name.as_deref() else {
        return (source.to_owned(), Vec::new());
    };
    let literal = format!("\"{name}\"");
    // A comment is no filter (`// kgent left out the filter `comm == "bash" && …``).
    if crate::toolchain::bpftrace::strip_comments(source).contains(&literal) {
        return (source.to_owned(), Vec::new());
    }
    let test = format!("comm == {literal}");
    let mut edits = Edits::default();
    for block in probe_blocks(source) {
        if !block
            .probes
            .iter()
            .all(crate::toolchain::bpftrace::ProbeSpec::observes_events)
        {
            continue;
        }
        match &block.predicate {
            Some(p) => edits.replace(p.span.clone(), format!("/({}) && {test}/", p.condition)),
            None => {
                let at = block.probes_span().end;
                edits.replace(at..at, format!("\n/{test}/"));
            }
        }
    }
    let fixed = edits.apply(source);
    if fixed == source {
        return (fixed, Vec::new());
    }
    (
        fixed,
        vec![format!(
            "kept only processes named {name}: the request filters on that name"
        )],
    )
}

/// See the module comment: an `interval` block that prints and clears the aggregations.
fn periodic_prints(intent: &Intent, source: &str) -> (String, Vec<String>) {
    static AGGREGATION: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(
            r"(@\w*)\s*(?:\[[^\]\n]*\])?\s*=\s*(?:count|sum|avg|min|max|hist|lhist|stats)\s*\(",
        )
        .expect("static regex")
    });
    let unchanged = (source.to_owned(), Vec::new());
    if !intent.asks(Concept::Periodic)
        || probe_blocks(source).iter().any(|b| {
            b.probes
                .iter()
                .any(|p| matches!(p.prefix.as_str(), "interval" | "i"))
        })
    {
        return unchanged;
    }
    let mut maps: Vec<&str> = Vec::new();
    for c in AGGREGATION.captures_iter(source) {
        if let Some(m) = c.get(1).map(|m| m.as_str()) {
            if !maps.contains(&m) {
                maps.push(m);
            }
        }
    }
    if maps.is_empty() {
        return unchanged;
    }
    let period = intent.period_s.unwrap_or(1);
    let mut block = format!("\n\ninterval:s:{period}\n{{\n  time(\"%H:%M:%S\\n\");\n");
    for m in &maps {
        block.push_str(&format!("  print({m});\n  clear({m});\n"));
    }
    block.push('}');
    (
        format!("{}{block}\n", source.trim_end()),
        vec![format!(
            "interval:s:{period} added to print and clear {} every {period} s: the request asks for figures per interval, not once at the end",
            maps.join(", ")
        )],
    )
}

/// See the module comment: the one printing `interval` block keeps the period the request
/// states.
fn stated_period(intent: &Intent, source: &str) -> (String, Vec<String>) {
    static PRINTS: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\b(print|printf|time)\s*\(").expect("static regex")
    });
    let unchanged = (source.to_owned(), Vec::new());
    let Some(period) = intent.period_s else {
        return unchanged;
    };
    let blocks = probe_blocks(source);
    let printing: Vec<_> = blocks
        .iter()
        .filter(|b| {
            !b.probes.is_empty()
                && b.probes
                    .iter()
                    .all(|p| matches!(p.prefix.as_str(), "interval" | "i"))
                && PRINTS.is_match(&b.body)
        })
        .collect();
    let [block] = printing.as_slice() else {
        return unchanged;
    };
    let [probe] = block.probes.as_slice() else {
        return unchanged;
    };
    if interval_seconds(&probe.target) == Some(period as f64) {
        return unchanged;
    }
    let mut edits = Edits::default();
    edits.replace(probe.span.clone(), format!("interval:s:{period}"));
    (
        edits.apply(source),
        vec![format!(
            "{}:{} became interval:s:{period}: the request asks for figures every {period} s",
            probe.prefix, probe.target
        )],
    )
}

/// The period of an `interval` probe's target (`s:2`, `ms:500`, `hz:4`), in seconds.
fn interval_seconds(target: &str) -> Option<f64> {
    let (unit, n) = target.split_once(':')?;
    let n: f64 = n.trim().parse().ok()?;
    match unit {
        "s" => Some(n),
        "ms" => Some(n / 1e3),
        "us" => Some(n / 1e6),
        "hz" if n > 0.0 => Some(1.0 / n),
        _ => None,
    }
}

/// See the module comment: an `interval` block that only prints and resets the maps, removed
/// when the request asks for no figures per interval.
fn unasked_resets(intent: &Intent, source: &str) -> (String, Vec<String>) {
    // One statement of such a block: a timestamp, a constant line, a print, a clear or zero.
    static ONLY_OUTPUT: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r#"^\s*(time\s*\(\s*("[^"]*")?\s*\)|printf\s*\(\s*"[^"]*"\s*\)|print\s*\(\s*@\w*\s*(,\s*\d+\s*)*\)|(clear|zero)\s*\(\s*@\w*\s*\))\s*$"#)
            .expect("static regex")
    });
    static RESETS: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\b(clear|zero)\s*\(|\bprint\s*\(\s*@\w*\s*,").expect("static regex")
    });
    let unchanged = (source.to_owned(), Vec::new());
    if intent.asks(Concept::Periodic) {
        return unchanged;
    }
    let blocks = probe_blocks(source);
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for b in &blocks {
        let periodic = !b.probes.is_empty()
            && b.probes
                .iter()
                .all(|p| matches!(p.prefix.as_str(), "interval" | "i"));
        let statements: Vec<&str> = b
            .body
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if !periodic
            || b.predicate.is_some()
            || !RESETS.is_match(&b.body)
            || !statements.iter().all(|s| ONLY_OUTPUT.is_match(s))
        {
            continue;
        }
        let probe = b
            .probes
            .first()
            .map(|p| format!("{}:{}", p.prefix, p.target))
            .unwrap_or_default();
        edits.replace(b.span.clone(), String::new());
        notes.push(format!(
            "removed the {probe} block that printed and reset the maps on a timer: the request asks for no figures per interval, so the maps keep the whole trace and print when it ends"
        ));
    }
    if notes.is_empty() {
        return unchanged;
    }
    (edits.apply(source), notes)
}

/// See the module comment: a `sched_process_fork` block moved to `task_newtask`, threads only.
fn threads_on_newtask(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    static FIELD: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\bargs\s*(?:->|\.)\s*(child_pid|child_comm|parent_pid|parent_comm)\b")
            .expect("static regex")
    });
    static TELLS_THREADS: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"(?i)0x0*10000\b|\b65536\b|CLONE_THREAD").expect("static regex")
    });
    let unchanged = (source.to_owned(), Vec::new());
    let has_flags = host.tracepoints.get("task:task_newtask").is_some_and(|t| {
        ["pid", "comm", "clone_flags"]
            .iter()
            .all(|f| t.fields.iter().any(|g| g.name == *f))
    });
    if !intent.asks(Concept::NewThreads) || !has_flags || TELLS_THREADS.is_match(source) {
        return unchanged;
    }
    // The fork event's names are `__data_loc` strings read with str(); the new event's
    // `comm` and the builtin `comm` are strings already.
    static STR_NAME: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\bstr\s*\(\s*(args\s*(?:->|\.)\s*(?:child|parent)_comm)\s*\)")
            .expect("static regex")
    });
    let rename = |text: &str| {
        let text = STR_NAME.replace_all(text, "$1");
        FIELD
            .replace_all(&text, |c: &regex::Captures| match &c[1] {
                "child_pid" => "args->pid",
                "child_comm" => "args->comm",
                "parent_pid" => "pid",
                _ => "comm",
            })
            .into_owned()
    };
    let mut edits = Edits::default();
    for b in probe_blocks(source) {
        let [p] = b.probes.as_slice() else {
            continue;
        };
        if !(p.is_tracepoint() && p.target == "sched:sched_process_fork") {
            continue;
        }
        const THREAD: &str = "(args->clone_flags & 0x10000) != 0";
        let predicate = match &b.predicate {
            Some(pr) => format!("/({}) && {THREAD}/", rename(&pr.condition)),
            None => format!("/{THREAD}/"),
        };
        edits.replace(
            b.span.clone(),
            format!(
                "tracepoint:task:task_newtask\n{predicate}\n{{{}}}",
                rename(&b.body)
            ),
        );
    }
    let fixed = edits.apply(source);
    if fixed == source {
        return unchanged;
    }
    (
        fixed,
        vec!["tracepoint:sched:sched_process_fork moved to tracepoint:task:task_newtask with (args->clone_flags & 0x10000) != 0: the request asks for new threads, and only the clone flags (CLONE_THREAD, clone(2)) tell a thread from a process; the new task is args->pid/args->comm there, the creating one pid/comm".into()],
    )
}

/// A request for the new task answered with fork's result where fork-like calls return
/// (`sys_exit_fork`, `sys_exit_clone`…; `check::creates_processes_only`) whose block keeps
/// every result: fork(2) returns 0 in the child and -errno on failure, neither a new task.
/// The block gets `args->ret > 0` (the child's PID, as the parent sees it).
fn children_returned(host: &HostFacts, intent: &Intent, source: &str) -> (String, Vec<String>) {
    static RESULT: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"\bargs\s*(->|\.)\s*ret\b").expect("static regex"));
    let unchanged = (source.to_owned(), Vec::new());
    if !intent.asks_for_new_task() || !crate::check::creates_processes_only(host, source) {
        return unchanged;
    }
    let mut edits = Edits::default();
    let mut at = Vec::new();
    for b in probe_blocks(source) {
        let returns = b
            .probes
            .iter()
            .all(|p| p.is_tracepoint() && p.target.starts_with("syscalls:sys_exit_"));
        let whole = source.get(b.span.clone()).unwrap_or("");
        if !returns || !RESULT.is_match(&b.body) || crate::check::keeps_positive_result(whole) {
            continue;
        }
        match &b.predicate {
            Some(pr) => edits.replace(
                pr.span.clone(),
                format!("/({}) && args->ret > 0/", pr.condition),
            ),
            None => {
                let Some(brace) = source[..b.body_span.start].rfind('{') else {
                    continue;
                };
                edits.replace(brace..brace, "/args->ret > 0/\n".to_owned());
            }
        }
        at.extend(b.probes.iter().map(|p| format!("tracepoint:{}", p.target)));
    }
    if at.is_empty() {
        return unchanged;
    }
    (
        edits.apply(source),
        vec![format!(
            "args->ret > 0 kept at {}: fork(2) returns the child's PID in the parent, 0 in the child and -errno on failure",
            at.join(", ")
        )],
    )
}

/// An identity value a request may ask every printed event to carry, and how a printf shows it.
struct IdentityValue {
    asked: Concept,
    /// Program code that shows it already (in the printf's arguments).
    present: &'static str,
    format: &'static str,
    expr: &'static str,
    what: &'static str,
}

/// The values of [`identity_in_prints`], in the order they are put first on a line.
const IDENTITY: &[IdentityValue] = &[
    IdentityValue {
        asked: Concept::ProcessName,
        present: r"\bcomm\b|_comm\b",
        format: "%-16s ",
        expr: "comm",
        what: "the process name (comm)",
    },
    IdentityValue {
        asked: Concept::Pid,
        present: r"\bpid\b|\btid\b|_pid\b",
        format: "pid=%-7d ",
        expr: "pid",
        what: "the PID",
    },
    IdentityValue {
        asked: Concept::ParentPid,
        present: r"real_parent|parent_pid|\bppid\b",
        format: "ppid=%-7d ",
        expr: "curtask->real_parent->tgid",
        what: "the parent's PID",
    },
    IdentityValue {
        asked: Concept::ParentName,
        present: r"real_parent\s*->\s*comm|parent_comm|\bpcomm\b",
        format: "parent=%s ",
        expr: "curtask->real_parent->comm",
        what: "the parent's name",
    },
];

/// Identity values the request asks for (the process name, the PID, the parent's) that a
/// printf of an event block lacks are put first on its line: which process an event belongs
/// to has one right form, and the builtins give it.
fn identity_in_prints(host: &HostFacts, source: &str, intent: &Intent) -> (String, Vec<String>) {
    static CALL: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r#"^printf\s*\(\s*"((?:[^"\\]|\\.)*)"(.*)$"#).expect("static regex")
    });
    static MAP_KEY: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"@\w*\[[^\]]*\]").expect("static regex"));
    // Where processes are created, the running task is the parent (see `check::coverage`).
    let creating = crate::check::creates_processes_only(host, source);
    let wanted: Vec<(&IdentityValue, Regex)> = IDENTITY
        .iter()
        .filter(|v| intent.asks(v.asked))
        .filter(|v| !(creating && matches!(v.asked, Concept::ParentPid | Concept::ParentName)))
        // There the PID asked with the new task is the child's, not the creator's `pid`.
        .filter(|v| !(creating && v.asked == Concept::Pid && intent.asks_for_new_task()))
        .filter_map(|v| Regex::new(v.present).ok().map(|re| (v, re)))
        .collect();
    if wanted.is_empty() {
        return (source.to_owned(), Vec::new());
    }
    let mut edits = Edits::default();
    let mut added = vec![false; wanted.len()];
    for block in probe_blocks(source) {
        if !block
            .probes
            .iter()
            .all(crate::toolchain::bpftrace::ProbeSpec::observes_events)
        {
            continue;
        }
        let body = PRINTF_CALL
            .replace_all(&block.body, |c: &regex::Captures| {
                let call = c[0].to_owned();
                let Some(parts) = CALL.captures(call.trim_end_matches(';').trim_end()) else {
                    return call;
                };
                let Some(args) = parts[2].trim_end().strip_suffix(')') else {
                    return call;
                };
                // A map's key names no value printed: `@start[tid]` prints no tid.
                let shown = MAP_KEY.replace_all(args, "@");
                // The parent's name is no process name unless the parent's is asked.
                let own = crate::check::without_parent_name(&shown);
                let (mut fmt, mut extra) = (String::new(), Vec::new());
                for (k, (v, present)) in wanted.iter().enumerate() {
                    let shown =
                        if v.asked == Concept::ProcessName && !intent.asks(Concept::ParentName) {
                            &own
                        } else {
                            &shown
                        };
                    if !present.is_match(shown) {
                        fmt.push_str(v.format);
                        extra.push(v.expr);
                        added[k] = true;
                    }
                }
                if extra.is_empty() {
                    return call;
                }
                format!(
                    "printf(\"{fmt}{}\", {}{args});",
                    &parts[1],
                    extra.join(", ")
                )
            })
            .into_owned();
        if body != block.body {
            edits.replace(block.body_span, body);
        }
    }
    let what: Vec<&str> = wanted
        .iter()
        .zip(&added)
        .filter(|(_, a)| **a)
        .map(|((v, _), _)| v.what)
        .collect();
    let notes = if what.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{} added to the printed events: the request asks for {}",
            what.join(" and "),
            if what.len() == 1 { "it" } else { "them" }
        )]
    };
    (edits.apply(source), notes)
}

/// `tracepoint:syscalls:sys_enter` (no syscall name: every syscall) → the tracepoint that
/// exists for that, `tracepoint:raw_syscalls:sys_enter` (`args->id` is the syscall number).
fn all_syscalls_tracepoint(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    static ALL: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"\b(tracepoint|t):syscalls:sys_(enter|exit)\b([^_A-Za-z0-9]|$)")
            .expect("static regex")
    });
    let mut notes = Vec::new();
    let fixed = ALL.replace_all(source, |c: &regex::Captures| {
        let raw = format!("raw_syscalls:sys_{}", &c[2]);
        if !host.tracepoints.contains_key(&raw) {
            return c[0].to_owned();
        }
        let note = format!(
            "{}:syscalls:sys_{} → tracepoint:{raw} (every syscall)",
            &c[1], &c[2]
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
        format!("tracepoint:{raw}{}", &c[3])
    });
    (fixed.into_owned(), notes)
}

/// `kprobe:__x64_sys_openat` (and `sys_`, `__se_sys_`, `__do_sys_`, `ksys_` spellings) →
/// `tracepoint:syscalls:sys_enter_openat`; `kretprobe:` → `sys_exit_*` with `retval` read as
/// `args->ret`. Only when kprobes are unavailable here and the body reads no `argN`.
fn replace_syscall_kprobes(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    static KPROBE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(
            r"\b(kprobe|kretprobe):(?:__x64_sys_|__se_sys_|__do_sys_|ksys_|sys_)([a-z0-9_]+)\b",
        )
        .expect("static regex")
    });
    if host.family_of("kprobe").is_none_or(|f| f.available) {
        return (source.to_owned(), Vec::new());
    }
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    for block in probe_blocks(source) {
        let mut body_moved = false;
        let kprobes: Vec<_> = block
            .probes
            .iter()
            .filter(|p| p.prefix.starts_with("k"))
            .collect();
        if kprobes.is_empty() || block.body.contains("arg") {
            continue;
        }
        for p in kprobes {
            let written = format!("{}:{}", p.prefix, p.target);
            let Some(c) = KPROBE.captures(&written) else {
                continue;
            };
            let ret = &c[1] == "kretprobe";
            let tp = format!(
                "syscalls:sys_{}_{}",
                if ret { "exit" } else { "enter" },
                &c[2]
            );
            if !host.tracepoints.contains_key(&tp) {
                continue;
            }
            edits.replace(p.span.clone(), format!("tracepoint:{tp}"));
            if ret && !body_moved {
                body_moved = true;
                edits.replace(
                    block.body_span.clone(),
                    block.body.replace("retval", "args->ret"),
                );
            }
            notes.push(format!(
                "{written} → tracepoint:{tp} (kprobes are unavailable on this kernel)"
            ));
        }
    }
    (edits.apply(source), notes)
}

/// The repaired source and one line per repair. A field is renamed in the block whose
/// tracepoints lack it, predicate and body, and nowhere else.
pub fn repair_fields(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let mut edits = Edits::default();
    let mut notes = Vec::new();
    let mut renamed: Vec<(String, String)> = Vec::new();
    for block in probe_blocks(source) {
        let tps: Vec<_> = block
            .probes
            .iter()
            .filter(|p| p.is_tracepoint())
            .filter_map(|p| host.tracepoints.get(&p.target))
            .collect();
        if tps.is_empty() || tps.len() != block.probes.len() {
            continue;
        }
        let Some(written) = source.get(block.span.clone()) else {
            continue;
        };
        let mut fixed = written.to_owned();
        for wrong in args_fields(&block.body) {
            if tps
                .iter()
                .all(|tp| tp.fields.iter().any(|f| f.name == wrong))
            {
                continue;
            }
            // A fix must be right for every tracepoint of the block.
            let fixes: Vec<Option<String>> = tps
                .iter()
                .map(|tp| nearest(&wrong, tp.fields.iter().map(|f| f.name.as_str())))
                .collect();
            let Some(Some(first)) = fixes.first().cloned() else {
                continue;
            };
            if fixes.iter().any(|f| f.as_deref() != Some(first.as_str())) {
                continue;
            }
            let pattern = format!(r"\bargs\s*(->|\.)\s*{}\b", regex::escape(&wrong));
            let Ok(re) = Regex::new(&pattern) else {
                continue;
            };
            let replaced = re
                .replace_all(&fixed, format!("args${{1}}{first}").as_str())
                .into_owned();
            if replaced == fixed {
                continue;
            }
            fixed = replaced;
            // One note per rename, however many blocks needed it.
            let rename = (wrong, first);
            if !renamed.contains(&rename) {
                notes.push(format!(
                    "args->{} → args->{} (the field of {})",
                    rename.0,
                    rename.1,
                    tps[0].probe()
                ));
                renamed.push(rename);
            }
        }
        if fixed != written {
            edits.replace(block.span, fixed);
        }
    }
    (edits.apply(source), notes)
}

/// The one field name plainly meant by `wrong`, if there is exactly one.
fn nearest<'a>(wrong: &str, fields: impl Iterator<Item = &'a str>) -> Option<String> {
    let w = wrong.to_lowercase();
    let candidates: Vec<&str> = fields.filter(|f| !f.starts_with("__")).collect();
    let pick = |matches: Vec<&&str>| (matches.len() == 1).then(|| matches[0].to_string());
    if let Some(f) = pick(
        candidates
            .iter()
            .filter(|f| f.to_lowercase() == w)
            .collect(),
    ) {
        return Some(f);
    }
    if w.len() >= 3 {
        let contains: Vec<&&str> = candidates
            .iter()
            .filter(|f| {
                let l = f.to_lowercase();
                l.len() >= 3 && (l.contains(&w) || w.contains(&l))
            })
            .collect();
        if !contains.is_empty() {
            return pick(contains);
        }
    }
    if w.len() >= 4 {
        return pick(
            candidates
                .iter()
                .filter(|f| edit_distance(&w, &f.to_lowercase()) <= 2)
                .collect(),
        );
    }
    None
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_length_given_to_ntop_goes() {
        let src = "tracepoint:sock:inet_sock_set_state { printf(\"%s %s\\n\", ntop(args->saddr_v6, 16), ntop(2, args->daddr)); $a = ntop($s.addr, 4); }";
        let (fixed, notes) = ntop_lengths(src);
        assert!(fixed.contains("ntop(args->saddr_v6)"), "{fixed}");
        // A family first is bpftrace's own form: kept.
        assert!(fixed.contains("ntop(2, args->daddr)"), "{fixed}");
        assert!(fixed.contains("$a = ntop($s.addr);"), "{fixed}");
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn tally_keys_the_request_never_asks_for_are_left_out_everywhere() {
        let h = HostFacts::for_tests_with_tracepoints(&[(
            "sched",
            "sched_migrate_task",
            &[
                ("char[16]", "comm"),
                ("pid_t", "pid"),
                ("int", "prio"),
                ("int", "orig_cpu"),
                ("int", "dest_cpu"),
            ],
        )]);
        let intent = Intent::read("how many tasks move onto each CPU, tallied per destination CPU");
        let src = "tracepoint:sched:sched_migrate_task { @moves[str(args->comm), args->dest_cpu, args->orig_cpu] = count(); }
END { print(@moves); }";
        let (fixed, notes) = unasked_tally_keys(&h, &intent, src);
        assert!(
            fixed.contains("@moves[args->dest_cpu] = count()"),
            "{fixed}"
        );
        assert!(fixed.contains("print(@moves)"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("args->orig_cpu"), "{}", notes[0]);
        // A tally keyed only by what is asked is kept as written.
        let right = "tracepoint:sched:sched_migrate_task { @moves[args->dest_cpu] = count(); }";
        let (same, notes) = unasked_tally_keys(&h, &intent, right);
        assert_eq!(same, right);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn keys_are_left_out_of_every_use_of_the_map_or_of_none() {
        let drop = crate::check::KeyDrop {
            map: "@n".into(),
            arity: 2,
            positions: vec![0],
            names: vec!["comm".into()],
        };
        let src = "t:a:b { @n[comm, args->fd] = count(); @nn[comm, 1] = count(); } END { delete(@n[\"x\", 3]); }";
        let fixed = without_keys(src, &drop).expect("every use has two keys");
        assert!(fixed.contains("@n[args->fd] = count()"), "{fixed}");
        assert!(fixed.contains("@nn[comm, 1]"), "{fixed}");
        assert!(fixed.contains("delete(@n[3])"), "{fixed}");
        let alone = crate::check::KeyDrop {
            positions: vec![0, 1],
            ..drop.clone()
        };
        let bare = without_keys("t:a:b { @n[comm, pid] = count(); }", &alone).expect("two keys");
        assert!(bare.contains("@n = count()"), "{bare}");
        assert!(without_keys("t:a:b { @n[comm] = count(); }", &drop).is_none());
    }

    #[test]
    fn a_mask_compared_without_parentheses_is_grouped_as_meant() {
        let src = "tracepoint:syscalls:sys_enter_mlockall /args->flags & 0x4 != 0 && pid > 1/ { if ($m & 8 == 8) { print(1); } if ((args->flags & 2) == 2) { print(2); } if (args->flags && 2 == 2) { print(3); } }";
        let (fixed, notes) = mask_comparisons(src);
        assert!(
            fixed.contains("/(args->flags & 0x4) != 0 && pid > 1/"),
            "{fixed}"
        );
        assert!(fixed.contains("if (($m & 8) == 8)"), "{fixed}");
        // Already grouped, and a logical `&&`: left alone.
        assert!(fixed.contains("if ((args->flags & 2) == 2)"), "{fixed}");
        assert!(fixed.contains("if (args->flags && 2 == 2)"), "{fixed}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("parses as `args->flags & (0x4 != 0)`"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn finds_the_one_plain_fix() {
        let f = ["__syscall_nr", "fd", "umyaddr", "addrlen"];
        assert_eq!(nearest("uaddr", f.iter().copied()), Some("umyaddr".into()));
        assert_eq!(
            nearest("ADDRLEN", f.iter().copied()),
            Some("addrlen".into())
        );
        assert_eq!(nearest("dport", f.iter().copied()), None);
        let g = ["filename", "flags", "mode", "dfd"];
        assert_eq!(
            nearest("filenam", g.iter().copied()),
            Some("filename".into())
        );
        assert_eq!(nearest("path", g.iter().copied()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    fn host() -> HostFacts {
        HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_unlink",
                &[("const char *", "pathname")],
            ),
            ("syscalls", "sys_exit_unlink", &[("long", "ret")]),
            ("syscalls", "sys_enter_fsync", &[("unsigned int", "fd")]),
            ("syscalls", "sys_exit_fsync", &[("long", "ret")]),
            ("syscalls", "sys_enter_fdatasync", &[("unsigned int", "fd")]),
            ("syscalls", "sys_exit_fdatasync", &[("long", "ret")]),
        ])
    }

    #[test]
    fn new_threads_move_from_the_fork_event_to_the_one_with_clone_flags() {
        let h = HostFacts::for_tests_with_tracepoints(&[
            (
                "sched",
                "sched_process_fork",
                &[
                    ("__data_loc char[]", "parent_comm"),
                    ("pid_t", "parent_pid"),
                    ("__data_loc char[]", "child_comm"),
                    ("pid_t", "child_pid"),
                ],
            ),
            (
                "task",
                "task_newtask",
                &[
                    ("pid_t", "pid"),
                    ("char[16]", "comm"),
                    ("u64", "clone_flags"),
                ],
            ),
        ]);
        let src = "tracepoint:sched:sched_process_fork /args->parent_pid > 1/ { printf(\"%s %d -> %d\\n\", str(args->parent_comm), args->parent_pid, args->child_pid); }";
        let ask = Intent::read("print every thread spawned, with the spawning program's name");
        let (fixed, notes) = repair_all(&h, &ask, src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(fixed.starts_with("tracepoint:task:task_newtask\n/(pid > 1) && (args->clone_flags & 0x10000) != 0/\n{"), "{fixed}");
        assert!(fixed.contains("\", comm, pid, args->pid)"), "{fixed}");
        // New processes stay on the fork event.
        let procs = Intent::read("print every process spawned, with the spawning program's name");
        assert_eq!(repair_all(&h, &procs, src).0, src);
    }

    #[test]
    fn a_tally_emptied_at_the_end_is_kept_for_bpftrace_to_print() {
        let src = "tracepoint:net:netif_rx { @lens[str(args->name)] = hist(args->len); @seen[tid] = 1; }\nEND { clear(@lens); clear(@seen); }";
        let (fixed, notes) = repair_all(
            &host(),
            &Intent::read("sizes of received frames by device"),
            src,
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("@lens"), "{notes:?}");
        assert!(
            !fixed.contains("clear(@lens)") && fixed.contains("clear(@seen)"),
            "{fixed}"
        );
        // Printed first, or never emptied: unchanged.
        let printed = "tracepoint:net:netif_rx { @n = count(); }\nEND { print(@n); clear(@n); }";
        assert_eq!(
            repair_all(&host(), &Intent::read("received frames"), printed).0,
            printed
        );
    }

    #[test]
    fn per_interval_figures_get_an_interval_block() {
        let src = "tracepoint:syscalls:sys_enter_fsync { @calls[comm] = count(); @t = sum(1); }";
        let (fixed, notes) = repair_all(
            &host(),
            &Intent::read("fsync calls per program, every 3 seconds"),
            src,
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(fixed.contains("interval:s:3\n{"), "{fixed}");
        assert!(
            fixed.contains("print(@calls);\n  clear(@calls);") && fixed.contains("clear(@t);"),
            "{fixed}"
        );
        // Asked once, or already periodic: unchanged.
        assert_eq!(
            repair_all(&host(), &Intent::read("fsync calls per program"), src).0,
            src
        );
        let periodic = format!("{src}\ninterval:s:1 {{ print(@calls); clear(@calls); }}");
        assert_eq!(
            repair_all(&host(), &Intent::read("fsync calls per second"), &periodic).0,
            periodic
        );
    }

    #[test]
    fn the_stated_period_is_kept() {
        let counted = "tracepoint:syscalls:sys_enter_mmap { @maps[comm] = count(); }\n";
        let src = format!("{counted}interval:s:1 {{ print(@maps); clear(@maps); }}\n");
        let every2 = Intent::read("mmap calls by program, refreshed every 2 seconds");
        let (fixed, notes) = repair_all(&host(), &every2, &src);
        assert!(fixed.contains("interval:s:2 {"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let ms = format!("{counted}interval:ms:2000 {{ print(@maps); clear(@maps); }}\n");
        assert_eq!(repair_all(&host(), &every2, &ms).0, ms);
        // No period stated, or a timer that only ends the trace: unchanged.
        let per_second = Intent::read("mmap calls by program per second");
        assert_eq!(repair_all(&host(), &per_second, &src).0, src);
        let ends = format!("{src}interval:s:10 {{ exit(); }}\n");
        let fixed = repair_all(&host(), &every2, &ends).0;
        assert!(
            fixed.contains("interval:s:10 { exit(); }") && fixed.contains("interval:s:2 {"),
            "{fixed}"
        );
    }

    #[test]
    fn a_timer_that_resets_the_totals_is_removed_unless_asked() {
        let counted = "tracepoint:syscalls:sys_enter_fsync { @calls[comm] = count(); }\n";
        let src = format!(
            "{counted}interval:s:5 {{ time(\"%H:%M:%S\\n\"); print(@calls, 10); clear(@calls); }}\n"
        );
        let totals = Intent::read("how many fsync calls does each program make");
        let (fixed, notes) = repair_all(&host(), &totals, &src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("interval:s:5"), "{notes:?}");
        assert_eq!(fixed.trim_end(), counted.trim_end());
        // Asked per interval: kept.
        let rate = Intent::read("fsync calls per program every 5 seconds");
        assert_eq!(repair_all(&host(), &rate, &src).0, src);
        // A timer that does more than print and reset (it ends the trace, it computes): kept.
        let exits = format!("{counted}interval:s:5 {{ print(@calls); clear(@calls); exit(); }}\n");
        assert_eq!(repair_all(&host(), &totals, &exits).0, exits);
        // One that only prints, without resetting anything: kept.
        let shows = format!("{counted}interval:s:5 {{ print(@calls); }}\n");
        assert_eq!(repair_all(&host(), &totals, &shows).0, shows);
    }

    #[test]
    fn the_entry_point_this_hosts_calls_go_through_is_added() {
        let h = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_newlstat",
                &[("const char *", "filename")],
            ),
            ("syscalls", "sys_exit_newlstat", &[("long", "ret")]),
            (
                "syscalls",
                "sys_enter_newfstatat",
                &[("int", "dfd"), ("const char *", "filename")],
            ),
            ("syscalls", "sys_exit_newfstatat", &[("long", "ret")]),
            ("syscalls", "sys_enter_newfstat", &[("unsigned int", "fd")]),
        ]);
        let provoked = crate::check::Provoked::by_workload(
            [
                "syscalls:sys_enter_newfstatat",
                "syscalls:sys_exit_newfstatat",
            ]
            .map(String::from),
        );
        // A comment, and a block that reads a field the measured entry point lacks.
        let src = "// symlinks\ntracepoint:syscalls:sys_enter_newlstat { @f[tid] = args->filename; }\ntracepoint:syscalls:sys_exit_newlstat /@f[tid]/ { printf(\"%s %d\\n\", str(@f[tid]), args->ret); delete(@f[tid]); }\ntracepoint:syscalls:sys_enter_newfstat { printf(\"%d\\n\", args->fd); }";
        let (fixed, notes) = measured_entry_points(&h, Some(&provoked), src);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            fixed.contains("sys_enter_newlstat,\ntracepoint:syscalls:sys_enter_newfstatat {"),
            "{fixed}"
        );
        assert!(
            fixed.contains("sys_exit_newlstat,\ntracepoint:syscalls:sys_exit_newfstatat /"),
            "{fixed}"
        );
        assert!(
            fixed.contains("tracepoint:syscalls:sys_enter_newfstat { printf"),
            "{fixed}"
        );
        // Nothing measured, or a block whose own entry point is provoked: unchanged.
        assert_eq!(measured_entry_points(&h, None, src).0, src);
        let measured_here = crate::check::Provoked::by_workload(
            [
                "syscalls:sys_enter_newlstat",
                "syscalls:sys_enter_newfstatat",
            ]
            .map(String::from),
        );
        let enter_only =
            "tracepoint:syscalls:sys_enter_newlstat { printf(\"%s\\n\", str(args->filename)); }";
        assert_eq!(
            measured_entry_points(&h, Some(&measured_here), enter_only).0,
            enter_only
        );
    }

    #[test]
    fn hand_updates_of_an_aggregation_become_the_aggregation() {
        let src = "tracepoint:syscalls:sys_exit_fsync /args->ret > 0/ { @bytes[comm] = @bytes[ comm ] + args->ret; @n[pid] += 1; }\ntracepoint:syscalls:sys_exit_fdatasync { @bytes[comm] = sum(args->ret); @n[pid] = count(); @total = @total + args->ret; }";
        let (fixed, notes) = hand_updates_of_aggregations(src);
        assert!(
            fixed.contains("{ @bytes[comm] = sum(args->ret); @n[pid] = count(); }"),
            "{fixed}"
        );
        assert!(fixed.contains("@total = @total + args->ret;"), "{fixed}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        let plain = "tracepoint:syscalls:sys_exit_fsync { @b[comm] = @b[comm] + args->ret; @c[tid] = @d[tid] + 1; }";
        assert_eq!(hand_updates_of_aggregations(plain).0, plain);
    }

    /// The real bpftrace refuses the mixed map and loads the repaired one.
    #[tokio::test]
    async fn the_repaired_aggregation_loads() {
        use crate::toolchain::bpftrace::{check_load, LoadVerdict};
        use std::path::Path;
        use std::time::Duration;
        let bpftrace = Path::new("bpftrace");
        let src = "tracepoint:syscalls:sys_exit_write /args->ret > 0/ { @w[comm] = sum(args->ret); }\ntracepoint:syscalls:sys_exit_pwrite64 /args->ret > 0/ { @w[comm] = @w[comm] + args->ret; }";
        let before = check_load(bpftrace, src, Duration::from_secs(60)).await;
        assert_eq!(
            before.verdict,
            LoadVerdict::Rejected,
            "{}",
            before.diagnostic
        );
        let (fixed, _) = hand_updates_of_aggregations(src);
        let after = check_load(bpftrace, &fixed, Duration::from_secs(60)).await;
        assert!(
            matches!(after.verdict, LoadVerdict::Attached { .. }),
            "{fixed}\n{}",
            after.diagnostic
        );
    }

    #[test]
    fn pointer_condition_is_compared_with_zero() {
        let src = "tracepoint:syscalls:sys_enter_unlink /args->pathname/ { if (!args->pathname) { printf(\"x\\n\"); } }";
        let (fixed, notes) = repair_all(&host(), &Intent::read(""), src);
        assert!(fixed.contains("/args->pathname != 0/"), "{fixed}");
        assert!(fixed.contains("if (args->pathname == 0)"), "{fixed}");
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn the_process_name_and_pid_asked_for_are_added_to_printed_events() {
        let src = "BEGIN { printf(\"tracing\\n\"); }\ntracepoint:syscalls:sys_enter_unlink { printf(\"%s\\n\", str(args->pathname)); }\n";
        let (fixed, notes) = repair_all(
            &host(),
            &Intent::read("log each event's PID and process name along with the file path"),
            src,
        );
        assert!(
            fixed.contains("printf(\"%-16s pid=%-7d %s\\n\", comm, pid, str(args->pathname));"),
            "{fixed}"
        );
        assert!(
            fixed.contains("printf(\"tracing\\n\");"),
            "BEGIN is left alone: {fixed}"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Already there, or not asked for: untouched.
        assert!(repair_all(
            &host(),
            &Intent::read("log each event's PID and process name along with the file path"),
            &fixed
        )
        .1
        .is_empty());
        assert!(repair_all(&host(), &Intent::read("print the path"), src)
            .1
            .is_empty());
        // The parent's name is not the process's.
        let parent = "tracepoint:syscalls:sys_enter_unlink { printf(\"%s %d\\n\", curtask->real_parent->comm, pid); }\n";
        let (fixed, _) = repair_all(
            &host(),
            &Intent::read("deleted files: pid and process name"),
            parent,
        );
        assert!(
            fixed.contains("printf(\"%-16s %s %d\\n\", comm, curtask->real_parent->comm, pid);"),
            "{fixed}"
        );
        // A map keyed by `tid` prints no tid: the PID is still missing.
        let keyed =
            "tracepoint:syscalls:sys_exit_unlink { printf(\"%s %d\\n\", comm, @t[tid]); }\n";
        let (fixed, _) = repair_all(
            &host(),
            &Intent::read("deleted files: pid and process name"),
            keyed,
        );
        assert!(
            fixed.contains("printf(\"pid=%-7d %s %d\\n\", pid, comm, @t[tid]);"),
            "{fixed}"
        );
    }

    #[test]
    fn cleanups_of_a_map_never_stored_go() {
        let src = "tracepoint:syscalls:sys_enter_fsync { @ts[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_fsync /@ts[tid]/ { printf(\"%d\\n\", nsecs - @ts[tid]); delete(@ts[tid]); delete(@start[tid]); }\nEND { clear(@start); clear(@ts); print(@start, 10); }\n";
        let (fixed, notes) = repair_all(&host(), &Intent::read("fsync latency"), src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!fixed.contains("@start"), "{fixed}");
        assert!(
            fixed.contains("delete(@ts[tid]);") && fixed.contains("clear(@ts);"),
            "{fixed}"
        );
        // Every map used: unchanged.
        let used = "tracepoint:syscalls:sys_enter_fsync { @n = count(); }\nEND { print(@n); clear(@n); }\n";
        assert!(repair_all(&host(), &Intent::read("fsync calls"), used)
            .1
            .is_empty());
    }

    #[test]
    fn the_parent_asked_for_is_added_to_printed_events() {
        let src = "tracepoint:syscalls:sys_enter_unlink { printf(\"%d %s\\n\", pid, str(args->pathname)); }\n";
        let request = "each removed path with the pid, the ppid and the parent's name";
        let (fixed, notes) = repair_all(&host(), &Intent::read(request), src);
        assert!(
            fixed.contains("printf(\"ppid=%-7d parent=%s %d %s\\n\", curtask->real_parent->tgid, curtask->real_parent->comm, pid, str(args->pathname));"),
            "{fixed}"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("the parent's PID and the parent's name"),
            "{notes:?}"
        );
    }

    #[test]
    fn a_named_call_joins_the_block_of_its_sibling_when_it_has_the_fields() {
        let h = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_kill",
                &[("pid_t", "pid"), ("int", "sig")],
            ),
            (
                "syscalls",
                "sys_enter_tkill",
                &[("pid_t", "pid"), ("int", "sig")],
            ),
            (
                "syscalls",
                "sys_enter_tgkill",
                &[("pid_t", "tgid"), ("pid_t", "pid"), ("int", "sig")],
            ),
        ]);
        let request =
            "each signal sent through kill(), tkill() or tgkill(): sender, target and signal";
        let src = "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d %d\\n\", pid, args->pid, args->sig); }\n";
        let (fixed, notes) = repair_all(&h, &Intent::read(request), src);
        assert!(
            fixed.starts_with("tracepoint:syscalls:sys_enter_kill,\ntracepoint:syscalls:sys_enter_tkill,\ntracepoint:syscalls:sys_enter_tgkill {"),
            "{fixed}"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // A field the other calls lack keeps them out: kill and tkill have no tgid.
        let tgid = "tracepoint:syscalls:sys_enter_tgkill { printf(\"%d %d\\n\", args->tgid, args->sig); }\n";
        assert_eq!(repair_all(&h, &Intent::read(request), tgid).0, tgid);
        // Names in a list of calls count as named.
        let sync = HostFacts::for_tests_with_syscalls(&["sync", "syncfs", "fsync"]);
        let flushes = "tracepoint:syscalls:sys_enter_fsync { @[comm] = count(); }\n";
        let (fixed, _) = repair_all(
            &sync,
            &Intent::read("which programs make the calls sync, syncfs or fsync"),
            flushes,
        );
        assert!(
            fixed.contains("sys_enter_sync,") || fixed.contains("sys_enter_sync {"),
            "{fixed}"
        );
        assert!(fixed.contains("sys_enter_syncfs"), "{fixed}");
        // Calls the request does not name are not added.
        let (same, notes) = repair_all(&h, &Intent::read("signals sent with kill()"), src);
        assert_eq!(same, src);
        assert!(notes.is_empty(), "{notes:?}");
        // A variant alone is not the call named: chmod(2) calls enter at sys_enter_chmod.
        let modes = HostFacts::for_tests_with_tracepoints(&[
            (
                "syscalls",
                "sys_enter_chmod",
                &[("const char *", "filename"), ("umode_t", "mode")],
            ),
            (
                "syscalls",
                "sys_enter_fchmodat2",
                &[
                    ("int", "dfd"),
                    ("const char *", "filename"),
                    ("umode_t", "mode"),
                    ("unsigned int", "flags"),
                ],
            ),
        ]);
        let ask = "list chmod calls granting others write access, with the path";
        let newer = "tracepoint:syscalls:sys_enter_fchmodat2 /args->mode & 2/ { printf(\"%s\\n\", str(args->filename)); }\n";
        let (fixed, notes) = repair_all(&modes, &Intent::read(ask), newer);
        assert!(
            fixed.starts_with(
                "tracepoint:syscalls:sys_enter_fchmodat2,\ntracepoint:syscalls:sys_enter_chmod"
            ),
            "{fixed}"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Not where the block reads a field the call lacks.
        let dfd = "tracepoint:syscalls:sys_enter_fchmodat2 { printf(\"%d\\n\", args->dfd); }\n";
        assert_eq!(repair_all(&modes, &Intent::read(ask), dfd).0, dfd);
    }

    #[test]
    fn the_process_name_the_request_filters_on_is_kept_when_missing() {
        let request = "count the files that processes named 'worker2' delete";
        let src = "BEGIN { printf(\"go\\n\"); }\ntracepoint:syscalls:sys_enter_unlink /args->pathname != 0/ { @[str(args->pathname)] = count(); }\ntracepoint:syscalls:sys_enter_unlink { @n = count(); }\n";
        let (fixed, notes) = repair_all(&host(), &Intent::read(request), src);
        assert!(
            fixed.contains("/(args->pathname != 0) && comm == \"worker2\"/"),
            "{fixed}"
        );
        assert!(
            fixed.contains("sys_enter_unlink\n/comm == \"worker2\"/ { @n"),
            "{fixed}"
        );
        assert!(fixed.starts_with("BEGIN { printf"), "{fixed}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Named already, or no name stated: untouched.
        assert!(repair_all(&host(), &Intent::read(request), &fixed)
            .1
            .is_empty());
        assert!(
            repair_all(&host(), &Intent::read("count deleted files"), src)
                .1
                .is_empty()
        );
        // The name in a comment only (a filter kgent left out) is no filter; an unquoted name
        // after "the program named" is a name.
        let commented = "// left out the filter `comm == \"vim\" && args->fd == 1`\ntracepoint:syscalls:sys_exit_write { @[args->ret] = count(); }\n";
        let intent = Intent::read("write() results of the program named vim");
        let (fixed, notes) = repair_all(&host(), &intent, commented);
        assert!(
            fixed.contains("sys_exit_write\n/comm == \"vim\"/"),
            "{fixed}"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn comments_inside_a_body_do_not_stop_a_repair() {
        let src = "// opens\ntracepoint:syscalls:sys_enter_unlink\n{\n  // a path\n  if (args->pathname) { printf(\"%s\\n\", str(args->pathname)); }\n}\n";
        let (fixed, notes) = repair_all(&host(), &Intent::read(""), src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(fixed.contains("if (args->pathname != 0)"), "{fixed}");
        // Nothing to repair: the program comes back as written, comments and all.
        let fine = "// opens\ntracepoint:syscalls:sys_enter_unlink { printf(\"%s\\n\", str(args->pathname)); }\n";
        assert_eq!(
            repair_all(&host(), &Intent::read(""), fine),
            (fine.to_owned(), Vec::new())
        );
    }

    #[test]
    fn every_syscall_is_the_raw_syscalls_tracepoint() {
        let mut h = host();
        for ev in ["sys_enter", "sys_exit"] {
            h.tracepoints.insert(
                format!("raw_syscalls:{ev}"),
                crate::host::Tracepoint {
                    subsystem: "raw_syscalls".into(),
                    event: ev.into(),
                    fields: Vec::new(),
                },
            );
        }
        let src = "tracepoint:syscalls:sys_enter /comm == \"ls\"/ { @[args->id] = count(); }\ntracepoint:syscalls:sys_enter_unlink { @u = count(); }";
        let (fixed, notes) = repair_all(&h, &Intent::read(""), src);
        assert!(
            fixed.starts_with("tracepoint:raw_syscalls:sys_enter /comm"),
            "{fixed}"
        );
        assert!(
            fixed.contains("tracepoint:syscalls:sys_enter_unlink {"),
            "{fixed}"
        );
        assert_eq!(notes.len(), 1);
        // Without raw_syscalls here, nothing to move it to.
        assert!(repair_all(&host(), &Intent::read(""), src).1.is_empty());
    }

    #[test]
    fn enter_and_exit_of_different_syscalls_are_paired_up() {
        let src = "tracepoint:syscalls:sys_enter_fsync\n{\n  @start[tid] = nsecs;\n}\n\ntracepoint:syscalls:sys_exit_fdatasync\n/@start[tid]/\n{\n  @us[comm] = hist((nsecs - @start[tid]) / 1000);\n  delete(@start[tid]);\n}\n";
        let (fixed, notes) = repair_all(&host(), &Intent::read(""), src);
        assert_eq!(notes.len(), 2, "{notes:?}");
        let blocks = probe_blocks(&fixed);
        let names = |i: usize| -> Vec<String> {
            blocks[i].probes.iter().map(|p| p.target.clone()).collect()
        };
        assert_eq!(
            names(0),
            ["syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync"]
        );
        assert_eq!(
            names(1),
            ["syscalls:sys_exit_fdatasync", "syscalls:sys_exit_fsync"]
        );
        assert!(fixed.contains("/@start[tid]/"), "{fixed}");
        // Already paired, or no per-thread map: untouched.
        let (again, notes) = repair_all(&host(), &Intent::read(""), &fixed);
        assert!(notes.is_empty() && again == fixed, "{notes:?}");
        let unpaired = "tracepoint:syscalls:sys_enter_fsync { @n = count(); }\ntracepoint:syscalls:sys_exit_fdatasync { @m = count(); }\n";
        assert!(repair_all(&host(), &Intent::read(""), unpaired)
            .1
            .is_empty());
    }

    #[test]
    fn string_field_is_printed_with_str() {
        let src = "tracepoint:syscalls:sys_enter_unlink { printf(\"%s %s\\n\", args->pathname, str(args->pathname)); }";
        let (fixed, _) = repair_all(&host(), &Intent::read(""), src);
        assert!(
            fixed.contains("printf(\"%s %s\\n\", str(args->pathname), str(args->pathname))"),
            "{fixed}"
        );
    }

    #[test]
    fn ipv4_only_prints_get_an_ipv6_branch() {
        use crate::host::{Field, Tracepoint};
        let mut h = host();
        h.tracepoints.insert(
            "sock:inet_sock_set_state".into(),
            Tracepoint {
                subsystem: "sock".into(),
                event: "inet_sock_set_state".into(),
                fields: ["family", "dport", "daddr", "saddr", "daddr_v6", "saddr_v6"]
                    .iter()
                    .map(|n| Field {
                        ctype: "__u16".into(),
                        name: (*n).into(),
                        ..Default::default()
                    })
                    .collect(),
            },
        );
        let src = "tracepoint:sock:inet_sock_set_state { printf(\"%s;%d\\n\", ntop(args->daddr), args->dport); }";
        let (fixed, notes) = repair_all(&h, &Intent::read(""), src);
        assert_eq!(
            fixed,
            "tracepoint:sock:inet_sock_set_state { if (args->family == 10) { printf(\"%s;%d\\n\", ntop(args->daddr_v6), args->dport); } else { printf(\"%s;%d\\n\", ntop(args->daddr), args->dport); } }"
        );
        assert_eq!(notes.len(), 1);
        let (again, _) = repair_all(&h, &Intent::read(""), &fixed);
        assert_eq!(again, fixed);
    }

    #[test]
    fn network_order_ports_are_swapped_once() {
        let src = "tracepoint:syscalls:sys_enter_bind { $sa = (struct sockaddr_in *)args->umyaddr; printf(\"%d\\n\", $sa->sin_port); }";
        let (fixed, notes) = repair_all(&host(), &Intent::read(""), src);
        assert!(
            fixed.contains("(($sa->sin_port >> 8) | (($sa->sin_port & 0xff) << 8))"),
            "{fixed}"
        );
        assert_eq!(notes.len(), 1);
        let (again, notes) = repair_all(&host(), &Intent::read(""), &fixed);
        assert_eq!(again, fixed, "an already swapped port stays as it is");
        assert!(notes.is_empty());
    }

    #[test]
    fn of_two_blocks_with_the_same_body_only_the_one_that_needs_it_changes() {
        let mut h = HostFacts::for_tests_with_tracepoints(&[
            (
                "net",
                "v4_only",
                &[("__u16", "family"), ("__u8[4]", "daddr")],
            ),
            (
                "sock",
                "inet_sock_set_state",
                &[
                    ("__u16", "family"),
                    ("__u8[4]", "daddr"),
                    ("__u8[4]", "saddr"),
                    ("__u8[16]", "daddr_v6"),
                    ("__u8[16]", "saddr_v6"),
                ],
            ),
            ("vfs", "has_path", &[("const char *", "path")]),
            (
                "syscalls",
                "sys_enter_mkdir",
                &[("const char *", "pathname")],
            ),
        ]);
        let body = "{ printf(\"%s\\n\", ntop(args->daddr)); }";
        let src =
            format!("tracepoint:net:v4_only {body}\ntracepoint:sock:inet_sock_set_state {body}\n");
        let (fixed, notes) = repair_all(&h, &Intent::read(""), &src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let blocks = probe_blocks(&fixed);
        assert_eq!(
            blocks[0].body, " printf(\"%s\\n\", ntop(args->daddr)); ",
            "{fixed}"
        );
        assert!(blocks[1].body.contains("ntop(args->daddr_v6)"), "{fixed}");

        // A field renamed where it is missing, not in a block whose tracepoint has it.
        let body = "{ printf(\"%s\\n\", str(args->path)); }";
        let src =
            format!("tracepoint:vfs:has_path {body}\ntracepoint:syscalls:sys_enter_mkdir {body}\n");
        let (fixed, notes) = repair_all(&h, &Intent::read(""), &src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let blocks = probe_blocks(&fixed);
        assert!(blocks[0].body.contains("str(args->path)"), "{fixed}");
        assert!(blocks[1].body.contains("str(args->pathname)"), "{fixed}");

        // A kretprobe moved to its tracepoint reads args->ret; the other block keeps retval.
        h = host();
        let body = "{ printf(\"%d\\n\", retval); }";
        let src = format!("kretprobe:__x64_sys_unlink {body}\nkretprobe:vfs_unlink {body}\n");
        let (fixed, notes) = repair_all(&h, &Intent::read(""), &src);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            fixed,
            format!(
                "tracepoint:syscalls:sys_exit_unlink {{ printf(\"%d\\n\", args->ret); }}\nkretprobe:vfs_unlink {body}\n"
            )
        );
    }

    #[test]
    fn syscall_kprobe_moves_to_its_tracepoint() {
        let src = "kretprobe:__x64_sys_unlink { printf(\"%d\\n\", retval); }\nkprobe:vfs_unlink { @x = count(); }";
        let (fixed, notes) = repair_all(&host(), &Intent::read(""), src);
        assert!(
            fixed.starts_with(
                "tracepoint:syscalls:sys_exit_unlink { printf(\"%d\\n\", args->ret); }"
            ),
            "{fixed}"
        );
        assert!(
            fixed.contains("kprobe:vfs_unlink"),
            "no tracepoint replaces vfs_unlink: {fixed}"
        );
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn forks_result_is_a_child_only_above_zero() {
        let h = HostFacts::for_tests_with_syscalls(&["fork", "clone"]);
        let ask = Intent::read("log each new process: the parent's name and the child's pid");
        let all = "tracepoint:syscalls:sys_exit_fork { printf(\"%s %d\\n\", comm, args->ret); }\n";
        let (fixed, notes) = repair_all(&h, &ask, all);
        assert!(fixed.contains("/args->ret > 0/"), "{fixed}");
        assert!(notes.iter().any(|n| n.contains("fork(2)")), "{notes:?}");
        // The creator's pid is not added for the PID asked: that is the child's.
        assert!(!fixed.contains("pid=%"), "{fixed}");
        let kept = "tracepoint:syscalls:sys_exit_fork /comm == \"sh\"/ { printf(\"%s %d\\n\", comm, args->ret); }\n";
        let (fixed, _) = repair_all(&h, &ask, kept);
        assert!(
            fixed.contains("/(comm == \"sh\") && args->ret > 0/"),
            "{fixed}"
        );
        // Kept already, or no child asked: unchanged.
        let done = "tracepoint:syscalls:sys_exit_fork /args->ret > 0/ { printf(\"%s %d\\n\", comm, args->ret); }\n";
        assert_eq!(repair_all(&h, &ask, done).0, done);
        let results = Intent::read("print what each fork returns");
        assert_eq!(repair_all(&h, &results, all).0, all);
    }
}
