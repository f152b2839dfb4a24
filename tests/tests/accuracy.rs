//! The accuracy engine against the real kernel: the reply grammar (with the real model's
//! vocabulary), the smoke run (a real program under the real trigger workload), deterministic
//! repairs and honest refusals. Model replies are scripted where a model is needed.
use kgent_tests::{ask_all, final_answer, final_no_answer, proto, TestDaemon, GOOD_OPENAT};
use kgentd::config::ModelConfig;
use kgentd::host::HostFacts;
use kgentd::toolchain::grammar::{gbnf, AllowedProbe};

fn check<'a>(events: &'a [proto::AskEvent], name: &str, iteration: u32) -> &'a proto::CheckResult {
    events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Check(c))
                if c.name == name && c.iteration == iteration =>
            {
                Some(c)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {name} check at iteration {iteration}: {events:#?}"))
}

#[test]
fn the_grammar_cannot_spell_an_invented_tracepoint_or_a_field_the_probe_lacks() {
    let model = ModelConfig::default().path;
    assert!(
        model.exists(),
        "{} is missing: fetch it with `bash setup.sh --no-build`",
        model.display()
    );
    let host = HostFacts::discover(std::path::Path::new("bpftrace"));
    let allowed: Vec<AllowedProbe> = ["syscalls:sys_enter_openat", "syscalls:sys_exit_openat"]
        .iter()
        .map(|n| {
            let tp = host
                .tracepoints
                .get(*n)
                .expect("openat tracepoints exist here");
            AllowedProbe::tracepoint(
                tp.probe(),
                tp.fields.iter().map(|f| f.name.clone()).collect(),
            )
        })
        .collect();
    let grammar = gbnf(&allowed).expect("a grammar");
    let accepts = |body: &str| {
        kgentd::llm::grammar_accepts(&model, &grammar, &format!("```bpftrace\n{body}\n```"))
            .expect("grammar check")
    };

    // What a correct program looks like is accepted, in the shapes models write.
    for good in [
        "tracepoint:syscalls:sys_enter_openat { printf(\"%d %s %s\\n\", pid, comm, str(args->filename)); }",
        "tracepoint:syscalls:sys_enter_openat\n{\n  @fname[tid] = args->filename;\n}\n\ntracepoint:syscalls:sys_exit_openat\n/@fname[tid]/\n{\n  if (args->ret < 0) {\n    printf(\"%s %d\\n\", str(@fname[tid]), -args->ret);\n  }\n  delete(@fname[tid]);\n}",
        "BEGIN { printf(\"tracing\\n\"); }\ntracepoint:syscalls:sys_exit_openat { @[comm] = count(); }\nEND { print(@); }",
    ] {
        assert!(accepts(good), "a valid program was refused:\n{good}");
    }
    // Invented attach points, fields from another probe, unavailable families, C-isms.
    for bad in [
        "tracepoint:syscalls:sys_enter_open_file { printf(\"%d\\n\", pid); }",
        "tracepoint:tcp:tcp_syn { printf(\"%d\\n\", pid); }",
        "kprobe:do_sys_openat2 { printf(\"%d\\n\", pid); }",
        "tracepoint:syscalls:sys_enter_openat { printf(\"%d\\n\", args->ret); }",
        "tracepoint:syscalls:sys_exit_openat { printf(\"%s\\n\", str(args->filename)); }",
        "tracepoint:syscalls:sys_enter_openat { if (pid == 1) { continue; } }",
        "tracepoint:syscalls:sys_enter_openat { int x = 1; }",
        "tracepoint:syscalls:sys_enter_openat { x = 1; }",
        "tracepoint:syscalls:sys_enter_openat { printf(\"%d\\n\", ntohs(pid)); }",
        "BEGIN { printf(\"nothing observed\\n\"); }",
        "tracepoint:syscalls:sys_exit_openat { @[comm] = count(); }\nprofile:hz:99 { @s[comm] = count(); }",
        "BEGIN { printf(\"a\\n\"); }\nBEGIN { printf(\"b\\n\"); }\ntracepoint:syscalls:sys_exit_openat { @[comm] = count(); }",
    ] {
        assert!(!accepts(bad), "the grammar let this through:\n{bad}");
    }
}

#[tokio::test]
async fn a_candidate_that_loads_but_observes_nothing_fails_its_smoke_run() {
    // The workload opens files all the time, but this program's own condition is never true:
    // it observes the right event, loads, attaches and stays silent.
    let silent = "```bpftrace\ntracepoint:syscalls:sys_enter_openat { $fd = args->dfd; if ($fd == 424242) { printf(\"%d %s %s\\n\", pid, comm, str(args->filename)); } }\n```";
    let d = TestDaemon::scripted(&[silent, GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "print the pid, process name and path of every file that gets opened",
        4,
    )
    .await
    .expect("ask");
    assert!(check(&events, "bpftrace-load", 1).passed);
    let smoke = check(&events, "smoke-run", 1);
    assert!(!smoke.passed);
    assert!(smoke.detail.contains("printed nothing"), "{}", smoke.detail);
    let answer = final_answer(&events).expect("the second candidate is answered");
    assert_eq!(answer.iterations, 2);
    let smoke = answer
        .checks
        .iter()
        .find(|c| c.name == "smoke-run")
        .expect("the answer carries its smoke run");
    assert!(smoke.passed);
    assert!(smoke.detail.contains("kgent-smoke"), "{}", smoke.detail);
    d.stop().await;
}

/// A daemon replaying `replies`, with the subject check on (it is off by default).
async fn scripted_with_subject_check(replies: &[&str]) -> TestDaemon {
    let backend = kgentd::llm::ScriptedBackend::new(
        "test script",
        replies.iter().map(|s| s.to_string()).collect(),
    )
    .expect("replies");
    TestDaemon::with_backend(std::sync::Arc::new(backend), |c| {
        c.agent.subject_check = true
    })
    .await
}

#[tokio::test]
async fn a_probe_the_workload_never_provokes_is_answered_as_not_exercised() {
    // Nothing in the smoke workload turns swap on: a smoke run would print nothing, right or
    // wrong. The answer carries no smoke-run check and the transcript says why.
    let swapon = "```bpftrace\ntracepoint:syscalls:sys_enter_swapon { printf(\"%d %s %s\\n\", pid, comm, str(args->specialfile)); }\n```";
    let d = TestDaemon::scripted(&[swapon]).await;
    let events = ask_all(
        &mut d.client().await,
        "show every swapon by pid and process name",
        2,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).unwrap_or_else(|| panic!("answered: {events:#?}"));
    assert!(
        answer.checks.iter().all(|c| c.name != "smoke-run"),
        "{:?}",
        answer.checks
    );
    let said = events.iter().any(|e| match &e.event {
        Some(proto::ask_event::Event::Progress(p)) => p.detail.contains("not exercised"),
        _ => false,
    });
    assert!(said, "{events:#?}");
    d.stop().await;
}

#[tokio::test]
async fn a_program_on_a_neighbouring_event_fails_the_subject_check_with_the_right_probe() {
    // Page allocations load, run and print under any workload, but the request is about the
    // slab allocator's caches.
    let pages = "```bpftrace\ntracepoint:kmem:mm_page_alloc { @[comm] = count(); }\n```";
    let slab = "```bpftrace\ntracepoint:kmem:kmem_cache_alloc { @[comm] = count(); }\n```";
    let d = scripted_with_subject_check(&[pages, slab]).await;
    let events = ask_all(
        &mut d.client().await,
        "tally slab cache allocations for every command",
        4,
    )
    .await
    .expect("ask");
    let subject = check(&events, "request-subject", 1);
    assert!(!subject.passed);
    assert!(
        subject.detail.contains("tracepoint:kmem:kmem_cache_alloc"),
        "the failure names the attach point that observes it: {}",
        subject.detail
    );
    let answer = final_answer(&events).expect("the second candidate is answered");
    assert_eq!(answer.iterations, 2);
    let subject = answer
        .checks
        .iter()
        .find(|c| c.name == "request-subject")
        .expect("the answer carries its subject check");
    assert!(
        subject.passed && subject.detail.contains("slab"),
        "{}",
        subject.detail
    );
    d.stop().await;
}

#[tokio::test]
async fn an_event_named_in_plain_words_is_the_one_to_trace() {
    // "CPU frequency" writes power:cpu_frequency's name apart; "frequency" alone would be a
    // rate. A program on another power event loads and runs, but is not that event.
    let idle = "```bpftrace\ntracepoint:power:cpu_idle { printf(\"%d\\n\", cpu); }\n```";
    let freq = "```bpftrace\ntracepoint:power:cpu_frequency { printf(\"%u %u\\n\", args->cpu_id, args->state); }\n```";
    // The default configuration: a spelled event is checked whatever the configuration says.
    let d = TestDaemon::scripted(&[idle, freq]).await;
    let events = ask_all(
        &mut d.client().await,
        "whenever the cpu frequency of a core goes up or down, print the core and its kHz",
        4,
    )
    .await
    .expect("ask");
    let subject = check(&events, "request-subject", 1);
    assert!(
        !subject.passed && subject.detail.contains("tracepoint:power:cpu_frequency"),
        "{}",
        subject.detail
    );
    let answer = final_answer(&events).unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(answer.iterations, 2);
    d.stop().await;
}

#[tokio::test]
async fn an_event_the_vocabulary_names_is_not_answered_on_a_neighbour_sharing_its_words() {
    // "Socket state change" names inet_sock_set_state (include/trace/events/sock.h): a tcp
    // event with "state" in its name (congestion state) loads and runs, but is another event.
    let cong = "```bpftrace\ntracepoint:tcp:tcp_cong_state_set { printf(\"%d %d\\n\", args->sport, args->cong_state); }\n```";
    let sock = "```bpftrace\ntracepoint:sock:inet_sock_set_state { printf(\"%d %d %d\\n\", args->sport, args->oldstate, args->newstate); }\n```";
    let d = TestDaemon::scripted(&[cong, sock]).await;
    let events = ask_all(
        &mut d.client().await,
        "print every socket state change on this machine: its local port, the state before and the state after",
        4,
    )
    .await
    .expect("ask");
    let subject = check(&events, "request-subject", 1);
    assert!(
        !subject.passed
            && subject
                .detail
                .contains("tracepoint:sock:inet_sock_set_state"),
        "{}",
        subject.detail
    );
    let answer = final_answer(&events).unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(answer.iterations, 2);
    d.stop().await;
}

#[tokio::test]
async fn a_request_no_candidate_observes_gets_no_answer_naming_its_subject() {
    // Every draft traces a neighbour: the ask ends without an answer, saying what it was about.
    let neighbour = "```bpftrace\ntracepoint:syscalls:sys_enter_fsync { @[comm] = count(); }\n```";
    let d = scripted_with_subject_check(&[neighbour, neighbour, neighbour]).await;
    let events = ask_all(
        &mut d.client().await,
        "who creates new network namespaces",
        3,
    )
    .await
    .expect("ask");
    let none = final_no_answer(&events).expect("no answer");
    assert!(
        none.reason.contains("namespaces") && none.reason.contains("unshare"),
        "{}",
        none.reason
    );
    d.stop().await;
}

#[tokio::test]
async fn an_answer_to_a_neighbouring_question_fails_request_coverage() {
    // A read latency histogram loads and runs fine, but the request is about returned sizes.
    let latency = "```bpftrace\ntracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }\ntracepoint:syscalls:sys_exit_read /@start[tid]/ { @usecs[comm] = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }\n```";
    let sizes = "```bpftrace\ntracepoint:syscalls:sys_exit_read /args->ret > 0/ { @bytes[comm] = hist(args->ret); }\n```";
    let d = TestDaemon::scripted(&[latency, sizes]).await;
    let events = ask_all(
        &mut d.client().await,
        "for each process name, a histogram of the byte counts read() calls returned",
        4,
    )
    .await
    .expect("ask");
    let coverage = check(&events, "request-coverage", 1);
    assert!(!coverage.passed);
    assert!(
        coverage.detail.contains("return value") && coverage.detail.contains("args->ret"),
        "{}",
        coverage.detail
    );
    let answer = final_answer(&events).expect("the second candidate is answered");
    assert_eq!(answer.iterations, 2);
    assert!(
        answer.checks.iter().all(|c| c.passed || c.inconclusive),
        "{:?}",
        answer.checks
    );
    d.stop().await;
}

#[tokio::test]
async fn ports_printed_in_network_byte_order_fail_the_smoke_run() {
    // inet_sock_set_state's dport is already in host order: swapping it is the classic mistake.
    let swapped = "```bpftrace\ntracepoint:sock:inet_sock_set_state /args->newstate == 1/ { printf(\"%s port %d\\n\", comm, ((args->dport & 0xff) << 8) | (args->dport >> 8)); }\n```";
    let d = TestDaemon::scripted(&[swapped]).await;
    let events = ask_all(
        &mut d.client().await,
        "show each new TCP connection with the process and destination port",
        1,
    )
    .await
    .expect("ask");
    let smoke = check(&events, "smoke-run", 1);
    assert!(!smoke.passed);
    assert!(
        smoke.detail.contains("network byte order"),
        "{}",
        smoke.detail
    );
    assert!(final_no_answer(&events).is_some());
    d.stop().await;
}

#[tokio::test]
async fn a_pointer_used_as_a_condition_is_repaired_without_asking_again() {
    let reply = "```bpftrace\ntracepoint:syscalls:sys_enter_openat { if (args->filename) { printf(\"%d %s %s\\n\", pid, comm, args->filename); } }\n```";
    let d = TestDaemon::scripted(&[reply]).await;
    let events = ask_all(
        &mut d.client().await,
        "print the pid, process name and path of every file that gets opened",
        1,
    )
    .await
    .expect("ask");
    let answer =
        final_answer(&events).unwrap_or_else(|| panic!("repaired and answered: {events:#?}"));
    assert!(
        answer.program.contains("if (args->filename != 0)"),
        "{}",
        answer.program
    );
    assert!(
        answer.program.contains("str(args->filename)"),
        "{}",
        answer.program
    );
    assert!(answer.checks.iter().all(|c| c.passed || c.inconclusive));
    d.stop().await;
}

#[tokio::test]
async fn a_family_member_read_through_a_generic_sockaddr_is_cast_and_loads() {
    // struct sockaddr has no sin_port: bpftrace refuses it; the member is sockaddr_in's.
    let reply = "```bpftrace\ntracepoint:syscalls:sys_enter_connect /args->uservaddr->sa_family == 2/ { printf(\"%s %d\\n\", comm, args->uservaddr->sin_port); }\n```";
    let d = TestDaemon::scripted(&[reply]).await;
    let events = ask_all(
        &mut d.client().await,
        "for every IPv4 connect() show the process name and the port it connects to",
        1,
    )
    .await
    .expect("ask");
    let answer =
        final_answer(&events).unwrap_or_else(|| panic!("repaired and answered: {events:#?}"));
    assert!(
        answer
            .program
            .contains("((struct sockaddr_in *)args->uservaddr)->sin_port"),
        "{}",
        answer.program
    );
    assert!(answer.checks.iter().all(|c| c.passed || c.inconclusive));
    d.stop().await;
}

#[tokio::test]
async fn a_kernel_function_this_kernel_cannot_attach_to_is_refused_with_the_reason() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "measure how long each call to the kernel function tcp_v4_syn_recv_sock takes",
        4,
    )
    .await
    .expect("ask");
    let none = final_no_answer(&events).unwrap_or_else(|| panic!("refused: {events:#?}"));
    assert_eq!(
        none.iterations, 0,
        "refused from host facts, before any model call"
    );
    assert!(
        none.reason.contains("tcp_v4_syn_recv_sock"),
        "{}",
        none.reason
    );
    assert!(none.reason.contains("kprobes"), "{}", none.reason);
    assert!(
        none.reason.contains("tracepoint:"),
        "alternatives are named: {}",
        none.reason
    );
    // A kernel function that has a tracepoint of its own name is not refused.
    let events = ask_all(
        &mut d.client().await,
        "show every tcp_retransmit_skb event with the process name",
        1,
    )
    .await
    .expect("ask");
    assert!(final_no_answer(&events).is_none_or(|n| !n.reason.contains("kernel function")));
    // Nor is a syscall written by its kernel name: its tracepoints are sys_enter_/sys_exit_.
    let events = ask_all(
        &mut d.client().await,
        "log every sync_file_range by process name",
        1,
    )
    .await
    .expect("ask");
    assert!(final_no_answer(&events).is_none_or(|n| !n.reason.contains("kernel function")));
    d.stop().await;
}

#[tokio::test]
async fn a_filesystem_this_kernel_lacks_is_refused_with_the_reason() {
    let present = std::fs::read_to_string("/proc/filesystems").expect("/proc/filesystems");
    assert!(
        !present.split_whitespace().any(|f| f == "zfs"),
        "this test needs a host without zfs"
    );
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "show the latency of every read on my zfs datasets",
        4,
    )
    .await
    .expect("ask");
    let none = final_no_answer(&events).unwrap_or_else(|| panic!("refused: {events:#?}"));
    assert_eq!(none.iterations, 0);
    assert!(
        none.reason.contains("zfs filesystem is not available"),
        "{}",
        none.reason
    );
    d.stop().await;
}

#[tokio::test]
async fn a_system_call_this_kernel_was_built_without_is_refused() {
    // kexec_file_load(2) needs CONFIG_KEXEC_FILE: no syscall tracepoint here.
    let events = std::path::Path::new("/sys/kernel/tracing/events/syscalls");
    assert!(
        events.join("sys_enter_openat").exists()
            && !events.join("sys_enter_kexec_file_load").exists()
            && !events.join("sys_enter_kexec_load").exists(),
        "this test needs a kernel built without kexec"
    );
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "who stages a new kernel with kexec_file_load(), and which fds do they pass",
        4,
    )
    .await
    .expect("ask");
    let none = final_no_answer(&events).unwrap_or_else(|| panic!("refused: {events:#?}"));
    assert_eq!(none.iterations, 0);
    assert!(
        none.reason
            .contains("kexec_file_load() is a Linux system call")
            && none.reason.contains("built without it"),
        "{}",
        none.reason
    );
    // A call this kernel has is drafted as usual.
    let d2 = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d2.client().await,
        "every openat() call with its path",
        4,
    )
    .await
    .expect("ask");
    assert!(final_answer(&events).is_some(), "{events:#?}");
    d.stop().await;
    d2.stop().await;
}

#[tokio::test]
async fn a_driver_this_kernel_lacks_is_refused_from_host_evidence() {
    assert!(
        !std::path::Path::new("/proc/mdstat").exists()
            && !std::path::Path::new("/sys/module/md_mod").exists(),
        "this test needs a host without md (software RAID)"
    );
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "how often does my raid1 array resync a stripe",
        4,
    )
    .await
    .expect("ask");
    let none = final_no_answer(&events).unwrap_or_else(|| panic!("refused: {events:#?}"));
    assert_eq!(none.iterations, 0);
    assert!(
        none.reason.contains("no md (software RAID)") && none.reason.contains("md_mod"),
        "{}",
        none.reason
    );
    d.stop().await;
}

#[tokio::test]
async fn raw_bytes_in_a_programs_output_do_not_end_its_smoke_run() {
    // str() of a char** prints whatever bytes are there: rarely UTF-8.
    let raw = "```bpftrace\ntracepoint:syscalls:sys_enter_execve { printf(\"%s %s\\n\", comm, str(args->argv)); }\n```";
    let d = TestDaemon::scripted(&[raw]).await;
    let events = ask_all(
        &mut d.client().await,
        "log every program that gets executed with the process name",
        1,
    )
    .await
    .expect("ask");
    let smoke = check(&events, "smoke-run", 1);
    assert!(smoke.passed, "{}", smoke.detail);
    assert!(smoke.detail.contains("kgent-smoke"), "{}", smoke.detail);
    d.stop().await;
}

#[tokio::test]
async fn a_request_naming_a_tracepoint_system_is_held_to_it_by_default() {
    // "writeback" names a tracepoint system of ~35 events: too common a word to single one out,
    // but the request is about that subsystem. A syscall-latency program loads, runs and prints
    // under any workload; it fails the subject check even with the default configuration.
    let syscalls = "```bpftrace\ntracepoint:raw_syscalls:sys_enter { @s[tid] = nsecs; }\ntracepoint:raw_syscalls:sys_exit /@s[tid]/ { @us[comm] = hist((nsecs - @s[tid]) / 1000); delete(@s[tid]); }\n```";
    let d = TestDaemon::scripted(&[syscalls]).await;
    let events = ask_all(
        &mut d.client().await,
        "how long does each pass of dirty-inode writeback take, per device",
        1,
    )
    .await
    .expect("ask");
    let subject = check(&events, "request-subject", 1);
    assert!(!subject.passed, "{}", subject.detail);
    assert!(
        subject.detail.contains("tracepoint:writeback:"),
        "the failure names the subsystem's events: {}",
        subject.detail
    );
    assert!(final_no_answer(&events).is_some(), "{events:#?}");
    d.stop().await;
}

/// What the request names of the event, judged against this host's tracepoint formats: a
/// field it names must be reported, the acted-on task's pid is the event's, and a tally per
/// something keyable has a key. Each with a right program beside the wrong one.
#[test]
fn what_the_request_names_of_the_event_must_show() {
    use kgentd::check::check_coverage;
    use kgentd::intent::Intent;
    let host = HostFacts::discover(std::path::Path::new("bpftrace"));
    let judge = |request: &str, program: &str| {
        let c = check_coverage(&host, &Intent::read(request), program);
        (c.passed(), c.detail())
    };
    let cases: [(&str, &str, &str, &str); 15] = [
        (
            // power.h: cpu_frequency records the new frequency as `state`.
            "whenever a core is re-clocked, log the core and the frequency it now runs at",
            "tracepoint:power:cpu_frequency { printf(\"%u\\n\", args->cpu_id); }",
            "tracepoint:power:cpu_frequency { printf(\"%u %u\\n\", args->cpu_id, args->state); }",
            "args->state",
        ),
        (
            // "network interface" is the interface (`name`); `network_offset` is another value.
            "histogram of outgoing frame lengths, by network interface",
            "tracepoint:net:net_dev_start_xmit { @l[str(args->name), args->network_offset] = hist(args->len); }",
            "tracepoint:net:net_dev_start_xmit { @l[str(args->name)] = hist(args->len); }",
            "network_offset",
        ),
        (
            // mm_compaction_begin records zone pfns; the order is another compaction event's.
            "each time memory gets compacted for an allocation, print the order it is for",
            "tracepoint:compaction:mm_compaction_begin { printf(\"order=%lu\\n\", args->migrate_pfn - args->free_pfn); }",
            "tracepoint:compaction:mm_compaction_try_to_compact_pages { printf(\"order=%d\\n\", args->order); }",
            "mm_compaction_try_to_compact_pages",
        ),
        (
            // fcntl(2)'s `int cmd`: a "command code" is a number, not the process name.
            "tally fcntl() calls by command code and by program",
            "tracepoint:syscalls:sys_enter_fcntl { @[comm] = count(); }",
            "tracepoint:syscalls:sys_enter_fcntl { @[args->cmd, comm] = count(); }",
            "args->cmd",
        ),
        (
            // msgrcv(2)'s `size_t msgsz`: the size is printed under the kernel's short name.
            "for each msgrcv() call, the queue id and the biggest message size it takes",
            "tracepoint:syscalls:sys_enter_msgrcv { printf(\"%d\\n\", args->msqid); }",
            "tracepoint:syscalls:sys_enter_msgrcv { printf(\"%d %d\\n\", args->msqid, args->msgsz); }",
            "size",
        ),
        (
            "log each time a core goes idle, and into which idle state",
            "tracepoint:power:cpu_idle { printf(\"%d\\n\", cpu); }",
            // Not the exits from idle (state PWR_EVENT_EXIT, include/trace/events/power.h).
            "tracepoint:power:cpu_idle /args->state != 4294967295/ { printf(\"%d %d\\n\", cpu, args->state); }",
            "args->state",
        ),
        (
            "which packets get freed as drops, and the kernel's reason for each",
            "tracepoint:skb:kfree_skb { printf(\"%p\\n\", args->skbaddr); }",
            "tracepoint:skb:kfree_skb { printf(\"%p %d\\n\", args->skbaddr, args->reason); }",
            "args->reason",
        ),
        (
            "when memory runs out, print the pid of the victim the kernel picks",
            "tracepoint:oom:mark_victim { printf(\"%d %s\\n\", pid, str(args->comm)); }",
            "tracepoint:oom:mark_victim { printf(\"%d\\n\", args->pid); }",
            "args->pid",
        ),
        (
            "time spent in bottom halves, one histogram per vector",
            "tracepoint:irq:softirq_entry { @s[tid] = nsecs; } tracepoint:irq:softirq_exit /@s[tid]/ { @t = hist(nsecs - @s[tid]); delete(@s[tid]); }",
            "tracepoint:irq:softirq_entry { @s[tid] = nsecs; } tracepoint:irq:softirq_exit /@s[tid]/ { @t[args->vec] = hist(nsecs - @s[tid]); delete(@s[tid]); }",
            "args->vec",
        ),
        (
            "each time a process splits in two, show the new child's pid",
            "tracepoint:syscalls:sys_enter_clone { printf(\"%d\\n\", pid); }",
            "tracepoint:sched:sched_process_fork { printf(\"%d -> %d\\n\", pid, args->child_pid); }",
            "child_pid",
        ),
        (
            // tcp.h: tcp_sock's snd_cwnd is the sending congestion window.
            "as acks come in, show each connection's congestion window and its remote port",
            "tracepoint:tcp:tcp_probe { printf(\"%d %d\\n\", args->dport, args->snd_wnd); }",
            "tracepoint:tcp:tcp_probe { printf(\"%d %d\\n\", args->dport, args->snd_cwnd); }",
            "args->snd_cwnd",
        ),
        (
            // recvmmsg(2): vlen is how many messages one call takes at most.
            "per program, the recvmmsg() calls and how many messages they ask for in all",
            "tracepoint:syscalls:sys_enter_recvmmsg { @[comm] = count(); }",
            "tracepoint:syscalls:sys_enter_recvmmsg { @c[comm] = count(); @m[comm] = sum(args->vlen); }",
            "args->vlen",
        ),
        (
            // A total of what each call carries is its sum, not a tally keyed by it.
            "for each program, the total number of messages it takes in through recvmmsg()",
            "tracepoint:syscalls:sys_enter_recvmmsg { @c[comm] = count(); @v[args->vlen] = count(); }",
            "tracepoint:syscalls:sys_enter_recvmmsg { @m[comm] = sum(args->vlen); }",
            "sum(args->vlen)",
        ),
        (
            // "Program name" is comm's phrase: it names no `name` field (the attribute's).
            "tally lgetxattr() calls per program name",
            "tracepoint:syscalls:sys_enter_lgetxattr { @[comm, str(args->name)] = count(); }",
            "tracepoint:syscalls:sys_enter_lgetxattr { @[comm] = count(); }",
            "args->name",
        ),
        (
            // An exit of a guest is no task's exit status (curtask->exit_code, wait(2)).
            "tally VM exits per exit reason",
            "tracepoint:kvm:kvm_exit { @[((curtask->exit_code >> 8) & 0xff), args->exit_reason] = count(); }",
            "tracepoint:kvm:kvm_exit { @[args->exit_reason] = count(); }",
            "exit_code",
        ),
    ];
    for (request, wrong, right, hint) in cases {
        let (passed, detail) = judge(request, wrong);
        assert!(!passed, "{request}: the wrong program passed");
        assert!(detail.contains(hint), "{request}: {detail}");
        let (passed, detail) = judge(request, right);
        assert!(passed, "{request}: the right program failed: {detail}");
    }
    // Words that are the event's own, or the report's shape, demand no field: "work" at
    // workqueue_queue_work (a pointer), "count" at sys_enter_read (its byte count), "per
    // second" (no key).
    for (request, program) in [
        (
            "which tasks queue work for kernel workers",
            "tracepoint:workqueue:workqueue_queue_work { @[comm] = count(); }",
        ),
        (
            "count read calls made by each program",
            "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }",
        ),
        (
            // An imperative "Count" names no value, though move_pages(2) calls a parameter so.
            "Count move_pages() calls made by each program.",
            "tracepoint:syscalls:sys_enter_move_pages { @[comm] = count(); }",
        ),
        (
            "read calls per second",
            "tracepoint:syscalls:sys_enter_read { @n = count(); } interval:s:1 { print(@n); clear(@n); }",
        ),
    ] {
        let (passed, detail) = judge(request, program);
        assert!(passed, "{request}: {detail}");
    }
}
