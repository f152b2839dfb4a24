//! C prototypes of library functions, from this host's system headers (`/usr/include`), so a
//! uprobe's `arg0`..`arg5` get names and types: `getaddrinfo(const char *name, …)` makes
//! `arg0` a string to read with `str()`.
use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use super::Field;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prototype {
    pub name: String,
    /// The return type, e.g. `int` or `void *`.
    pub ret: String,
    /// Parameters in order (`arg0` first), names without glibc's `__` prefix.
    pub params: Vec<Field>,
}

impl Prototype {
    /// `getaddrinfo(arg0: const char * name, arg1: …) returns int`.
    pub fn describe(&self) -> String {
        let ps: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("arg{i} = {} {}", p.ctype, p.name))
            .collect();
        format!("{}({}) returns {}", self.name, ps.join(", "), self.ret)
    }
}

const INCLUDE: &str = "/usr/include";

/// The prototype of `name` declared in a header directly under /usr/include, if any. Results
/// (found or not) are cached for the life of the process.
pub fn lookup(name: &str) -> Option<Prototype> {
    static CACHE: LazyLock<Mutex<HashMap<String, Option<Prototype>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
        return None;
    }
    if let Some(hit) = CACHE.lock().ok()?.get(name) {
        return hit.clone();
    }
    let found = search(Path::new(INCLUDE), name);
    if let Ok(mut c) = CACHE.lock() {
        c.insert(name.to_owned(), found.clone());
    }
    found
}

fn search(dir: &Path, name: &str) -> Option<Prototype> {
    let re = Regex::new(&format!(
        r"(?s)extern\s+([A-Za-z_][A-Za-z0-9_ \t\*]*?)\s*\b{name}\s*\(([^()]*)\)"
    ))
    .ok()?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h"))
        .collect();
    entries.sort();
    for path in entries {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !text.contains(name) {
            continue;
        }
        if let Some(p) = re.captures(&text).and_then(|c| parse(name, &c[1], &c[2])) {
            return Some(p);
        }
    }
    None
}

fn parse(name: &str, ret: &str, params: &str) -> Option<Prototype> {
    let clean = |s: &str| {
        s.replace("__restrict", "")
            .replace("__const", "const")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Vec::new();
    for (i, p) in params.split(',').enumerate() {
        let p = clean(p);
        if p.is_empty() || p == "void" || p == "..." {
            continue;
        }
        // The parameter name is the last identifier, unless the whole is a bare type.
        let split = p
            .char_indices()
            .rfind(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map(|(at, c)| at + c.len_utf8());
        let (ty, pname) = match split {
            Some(end) if p[end..].starts_with("__") => (p[..end].trim(), &p[end..]),
            _ => (p.as_str(), ""),
        };
        let pname = pname.trim_start_matches('_');
        out.push(Field {
            ctype: ty.trim().to_owned(),
            name: if pname.is_empty() {
                format!("arg{i}")
            } else {
                pname.to_owned()
            },
            ..Default::default()
        });
    }
    let ret = clean(ret)
        .split_whitespace()
        .filter(|w| !w.starts_with("__") && *w != "extern")
        .collect::<Vec<_>>()
        .join(" ");
    Some(Prototype {
        name: name.to_owned(),
        ret: if ret.is_empty() { "int".into() } else { ret },
        params: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_style_declarations_parse() {
        let p = parse(
            "getaddrinfo",
            "int",
            "const char *__restrict __name,\n\t\t\tconst char *__restrict __service,\n\t\t\tconst struct addrinfo *__restrict __req,\n\t\t\tstruct addrinfo **__restrict __pai",
        )
        .expect("parses");
        assert_eq!(p.params.len(), 4);
        assert_eq!(p.params[0].name, "name");
        assert!(p.params[0].is_string(), "{:?}", p.params[0]);
        assert_eq!(p.params[3].ctype, "struct addrinfo **");
        let m = parse("malloc", "void *", "size_t __size").expect("parses");
        assert_eq!(m.params[0].ctype, "size_t");
        assert_eq!(m.ret, "void *");
    }
}
