//! The binaries as a user runs them: `kgentd` started as a process (flags, socket, store), and
//! `kgentctl` against it: output, exit codes, history, and `eval` on a task file written here.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kgent_tests::{workspace_bin, GOOD_OPENAT};

struct Kgentd {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Kgentd {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn start_kgentd(replies: &[&str]) -> Kgentd {
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("replies.json");
    std::fs::write(&script, serde_json::to_string(replies).expect("json")).expect("write");
    let socket = dir.path().join("k.sock");
    let child = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "--backend", "scripted"])
        .arg("--scripted-replies")
        .arg(&script)
        .arg("--socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--pin-root")
        .arg(kgent_tests::test_pin_root(dir.path()))
        .stderr(Stdio::null())
        .spawn()
        .expect("kgentd");
    let t = Instant::now();
    while !socket.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "kgentd did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Kgentd {
        child,
        socket,
        _dir: dir,
    }
}

fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(workspace_bin("kgentctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("kgentctl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn print_config_is_a_complete_config_file() {
    let out = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "--print-config"])
        .output()
        .expect("kgentd");
    assert!(out.status.success());
    let cfg = text(&out.stdout);
    for key in [
        "socket = \"/run/kgent/kgent.sock\"",
        "max_iterations = 5",
        "max_request_bytes = 16384",
        "backend = \"embedded\"",
    ] {
        assert!(cfg.contains(key), "missing {key}:\n{cfg}");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("kgentd.toml");
    std::fs::write(&f, &cfg).expect("write");
    let again = Command::new(workspace_bin("kgentd"))
        .arg("--config")
        .arg(&f)
        .arg("--print-config")
        .output()
        .expect("kgentd");
    assert_eq!(
        text(&again.stdout),
        cfg,
        "the printed config reads back unchanged"
    );
    std::fs::write(&f, "[agent]\nmax_iteratons = 3\n").expect("write");
    let bad = Command::new(workspace_bin("kgentd"))
        .arg("--config")
        .arg(&f)
        .arg("--print-config")
        .output()
        .expect("kgentd");
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("max_iteratons"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn ask_prints_the_program_and_exit_codes_mean_something() {
    let bad = "```bpftrace\ntracepoint:nope:nothing { }\n```";
    let d = start_kgentd(&[GOOD_OPENAT, bad]);
    let out = ctl(&d.socket, &["ask", "print every file that gets opened"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("tracepoint:syscalls:sys_enter_openat"));
    assert!(text(&out.stderr).contains("bpftrace-load"));

    // The scripted model now repeats a program that cannot load: no answer, exit 3.
    let out = ctl(
        &d.socket,
        &["ask", "--max-iterations", "2", "count nothing"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("does not exist on this kernel"));

    // Rejected request: exit 5.
    let huge = "x".repeat(20_000);
    let out = ctl(&d.socket, &["ask", &huge]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));

    // JSON for scripts.
    let out = ctl(
        &d.socket,
        &["ask", "--json", "--max-iterations", "1", "again"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert!(
        v.to_string().contains("no_answer")
            || v.to_string().contains("NoAnswer")
            || v.to_string().contains("reason"),
        "{v}"
    );

    // History lists all three recorded requests (the rejected one was never recorded).
    let out = ctl(&d.socket, &["history", "--json"]);
    assert!(out.status.success());
    let h = text(&out.stdout);
    assert_eq!(h.matches("\"id\"").count(), 3, "{h}");

    let out = ctl(&d.socket, &["host"]);
    assert!(out.status.success());
    let host = text(&out.stdout);
    assert!(
        host.contains("kprobe") && host.contains("tracepoint"),
        "{host}"
    );
}

#[test]
fn a_query_with_unquoted_non_ascii_text_is_a_clear_error_not_a_panic() {
    let out = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "query"])
        .arg("SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE comm == µ")
        .output()
        .expect("kgentd");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
    assert!(
        stderr.contains("the query does not parse: unexpected `µ`")
            && stderr.contains("double quotes"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no program printed: {}",
        text(&out.stdout)
    );
    // Quoted, the same text is a string the query compares with.
    let quoted = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "query"])
        .arg("SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE comm == \"µ\"")
        .output()
        .expect("kgentd");
    assert!(quoted.status.success(), "{}", text(&quoted.stderr));
    assert!(
        text(&quoted.stdout).contains("comm == \"µ\""),
        "{}",
        text(&quoted.stdout)
    );
}

#[test]
fn an_unreachable_daemon_is_exit_4_with_advice() {
    let out = ctl(Path::new("/nonexistent/kgent.sock"), &["host"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("/nonexistent/kgent.sock"));
}

#[test]
fn eval_scores_a_task_file_end_to_end() {
    // Tasks written for this test: one the scripted answer solves, one it cannot (the expected
    // text never appears), one infeasible.
    let d = start_kgentd(&[GOOD_OPENAT]);
    let dir = tempfile::tempdir().expect("tmp");
    let tasks = dir.path().join("tasks.toml");
    std::fs::write(
        &tasks,
        r#"
[[task]]
id = "opens"
prompt = "show every file that gets opened"
feasible = true
why_infeasible = ""
trigger = "cat /tmp/kgent-cli-eval-marker 2>/dev/null; true"
settle_s = 1
expect = ['kgent-cli-eval-marker']
reject = []

[[task]]
id = "wrong"
prompt = "show every file that gets opened, with its size"
feasible = true
why_infeasible = ""
trigger = "true"
settle_s = 0
expect = ['this text never appears']
reject = []

[[task]]
id = "cycles"
prompt = "count CPU cycles per process"
feasible = false
why_infeasible = "no hardware counters"
trigger = "true"
expect = []
reject = []
"#,
    )
    .expect("write");
    let json = dir.path().join("out.json");
    let out = ctl(
        &d.socket,
        &[
            "eval",
            tasks.to_str().expect("path"),
            "--json",
            json.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{table}"))
            .to_owned()
    };
    assert!(line("opens").contains("correct"), "{table}");
    assert!(
        line("wrong").to_lowercase().contains("fp") || line("wrong").contains("false positive"),
        "{table}"
    );
    assert!(line("cycles").contains("correct"), "{table}");
    assert!(json.exists());
}

/// Runs `kgentd intent REQUEST --program FILE` on `program` (written to a temporary file):
/// its exit code and stdout.
fn judge_with_intent(request: &str, program: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prog.bt");
    std::fs::write(&path, program).expect("write");
    let out = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "intent"])
        .arg(request)
        .arg("--program")
        .arg(&path)
        .output()
        .expect("kgentd");
    (out.status.code(), text(&out.stdout))
}

/// `kgentd intent --program`: the static checks judge a program against the request on this
/// host's catalog; exit 0 when both pass, 1 with the missing item named.
#[test]
fn kgentd_intent_judges_a_program_against_the_request() {
    let judge = |program: &str| judge_with_intent("tally chdir calls per process name", program);
    let (code, out) = judge("tracepoint:syscalls:sys_enter_chdir { @[comm] = count(); }");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("request-coverage passed"), "{out}");
    assert!(out.contains("request-subject passed"), "{out}");
    // One line per call where a tally was asked: refused, saying what is missing.
    let (code, out) = judge("tracepoint:syscalls:sys_enter_chdir { printf(\"%s\\n\", comm); }");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("request-coverage FAILED") && out.contains("count()"),
        "{out}"
    );
    // Another call than the one named.
    let (code, out) = judge("tracepoint:syscalls:sys_enter_mkdir { @[comm] = count(); }");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sys_enter_chdir"), "{out}");
}

/// An outgoing connection is connect(2)'s (an active open, SYN_SENT in tcp(7)): a TCP event
/// that fires on sends and acks (tcp:tcp_probe) is a neighbour, refused by the subject check.
#[test]
fn kgentd_intent_refuses_a_neighbouring_tcp_event_for_outgoing_connections() {
    let outgoing = "which programs open outgoing connections, and to which remote port";
    let (code, out) = judge_with_intent(
        outgoing,
        "tracepoint:tcp:tcp_probe { printf(\"%s %d\\n\", comm, args->dport); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("request-subject FAILED"), "{out}");
    let state_change = "tracepoint:sock:inet_sock_set_state /args->newstate == 2/ { printf(\"%s %d\\n\", comm, args->dport); }";
    let (code, out) = judge_with_intent(outgoing, state_change);
    assert_eq!(code, Some(0), "{out}");
    // Incoming ones are accept(2)'s, the passive open.
    let incoming = "list incoming connections to local servers with the client port";
    let (code, out) = judge_with_intent(incoming, state_change);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = judge_with_intent(
        incoming,
        "tracepoint:tcp:tcp_probe { printf(\"%d\\n\", args->sport); }",
    );
    assert_eq!(code, Some(1), "{out}");
    // "New connections", either way: a state change or connect/accept, not tcp_probe.
    let new_ones = "every new tcp connection my services make, with the peer port";
    let (code, out) = judge_with_intent(
        new_ones,
        "tracepoint:tcp:tcp_probe { printf(\"%s %d\\n\", comm, args->dport); }",
    );
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = judge_with_intent(new_ones, state_change);
    assert_eq!(code, Some(0), "{out}");
}

/// An event of the same tracefs system whose name is part of the program's event's name, and
/// says what the request says, is the one asked for: `kmem:mm_page_alloc_zone_locked` fires
/// only for allocations taken under the zone lock; `sched:sched_wakeup_new` only for new tasks.
#[test]
fn kgentd_intent_refuses_a_narrower_sibling_event() {
    let request = "count page allocations per process name";
    let (code, out) = judge_with_intent(
        request,
        "tracepoint:kmem:mm_page_alloc_zone_locked { @[comm] = count(); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("request-subject FAILED") && out.contains("tracepoint:kmem:mm_page_alloc is"),
        "{out}"
    );
    let (_, out) = judge_with_intent(
        request,
        "tracepoint:kmem:mm_page_alloc { @[comm] = count(); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
    // The extra word said: the narrower event is the one asked for.
    let wakeup_new =
        "tracepoint:sched:sched_wakeup_new { printf(\"%s %d\\n\", args->comm, args->pid); }";
    let (_, out) = judge_with_intent(
        "list new tasks as they are woken for the first time",
        wakeup_new,
    );
    assert!(!out.contains("narrower event"), "{out}");
    let (_, out) = judge_with_intent("list each task the scheduler wakes, by name", wakeup_new);
    assert!(out.contains("tracepoint:sched:sched_wakeup is"), "{out}");
    // An irregular form of the verb ("woken", specs-db/word-forms.toml) speaks of it too.
    let (_, out) = judge_with_intent("which tasks got woken, and their pid", wakeup_new);
    assert!(out.contains("tracepoint:sched:sched_wakeup is"), "{out}");
}

/// A name the vocabulary gives the request's words ("high-resolution" is `hrtimer`,
/// Documentation/timers/hrtimers.rst) picks the event spelled with it: "high-resolution timer
/// starts" is timer:hrtimer_start, not timer:timer_start (the timer wheel's).
#[test]
fn kgentd_intent_reads_high_resolution_timers_as_hrtimers() {
    let request = "tally high-resolution timer starts by program";
    let (code, out) = judge_with_intent(
        request,
        "tracepoint:timer:timer_start { @[comm] = count(); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("hrtimer_start"), "{out}");
    let (_, out) = judge_with_intent(
        request,
        "tracepoint:timer:hrtimer_start { @[comm] = count(); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
}

/// An event named for what the request does not say, beside a sibling of the same tracefs
/// system named for what it does: work that is queued is not work that runs.
#[test]
fn kgentd_intent_refuses_an_event_the_request_does_not_name_beside_one_it_does() {
    let request = "which kworker callbacks actually ran in the last minute, by callback";
    let queued = "tracepoint:workqueue:workqueue_queue_work { @[ksym(args->function)] = count(); }";
    let (code, out) = judge_with_intent(
        "tally the workqueue jobs that got executed, with their function",
        queued,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("request-subject FAILED")
            && out.contains("workqueue_execute_")
            && out.contains("\"execute\""),
        "{out}"
    );
    // Said: the queueing is what is asked for.
    let (_, out) = judge_with_intent(
        "tally the work items queued on each workqueue, with their function",
        queued,
    );
    assert!(
        !out.contains("is named for what the request does not say"),
        "{out}"
    );
    // A request that names neither leaves the choice to the other checks.
    let (_, out) = judge_with_intent(request, queued);
    assert!(
        !out.contains("is named for what the request does not say"),
        "{out}"
    );
    // One word among many of a sibling's name does not name it: block_rq_issue for "block
    // I/O requests" is not blk_zone_append_update_request_bio's.
    let (_, out) = judge_with_intent(
        "tally disk requests by whether they read or write",
        "tracepoint:block:block_rq_issue { @[args->rwbs] = count(); }",
    );
    assert!(
        !out.contains("is named for what the request does not say"),
        "{out}"
    );
    // A phase the request says sets events apart too: finished requests are not issued ones.
    let (_, out) = judge_with_intent(
        "a histogram of the sizes of disk requests as they complete, in sectors",
        "tracepoint:block:block_rq_issue { @ = hist(args->nr_sector); }",
    );
    assert!(
        out.contains("is named for what the request does not say")
            && out.contains("block_rq_complete"),
        "{out}"
    );
    // A grouping phrase names a key, not the event ("per work item" is no `work` event).
    let (_, out) = judge_with_intent(
        "count workqueue runs started, per work item",
        "tracepoint:workqueue:workqueue_execute_start { @[args->work] = count(); }",
    );
    assert!(
        !out.contains("is named for what the request does not say"),
        "{out}"
    );
}

#[test]
fn kgentd_intent_shows_how_a_request_is_read_with_each_rules_source() {
    let out = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "intent"])
        .arg("how long does each fdatasync() take for tasks called 'db1', in µs")
        .output()
        .expect("kgentd");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        "Duration  (",
        "calls written as calls: fdatasync",
        "process name filtered on: db1",
        "time unit: us",
    ] {
        assert!(stdout.contains(want), "{want} missing:\n{stdout}");
    }
    // A request that asks for nothing the vocabulary names says so.
    let plain = Command::new(workspace_bin("kgentd"))
        .args(["--config", "/dev/null", "intent", "trace things"])
        .output()
        .expect("kgentd");
    assert!(text(&plain.stdout).contains("asks for: nothing the vocabulary names"));
}

/// A function of a library the request names is observed only by a uprobe on it: a syscall
/// tracer is refused, naming the uprobe; the uprobe program passes.
#[test]
fn kgentd_intent_holds_a_named_library_function_to_a_uprobe() {
    let request = "how slow is gethostbyname in the C library for each program";
    let (code, out) = judge_with_intent(
        request,
        "tracepoint:raw_syscalls:sys_enter { @s[tid] = nsecs; }\ntracepoint:raw_syscalls:sys_exit /@s[tid]/ { @us[comm] = hist((nsecs - @s[tid]) / 1000); delete(@s[tid]); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("request-subject FAILED") && out.contains(":gethostbyname"),
        "{out}"
    );
    let (_, out) = judge_with_intent(
        request,
        "uprobe:libc:gethostbyname { @s[tid] = nsecs; }\nuretprobe:libc:gethostbyname /@s[tid]/ { @us[comm] = hist((nsecs - @s[tid]) / 1000); delete(@s[tid]); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
    // An everyday word that is also a libc function ("error") is no such subject.
    let (_, out) = judge_with_intent(
        "count openat calls that end in an error, per program",
        "tracepoint:syscalls:sys_exit_openat /args->ret < 0/ { @[comm] = count(); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
}

/// A word only one attach point relevant to the request has in its name is what the request
/// is about (signal_generate for signals the kernel generates), unless the request names its
/// syscall; a program filtering on the process name a subject names covers it.
#[test]
fn kgentd_intent_holds_a_rare_word_to_the_attach_point_named_for_it() {
    let request = "list the signals generated for tasks, with the receiving pid";
    let (code, out) = judge_with_intent(
        request,
        "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", args->pid, args->sig); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("signal:signal_generate"), "{out}");
    let (_, out) = judge_with_intent(
        request,
        "tracepoint:signal:signal_generate { printf(\"%d %d\\n\", args->pid, args->sig); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
    let (_, out) = judge_with_intent(
        "which files do bash shells open",
        "tracepoint:syscalls:sys_enter_openat /comm == \"bash\"/ { printf(\"%s\\n\", str(args->filename)); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
}

/// A kernel name written as two English words ("work queue" for the `workqueue` system) is
/// held like the name itself: a program on another system's events is not about it.
#[test]
fn kgentd_intent_holds_a_kernel_name_written_apart() {
    let request = "how often does something get put on a work queue, per function?";
    let (code, out) = judge_with_intent(
        request,
        "tracepoint:timer:timer_start { @[ksym(args->function)] = count(); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("workqueue"), "{out}");
    let (_, out) = judge_with_intent(
        request,
        "tracepoint:workqueue:workqueue_queue_work { @[ksym(args->function)] = count(); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
}

/// A request that writes every word of an event's name (signal + generate) asks about that
/// event, even when it also names a syscall, which otherwise turns off the rare-word hold.
#[test]
fn kgentd_intent_holds_an_event_whose_name_the_request_spells() {
    let request =
        "not just kill(2): each signal the kernel generates for any task, with its number";
    let (code, out) = judge_with_intent(
        request,
        "tracepoint:syscalls:sys_enter_kill { printf(\"%d %d\\n\", args->pid, args->sig); }",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("subject held"), "{out}");
    assert!(out.contains("signal:signal_generate"), "{out}");
    let (_, out) = judge_with_intent(
        request,
        "tracepoint:signal:signal_generate { printf(\"%d %d\\n\", args->pid, args->sig); }",
    );
    assert!(out.contains("request-subject passed"), "{out}");
}
