//! The smallest possible use of the bpf(2) system call: load a two-instruction program of a given
//! type and attach it to a raw tracepoint, or a three-instruction program calling one helper, to
//! learn whether this kernel really can. Used only by the feature probes; programs are closed
//! (detached and freed) before returning.
use std::os::fd::{FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// `r0 = 0; exit`: the program every probe loads.
const RETURN_ZERO: [u64; 2] = [
    0x0000_0000_0000_00b7, // BPF_ALU64 | BPF_MOV | BPF_K, dst r0, imm 0
    0x0000_0000_0000_0095, // BPF_JMP | BPF_EXIT
];

fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> Result<OwnedFd, std::io::Error> {
    // SAFETY: `attr` is a zero-initialised bpf_attr of the size we pass; the kernel reads only
    // the fields of `cmd` and the pointers in it point to live data owned by the caller.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads a raw-tracepoint program and attaches it to `tracepoint`; both are released at once.
pub fn raw_tracepoint_attaches(tracepoint: &str) -> Result<(), String> {
    let license = c"GPL";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_RAW_TRACEPOINT.to_ne_bytes());
    attr[4..8].copy_from_slice(&(RETURN_ZERO.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(RETURN_ZERO.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    let prog = bpf(BPF_PROG_LOAD, &mut attr)
        .map_err(|e| format!("loading a raw_tp program failed: {e}"))?;
    let name = std::ffi::CString::new(tracepoint).map_err(|e| e.to_string())?;
    let mut attr = [0u8; 128];
    attr[0..8].copy_from_slice(&(name.as_ptr() as u64).to_ne_bytes());
    attr[8..12].copy_from_slice(&(std::os::fd::AsRawFd::as_raw_fd(&prog) as u32).to_ne_bytes());
    let link = bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr)
        .map_err(|e| format!("attaching to raw tracepoint {tracepoint} failed: {e}"))?;
    drop(link);
    drop(prog);
    Ok(())
}

/// Whether a program of type `prog_type` (a `BPF_PROG_TYPE_*` number) may call helper `id`:
/// loads `call id; r0 = 0; exit` and reads the verifier's verdict. The verifier looks the helper
/// up for the program type before checking its arguments, so "unknown func" / "cannot use
/// helper" means no; success or any later complaint (uninitialised arguments) means yes.
pub fn helper_callable(prog_type: u32, id: u32) -> Result<bool, String> {
    let program: [u64; 3] = [0x85 | (u64::from(id) << 32), RETURN_ZERO[0], RETURN_ZERO[1]];
    let license = c"GPL";
    let mut log = vec![0u8; 16 * 1024];
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&prog_type.to_ne_bytes());
    attr[4..8].copy_from_slice(&(program.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(program.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[24..28].copy_from_slice(&1u32.to_ne_bytes());
    attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
    attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(prog) => {
            drop(prog);
            Ok(true)
        }
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            if text.contains("unknown func")
                || text.contains("cannot use helper")
                || text.contains("invalid func")
            {
                Ok(false)
            } else if text.is_empty() {
                Err(format!(
                    "the kernel refused the probe program without a verifier log: {e}"
                ))
            } else {
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{helper_callable, raw_tracepoint_attaches};

    /// Needs root (CAP_BPF). Helper 5 is bpf_ktime_get_ns (every tracing type); 23 is
    /// bpf_redirect (packets only); 27 is bpf_get_stackid (tracing only).
    #[test]
    fn a_helper_probe_tells_packet_helpers_from_tracing_ones() {
        const TRACEPOINT: u32 = 5;
        const XDP: u32 = 6;
        assert_eq!(helper_callable(TRACEPOINT, 5), Ok(true));
        assert_eq!(helper_callable(TRACEPOINT, 23), Ok(false));
        assert_eq!(helper_callable(XDP, 23), Ok(true));
        assert_eq!(helper_callable(XDP, 27), Ok(false));
        assert_eq!(helper_callable(TRACEPOINT, 100_000), Ok(false));
    }

    /// Needs root (CAP_BPF); the test suite runs as root.
    #[test]
    fn attaches_to_a_real_raw_tracepoint_and_refuses_a_made_up_one() {
        assert_eq!(raw_tracepoint_attaches("sched_switch"), Ok(()));
        let err = raw_tracepoint_attaches("kgent_no_such_tracepoint").expect_err("made up");
        assert!(err.contains("attaching"), "{err}");
    }
}
