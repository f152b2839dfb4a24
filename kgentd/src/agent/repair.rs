//! Deterministic repairs: mistakes with exactly one sensible fix are fixed here, without asking
//! the model again. Each repair is reported, so the answer says what kgent changed.
//!
//! Today: an `args` field that the program's tracepoints do not have, when exactly one of their
//! real fields is plainly what was meant (same name in another case, one name containing the
//! other, or a spelling within two edits).
use regex::Regex;

use crate::host::HostFacts;
use crate::toolchain::bpftrace::{args_fields, probe_blocks};

/// The repaired source and one line per repair.
pub fn repair_fields(host: &HostFacts, source: &str) -> (String, Vec<String>) {
    let mut fixed = source.to_owned();
    let mut notes = Vec::new();
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
            if replaced != fixed {
                fixed = replaced;
                notes.push(format!(
                    "args->{wrong} → args->{first} (the field of {})",
                    tps[0].probe()
                ));
            }
        }
    }
    (fixed, notes)
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
}
