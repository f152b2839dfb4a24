//! What a value read from the kernel is, for the verifier: an integer of a width, signedness
//! and byte order, a string, or a struct reached through a pointer. Read from the C type a
//! tracepoint's format prints and from the kernel's BTF for struct members.
//!
//! The integer typedefs are the kernel's (include/uapi/asm-generic/int-ll64.h,
//! include/linux/types.h, include/uapi/linux/types.h for the `__be*` big-endian types); a type
//! not listed is read as a signed 64-bit integer and said to be so.
use std::sync::OnceLock;

use crate::exec::btf_types::{BtfType, TypeTable};

/// An integer as stored in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scalar {
    pub bits: u32,
    pub signed: bool,
    /// Network byte order (`__be16`, `__be32`): printing it as a number needs a byte swap.
    pub big_endian: bool,
}

impl Scalar {
    pub const fn new(bits: u32, signed: bool) -> Self {
        Scalar {
            bits,
            signed,
            big_endian: false,
        }
    }
}

/// What a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Int(Scalar),
    /// A char array, `char *` or `__data_loc char[]`: text.
    Text,
    /// A pointer to (or a) struct or union of this name.
    Struct(String),
    /// Anything else (arrays of integers, function pointers): read as an opaque value.
    Opaque,
}

const TYPEDEFS: &[(&str, u32, bool)] = &[
    ("u8", 8, false),
    ("__u8", 8, false),
    ("unsigned char", 8, false),
    ("s8", 8, true),
    ("__s8", 8, true),
    ("char", 8, true),
    ("signed char", 8, true),
    ("bool", 8, false),
    ("_Bool", 8, false),
    ("u16", 16, false),
    ("__u16", 16, false),
    ("unsigned short", 16, false),
    ("umode_t", 16, false),
    ("s16", 16, true),
    ("__s16", 16, true),
    ("short", 16, true),
    ("u32", 32, false),
    ("__u32", 32, false),
    ("unsigned int", 32, false),
    ("unsigned", 32, false),
    ("dev_t", 32, false),
    ("gfp_t", 32, false),
    ("uid_t", 32, false),
    ("gid_t", 32, false),
    ("s32", 32, true),
    ("__s32", 32, true),
    ("int", 32, true),
    ("pid_t", 32, true),
    ("u64", 64, false),
    ("__u64", 64, false),
    ("unsigned long", 64, false),
    ("unsigned long long", 64, false),
    ("size_t", 64, false),
    ("sector_t", 64, false),
    ("s64", 64, true),
    ("__s64", 64, true),
    ("long", 64, true),
    ("long long", 64, true),
    ("ssize_t", 64, true),
    ("loff_t", 64, true),
    ("off_t", 64, true),
    ("time64_t", 64, true),
];

/// A tracefs field's C type as a shape: `const char *` is text, `__be16` a big-endian u16,
/// `struct sockaddr *` a struct.
pub fn shape_of_ctype(ctype: &str) -> Shape {
    let t = ctype
        .replace("const ", "")
        .replace("volatile ", "")
        .trim()
        .to_owned();
    if t.contains("char") && (t.contains('*') || t.contains('[')) {
        return Shape::Text;
    }
    if let Some(rest) = t
        .strip_prefix("struct ")
        .or_else(|| t.strip_prefix("union "))
    {
        return Shape::Struct(rest.trim_end_matches(['*', ' ']).trim().to_owned());
    }
    if t.contains('*') {
        return Shape::Int(Scalar::new(64, false));
    }
    if t.contains('[') {
        return Shape::Opaque;
    }
    match t.as_str() {
        "__be16" => Shape::Int(Scalar {
            bits: 16,
            signed: false,
            big_endian: true,
        }),
        "__be32" => Shape::Int(Scalar {
            bits: 32,
            signed: false,
            big_endian: true,
        }),
        "__be64" => Shape::Int(Scalar {
            bits: 64,
            signed: false,
            big_endian: true,
        }),
        _ => TYPEDEFS
            .iter()
            .find(|(name, _, _)| *name == t)
            .map_or(Shape::Int(Scalar::new(64, true)), |(_, bits, signed)| {
                Shape::Int(Scalar::new(*bits, *signed))
            }),
    }
}

/// The kernel's BTF, read once; None when the host has none or it cannot be read.
pub fn kernel_btf() -> Option<&'static TypeTable> {
    static BTF: OnceLock<Option<TypeTable>> = OnceLock::new();
    BTF.get_or_init(|| {
        let data = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
        TypeTable::parse(&data).ok()
    })
    .as_ref()
}

/// The shape of member `member` of `struct name` in `btf`: the C spelling of its type read the
/// same way as a tracefs type. None when the struct or member is unknown.
pub fn member_shape(btf: &TypeTable, name: &str, member: &str) -> Option<Shape> {
    let id = btf.id_by_name(name)?;
    let (_, ty) = btf.resolve(id);
    let Some(BtfType::Struct { members, .. }) = ty else {
        return None;
    };
    let m = members.iter().find(|m| m.name == member)?;
    Some(shape_of_btf(btf, m.type_id))
}

fn shape_of_btf(btf: &TypeTable, id: u32) -> Shape {
    // A typedef's own name decides first: `__be16` is a `__u16` underneath.
    let mut at = id;
    for _ in 0..16 {
        match btf.get(at) {
            Some(BtfType::Alias { name, target }) => {
                if let Shape::Int(s) = shape_of_ctype(name) {
                    if s.big_endian {
                        return Shape::Int(s);
                    }
                }
                at = *target;
            }
            _ => break,
        }
    }
    match btf.get(at) {
        Some(BtfType::Int {
            size, signed, char, ..
        }) => {
            if *char && *size == 1 {
                Shape::Int(Scalar::new(8, *signed))
            } else {
                Shape::Int(Scalar::new(size.saturating_mul(8).min(64), *signed))
            }
        }
        Some(BtfType::Enum { size, signed, .. }) => {
            Shape::Int(Scalar::new(size.saturating_mul(8).min(64), *signed))
        }
        Some(BtfType::Struct { name, .. }) => Shape::Struct(name.clone()),
        Some(BtfType::Ptr { target }) => match shape_of_btf(btf, *target) {
            Shape::Struct(s) => Shape::Struct(s),
            Shape::Int(s) if s.bits == 8 => Shape::Text,
            _ => Shape::Int(Scalar::new(64, false)),
        },
        Some(BtfType::Array { elem, .. }) => match shape_of_btf(btf, *elem) {
            Shape::Int(s) if s.bits == 8 => Shape::Text,
            _ => Shape::Opaque,
        },
        _ => Shape::Opaque,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracefs_types_read_as_shapes() {
        assert_eq!(shape_of_ctype("long"), Shape::Int(Scalar::new(64, true)));
        assert_eq!(shape_of_ctype("__u16"), Shape::Int(Scalar::new(16, false)));
        assert_eq!(shape_of_ctype("const char *"), Shape::Text);
        assert_eq!(shape_of_ctype("__data_loc char[]"), Shape::Text);
        assert_eq!(shape_of_ctype("char[16]"), Shape::Text);
        assert_eq!(
            shape_of_ctype("struct sockaddr *"),
            Shape::Struct("sockaddr".into())
        );
        assert!(matches!(shape_of_ctype("__be16"), Shape::Int(s) if s.big_endian && s.bits == 16));
        assert_eq!(shape_of_ctype("__u8[16]"), Shape::Opaque);
    }

    #[test]
    fn a_sockaddr_in_port_is_big_endian_in_the_kernel_btf() {
        let btf = kernel_btf().expect("this host's kernel has BTF (HOST.md)");
        let port = member_shape(btf, "sockaddr_in", "sin_port").expect("sin_port");
        assert!(
            matches!(port, Shape::Int(s) if s.big_endian && s.bits == 16),
            "{port:?}"
        );
        let family = member_shape(btf, "sockaddr_in", "sin_family").expect("sin_family");
        assert!(
            matches!(family, Shape::Int(s) if !s.big_endian && s.bits == 16),
            "{family:?}"
        );
    }
}
