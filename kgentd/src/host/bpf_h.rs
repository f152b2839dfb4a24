//! BPF helpers, parsed from the host's `linux/bpf.h`: each helper's prototype, Description and
//! Return paragraphs from the documentation comment, and each helper's id from
//! `__BPF_FUNC_MAPPER`. Only parses the header: which helpers a program type may call is
//! measured by `features`, and searching the docs is `knowledge`'s.
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    pub name: String,
    pub prototype: String,
    pub description: String,
    pub returns: String,
}

pub const BPF_H: &str = "/usr/include/linux/bpf.h";

pub fn read(path: &Path) -> Result<Vec<Helper>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {}: {e} (install linux-libc-dev)",
            path.display()
        )
    })?;
    Ok(parse(&text))
}

pub fn parse(text: &str) -> Vec<Helper> {
    let mut helpers: Vec<Helper> = Vec::new();
    let mut section: Option<&str> = None;
    for line in text.lines() {
        let Some(body) = line.strip_prefix(" *") else {
            section = None;
            continue;
        };
        // A prototype is a line right after " * " (one space, no tab) naming bpf_*(...).
        if let Some(proto) = body.strip_prefix(' ') {
            if !proto.starts_with(['\t', ' '])
                && proto.contains("bpf_")
                && proto.trim_end().ends_with(')')
            {
                if let Some(name) = helper_name(proto) {
                    helpers.push(Helper {
                        name,
                        prototype: proto.trim().to_owned(),
                        description: String::new(),
                        returns: String::new(),
                    });
                    section = None;
                    continue;
                }
            }
        }
        let trimmed = body.trim();
        match trimmed {
            "Description" => section = Some("d"),
            "Return" => section = Some("r"),
            _ => {
                let (Some(h), Some(which)) = (helpers.last_mut(), section) else {
                    continue;
                };
                if trimmed.is_empty() {
                    continue;
                }
                let target = if which == "d" {
                    &mut h.description
                } else {
                    &mut h.returns
                };
                if !target.is_empty() {
                    target.push(' ');
                }
                target.push_str(trimmed);
            }
        }
    }
    helpers.dedup_by(|a, b| a.name == b.name);
    helpers
}

/// Helper ids from the `__BPF_FUNC_MAPPER` list: `FN(map_lookup_elem)` (id = position, `unspec`
/// is 0) or, in newer headers, `FN(map_lookup_elem, 1, ##ctx)`. Returns `bpf_`-prefixed names.
pub fn ids(text: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut position = 0u32;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("#define __BPF_FUNC_MAPPER(") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(rest) = t.strip_prefix("FN(") {
            let args: Vec<&str> = rest
                .split(')')
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .collect();
            let id = args
                .get(1)
                .and_then(|a| a.parse::<u32>().ok())
                .unwrap_or(position);
            if args[0] != "unspec" {
                out.push((format!("bpf_{}", args[0]), id));
            }
            position = id + 1;
        }
        if !t.ends_with('\\') && !out.is_empty() {
            break;
        }
    }
    out
}

/// `long bpf_map_update_elem(struct bpf_map *map, …)` → `bpf_map_update_elem`.
fn helper_name(proto: &str) -> Option<String> {
    let open = proto.find('(')?;
    let before = proto[..open].trim_end();
    let name = before.rsplit([' ', '*']).next()?;
    (name.starts_with("bpf_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prototype_description_and_return() {
        let text = "/*\n * long bpf_map_update_elem(struct bpf_map *map, const void *key, const void *value, u64 flags)\n * \tDescription\n * \t\tAdd or update the value of\n * \t\tthe entry.\n *\n * \tReturn\n * \t\t0 on success.\n *\n * void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)\n * \tDescription\n * \t\tLook up.\n */\n";
        let h = parse(text);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].name, "bpf_map_update_elem");
        assert_eq!(h[0].description, "Add or update the value of the entry.");
        assert_eq!(h[0].returns, "0 on success.");
        assert_eq!(h[1].name, "bpf_map_lookup_elem");
    }

    #[test]
    fn numbers_helpers_in_both_header_formats() {
        let old = "#define __BPF_FUNC_MAPPER(FN)\t\\\n\tFN(unspec),\t\\\n\tFN(map_lookup_elem),\t\\\n\tFN(map_update_elem),\t\\\n\t/* */\n";
        assert_eq!(
            ids(old),
            vec![
                ("bpf_map_lookup_elem".to_owned(), 1),
                ("bpf_map_update_elem".to_owned(), 2)
            ]
        );
        let new = "#define __BPF_FUNC_MAPPER(FN, ctx...)\t\\\n\tFN(unspec, 0, ##ctx)\t\\\n\tFN(ktime_get_ns, 5, ##ctx)\t\\\n\t/* */\n";
        assert_eq!(ids(new), vec![("bpf_ktime_get_ns".to_owned(), 5)]);
        let host = std::fs::read_to_string(BPF_H).expect("linux/bpf.h (install linux-libc-dev)");
        let host_ids = ids(&host);
        assert!(host_ids.contains(&("bpf_map_lookup_elem".to_owned(), 1)));
        assert_eq!(host_ids.len(), parse(&host).len());
    }
}
