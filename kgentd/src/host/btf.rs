//! Kernel functions and raw tracepoints from the kernel's BTF (/sys/kernel/btf/vmlinux), with
//! their prototypes. A reader of the BTF wire format just deep enough for names and prototypes.
use std::path::Path;

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, Clone)]
struct Type {
    name_off: u32,
    kind: u32,
    /// `size` or `type`, depending on the kind.
    size_or_type: u32,
    /// Function prototype parameters: (name offset, type id).
    params: Vec<(u32, u32)>,
}

/// A kernel function or raw tracepoint with its C prototype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfFunction {
    pub name: String,
    pub prototype: String,
}

#[derive(Debug, Default)]
pub struct KernelBtf {
    /// Every BTF FUNC: the functions kprobes and fentry would attach to.
    pub functions: Vec<BtfFunction>,
    /// `btf_trace_<name>` typedefs: the raw tracepoints and tp_btf targets.
    pub raw_tracepoints: Vec<BtfFunction>,
}

struct Reader<'a> {
    types: Vec<Type>,
    strings: &'a [u8],
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl<'a> Reader<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, String> {
        let magic = u16::from_le_bytes(
            data.get(0..2)
                .ok_or("too short")?
                .try_into()
                .map_err(|_| "header")?,
        );
        if magic != BTF_MAGIC {
            return Err("not little-endian BTF (bad magic)".into());
        }
        let hdr_len = u32_at(data, 4).ok_or("header")? as usize;
        let type_off = u32_at(data, 8).ok_or("header")? as usize;
        let type_len = u32_at(data, 12).ok_or("header")? as usize;
        let str_off = u32_at(data, 16).ok_or("header")? as usize;
        let str_len = u32_at(data, 20).ok_or("header")? as usize;
        let types_bytes = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or("type section out of bounds")?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or("string section out of bounds")?;
        // Type id 0 is void.
        let mut types = vec![Type {
            name_off: 0,
            kind: 0,
            size_or_type: 0,
            params: Vec::new(),
        }];
        let mut off = 0usize;
        while off + 12 <= types_bytes.len() {
            let name_off = u32_at(types_bytes, off).ok_or("type")?;
            let info = u32_at(types_bytes, off + 4).ok_or("type")?;
            let size_or_type = u32_at(types_bytes, off + 8).ok_or("type")?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            off += 12;
            let mut params = Vec::new();
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM => 8 * vlen,
                KIND_FUNC_PROTO => {
                    for i in 0..vlen {
                        let p = off + 8 * i;
                        params.push((
                            u32_at(types_bytes, p).ok_or("param")?,
                            u32_at(types_bytes, p + 4).ok_or("param")?,
                        ));
                    }
                    8 * vlen
                }
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                other => return Err(format!("unknown BTF kind {other}")),
            };
            off += extra;
            types.push(Type {
                name_off,
                kind,
                size_or_type,
                params,
            });
        }
        Ok(Self { types, strings })
    }

    fn name(&self, off: u32) -> &str {
        let start = off as usize;
        let Some(rest) = self.strings.get(start..) else {
            return "";
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// A C spelling of a type, deep enough for prototypes.
    fn type_name(&self, id: u32, depth: usize) -> String {
        let Some(t) = self.types.get(id as usize) else {
            return "?".into();
        };
        if id == 0 {
            return "void".into();
        }
        if depth > 8 {
            return "…".into();
        }
        let name = self.name(t.name_off);
        match t.kind {
            KIND_INT | KIND_TYPEDEF | KIND_FLOAT => name.to_owned(),
            KIND_STRUCT => format!("struct {name}"),
            KIND_UNION => format!("union {name}"),
            KIND_ENUM | KIND_ENUM64 => format!("enum {name}"),
            KIND_FWD => format!("struct {name}"),
            KIND_PTR => format!("{} *", self.type_name(t.size_or_type, depth + 1)),
            KIND_CONST => format!("const {}", self.type_name(t.size_or_type, depth + 1)),
            KIND_VOLATILE => format!("volatile {}", self.type_name(t.size_or_type, depth + 1)),
            KIND_RESTRICT | KIND_TYPE_TAG => self.type_name(t.size_or_type, depth + 1),
            KIND_FUNC_PROTO => "function".into(),
            KIND_ARRAY => "array".into(),
            _ => name.to_owned(),
        }
    }

    fn prototype(&self, name: &str, proto_id: u32, skip_first: bool) -> String {
        let Some(p) = self.types.get(proto_id as usize) else {
            return format!("{name}(?)");
        };
        let params: Vec<String> = p
            .params
            .iter()
            .skip(usize::from(skip_first))
            .map(|(n, t)| {
                let pname = self.name(*n);
                if *t == 0 && pname.is_empty() {
                    "...".to_owned()
                } else {
                    format!("{} {pname}", self.type_name(*t, 0))
                        .trim()
                        .to_owned()
                }
            })
            .collect();
        format!(
            "{} {name}({})",
            self.type_name(p.size_or_type, 0),
            params.join(", ")
        )
    }
}

/// Reads functions and raw tracepoints from a BTF file.
pub fn read(path: &Path) -> Result<KernelBtf, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let r = Reader::parse(&data).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = KernelBtf::default();
    for t in &r.types {
        match t.kind {
            KIND_FUNC => {
                let name = r.name(t.name_off).to_owned();
                let prototype = r.prototype(&name, t.size_or_type, false);
                out.functions.push(BtfFunction { name, prototype });
            }
            KIND_TYPEDEF => {
                let tname = r.name(t.name_off);
                let Some(tp) = tname.strip_prefix("btf_trace_") else {
                    continue;
                };
                // typedef void (*btf_trace_x)(void *__data, args...): skip the hidden first arg.
                let proto = r
                    .types
                    .get(t.size_or_type as usize)
                    .map(|p| p.size_or_type)
                    .unwrap_or(0);
                out.raw_tracepoints.push(BtfFunction {
                    name: tp.to_owned(),
                    prototype: r.prototype(tp, proto, true),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Reader::parse(b"").is_err());
        assert!(
            Reader::parse(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 0]).is_err()
        );
        assert!(Reader::parse(&[0u8; 64]).is_err());
    }

    #[test]
    fn reads_this_kernels_btf() {
        let btf = read(Path::new("/sys/kernel/btf/vmlinux")).expect("this host has kernel BTF");
        let f = btf
            .functions
            .iter()
            .find(|f| f.name == "vfs_read")
            .expect("vfs_read");
        assert!(f.prototype.contains("struct file *"), "{}", f.prototype);
        let rt = btf
            .raw_tracepoints
            .iter()
            .find(|f| f.name == "sched_switch")
            .expect("sched_switch");
        assert!(
            rt.prototype.contains("struct task_struct *"),
            "{}",
            rt.prototype
        );
    }
}
