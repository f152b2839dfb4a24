//! Tracepoints from tracefs: `available_events` and each event's `format` file.
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Field {
    /// C type as tracefs prints it, e.g. "const char *" or "__data_loc char[]".
    pub ctype: String,
    pub name: String,
    /// Its size in bytes and signedness, as the format file states them (`size:8;
    /// signed:1;`): what a typedef the type name alone does not tell (`xfs_lsn_t`) is.
    /// `None` where no format said (a function's parameter).
    pub layout: Option<(u32, bool)>,
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

/// Every event of `available_events` with its fields. An unreadable `available_events` is an
/// error that says how to fix it; events whose `format` cannot be read are kept without fields
/// and named in the second list.
pub fn read_tracepoints(
    tracefs: &Path,
) -> Result<(BTreeMap<String, Tracepoint>, Vec<String>), String> {
    let events = tracefs.join("available_events");
    let list = std::fs::read_to_string(&events).map_err(|e| {
        format!(
            "cannot read {}: {e}; mount tracefs (mount -t tracefs nodev /sys/kernel/tracing) and run kgentd as root",
            events.display()
        )
    })?;
    let mut unreadable = Vec::new();
    let tracepoints = list
        .lines()
        .filter_map(|line| {
            let (subsystem, event) = line.trim().split_once(':')?;
            let path = tracefs
                .join("events")
                .join(subsystem)
                .join(event)
                .join("format");
            let format = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                unreadable.push(line.trim().to_owned());
                String::new()
            });
            let tp = Tracepoint {
                subsystem: subsystem.to_owned(),
                event: event.to_owned(),
                fields: parse_format(&format),
            };
            Some((line.trim().to_owned(), tp))
        })
        .collect();
    Ok((tracepoints, unreadable))
}

/// Parses the `field:` lines of a tracefs format file.
pub fn parse_format(format: &str) -> Vec<Field> {
    format
        .lines()
        .filter_map(|line| {
            let mut parts = line.trim().strip_prefix("field:")?.split(';');
            let decl = parts.next()?.trim();
            let (ctype, name) = split_decl(decl)?;
            let mut size = None;
            let mut signed = None;
            for part in parts {
                match part.trim().split_once(':') {
                    Some(("size", v)) => size = v.trim().parse::<u32>().ok(),
                    Some(("signed", v)) => signed = Some(v.trim() == "1"),
                    _ => {}
                }
            }
            let layout = size.zip(signed);
            (!name.starts_with("common_")).then_some(Field {
                ctype,
                name,
                layout,
            })
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
    fn an_unreadable_tracefs_is_an_error_that_says_how_to_fix_it() {
        let dir = std::env::temp_dir().join(format!("kgent-tracefs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("events/sched/sched_switch")).expect("mkdir");
        let err = read_tracepoints(&dir).expect_err("no available_events");
        assert!(err.contains("mount -t tracefs"), "{err}");
        std::fs::write(
            dir.join("available_events"),
            "sched:sched_switch\nsched:gone\ngarbage\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("events/sched/sched_switch/format"),
            "format:\n\tfield:pid_t next_pid;\toffset:8;\n\tfield:not a field\n",
        )
        .expect("write");
        let (tps, unreadable) = read_tracepoints(&dir).expect("readable");
        assert_eq!(tps["sched:sched_switch"].fields[0].name, "next_pid");
        assert!(tps["sched:gone"].fields.is_empty());
        assert_eq!(unreadable, vec!["sched:gone".to_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
    }

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
        assert_eq!(f[0].layout, Some((4, true)));
        assert_eq!(f[1].layout, Some((8, false)));
    }
}
