//! Whose identity the program reports: the task acted on (a signal's target), the child of a
//! fork, the acting task, threads versus processes.
use super::*;

/// A request about the task acted on (the one signalled, killed or woken:
/// [`Concept::TargetTask`]) answered with the task that runs the probe: a tracepoint names
/// the acted-on task in a field (`pid` of `syscalls:sys_enter_kill` and
/// `signal:signal_generate`, `child_pid` of `sched:sched_process_fork`; their tracefs format),
/// but what the block attached to it reports reads none of those fields. Judged per block: a
/// program printing the target for `tgkill` (its `tgid`) and the caller for `kill` misses it
/// for `kill`. Tracepoints without such a field (the acted-on task is the current one, as in
/// `signal:signal_deliver`) demand nothing.
pub(super) fn target_task_missing(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    if !intent.asks(Concept::TargetTask) {
        return None;
    }
    // (tracepoint, the fields naming a task there) for each tracepoint whose block reads none.
    let mut unread: Vec<(String, String)> = Vec::new();
    let dead = unread_maps(source);
    for b in probe_blocks(source) {
        let reported = STRING
            .replace_all(&without_stores(reported_in(&b.body), &dead), "\"\"")
            .into_owned();
        for p in &b.probes {
            if !p.is_tracepoint() || p.target.contains('*') {
                continue;
            }
            let Some(tp) = host.tracepoints.get(&p.target) else {
                continue;
            };
            // Its pid, or its name: `comm` of sched_wakeup and signal_generate is the target's.
            let names: Vec<&str> = tp
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|n| {
                    *n == "pid"
                        || n.ends_with("_pid")
                        || *n == "tgid"
                        || *n == "comm"
                        || n.ends_with("_comm")
                })
                .collect();
            if names.is_empty() {
                continue;
            }
            let read = args_fields(&reported);
            let reads = |name: &&str| read.iter().any(|r| r == name);
            // The acted-on task's pid when a pid is asked, its name when a name is: a victim's
            // name beside the running task's pid is no answer about the victim.
            let (pids, comms): (Vec<&str>, Vec<&str>) =
                names.iter().partition(|n| !n.ends_with("comm"));
            let asks_pid = intent.asks(Concept::Pid) && !pids.is_empty();
            let asks_name = intent.asks(Concept::ProcessName) && !comms.is_empty();
            let reads_one = match (asks_pid, asks_name) {
                (false, false) => names.iter().any(reads),
                _ => {
                    (!asks_pid || pids.iter().any(reads)) && (!asks_name || comms.iter().any(reads))
                }
            };
            if !reads_one {
                let fields: Vec<String> = names.iter().map(|n| format!("`args->{n}`")).collect();
                unread.push((p.target.clone(), fields.join(" or ")));
            }
        }
    }
    if unread.is_empty() {
        return None;
    }
    Some(format!(
        "the request is about the task acted on (the one signalled, killed or woken), but where the program attaches to {} it reports only the task running the probe (`pid`, `comm`): the event names the acted-on task in {}; print that",
        unread
            .iter()
            .map(|(tp, _)| tp.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        unread
            .iter()
            .map(|(tp, fields)| format!("{fields} of {tp}"))
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

/// A request for the child's pid or name ([`Concept::ChildTask`]) answered where processes are
/// created ([`creates_processes_only`]) with nothing that names the child: there the running
/// task is the parent. The child is `child_pid`/`child_comm` of sched:sched_process_fork, the
/// `pid`/`comm` fields of task:task_newtask, or fork's return value at a `sys_exit_*` of a
/// fork-like call (fork(2)).
///
/// A request for new threads that asks for an ID ("with the thread ID") asks for the new
/// thread's: its pid field (the kernel's task ID, which `tid` is for the running task).
pub(super) fn child_task_missing(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    let new_thread_id = intent.asks_new_thread_id();
    if !intent.asks_for_new_task() || !creates_processes_only(host, source) {
        return None;
    }
    let names_child = probe_blocks(source).into_iter().any(|b| {
        let read = args_fields(&reported_in(&b.body));
        let reads = |f: &str| read.iter().any(|r| r == f);
        b.probes.iter().any(|p| match p.target.as_str() {
            "sched:sched_process_fork" => {
                reads("child_pid") || (!new_thread_id && reads("child_comm"))
            }
            "task:task_newtask" => reads("pid") || (!new_thread_id && reads("comm")),
            t => t.starts_with("syscalls:sys_exit_") && reads("ret"),
        })
    });
    (!names_child).then(|| {
        "the request asks for the new task's ID or name, but where a task is created the task running the probe (`pid`, `tid`, `comm`) is its creator: the new one is `args->pid` and `args->comm` of tracepoint:task:task_newtask, `args->child_pid` and `args->child_comm` of tracepoint:sched:sched_process_fork, or the return value (`args->ret`) of fork/clone at their sys_exit_* tracepoints".to_owned()
    })
}

/// A request for the new task answered with fork's result at a `sys_exit_*` of a fork-like
/// call ([`child_task_missing`]) that does not keep only results above 0: fork(2) "On
/// success, the PID of the child process is returned in the parent, and 0 is returned in the
/// child. On failure, -1 is returned in the parent" (-errno at the tracepoint). The child's
/// own return, and every failure, would be reported as a new task.
pub(super) fn child_return_unfiltered(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
) -> Option<String> {
    if !intent.asks_for_new_task() || !creates_processes_only(host, source) {
        return None;
    }
    let code = strip_comments(source);
    let unfiltered: Vec<String> = probe_blocks(&code)
        .into_iter()
        .filter(|b| {
            let reads_ret = args_fields(&reported_in(&b.body))
                .iter()
                .any(|f| f == "ret");
            reads_ret && !code.get(b.span.clone()).is_some_and(keeps_positive_result)
        })
        .flat_map(|b| b.probes)
        .filter(|p| p.target.starts_with("syscalls:sys_exit_"))
        .map(|p| format!("tracepoint:{}", p.target))
        .collect();
    (!unfiltered.is_empty()).then(|| {
        format!(
            "the program reports fork's result as the new task at {}, but it returns 0 in the child and -errno on failure (fork(2)): keep only `args->ret > 0`, the child's PID as the parent sees it",
            unfiltered.join(", ")
        )
    })
}

/// Whether `text` keeps only a positive result (`args->ret > 0`, `>= 1`, `0 < args->ret`).
pub fn keeps_positive_result(text: &str) -> bool {
    static POSITIVE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"args\s*->\s*ret\s*(>\s*0\b|>=\s*1\b)|\b0\s*<\s*args\s*->\s*ret\b")
            .expect("static regex")
    });
    POSITIVE.is_match(text)
}

/// A request about both tasks of an event (the waker and the woken, the sender and the target: the
/// acting task with [`Concept::TargetTask`]) that reports only the one the event names: the
/// acting task is the one running the probe, `comm`/`pid` (not `args->comm`).
pub(super) fn acting_task_missing(intent: &Intent, reported: &str) -> Option<String> {
    if !(intent.asks(Concept::ActingTask) && intent.asks(Concept::TargetTask)) {
        return None;
    }
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"args\s*(->|\.)\s*\w+").expect("static regex"));
    static OWN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(comm|pid|tid|curtask)\b").expect("static regex"));
    let own = FIELD.replace_all(reported, "");
    (!OWN.is_match(&own)).then(|| {
        "the request asks about both tasks (the one acting and the one acted on), but the program reports only the task the event names (its args fields): the acting task is the one running the probe, `comm` and `pid`; report both".to_owned()
    })
}

/// A request about new threads answered with every new task: the events that see a thread
/// created (sched:sched_process_fork, task:task_newtask, clone/clone3) fire for new processes
/// too, and only CLONE_THREAD (0x10000, clone(2)) in the clone flags tells them apart, unless
/// the program watches pthread_create(3) itself. `code` is the program without comments and
/// string contents.
pub(super) fn threads_untold(
    host: &HostFacts,
    intent: &Intent,
    source: &str,
    code: &str,
) -> Option<String> {
    static TELLS_THREADS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)0x0*10000\b|\b65536\b|CLONE_THREAD|pthread_create|thrd_create")
            .expect("static regex")
    });
    if !intent.asks(Concept::NewThreads) {
        return None;
    }
    const HOW: &str = "sched_process_fork, task_newtask and clone() fire for both. Keep only tasks created with CLONE_THREAD (0x10000, clone(2)): `args->clone_flags & 0x10000` in tracepoint:task:task_newtask, or attach to pthread_create in libc";
    if !TELLS_THREADS.is_match(code) {
        return Some(format!(
            "the request asks for new threads, but the program cannot tell a thread from a process: {HOW}"
        ));
    }
    // Each block that reports task creation must itself keep threads only: one block that
    // tests the flag does not stop another from printing every new process.
    let creates = creates_process(host);
    let untold: Vec<String> = probe_blocks(source)
        .iter()
        .filter(|b| b.body.contains("printf") || b.body.contains('@'))
        .filter(|b| {
            let text = strip_comments(source.get(b.span.clone()).unwrap_or_default());
            !TELLS_THREADS.is_match(&text)
        })
        .flat_map(|b| b.probes.iter().filter(|p| creates(p)))
        .map(|p| format!("tracepoint:{}", p.target))
        .collect();
    (!untold.is_empty()).then(|| {
        format!(
            "the request asks for new threads, but the block of {} reports every new task, processes too: {HOW}",
            untold.join(", ")
        )
    })
}
