//! How people speak about the kernel, mapped to the words the kernel uses. General vocabulary
//! of Linux tracing, not tied to any particular request.
const PHRASES: &[(&str, &str)] = &[
    ("open", "openat open sys_enter_openat filename"),
    ("delet", "unlink unlinkat pathname"),
    ("remov", "unlink unlinkat rmdir pathname"),
    ("renam", "rename renameat renameat2 oldname newname"),
    ("exec", "execve sched_process_exec filename argv"),
    ("start", "execve sched_process_exec"),
    ("launch", "execve sched_process_exec"),
    ("command", "execve sched_process_exec argv"),
    ("exit", "sched_process_exit exit_group"),
    ("die", "sched_process_exit"),
    ("terminat", "sched_process_exit exit_group"),
    ("fork", "sched_process_fork clone"),
    ("spawn", "sched_process_fork clone execve"),
    ("child", "sched_process_fork clone"),
    ("connect", "connect inet_sock_set_state tcp"),
    ("connection", "inet_sock_set_state tcp connect accept"),
    ("tcp", "tcp inet_sock_set_state"),
    ("retransmit", "tcp_retransmit_skb"),
    ("reset", "tcp_send_reset tcp_receive_reset"),
    ("accept", "accept accept4 inet_sock_set_state"),
    ("listen", "listen"),
    ("udp", "sendto sendmsg recvfrom udp"),
    ("dns", "sendto sendmsg udp"),
    ("packet", "net_dev_xmit netif_receive_skb"),
    ("rout", "fib_table_lookup fib6_table_lookup fib"),
    ("signal", "signal_generate signal_deliver kill"),
    ("kill", "kill signal_generate"),
    ("read", "read sys_exit_read"),
    ("writ", "write sys_exit_write"),
    ("byte", "ret count"),
    ("disk", "block_rq_issue block_rq_complete"),
    ("block", "block_rq_issue block_rq_complete"),
    ("i/o", "block_rq_issue block_rq_complete"),
    ("io", "block_rq_issue block_rq_complete"),
    ("fault", "page_fault_user page_fault_kernel"),
    ("context", "sched_switch"),
    ("switch", "sched_switch"),
    ("wakeup", "sched_wakeup"),
    ("schedul", "sched_switch sched_wakeup"),
    ("runqueue", "sched_wakeup sched_switch"),
    ("memory", "mmap brk kmalloc mm_page_alloc"),
    ("alloc", "kmalloc mm_page_alloc"),
    ("oom", "mark_victim oom"),
    ("module", "module_load init_module finit_module"),
    ("mount", "mount"),
    ("directory", "chdir mkdir rmdir"),
    ("sleep", "nanosleep clock_nanosleep"),
    ("cpu", "profile sched_switch"),
    ("timer", "timer hrtimer"),
    ("syscall", "sys_enter raw_syscalls"),
    ("system call", "sys_enter raw_syscalls"),
    ("latency", "sys_enter sys_exit nsecs"),
    ("permission", "openat ret errno"),
    ("fail", "ret errno"),
    ("error", "ret errno"),
    ("user", "setuid uid"),
    ("privilege", "setuid setgid capable"),
    ("pipe", "pipe pipe2"),
    ("socket", "socket inet_sock_set_state"),
    ("port", "sport dport inet_sock_set_state"),
    ("bash", "readline uprobe"),
];

/// The request with the kernel words for what it says appended. A spoken word matches the
/// start of a word of the request ("delet" matches "deleted"); a phrase matches anywhere.
pub fn expand(request: &str) -> String {
    let lower = request.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '/'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = request.to_owned();
    for (spoken, kernel) in PHRASES {
        let hit = if spoken.contains(' ') {
            lower.contains(spoken)
        } else {
            words.iter().any(|w| w.starts_with(spoken))
        };
        if hit {
            out.push(' ');
            out.push_str(kernel);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn maps_spoken_words_to_kernel_words() {
        assert!(expand("which files were deleted").contains("unlinkat"));
        assert!(!expand("a new connection").contains("block_rq_issue"));
    }
}
