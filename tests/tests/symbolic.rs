//! The symbolic verifier on real programs: each program here is first loaded by the host's
//! bpftrace into the real kernel (so it is a program a model could have handed over), then
//! judged by z3 against the contracts a request implies. A wrong version of each is refuted
//! with a counterexample, its right version proved; a solver timeout is unknown, not a pass.
//! The agent loop feeds a refutation back and answers with the corrected program.
use std::path::Path;
use std::time::Duration;

use kgent_tests::{ask_all, final_answer, proto, workspace_bin, TestDaemon};
use kgentd::host::HostFacts;
use kgentd::intent::Intent;
use kgentd::symbolic::{self, Outcome, Types};
use kgentd::toolchain::bpftrace::{check_load, LoadVerdict};

fn host() -> HostFacts {
    HostFacts::discover(Path::new("bpftrace"))
}

/// Loads `source` with the real bpftrace, then judges it against `request`'s contracts.
async fn judged(host: &HostFacts, request: &str, source: &str) -> Vec<symbolic::Finding> {
    let report = check_load(Path::new("bpftrace"), source, Duration::from_secs(60)).await;
    assert!(
        matches!(report.verdict, LoadVerdict::Attached { .. }),
        "bpftrace must load the test program:\n{source}\n{}",
        report.diagnostic
    );
    let contracts = symbolic::contracts_for(&Intent::read(request), source, &host.tracepoints);
    assert!(
        !contracts.is_empty(),
        "the request implies contracts: {request}"
    );
    let types = Types {
        tracepoints: &host.tracepoints,
        btf: symbolic::kernel_btf(),
    };
    symbolic::verify(source, &contracts, &types, Duration::from_secs(5))
}

/// The outcome of the contract whose text contains `about`.
fn outcome<'a>(findings: &'a [symbolic::Finding], about: &str) -> &'a Outcome {
    &findings
        .iter()
        .find(|f| f.contract.contains(about))
        .unwrap_or_else(|| panic!("no contract about {about:?}: {findings:#?}"))
        .outcome
}

fn refuted<'a>(findings: &'a [symbolic::Finding], about: &str) -> &'a str {
    match outcome(findings, about) {
        Outcome::Refuted(why) => why,
        other => panic!("{about}: expected a refutation, got {other:?}"),
    }
}

fn proved(findings: &[symbolic::Finding], about: &str) {
    assert_eq!(
        outcome(findings, about),
        &Outcome::Proved,
        "{about}: {findings:#?}"
    );
}

#[tokio::test]
async fn a_failed_call_tracer_that_prints_successes_is_refuted_and_the_right_one_proved() {
    let host = host();
    let request = "list the unlinkat calls that fail, with the error";
    let wrong = "tracepoint:syscalls:sys_exit_unlinkat /args->ret > 0/ { printf(\"%s %d\\n\", comm, args->ret); }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, "shown ⇒");
    assert!(
        why.contains("args->ret = ") && why.contains("succeeded"),
        "{why}"
    );
    refuted(&f, "some call with");

    let right = "tracepoint:syscalls:sys_enter_unlinkat { @path[tid] = args->pathname; }\n\
                 tracepoint:syscalls:sys_exit_unlinkat /@path[tid]/ {\n\
                   if (args->ret < 0) { printf(\"%s %s %d\\n\", comm, str(@path[tid]), -args->ret); }\n\
                   delete(@path[tid]);\n\
                 }";
    let f = judged(&host, request, right).await;
    proved(&f, "shown ⇒");
    proved(&f, "some call with");
    proved(&f, "whatever the error");

    // Only one errno shown, when the request asks for every failure.
    let one =
        "tracepoint:syscalls:sys_exit_unlinkat /args->ret == -2/ { printf(\"%s\\n\", comm); }";
    let f = judged(&host, request, one).await;
    refuted(&f, "whatever the error");
}

#[tokio::test]
async fn a_tracer_that_keeps_only_some_results_is_refuted_when_the_request_keeps_all() {
    let host = host();
    let request = "log each capability check the kernel makes, with the capability and its verdict";
    // Saves the result, then prints only when it was non-zero (a denial): a filter no one
    // asked for, hidden in a map read by a second block on the same event.
    let wrong =
        "tracepoint:capability:cap_capable { @res[tid] = args->ret; @cap[tid] = args->cap; }\n\
                 tracepoint:capability:cap_capable /@res[tid]/ {\n\
                   printf(\"%s %d %d\\n\", comm, @cap[tid], @res[tid]);\n\
                   delete(@res[tid]); delete(@cap[tid]);\n\
                 }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, "does not depend on its result");
    assert!(why.contains("args->ret"), "{why}");
    // A banner printed by BEGIN is no shown event: the same filter behind it is still refuted.
    let bannered = format!("BEGIN {{ printf(\"Tracing capability checks\\n\"); }}\n{wrong}");
    let f = judged(&host, request, &bannered).await;
    refuted(&f, "does not depend on its result");
    let right = "tracepoint:capability:cap_capable { printf(\"%s %d %d\\n\", comm, args->cap, args->ret); }";
    let f = judged(&host, request, right).await;
    proved(&f, "does not depend on its result");
    // A request that keeps one outcome implies no such contract.
    let kept = Intent::read("log each successful capability check with the capability");
    let contracts = symbolic::contracts_for(&kept, wrong, &host.tracepoints);
    assert!(
        !contracts
            .iter()
            .any(|c| c.text.contains("does not depend on its result")),
        "{contracts:?}"
    );
}

#[tokio::test]
async fn a_port_printed_without_byte_swap_is_refuted() {
    let host = host();
    let request = "show the destination port of each connect() by process";
    let wrong = "tracepoint:syscalls:sys_enter_connect {\n\
                   $sa = (struct sockaddr_in *)args->uservaddr;\n\
                   if ($sa->sin_family == 2) { printf(\"%s %d\\n\", comm, $sa->sin_port); }\n\
                 }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, "byte order");
    assert!(why.contains("sin_port = "), "{why}");
    let right = wrong.replace("$sa->sin_port)", "bswap($sa->sin_port))");
    let f = judged(&host, request, &right).await;
    proved(&f, "byte order");
}

#[tokio::test]
async fn an_ipv4_only_tracer_is_refuted_when_ipv6_is_asked_too() {
    let host = host();
    let request = "log TCP state changes with the local address, for IPv4 and IPv6 sockets";
    let wrong = "tracepoint:sock:inet_sock_set_state /args->family == 2/ { printf(\"%s %d\\n\", ntop(args->saddr), args->sport); }";
    let f = judged(&host, request, wrong).await;
    refuted(&f, "AF_INET6");
    let right = "tracepoint:sock:inet_sock_set_state {\n\
                   if (args->family == 2) { printf(\"%s %d\\n\", ntop(args->saddr), args->sport); }\n\
                   else if (args->family == 10) { printf(\"%s %d\\n\", ntop(args->saddr_v6), args->sport); }\n\
                 }";
    let f = judged(&host, request, right).await;
    proved(&f, "AF_INET6");
}

#[tokio::test]
async fn a_latency_from_another_threads_timestamp_is_refuted() {
    let host = host();
    let request = "how long do pread64 calls take, as a histogram in microseconds";
    let wrong = "tracepoint:syscalls:sys_enter_pread64 { @start[pid] = nsecs; }\n\
                 tracepoint:syscalls:sys_exit_pread64 /@start[pid]/ { @us = hist((nsecs - @start[pid]) / 1000); delete(@start[pid]); }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, "duration");
    assert!(why.contains("thread 2"), "{why}");
    let right = wrong.replace("[pid]", "[tid]");
    let f = judged(&host, request, &right).await;
    proved(&f, "duration");
}

#[tokio::test]
async fn a_tracer_that_also_shows_events_under_the_stated_threshold_is_refuted() {
    let host = host();
    let request = "warn when a task maps 32 MiB or more at once with mmap; name and length";
    // Both sides of the test print: the small mappings are shown too.
    let wrong = "tracepoint:syscalls:sys_enter_mmap {\n\
                   if (args->len >= 33554432) { printf(\"BIG %s %d\\n\", comm, args->len); }\n\
                   else { printf(\"%s %d\\n\", comm, args->len); }\n\
                 }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, "threshold");
    assert!(why.contains("no value is above 32"), "{why}");
    let right = "tracepoint:syscalls:sys_enter_mmap /args->len >= 32 * 1024 * 1024/ { printf(\"%s %d\\n\", comm, args->len); }";
    let f = judged(&host, request, right).await;
    proved(&f, "threshold");
    // A time threshold, compared in another unit than the request's, holds too.
    let request = "show fsync calls slower than 5 ms, by process";
    let right = "tracepoint:syscalls:sys_enter_fsync { @s[tid] = nsecs; }\n\
                 tracepoint:syscalls:sys_exit_fsync /@s[tid]/ {\n\
                   $us = (nsecs - @s[tid]) / 1000;\n\
                   if ($us > 5000) { printf(\"%s %d\\n\", comm, $us); }\n\
                   delete(@s[tid]);\n\
                 }";
    let f = judged(&host, request, right).await;
    proved(&f, "threshold");
    let wrong = right.replace(
        "if ($us > 5000) { printf(\"%s %d\\n\", comm, $us); }",
        "printf(\"%s %d\\n\", comm, $us);",
    );
    let f = judged(&host, request, &wrong).await;
    refuted(&f, "threshold");
}

#[tokio::test]
async fn a_sum_of_requested_counts_is_refuted_where_bytes_written_are_asked() {
    let host = host();
    let request = "total bytes each process writes with write()";
    let wrong = "tracepoint:syscalls:sys_enter_write { @bytes[comm] = sum(args->count); }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, "bytes summed");
    assert!(why.contains("args->count = "), "{why}");
    // Summing the result, failures included, adds negative error codes.
    let unfiltered = "tracepoint:syscalls:sys_exit_write { @bytes[comm] = sum(args->ret); }";
    let f = judged(&host, request, unfiltered).await;
    proved(&f, "bytes summed");
    let why = refuted(&f, "adds no bytes");
    assert!(why.contains("/args->ret > 0/"), "{why}");
    let right =
        "tracepoint:syscalls:sys_exit_write /args->ret > 0/ { @bytes[comm] = sum(args->ret); }";
    let f = judged(&host, request, right).await;
    proved(&f, "bytes summed");
    proved(&f, "adds no bytes");
}

#[test]
fn a_solver_timeout_is_unknown_never_a_pass() {
    let host = host();
    let source =
        "tracepoint:syscalls:sys_enter_pread64 { printf(\"%d %d\\n\", args->count, args->pos); }";
    // Factoring a 60-bit semiprime (1000000007 × 1000000009) with both factors kept under
    // 2^32, so the 64-bit product cannot wrap around (a wrapped product has easy solutions z3
    // sometimes finds within the millisecond): far beyond a millisecond.
    let c = symbolic::written_contract(
        source,
        "assert out(0) < 2 || out(1) < 2 || out(0) >= 4294967296 || out(1) >= 4294967296 || out(0) * out(1) != 1000000016000000063",
        None,
        &host.tracepoints,
    )
    .expect("contract");
    let types = Types {
        tracepoints: &host.tracepoints,
        btf: symbolic::kernel_btf(),
    };
    let f = symbolic::verify(source, &[c], &types, Duration::from_millis(1));
    assert!(
        matches!(&f[0].outcome, Outcome::Unknown(why) if why.contains("z3")),
        "{f:#?}"
    );
}

#[test]
fn kgentd_verify_judges_written_contracts_and_says_so_in_its_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prog = dir.path().join("p.bt");
    std::fs::write(
        &prog,
        "tracepoint:syscalls:sys_exit_openat /args->ret > 0/ { printf(\"%d\\n\", args->ret); }\n",
    )
    .expect("write");
    let verify = |contract: &str| {
        std::process::Command::new(workspace_bin("kgentd"))
            .args(["verify", &prog.to_string_lossy(), "--contract", contract])
            .output()
            .expect("run kgentd verify")
    };
    let out = verify("assert printed => ret < 0");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("REFUTED") && text.contains("args->ret = "),
        "{text}"
    );
    let out = verify("assert printed => ret > 0");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = verify("assert printed =>");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_agent_feeds_a_refuted_contract_back_and_answers_with_the_proved_program() {
    let wrong = "```bpftrace\ntracepoint:syscalls:sys_exit_openat /args->ret >= 0/ { printf(\"%s %d\\n\", comm, args->ret); }\n```";
    let right = "```bpftrace\ntracepoint:syscalls:sys_exit_openat /args->ret < 0/ { printf(\"%s %d\\n\", comm, args->ret); }\n```";
    let d = TestDaemon::scripted(&[wrong, right]).await;
    let events = ask_all(
        &mut d.client().await,
        "report each openat that fails, with the process and the error",
        3,
    )
    .await
    .expect("ask");
    let first = events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Check(c)) if c.name == "symbolic" && c.iteration == 1 => {
                Some(c)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("a symbolic check at iteration 1: {events:#?}"));
    assert!(!first.passed && !first.inconclusive, "{first:?}");
    assert!(first.detail.contains("refuted"), "{}", first.detail);
    let answer = final_answer(&events).unwrap_or_else(|| panic!("answered: {events:#?}"));
    assert_eq!(answer.iterations, 2);
    let symbolic = answer
        .checks
        .iter()
        .find(|c| c.name == "symbolic")
        .expect("the answer carries its symbolic check");
    assert!(symbolic.passed, "{symbolic:?}");
    assert!(symbolic.detail.contains("proved"), "{}", symbolic.detail);
    d.stop().await;
}

#[tokio::test]
async fn a_c_answer_carries_a_symbolic_check_that_says_it_was_not_judged() {
    let c = "```c\n#include \"vmlinux.h\"\n#include \"kgent.h\"\nstruct event { u32 pid; };\nKGENT_RINGBUF(events, struct event, 64 * 1024);\nSEC(\"tracepoint/syscalls/sys_enter_getppid\")\nint ksym_getppid(void *ctx)\n{\n    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);\n    if (!e)\n        return 0;\n    e->pid = bpf_get_current_pid_tgid() >> 32;\n    bpf_ringbuf_submit(e, 0);\n    return 0;\n}\n```";
    let d = TestDaemon::scripted(&[c]).await;
    let mut stream = d
        .client()
        .await
        .ask(proto::AskRequest {
            text: "report the pid of each getppid caller".into(),
            max_iterations: 1,
            target: proto::Target::C as i32,
            ..Default::default()
        })
        .await
        .expect("ask")
        .into_inner();
    let mut events = Vec::new();
    while let Some(ev) = stream.message().await.expect("stream") {
        events.push(ev);
    }
    let answer = final_answer(&events).unwrap_or_else(|| panic!("answered: {events:#?}"));
    let symbolic = answer
        .checks
        .iter()
        .find(|c| c.name == "symbolic")
        .unwrap_or_else(|| panic!("a symbolic check: {:?}", answer.checks));
    assert!(!symbolic.passed && symbolic.inconclusive, "{symbolic:?}");
    assert!(
        symbolic.detail.contains("not judged"),
        "{}",
        symbolic.detail
    );
    d.stop().await;
}

#[tokio::test]
async fn a_tracer_that_shows_events_without_the_named_constant_is_refuted() {
    let host = host();
    // mprotect(2) lists PROT_EXEC (0x4) among the values of `prot`.
    let request = "list mprotect calls that turn on PROT_EXEC: process and length";
    // The alternative keeps every call without the bit as well.
    let wrong = "tracepoint:syscalls:sys_enter_mprotect /args->prot == 4 || (args->prot & 4) == 0/ { printf(\"%s %d\\n\", comm, args->len); }";
    let f = judged(&host, request, wrong).await;
    let why = refuted(&f, ": a shown event passes PROT_EXEC");
    assert!(why.contains("(args->prot & 0x4) == 0x4"), "{why}");
    let right = "tracepoint:syscalls:sys_enter_mprotect /args->prot & 4/ { printf(\"%s %d\\n\", comm, args->len); }";
    let f = judged(&host, request, right).await;
    proved(&f, ": a shown event passes PROT_EXEC");
    proved(&f, "some shown event passes PROT_EXEC");
}

#[tokio::test]
async fn a_tracer_that_keeps_a_flag_only_when_passed_alone_is_refuted() {
    let host = host();
    // mprotect(2): `prot` is "either PROT_NONE or a bitwise-or of the other values", so a call
    // may pass PROT_WRITE with PROT_READ.
    let request = "print mprotect calls that request PROT_WRITE, with the address";
    let alone = "tracepoint:syscalls:sys_enter_mprotect /args->prot == 2/ { printf(\"%s %lx\\n\", comm, args->start); }";
    let f = judged(&host, request, alone).await;
    let why = refuted(&f, "other bits");
    assert!(why.contains("args->prot & 0x2"), "{why}");
    let bit = "tracepoint:syscalls:sys_enter_mprotect /args->prot & 2/ { printf(\"%s %lx\\n\", comm, args->start); }";
    let f = judged(&host, request, bit).await;
    proved(&f, "other bits");
}

#[tokio::test]
async fn a_bound_on_a_named_value_tested_on_another_is_refuted() {
    let host = host();
    // pread(2) calls the position `offset`; the tracepoint records it as `pos`.
    let request = "print pread64 calls at an offset beyond 2 GiB: program and descriptor";
    let other = "tracepoint:syscalls:sys_enter_pread64 /args->count > 2147483648/ { printf(\"%s %d\\n\", comm, args->fd); }";
    let f = judged(&host, request, other).await;
    let why = refuted(&f, "args->pos ≥");
    assert!(why.contains("args->pos"), "{why}");
    let right = "tracepoint:syscalls:sys_enter_pread64 /args->pos > 2 * 1024 * 1024 * 1024/ { printf(\"%s %d\\n\", comm, args->fd); }";
    let f = judged(&host, request, right).await;
    proved(&f, "args->pos ≥");
}

#[tokio::test]
async fn a_tracer_that_tests_a_named_flag_away_is_refuted() {
    let host = host();
    // mprotect(2) lists PROT_READ and PROT_WRITE among the values of `prot`.
    let request =
        "print mprotect calls asking for PROT_READ together with PROT_WRITE, with the length";
    let away = "tracepoint:syscalls:sys_enter_mprotect /(args->prot & 2) == 2 && (args->prot & 1) == 0/ { printf(\"%s %d\\n\", comm, args->len); }";
    let f = judged(&host, request, away).await;
    let why = refuted(&f, "passes PROT_READ");
    assert!(why.contains("tests it away"), "{why}");
    let both = "tracepoint:syscalls:sys_enter_mprotect /(args->prot & 3) == 3/ { printf(\"%s %d\\n\", comm, args->len); }";
    let f = judged(&host, request, both).await;
    proved(&f, "passes PROT_READ");
}

#[tokio::test]
async fn a_sum_of_messages_handed_over_is_refuted_where_messages_sent_are_asked() {
    let host = host();
    // sendmmsg(2) returns how many messages it sent; vlen is how many it was handed.
    let request = "for each program, the total of messages its sendmmsg calls got out";
    let handed = "tracepoint:syscalls:sys_enter_sendmmsg { @m[comm] = sum(args->vlen); }";
    let f = judged(&host, request, handed).await;
    refuted(&f, "messages summed");
    let sent =
        "tracepoint:syscalls:sys_exit_sendmmsg /args->ret > 0/ { @m[comm] = sum(args->ret); }";
    let f = judged(&host, request, sent).await;
    proved(&f, "messages summed");
    proved(&f, "adds no messages");
}
