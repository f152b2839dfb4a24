//! Turning a program's raw output into text and JSON from the object's own BTF, so no program
//! needs code of its own to be read: ring-buffer records (one line each) and map dumps (log2
//! histograms drawn like bpftrace's `hist()`, counts sorted with the largest last).
//!
//! Rules: integers by size and sign (`__be16`/`__be32` in network order), `char` arrays as
//! strings, 4- and 16-byte fields whose name says address (`saddr`, `daddr`, `addr`, `ip`…) as
//! IPv4/IPv6, enums by their value's name, nested structs in braces. Never panics on short or
//! odd input: what cannot be laid out is shown as hex.
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{json, Map as JsonMap, Value};

use super::btf_types::{BtfType, Member, TypeTable};

/// A value decoded from bytes: the JSON form; its text form comes from [`to_text`].
pub fn decode(types: &TypeTable, type_id: u32, bytes: &[u8], field: &str) -> Value {
    decode_depth(types, type_id, bytes, field, 0)
}

fn is_address_name(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    f.ends_with("addr")
        || f.ends_with("addr4")
        || f.ends_with("addr6")
        || f == "ip"
        || f.ends_with("_ip")
        || f == "src"
        || f == "dst"
        || f.starts_with("ip_")
}

fn le_uint(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits == 0 || bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

fn hex(bytes: &[u8]) -> Value {
    Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn decode_depth(types: &TypeTable, type_id: u32, bytes: &[u8], field: &str, depth: usize) -> Value {
    if depth > 16 {
        return hex(bytes);
    }
    // Network-order typedefs keep their meaning before they are resolved away.
    if let Some(BtfType::Alias { name, .. }) = types.get(type_id) {
        if (name == "__be16" || name == "__be32") && !(name == "__be32" && is_address_name(field)) {
            let mut b = bytes.to_vec();
            b.reverse();
            return json!(le_uint(&b));
        }
    }
    let (_, t) = types.resolve(type_id);
    match t {
        Some(BtfType::Int {
            size, signed, bool, ..
        }) => {
            let size = (*size as usize).min(bytes.len());
            let raw = le_uint(&bytes[..size]);
            if size == 4 && is_address_name(field) && !signed {
                return Value::String(
                    Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
                );
            }
            if *bool {
                return Value::Bool(raw != 0);
            }
            if *signed {
                json!(sign_extend(raw, size as u32 * 8))
            } else {
                json!(raw)
            }
        }
        Some(BtfType::Enum {
            size,
            signed,
            values,
            ..
        }) => {
            let size = (*size as usize).min(bytes.len());
            let raw = le_uint(&bytes[..size]);
            let v = if *signed {
                sign_extend(raw, size as u32 * 8)
            } else {
                raw as i64
            };
            match values.iter().find(|(_, value)| *value == v) {
                Some((name, _)) => Value::String(name.clone()),
                None => json!(v),
            }
        }
        Some(BtfType::Array { elem, len }) => decode_array(types, *elem, *len, bytes, field, depth),
        Some(BtfType::Struct {
            size,
            members,
            name,
            ..
        }) => decode_struct(types, *size, members, name, bytes, field, depth),
        Some(BtfType::Float { size: 8 }) => bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(|b| json!(f64::from_le_bytes(b)))
            .unwrap_or_else(|| hex(bytes)),
        Some(BtfType::Float { size: 4 }) => bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(|b| json!(f32::from_le_bytes(b)))
            .unwrap_or_else(|| hex(bytes)),
        Some(BtfType::Ptr { .. }) => Value::String(format!("0x{:x}", le_uint(bytes))),
        _ => hex(bytes),
    }
}

/// An array: a string when its elements are chars, an IPv6 address when an address field holds
/// 16 bytes, else its elements.
fn decode_array(
    types: &TypeTable,
    elem: u32,
    len: u32,
    bytes: &[u8],
    field: &str,
    depth: usize,
) -> Value {
    let (_, elem_t) = types.resolve(elem);
    let elem_size = types.size_of(elem) as usize;
    if let Some(BtfType::Int {
        size: 1,
        char,
        name,
        ..
    }) = elem_t
    {
        if *char || name == "char" {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            return Value::String(String::from_utf8_lossy(&bytes[..end]).into_owned());
        }
    }
    if bytes.len() == 16 && is_address_name(field) {
        if let Ok(b) = <[u8; 16]>::try_from(bytes) {
            return Value::String(Ipv6Addr::from(b).to_string());
        }
    }
    if elem_size == 0 {
        return hex(bytes);
    }
    let n = (len as usize).min(bytes.len() / elem_size);
    Value::Array(
        (0..n)
            .map(|i| {
                decode_depth(
                    types,
                    elem,
                    &bytes[i * elem_size..(i + 1) * elem_size],
                    field,
                    depth + 1,
                )
            })
            .collect(),
    )
}

/// A struct or union: an IPv6 address when it is one, else its members by name (anonymous
/// members' fields merged into it, bitfields read from their bits).
fn decode_struct(
    types: &TypeTable,
    size: u32,
    members: &[Member],
    name: &str,
    bytes: &[u8],
    field: &str,
    depth: usize,
) -> Value {
    if size == 16 && (name == "in6_addr" || is_address_name(field)) {
        if let Some(b) = bytes.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
            return Value::String(Ipv6Addr::from(b).to_string());
        }
    }
    let mut out = JsonMap::new();
    for m in members {
        let value = if m.bit_size > 0 {
            let start = (m.bit_offset / 8) as usize;
            let Some(window) = bytes.get(start..(start + 8).min(bytes.len())) else {
                continue;
            };
            let v = le_uint(window) >> (m.bit_offset % 8);
            json!(v & ((1u64 << m.bit_size.min(63)) - 1))
        } else {
            let start = (m.bit_offset / 8) as usize;
            let len = types.size_of(m.type_id) as usize;
            let Some(slice) = bytes.get(start..start.saturating_add(len)) else {
                continue;
            };
            decode_depth(types, m.type_id, slice, &m.name, depth + 1)
        };
        if m.name.is_empty() {
            // An anonymous struct or union: its fields belong to the parent.
            if let Value::Object(inner) = value {
                out.extend(inner);
            }
        } else {
            out.insert(m.name.clone(), value);
        }
    }
    Value::Object(out)
}

/// The text form: `field=value` pairs for a struct, strings as they are (quoted when they
/// hold spaces), arrays in brackets.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| match v {
                Value::Object(_) => format!("{k}={{{}}}", to_text(v)),
                _ => format!("{k}={}", to_text(v)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) if s.contains(' ') || s.is_empty() => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(to_text).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// One map's entries as raw (key, value) bytes, already summed over CPUs for per-CPU maps.
pub struct MapDump<'a> {
    pub name: &'a str,
    pub key_type: Option<u32>,
    pub value_type: Option<u32>,
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Show only the largest this many (periodic prints); None: all.
    pub top: Option<usize>,
}

/// How a map is shown: text lines and one JSON document.
pub fn render_map(types: &TypeTable, dump: &MapDump) -> (Vec<String>, Value) {
    let decode_opt = |t: Option<u32>, b: &[u8], field: &str| match t {
        Some(t) => decode(types, t, b, field),
        None => match b.len() {
            1..=8 => json!(le_uint(b)),
            _ => hex(b),
        },
    };
    let mut rows: Vec<(Value, Value)> = dump
        .entries
        .iter()
        .map(|(k, v)| {
            (
                decode_opt(dump.key_type, k, "key"),
                decode_opt(dump.value_type, v, "value"),
            )
        })
        .collect();
    let json_doc = json!({
        "map": dump.name,
        "entries": rows.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
    });
    let numeric_keys = rows.iter().all(|(k, _)| k.is_u64() || k.is_i64());
    let numeric_values = rows.iter().all(|(_, v)| v.is_u64() || v.is_i64());
    let mut lines = vec![format!("@{}:", dump.name)];
    if dump.name.contains("hist") && numeric_keys && numeric_values {
        rows.retain(|(_, v)| v.as_u64().unwrap_or(0) > 0);
        let slots: Vec<(u64, u64)> = rows
            .iter()
            .map(|(k, v)| (k.as_u64().unwrap_or(0), v.as_u64().unwrap_or(0)))
            .collect();
        lines.extend(log2_histogram(&slots));
        return (lines, json_doc);
    }
    if numeric_values {
        rows.retain(|(_, v)| v.as_i64().unwrap_or(1) != 0);
        rows.sort_by_key(|(_, v)| v.as_i64().unwrap_or(i64::MAX));
    }
    let shown = match dump.top {
        Some(n) if rows.len() > n => {
            lines.push(format!("(top {n} of {})", rows.len()));
            &rows[rows.len() - n..]
        }
        _ => &rows[..],
    };
    for (k, v) in shown {
        let value = match v {
            Value::Object(_) => format!("{{{}}}", to_text(v)),
            _ => to_text(v),
        };
        lines.push(format!("@{}[{}]: {value}", dump.name, to_text(k)));
    }
    (lines, json_doc)
}

/// bpftrace's `hist()` drawing: one line per power-of-two bucket from the lowest to the
/// highest used one, a bar of `@` scaled to 52 columns. Keys that fall in one bucket are added
/// up (saturating) before the bars are scaled to the largest bucket.
pub fn log2_histogram(slots: &[(u64, u64)]) -> Vec<String> {
    let (Some(lo), Some(hi)) = (
        slots.iter().map(|s| s.0).min(),
        slots.iter().map(|s| s.0).max(),
    ) else {
        return Vec::new();
    };
    let hi = hi.min(63);
    let counts: Vec<(u64, u64)> = (lo.min(hi)..=hi)
        .map(|slot| {
            let count = slots
                .iter()
                .filter(|s| s.0 == slot)
                .fold(0u64, |sum, s| sum.saturating_add(s.1));
            (slot, count)
        })
        .collect();
    let max = counts.iter().map(|c| c.1).max().unwrap_or(1).max(1);
    counts
        .into_iter()
        .map(|(slot, count)| {
            let label = if slot == 0 {
                "[0, 2)".to_owned()
            } else {
                format!(
                    "[{}, {})",
                    human(1u64 << slot),
                    human(1u64.checked_shl(slot as u32 + 1).unwrap_or(u64::MAX))
                )
            };
            // count <= max, so the bar fits its 52 columns (u128: count * 52 cannot overflow).
            let bar = (u128::from(count) * 52 / u128::from(max)).min(52) as usize;
            format!(
                "{label:<20}{count:>8} |{}{}|",
                "@".repeat(bar),
                " ".repeat(52 - bar)
            )
        })
        .collect()
}

fn human(v: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1 << 60, "E"),
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (unit, suffix) in UNITS {
        if v >= unit && v.is_multiple_of(unit) {
            return format!("{}{suffix}", v / unit);
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_look_like_bpftraces() {
        let lines = log2_histogram(&[(0, 1), (2, 4), (10, 2)]);
        assert_eq!(lines.len(), 11);
        assert!(lines[0].starts_with("[0, 2)"));
        assert!(lines[2].starts_with("[4, 8)"));
        assert!(lines[2].contains(&"@".repeat(52)));
        assert!(lines[10].starts_with("[1K, 2K)"));
        assert!(lines[10].contains(&format!("|{}{}|", "@".repeat(26), " ".repeat(26))));
    }

    #[test]
    fn text_form_quotes_strings_with_spaces() {
        let v = json!({"pid": 7, "comm": "a b", "ip": "10.0.0.1"});
        assert_eq!(to_text(&v), "pid=7 comm=\"a b\" ip=10.0.0.1");
    }
}

#[cfg(test)]
mod btf_tests {
    use super::*;
    use crate::exec::loader::inspect;
    use crate::toolchain::clang::ClangToolchain;

    const RECORD: &str = r#"
#include "vmlinux.h"
#include "kgent.h"
enum verdict { ALLOWED = 7, DENIED = -2 };
struct conn {
    __be32 saddr;
    __be16 dport;
    struct in6_addr daddr6;
    char comm[8];
    s16 delta;
    enum verdict verdict;
    unsigned int flag : 3;
};
KGENT_RINGBUF(conns, struct conn, 4096);
SEC("raw_tp/sched_switch") int kt4_unit(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"#;

    /// Needs clang and bpftool (bash setup.sh); no kernel load.
    #[tokio::test]
    async fn addresses_ports_strings_enums_and_bitfields_decode_by_name_and_type() {
        let cache = tempfile::tempdir().expect("tmp");
        let cc = ClangToolchain::new(
            "clang".into(),
            "llvm-strip".into(),
            "bpftool".into(),
            cache.path().to_owned(),
        );
        let facts = inspect(&cc.compile(RECORD).await.expect("compiles")).expect("object");
        let types = &facts.types;
        let (_, def) = types
            .map_definitions()
            .into_iter()
            .find(|(n, _)| n == "conns")
            .expect("map");
        let record = types.map_field_type(def, "value").expect("record type");
        assert_eq!(types.size_of(record), 44);
        let mut bytes = vec![0u8; 44];
        bytes[0..4].copy_from_slice(&[10, 1, 2, 3]);
        bytes[4..6].copy_from_slice(&443u16.to_be_bytes());
        bytes[8..24].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().expect("ip").octets());
        bytes[24..29].copy_from_slice(b"curl\0");
        bytes[32..34].copy_from_slice(&(-5i16).to_le_bytes());
        bytes[40] = 0b1101; // flag is the low 3 bits: 5
        let v = decode(types, record, &bytes, "");
        assert_eq!(v["saddr"], "10.1.2.3");
        assert_eq!(v["dport"], 443);
        assert_eq!(v["daddr6"], "2001:db8::1");
        assert_eq!(v["comm"], "curl");
        assert_eq!(v["delta"], -5);
        let mut denied = bytes.clone();
        let verdict_at = 36;
        denied[verdict_at..verdict_at + 4].copy_from_slice(&(-2i32).to_le_bytes());
        assert_eq!(decode(types, record, &denied, "")["verdict"], "DENIED");
        assert_eq!(
            to_text(&v),
            "saddr=10.1.2.3 dport=443 daddr6=2001:db8::1 comm=curl delta=-5 verdict=0 flag=5"
        );
        // Too short a record decodes what is there and never panics.
        let short = decode(types, record, &bytes[..6], "");
        assert_eq!(short["saddr"], "10.1.2.3");
        assert!(short.get("comm").is_none());
    }
}
