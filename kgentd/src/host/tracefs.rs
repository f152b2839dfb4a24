//! Tracepoints from tracefs: `available_events` and each event's `format` file.
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// C type as tracefs prints it, e.g. "const char *" or "__data_loc char[]".
    pub ctype: String,
    pub name: String,
}

impl Field {
    /// A string the program must read with `str()`.
    pub fn is_string(&self) -> bool {
        self.ctype.contains("char *") || self.ctype.starts_with("__data_loc char")
    }
}

#[derive(Debug, Clone)]
pub struct Tracepoint {
    pub subsystem: String,
    pub event: String,
    /// Event fields, without the `common_*` header every event shares.
    pub fields: Vec<Field>,
}

impl Tracepoint {
    pub fn probe(&self) -> String {
        format!("tracepoint:{}:{}", self.subsystem, self.event)
    }

    pub fn signature(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{} {}", f.ctype, f.name))
            .collect();
        format!("{} {{ {} }}", self.probe(), fields.join("; "))
    }
}

pub fn read_tracepoints(tracefs: &Path) -> BTreeMap<String, Tracepoint> {
    let Ok(list) = std::fs::read_to_string(tracefs.join("available_events")) else {
        return BTreeMap::new();
    };
    list.lines()
        .filter_map(|line| {
            let (subsystem, event) = line.trim().split_once(':')?;
            let format = std::fs::read_to_string(
                tracefs
                    .join("events")
                    .join(subsystem)
                    .join(event)
                    .join("format"),
            )
            .unwrap_or_default();
            let tp = Tracepoint {
                subsystem: subsystem.to_owned(),
                event: event.to_owned(),
                fields: parse_format(&format),
            };
            Some((line.trim().to_owned(), tp))
        })
        .collect()
}

/// Parses the `field:` lines of a tracefs format file.
pub fn parse_format(format: &str) -> Vec<Field> {
    format
        .lines()
        .filter_map(|line| {
            let decl = line
                .trim()
                .strip_prefix("field:")?
                .split(';')
                .next()?
                .trim();
            let (ctype, name) = split_decl(decl)?;
            (!name.starts_with("common_")).then_some(Field { ctype, name })
        })
        .collect()
}

/// "const char * filename" → ("const char *", "filename"); "char comm[16]" → ("char[16]", "comm").
fn split_decl(decl: &str) -> Option<(String, String)> {
    let idx = decl.rfind([' ', '*'])?;
    let (ty, name) = decl.split_at(idx + 1);
    let name = name.trim();
    let (name, array) = match name.find('[') {
        Some(b) => (&name[..b], &name[b..]),
        None => (name, ""),
    };
    if name.is_empty() {
        return None;
    }
    Some((format!("{}{}", ty.trim(), array), name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_of_a_format_file() {
        let fmt = "name: sys_enter_openat\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;\n";
        let f = parse_format(fmt);
        let names: Vec<_> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["__syscall_nr", "filename", "comm", "name"]);
        assert_eq!(f[1].ctype, "const char *");
        assert!(f[1].is_string());
        assert_eq!(f[2].ctype, "char[16]");
        assert!(f[3].is_string());
    }
}
