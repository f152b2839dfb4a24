//! The library's top-level modules depend on each other one way: the graph of their references
//! (every `crate::X` path, grouped `crate::{X, Y}` imports, and `super::` chains that climb to
//! the crate root, in code, comments and doc links alike) has no cycle. Also checks that
//! `anyhow` stays in the binary (`src/main.rs` and `src/cmd/`).
//!
//! Reads the sources, not the compiled crate: the binary's modules are those `src/lib.rs` does
//! not declare, so they are not part of the graph.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The modules `src/lib.rs` declares.
fn library_modules(lib_rs: &str) -> BTreeSet<String> {
    lib_rs
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// Every `.rs` file under `dir`, with how deep its module sits below the crate root
/// (`src/x.rs` and `src/x/mod.rs` are 1, `src/x/y.rs` is 2).
fn rust_files(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, usize)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            rust_files(&path, depth + 1, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let d = if path.file_name().is_some_and(|n| n == "mod.rs") {
                depth
            } else {
                depth + 1
            };
            out.push((path, d));
        }
    }
}

/// The files of top-level module `name`, each with its depth.
fn module_files(name: &str) -> Vec<(PathBuf, usize)> {
    let mut files = Vec::new();
    let file = src().join(format!("{name}.rs"));
    if file.is_file() {
        files.push((file, 1));
    }
    rust_files(&src().join(name), 1, &mut files);
    files
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The path that starts at `text` (`a::b::c`), without generics or braces.
fn path_at(text: &str) -> String {
    let mut path = String::new();
    let mut rest = text;
    loop {
        let id = ident_at(rest);
        if id.is_empty() {
            break;
        }
        path.push_str(id);
        rest = &rest[id.len()..];
        match rest.strip_prefix("::") {
            Some(r) if r.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                path.push_str("::");
                rest = r;
            }
            _ => break,
        }
    }
    path
}

/// The first identifier of each item of a `{a, b::c, d as e}` group starting at `text`.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                depth += 1;
                item_start = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => item_start = true,
            c if item_start && depth == 1 && !c.is_whitespace() => {
                item_start = false;
                let id = ident_at(&text[i..]);
                if !id.is_empty() {
                    heads.push(path_at(&text[i..]));
                }
            }
            _ => {}
        }
    }
    heads
}

/// Every path from the crate root that `text` names (`agent::Agent`, `check::asks_for_return`),
/// for a file `depth` modules below the root.
fn root_paths(text: &str, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let climb = "super::".repeat(depth);
    for prefix in ["crate::", climb.as_str()] {
        for (i, _) in text.match_indices(prefix) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            // `super::super::x` seen from one level down is `super::x` from here: skip the
            // inner matches of a longer chain.
            if prefix != "crate::" && text[..i].ends_with("super::") {
                continue;
            }
            let rest = &text[i + prefix.len()..];
            if rest.starts_with("super::") {
                continue;
            }
            if rest.starts_with('{') {
                out.extend(group_heads(rest));
            } else {
                let p = path_at(rest);
                if !p.is_empty() {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Top-level module → (module it references → the paths that reference it).
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn library_graph() -> (BTreeSet<String>, Graph) {
    let lib_rs = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    let modules = library_modules(&lib_rs);
    let mut graph = Graph::new();
    for m in &modules {
        let edges = graph.entry(m.clone()).or_default();
        for (file, depth) in module_files(m) {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for path in root_paths(&text, depth) {
                let head = path.split("::").next().unwrap_or_default();
                if head != m && modules.contains(head) {
                    edges
                        .entry(head.to_owned())
                        .or_default()
                        .insert(format!("crate::{path}"));
                }
            }
        }
    }
    (modules, graph)
}

/// A cycle through the graph, as the modules on it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_owned());
        for next in graph.get(m).into_iter().flat_map(|e| e.keys()) {
            if let Some(c) = visit(next, graph, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_library_modules_reference_each_other_one_way() {
    let (modules, graph) = library_graph();
    assert!(
        modules.len() > 10 && modules.contains("host") && modules.contains("exec"),
        "src/lib.rs declares {modules:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let paths = &graph[&w[0]][&w[1]];
                format!(
                    "{} → {} ({})",
                    w[0],
                    w[1],
                    paths.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        panic!("a module cycle:\n  {}", steps.join("\n  "));
    }
}

#[test]
fn finds_references_in_every_form() {
    let text = "use crate::{agent::Agent, host};\nlet x = crate::exec::kill(); // [`y`](crate::store)\nsuper::config::X; super::super::error::E; $crate::no; notcrate::no;";
    assert_eq!(
        root_paths(text, 1),
        ["agent::Agent", "host", "exec::kill", "store", "config::X"]
    );
    assert_eq!(
        root_paths(text, 2),
        ["agent::Agent", "host", "exec::kill", "store", "error::E"]
    );
    let mut g = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a")] {
        g.entry(a.into()).or_default().entry(b.into()).or_default();
    }
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    g.remove("c");
    assert_eq!(find_cycle(&g), None);
}

#[test]
fn anyhow_stays_in_the_binary() {
    let lib_rs = std::fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    let mut users = Vec::new();
    for m in library_modules(&lib_rs) {
        for (file, _) in module_files(&m) {
            let text = std::fs::read_to_string(&file).expect("a source file");
            if text.contains("anyhow") {
                users.push(file.display().to_string());
            }
        }
    }
    assert!(
        users.is_empty(),
        "library modules use anyhow (a typed error belongs there; anyhow only in src/main.rs and src/cmd/): {users:?}"
    );
}
