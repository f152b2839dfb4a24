//! Reading every entry of a hash or array map as raw bytes, whatever its key and value types,
//! through bpf(2) (`BPF_MAP_GET_NEXT_KEY`, `BPF_MAP_LOOKUP_ELEM`): aya's typed maps need the
//! types at compile time, and kgent learns them from BTF at run time. Per-CPU values are summed
//! when they are integers (the common counter case), else the first CPU's value is kept.
use std::os::fd::{AsRawFd, BorrowedFd};

use aya::maps::{Map, MapData};

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
/// The most entries one dump reads (a runaway map must not stall the daemon).
const MAX_ENTRIES: usize = 100_000;

/// The data of a map kgent knows how to dump, with whether its values are per CPU.
pub fn dumpable(map: &Map) -> Option<(&MapData, bool)> {
    match map {
        Map::HashMap(m) | Map::LruHashMap(m) | Map::Array(m) => Some((m, false)),
        Map::PerCpuHashMap(m) | Map::PerCpuLruHashMap(m) | Map::PerCpuArray(m) => Some((m, true)),
        _ => None,
    }
}

fn bpf(cmd: libc::c_long, attr: &mut [u8; 32]) -> std::io::Result<()> {
    // SAFETY: `attr` is a bpf_attr prefix of the size we pass, the pointers in it point to
    // buffers of the sizes the map was created with, owned by the caller for the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Every (key, value) of the map; values of per-CPU maps folded into one.
pub fn entries(
    fd: BorrowedFd<'_>,
    key_size: usize,
    value_size: usize,
    per_cpu: bool,
) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let cpus = if per_cpu {
        aya::util::nr_cpus()
            .map_err(|(what, e)| std::io::Error::new(e.kind(), format!("{what}: {e}")))?
    } else {
        1
    };
    let stride = if per_cpu {
        value_size.div_ceil(8) * 8
    } else {
        value_size
    };
    let raw_fd = fd.as_raw_fd() as u32;
    let mut out = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    let mut next = vec![0u8; key_size];
    let mut value = vec![0u8; stride * cpus];
    while out.len() < MAX_ENTRIES {
        let mut attr = [0u8; 32];
        attr[0..4].copy_from_slice(&raw_fd.to_ne_bytes());
        let key_ptr = key.as_ref().map_or(0, |k| k.as_ptr() as u64);
        attr[8..16].copy_from_slice(&key_ptr.to_ne_bytes());
        attr[16..24].copy_from_slice(&(next.as_mut_ptr() as u64).to_ne_bytes());
        match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
            Err(e) => return Err(e),
        }
        let mut attr = [0u8; 32];
        attr[0..4].copy_from_slice(&raw_fd.to_ne_bytes());
        attr[8..16].copy_from_slice(&(next.as_ptr() as u64).to_ne_bytes());
        attr[16..24].copy_from_slice(&(value.as_mut_ptr() as u64).to_ne_bytes());
        match bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) {
            Ok(()) => out.push((next.clone(), fold_cpus(&value, value_size, stride, cpus))),
            // Deleted between the two calls: skip it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        key = Some(next.clone());
    }
    Ok(out)
}

fn fold_cpus(values: &[u8], value_size: usize, stride: usize, cpus: usize) -> Vec<u8> {
    let first = values[..value_size.min(values.len())].to_vec();
    if cpus == 1 || !matches!(value_size, 4 | 8) {
        return first;
    }
    let sum: u64 = (0..cpus)
        .filter_map(|c| values.get(c * stride..c * stride + value_size))
        .map(|b| {
            let mut buf = [0u8; 8];
            buf[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(buf)
        })
        .fold(0u64, u64::wrapping_add);
    sum.to_le_bytes()[..value_size].to_vec()
}
