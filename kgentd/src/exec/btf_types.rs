//! The types of a compiled program, from its own `.BTF` section: just enough of the BTF wire
//! format to lay out a record or a map entry (integers, pointers, arrays, structs and unions
//! with bitfields, enums, typedefs and qualifiers, the `.maps` section's variables).
//!
//! Owns parsing and type lookups only; turning bytes into text is `decode`'s job.
use std::collections::HashMap;

const BTF_MAGIC: u16 = 0xeb9f;

/// One BTF type, resolved enough to lay out bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfType {
    Void,
    Int {
        name: String,
        size: u32,
        signed: bool,
        char: bool,
        bool: bool,
    },
    Ptr {
        target: u32,
    },
    Array {
        elem: u32,
        len: u32,
    },
    Struct {
        name: String,
        size: u32,
        members: Vec<Member>,
        union: bool,
    },
    Enum {
        name: String,
        size: u32,
        signed: bool,
        values: Vec<(String, i64)>,
    },
    /// Typedef, const, volatile, restrict, type tag: the name (typedefs only) and the type.
    Alias {
        name: String,
        target: u32,
    },
    Fwd {
        name: String,
    },
    Float {
        size: u32,
    },
    Var {
        name: String,
        target: u32,
    },
    DataSec {
        name: String,
        vars: Vec<(u32, u32, u32)>,
    },
    /// Functions and prototypes, declaration tags: nothing to lay out.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub type_id: u32,
    /// Offset in bits from the start of the struct.
    pub bit_offset: u32,
    /// Non-zero for a bitfield.
    pub bit_size: u32,
}

/// Every type of one object, by id.
#[derive(Debug, Default)]
pub struct TypeTable {
    types: Vec<BtfType>,
    by_name: HashMap<String, u32>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("BTF truncated at byte {off}"))
}

fn string_at(strings: &[u8], off: u32) -> String {
    let Some(rest) = strings.get(off as usize..) else {
        return String::new();
    };
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

/// The members of a struct or union whose `vlen` entries start at `off`.
fn members_at(
    types_bytes: &[u8],
    strings: &[u8],
    off: usize,
    vlen: usize,
    kflag: bool,
) -> Result<Vec<Member>, String> {
    let mut members = Vec::with_capacity(vlen);
    for i in 0..vlen {
        let m = off + 12 * i;
        let raw_offset = u32_at(types_bytes, m + 8)?;
        let (bit_offset, bit_size) = if kflag {
            (raw_offset & 0xff_ffff, raw_offset >> 24)
        } else {
            (raw_offset, 0)
        };
        members.push(Member {
            name: string_at(strings, u32_at(types_bytes, m)?),
            type_id: u32_at(types_bytes, m + 4)?,
            bit_offset,
            bit_size,
        });
    }
    Ok(members)
}

/// The values of an enum (32-bit entries) or enum64 whose `vlen` entries start at `off`;
/// `kflag` marks a signed enum.
fn enum_values_at(
    types_bytes: &[u8],
    strings: &[u8],
    off: usize,
    vlen: usize,
    wide: bool,
    kflag: bool,
) -> Result<Vec<(String, i64)>, String> {
    let step = if wide { 12 } else { 8 };
    let mut values = Vec::with_capacity(vlen);
    for i in 0..vlen {
        let e = off + step * i;
        let lo = u32_at(types_bytes, e + 4)?;
        let value = if !wide {
            if kflag {
                i64::from(lo as i32)
            } else {
                i64::from(lo)
            }
        } else {
            let hi = u32_at(types_bytes, e + 8)?;
            ((u64::from(hi) << 32) | u64::from(lo)) as i64
        };
        values.push((string_at(strings, u32_at(types_bytes, e)?), value));
    }
    Ok(values)
}

/// Named structs, enums, typedefs and variables by name (the first of a name wins).
fn index_by_name(types: &[BtfType]) -> HashMap<String, u32> {
    let mut by_name = HashMap::new();
    for (id, t) in types.iter().enumerate() {
        let name = match t {
            BtfType::Struct { name, .. }
            | BtfType::Enum { name, .. }
            | BtfType::Alias { name, .. }
            | BtfType::Var { name, .. } => name,
            _ => continue,
        };
        if !name.is_empty() {
            by_name.entry(name.clone()).or_insert(id as u32);
        }
    }
    by_name
}

impl TypeTable {
    /// Parses a `.BTF` section (little-endian, as clang writes it for x86).
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let magic = data
            .get(0..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or("BTF too short")?;
        if magic != BTF_MAGIC {
            return Err("not little-endian BTF (bad magic)".into());
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_bytes = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or("BTF type section out of bounds")?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or("BTF string section out of bounds")?;
        let mut types = vec![BtfType::Void];
        let mut off = 0usize;
        while off + 12 <= types_bytes.len() {
            let name = string_at(strings, u32_at(types_bytes, off)?);
            let info = u32_at(types_bytes, off + 4)?;
            let size_or_type = u32_at(types_bytes, off + 8)?;
            let kind = (info >> 24) & 0x1f;
            let kflag = info >> 31 == 1;
            let vlen = (info & 0xffff) as usize;
            off += 12;
            let t = match kind {
                1 => {
                    let enc = u32_at(types_bytes, off)?;
                    off += 4;
                    let encoding = (enc >> 24) & 0xf;
                    BtfType::Int {
                        name,
                        size: size_or_type,
                        signed: encoding & 1 != 0,
                        char: encoding & 2 != 0,
                        bool: encoding & 4 != 0,
                    }
                }
                2 => BtfType::Ptr {
                    target: size_or_type,
                },
                3 => {
                    let elem = u32_at(types_bytes, off)?;
                    let len = u32_at(types_bytes, off + 8)?;
                    off += 12;
                    BtfType::Array { elem, len }
                }
                4 | 5 => {
                    let members = members_at(types_bytes, strings, off, vlen, kflag)?;
                    off += 12 * vlen;
                    BtfType::Struct {
                        name,
                        size: size_or_type,
                        members,
                        union: kind == 5,
                    }
                }
                6 | 19 => {
                    let step = if kind == 6 { 8 } else { 12 };
                    let values =
                        enum_values_at(types_bytes, strings, off, vlen, kind == 19, kflag)?;
                    off += step * vlen;
                    BtfType::Enum {
                        name,
                        size: size_or_type,
                        signed: kflag,
                        values,
                    }
                }
                7 => BtfType::Fwd { name },
                8..=11 | 18 => BtfType::Alias {
                    name: if kind == 8 { name } else { String::new() },
                    target: size_or_type,
                },
                12 => BtfType::Other,
                13 => {
                    off += 8 * vlen;
                    BtfType::Other
                }
                14 => {
                    off += 4;
                    BtfType::Var {
                        name,
                        target: size_or_type,
                    }
                }
                15 => {
                    let mut vars = Vec::with_capacity(vlen);
                    for i in 0..vlen {
                        let v = off + 12 * i;
                        vars.push((
                            u32_at(types_bytes, v)?,
                            u32_at(types_bytes, v + 4)?,
                            u32_at(types_bytes, v + 8)?,
                        ));
                    }
                    off += 12 * vlen;
                    BtfType::DataSec { name, vars }
                }
                16 => BtfType::Float { size: size_or_type },
                17 => {
                    off += 4;
                    BtfType::Other
                }
                other => return Err(format!("unknown BTF kind {other}")),
            };
            types.push(t);
        }
        let by_name = index_by_name(&types);
        Ok(Self { types, by_name })
    }

    pub fn get(&self, id: u32) -> Option<&BtfType> {
        self.types.get(id as usize)
    }

    /// The type behind typedefs and qualifiers.
    pub fn resolve(&self, mut id: u32) -> (u32, Option<&BtfType>) {
        for _ in 0..32 {
            match self.get(id) {
                Some(BtfType::Alias { target, .. }) => id = *target,
                other => return (id, other),
            }
        }
        (id, None)
    }

    /// A type's byte size (0 when it has none).
    pub fn size_of(&self, id: u32) -> u64 {
        self.size_depth(id, 0)
    }

    fn size_depth(&self, id: u32, depth: usize) -> u64 {
        if depth > 32 {
            return 0;
        }
        match self.resolve(id).1 {
            Some(BtfType::Int { size, .. })
            | Some(BtfType::Struct { size, .. })
            | Some(BtfType::Enum { size, .. })
            | Some(BtfType::Float { size }) => u64::from(*size),
            Some(BtfType::Ptr { .. }) => 8,
            Some(BtfType::Array { elem, len }) => {
                u64::from(*len).saturating_mul(self.size_depth(*elem, depth + 1))
            }
            _ => 0,
        }
    }

    /// The C name of a type, for display. Bounded like `resolve`: a malformed table may make a
    /// typedef or array name itself.
    pub fn name_of(&self, id: u32) -> String {
        self.name_depth(id, 0)
    }

    fn name_depth(&self, id: u32, depth: usize) -> String {
        if depth > 32 {
            return "?".into();
        }
        match self.get(id) {
            Some(BtfType::Int { name, .. }) => name.clone(),
            Some(BtfType::Struct { name, union, .. }) => {
                format!("{} {name}", if *union { "union" } else { "struct" })
            }
            Some(BtfType::Enum { name, .. }) => format!("enum {name}"),
            Some(BtfType::Alias { name, target }) if name.is_empty() => {
                self.name_depth(*target, depth + 1)
            }
            Some(BtfType::Alias { name, .. }) => name.clone(),
            Some(BtfType::Array { elem, len }) => {
                format!("{}[{len}]", self.name_depth(*elem, depth + 1))
            }
            Some(BtfType::Ptr { .. }) => "pointer".into(),
            _ => "?".into(),
        }
    }

    /// The id of the struct (or typedef) called `name`.
    pub fn id_by_name(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The variables of the `.maps` section: (map name, its definition struct id).
    pub fn map_definitions(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for t in &self.types {
            let BtfType::DataSec { name, vars } = t else {
                continue;
            };
            if name != ".maps" {
                continue;
            }
            for (var, _, _) in vars {
                if let Some(BtfType::Var { name, target }) = self.get(*var) {
                    out.push((name.clone(), *target));
                }
            }
        }
        out
    }

    /// The member `field` of a BTF map definition, which is always a pointer: to the type for
    /// `__type(value, struct event)`, to an array whose length is the number for
    /// `__uint(type, BPF_MAP_TYPE_RINGBUF)`.
    fn map_member_pointee(&self, definition: u32, field: &str) -> Option<u32> {
        let Some(BtfType::Struct { members, .. }) = self.resolve(definition).1 else {
            return None;
        };
        let member = members.iter().find(|m| m.name == field)?;
        match self.resolve(member.type_id).1 {
            Some(BtfType::Ptr { target }) => Some(*target),
            _ => None,
        }
    }

    /// The type given by `__type(field, T)` in a BTF map definition.
    pub fn map_field_type(&self, definition: u32, field: &str) -> Option<u32> {
        self.map_member_pointee(definition, field)
    }

    /// The number given by `__uint(field, N)` in a BTF map definition.
    pub fn map_field_number(&self, definition: u32, field: &str) -> Option<u32> {
        let target = self.map_member_pointee(definition, field)?;
        match self.resolve(target).1 {
            Some(BtfType::Array { len, .. }) => Some(*len),
            _ => None,
        }
    }
}
