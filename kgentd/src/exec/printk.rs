//! `bpf_printk` output of one job, read from a tracefs instance of its own.
//!
//! The kernel writes every `bpf_trace_printk` as the `bpf_trace:bpf_trace_printk` trace event;
//! enabling that event in a private instance (`instances/kgent_<daemon pid>_<job>`) gives the job a copy
//! without consuming the global trace_pipe other tools read. Lines of other programs that
//! print at the same time appear too: the kernel does not say which program printed.
//! The instance is removed when this is dropped.
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use tokio::io::unix::AsyncFd;

pub struct TracePipe {
    dir: PathBuf,
    pipe: Option<AsyncFd<File>>,
    /// Bytes read after the last newline: a read may end inside a line, or inside a char.
    pending: Vec<u8>,
}

impl TracePipe {
    pub fn open(tracefs: &std::path::Path, job_id: &str) -> std::io::Result<Self> {
        let dir = tracefs
            .join("instances")
            .join(format!("kgent_{}_{job_id}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let opened = (|| {
            std::fs::write(dir.join("events/bpf_trace/bpf_trace_printk/enable"), "1")?;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(dir.join("trace_pipe"))?;
            // SAFETY: the File owns the fd and keeps it open, unchanged, for as long as it
            // lives, which is as long as the AsyncFd that owns it.
            unsafe { AsyncFd::register_with_interest(file, tokio::io::Interest::READABLE) }
                .map_err(|e| std::io::Error::other(e.to_string()))
        })();
        match opened {
            Ok(pipe) => Ok(Self {
                dir,
                pipe: Some(pipe),
                pending: Vec::new(),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// The next complete printk lines, as `comm-pid: message`.
    pub async fn lines(&mut self) -> Vec<String> {
        let Some(pipe) = self.pipe.as_mut() else {
            return std::future::pending().await;
        };
        let mut buf = [0u8; 8192];
        loop {
            let Ok(mut guard) = pipe.readable_mut().await else {
                return std::future::pending().await;
            };
            match guard.try_io(|f| f.get_mut().read(&mut buf)) {
                Ok(Ok(0)) => return std::future::pending().await,
                Ok(Ok(n)) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    let mut out = Vec::new();
                    while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = self.pending.drain(..=end).collect();
                        if let Some(l) = format_printk(String::from_utf8_lossy(&line).trim_end()) {
                            out.push(l);
                        }
                    }
                    if !out.is_empty() {
                        return out;
                    }
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Ok(Err(_)) => return std::future::pending().await,
                Err(_would_block) => continue,
            }
        }
    }
}

/// `  bash-1234  [001] d..31 567.8: bpf_trace_printk: hello` → `bash-1234: hello`.
fn format_printk(line: &str) -> Option<String> {
    let (head, msg) = line.split_once("bpf_trace_printk: ")?;
    let task = head.split_whitespace().next().unwrap_or("?");
    Some(format!("{task}: {msg}"))
}

impl Drop for TracePipe {
    fn drop(&mut self) {
        // The pipe must be closed before the instance can be removed.
        self.pipe = None;
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            tracing::warn!("cannot remove tracefs instance {}: {e}", self.dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_printk;

    #[test]
    fn keeps_the_task_and_the_message() {
        assert_eq!(
            format_printk("          <...>-4242    [001] ...21 12345.678901: bpf_trace_printk: openat by 4242").as_deref(),
            Some("<...>-4242: openat by 4242")
        );
        assert_eq!(format_printk("# tracer: nop"), None);
    }
}
