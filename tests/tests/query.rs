//! The query step against the real host: compiled queries load through bpftrace and the kernel
//! verifier, observe what they promise under the real smoke trigger, the query grammar refuses
//! invented probes and fields (checked with the real model's vocabulary), and the agent loop
//! answers from a (scripted, grammar-conforming) query.
use std::sync::Arc;
use std::time::Duration;

use kgent_tests::{ask_all, final_answer, final_no_answer, proto, TestDaemon};
use kgentd::check::{check_bpftrace_load, check_smoke_run};
use kgentd::config::ModelConfig;
use kgentd::host::HostFacts;
use kgentd::llm::ScriptedBackend;
use kgentd::query::{compile::compile, parse};
use kgentd::toolchain::grammar::AllowedProbe;

const BPFTRACE: &str = "bpftrace";

fn host() -> HostFacts {
    HostFacts::discover(std::path::Path::new(BPFTRACE))
}

fn libc() -> String {
    kgentd::host::resolve_binary("libc")
        .expect("libc resolves")
        .display()
        .to_string()
}

fn compiled(host: &HostFacts, query: &str) -> String {
    let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    compile(host, kgentd::knowledge::specs::query_facts(), &q)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .source
}

#[tokio::test]
async fn every_shape_of_query_compiles_to_a_program_the_kernel_accepts() {
    let host = host();
    let libc = libc();
    let queries = [
        // entry fields and the result: paired per thread
        "SELECT comm, pid, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open WHERE ret < 0".to_owned(),
        // durations into a histogram
        "SELECT comm, hist(duration_us) FROM tracepoint:syscalls:sys_enter_getdents64 GROUP BY comm".into(),
        // a struct sockaddr * printed by family, and used as a key
        "SELECT comm, args->umyaddr FROM tracepoint:syscalls:sys_enter_bind".into(),
        "SELECT count() FROM tracepoint:syscalls:sys_enter_sendto GROUP BY comm, args->addr".into(),
        // argv
        "SELECT comm, pid, args->argv FROM tracepoint:syscalls:sys_enter_execve".into(),
        // Addresses stored as 28-byte sockaddrs (either family, port inside).
        "SELECT args->saddr, args->daddr FROM tracepoint:tcp:tcp_send_reset".into(),
        // The parent process, by PID and name.
        "SELECT pid, ppid, pcomm, args->filename FROM tracepoint:syscalls:sys_enter_execve".into(),
        // task-derived values
        "SELECT comm, pid, exit_code, exit_signal, age_ms FROM tracepoint:sched:sched_process_exit WHERE exit_code != 0 OR exit_signal != 0".into(),
        // dual-stack addresses of a tracepoint
        "SELECT comm, args->saddr, args->sport, args->daddr, args->dport FROM tracepoint:sock:inet_sock_set_state WHERE args->newstate == 1".into(),
        // a C library function with its prototype's parameter names, paired with its return
        format!("SELECT comm, pid, args->name, ret, duration_us FROM uprobe:{libc}:getaddrinfo"),
        // sums of results and sizes with units
        "SELECT comm, sum(ret) FROM tracepoint:syscalls:sys_exit_write WHERE ret > 0 GROUP BY comm".into(),
        "SELECT comm, pid, args->len FROM tracepoint:syscalls:sys_enter_mmap WHERE args->len >= 64 MiB".into(),
        // spans from the specs DB: on-CPU time, connection lifetimes, block I/O latency
        "SELECT comm, sum(duration_ms) FROM tracepoint:sched:sched_switch GROUP BY comm".into(),
        "SELECT args->sport, args->dport, args->family, duration_ms FROM tracepoint:tcp:tcp_destroy_sock".into(),
        "SELECT args->sport, duration_ms FROM tracepoint:sock:inet_sock_set_state".into(),
        "SELECT hist(duration_us) FROM tracepoint:block:block_rq_complete".into(),
        // a code-letter test on a char array; the moved task's name (a __data_loc string)
        "SELECT comm, sum(args->bytes) FROM tracepoint:block:block_rq_issue WHERE contains(args->rwbs, \"W\") GROUP BY comm".into(),
        "SELECT count() FROM tracepoint:sched:sched_migrate_task GROUP BY comm, args->orig_cpu, args->dest_cpu".into(),
        // prefix tests: a user string at entry, the same saved for the exit, a char array
        "SELECT comm, args->pathname FROM tracepoint:syscalls:sys_enter_mkdirat WHERE starts_with(args->pathname, \"/var/\")".into(),
        "SELECT comm, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat WHERE starts_with(args->filename, \"/etc/\") AND ret < 0".into(),
        "SELECT count() FROM tracepoint:sched:sched_process_exec WHERE starts_with(comm, \"kworker\") GROUP BY comm".into(),
    ];
    for q in &queries {
        let source = compiled(&host, q);
        let load = check_bpftrace_load(
            std::path::Path::new(BPFTRACE),
            &source,
            Duration::from_secs(30),
            &host.kernel_release,
        )
        .await;
        assert!(load.passed(), "{q}\n{source}\n{}", load.detail());
    }
}

#[tokio::test]
async fn compiled_queries_observe_what_they_promise_under_the_smoke_trigger() {
    let host = host();
    let cases = [
        (
            "show the failed opens with the path and the errno",
            "SELECT comm, pid, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open WHERE ret < 0",
        ),
        (
            "which process binds which local port, over IPv4 and IPv6, at each bind() call",
            "SELECT comm, args->umyaddr FROM tracepoint:syscalls:sys_enter_bind",
        ),
        (
            // The trigger execs a missing program (ENOENT) in a child named like itself.
            "every exec that fails, with the program path and the error",
            "SELECT comm, args->filename, ret FROM tracepoint:syscalls:sys_enter_execve WHERE ret < 0",
        ),
        (
            // The trigger works in a directory of its own under /tmp.
            "name each file a program opens beneath /tmp",
            "SELECT comm, args->filename FROM tracepoint:syscalls:sys_enter_openat WHERE starts_with(args->filename, \"/tmp/\")",
        ),
    ];
    for (request, q) in cases {
        let source = compiled(&host, q);
        let smoke = check_smoke_run(
            std::path::Path::new(BPFTRACE),
            &source,
            &kgentd::intent::Intent::read(request),
            Duration::from_secs(30),
            None,
        )
        .await;
        assert!(smoke.passed(), "{request}\n{source}\n{}", smoke.detail());
    }
}

#[test]
fn a_field_the_probes_lack_is_refused_with_their_fields() {
    let host = host();
    // (A field of a kind the specs DB maps, bind's `umyaddr`, is read at connect's
    // `uservaddr`; `backlog`, listen's, is of no kind.)
    let q = parse("SELECT comm, args->backlog FROM tracepoint:syscalls:sys_enter_connect")
        .expect("parses");
    let err = compile(&host, kgentd::knowledge::specs::query_facts(), &q)
        .expect_err("connect has no backlog")
        .to_string();
    assert!(
        err.contains("has no field backlog") && err.contains("uservaddr"),
        "{err}"
    );
    let q = parse("SELECT comm, args->umyaddr FROM tracepoint:syscalls:sys_enter_connect")
        .expect("parses");
    let c = compile(&host, kgentd::knowledge::specs::query_facts(), &q).expect("read at uservaddr");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("its socket address is args->uservaddr")),
        "{c:?}"
    );
    let q = parse("SELECT duration_us FROM tracepoint:sched:sched_process_exit").expect("parses");
    let err = compile(&host, kgentd::knowledge::specs::query_facts(), &q)
        .expect_err("no duration on a single tracepoint")
        .to_string();
    assert!(err.contains("no return and no duration"), "{err}");
}

#[test]
fn the_query_grammar_cannot_name_an_invented_probe_or_field() {
    let model = ModelConfig::default().path;
    assert!(
        model.exists(),
        "{} is missing: fetch it with `bash setup.sh --no-build`",
        model.display()
    );
    let from = vec![
        AllowedProbe::tracepoint("tracepoint:syscalls:sys_enter_openat", Vec::new()),
        AllowedProbe::tracepoint("tracepoint:syscalls:sys_enter_open", Vec::new()),
    ];
    let fields: Vec<String> = ["dfd", "filename", "flags", "mode", "ret"]
        .map(String::from)
        .to_vec();
    let accepts = |grammar: &str, text: &str| {
        kgentd::llm::grammar_accepts(&model, grammar, &format!("{text}\n")).expect("grammar check")
    };
    let free = kgentd::query::grammar::gbnf(&from, &fields, false, None, &[]).expect("grammar");
    assert!(accepts(
        &free,
        "SELECT comm, pid, args->filename, ret FROM tracepoint:syscalls:sys_enter_openat WHERE ret < 0"
    ));
    assert!(accepts(
        &free,
        "SELECT count() FROM tracepoint:syscalls:sys_enter_open WHERE comm == \"nginx\" GROUP BY comm"
    ));
    for bad in [
        "SELECT comm FROM tracepoint:syscalls:sys_enter_fileopen",
        "SELECT args->pathname FROM tracepoint:syscalls:sys_enter_openat",
        "SELECT comm FROM kprobe:do_sys_open",
        "SELECT comm FROM tracepoint:syscalls:sys_enter_openat WHERE args->flags + 1 > 2",
    ] {
        assert!(!accepts(&free, bad), "accepted: {bad}");
    }
    // When the request names the calls, FROM is all of them, in order, and nothing else.
    let fixed = kgentd::query::grammar::gbnf(&from, &fields, true, None, &[]).expect("grammar");
    assert!(accepts(
        &fixed,
        "SELECT comm FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open"
    ));
    assert!(!accepts(
        &fixed,
        "SELECT comm FROM tracepoint:syscalls:sys_enter_openat"
    ));
    // The request's time unit is the only one; contains() only on code-letter fields.
    let unit = kgentd::query::grammar::gbnf(
        &from,
        &fields,
        false,
        Some(kgentd::query::TimeUnit::Ms),
        &["flags".to_owned()],
    )
    .expect("grammar");
    let q = |v: &str, w: &str| {
        format!("SELECT comm, {v} FROM tracepoint:syscalls:sys_enter_openat WHERE {w}")
    };
    assert!(accepts(
        &unit,
        &q("duration_ms", "contains(args->flags, \"W\")")
    ));
    assert!(
        !accepts(&unit, &q("duration_us", "ret < 0")),
        "a unit the request did not ask for"
    );
    assert!(!accepts(
        &unit,
        &q("duration_ms", "contains(args->filename, \"W\")")
    ));
    assert!(!accepts(
        &free,
        &q("duration_ms", "contains(args->flags, \"W\")")
    ));
}

/// Runs `source` under bpftrace while `workload` runs (after every probe is attached), stops it
/// with SIGINT and returns what it printed.
async fn output_while(source: &str, workload: impl FnOnce()) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    // BEGIN runs once every probe is attached; "Attaching N probes..." comes before, and a
    // SIGINT during attachment is lost.
    let marker = "__kgent_test_ready__";
    let script = format!("BEGIN {{ printf(\"{marker}\\n\"); }}\n{source}");
    let mut child = tokio::process::Command::new(BPFTRACE)
        .args(["-e", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("bpftrace starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        let mut line = String::new();
        while out.read_line(&mut line).await.is_ok_and(|n| n > 0) {
            if line.trim() == marker {
                return true;
            }
            line.clear();
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "bpftrace attaches:\n{source}");
    workload();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reader = tokio::spawn(async move {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest).await;
        rest
    });
    // SIGINT until it exits: bpftrace 0.17 can miss one (see check/smoke.rs).
    let pid = nix::unistd::Pid::from_raw(child.id().expect("running") as i32);
    let mut exited = false;
    for _ in 0..60 {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        if tokio::time::timeout(Duration::from_secs(1), child.wait())
            .await
            .is_ok()
        {
            exited = true;
            break;
        }
    }
    assert!(exited, "bpftrace did not stop on SIGINT:\n{source}");
    reader.await.expect("reader")
}

/// The number after `label` on the first line containing `needle`.
fn value_on_line(output: &str, needle: &str, label: &str) -> Option<u64> {
    let line = output.lines().find(|l| l.contains(needle))?;
    let rest = &line[line.find(label)? + label.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())?
        .parse()
        .ok()
}

#[tokio::test]
async fn spans_measure_real_on_cpu_time_and_connection_lifetimes_in_the_asked_unit() {
    let host = host();
    // On-CPU time of a busy process for 0.5 s of wall time, summed in ms. It can get less
    // than the whole 0.5 s on a busy machine, never more; a wrong span or unit would print
    // 0, nothing, or a number in us or ns.
    let dir = tempfile::tempdir().expect("tempdir");
    let spinner = dir.path().join("kqspin");
    std::fs::copy("/usr/bin/yes", &spinner).expect("copy yes");
    let source = compiled(
        &host,
        "SELECT comm, sum(duration_ms) FROM tracepoint:sched:sched_switch GROUP BY comm",
    );
    let out = output_while(&source, || {
        let _ = std::process::Command::new("timeout")
            .arg("0.5")
            .arg(&spinner)
            .stdout(std::process::Stdio::null())
            .status();
    })
    .await;
    let ms =
        value_on_line(&out, "[kqspin]", "]:").unwrap_or_else(|| panic!("no kqspin total:\n{out}"));
    assert!((20..=650).contains(&ms), "{ms} ms on CPU in 0.5 s:\n{out}");

    // A loopback connection held open for 300 ms: its lifetime, at its close.
    let source = compiled(
        &host,
        "SELECT args->sport, args->dport, duration_ms FROM tracepoint:tcp:tcp_destroy_sock",
    );
    let mut port = 0;
    let out = output_while(&source, || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        port = l.local_addr().expect("addr").port();
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (a, _) = l.accept().expect("accept");
        std::thread::sleep(Duration::from_millis(300));
        drop(c);
        drop(a);
    })
    .await;
    let ms = value_on_line(&out, &format!("sport={port} "), "duration_ms=")
        .unwrap_or_else(|| panic!("no line for port {port}:\n{out}"));
    assert!(
        (250..=3000).contains(&ms),
        "{ms} ms for a 300 ms connection:\n{out}"
    );
}

#[tokio::test]
async fn the_loop_answers_from_a_query_and_feeds_a_compile_error_back() {
    // A field no open event has and of no kind kgent maps (`args->pathname` would be read as
    // the path, `filename`: specs-db/field-names.toml).
    let bad = "SELECT comm, pid, args->fname FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat2";
    let good = "SELECT comm, pid, args->filename FROM tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat2";
    let backend = ScriptedBackend::new("query script", vec![bad.into(), good.into()])
        .expect("replies")
        .claiming_grammar();
    let d = TestDaemon::with_backend(Arc::new(backend), |_| {}).await;
    let events = ask_all(
        &mut d.client().await,
        "print the pid, process name and path of every file opened with open() or openat()",
        4,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).expect("an answer from the second query");
    assert_eq!(answer.iterations, 2, "{answer:#?}");
    assert!(
        answer.program.contains("str(args->filename)"),
        "strings are read with str():\n{}",
        answer.program
    );
    assert!(answer
        .explanation
        .contains("compiled by kgent from the query"));
    let failed_query = events.iter().any(|e| {
        matches!(&e.event, Some(proto::ask_event::Event::Check(c))
            if c.name == "query" && !c.passed && c.detail.contains("has no field fname"))
    });
    assert!(failed_query, "the compile error is reported: {events:#?}");
    d.stop().await;
}

#[tokio::test]
async fn a_query_on_a_probe_without_its_fields_never_moves_to_another_event() {
    // tcp_probe's addresses are 28-byte sockaddr blobs: no daddr_v6 there. Another TCP
    // tracepoint has a field of that name, but it observes another event: the query is not
    // moved there behind the model's back; the model is told which offered probes have it.
    let q = "SELECT args->sport, args->dport, args->daddr_v6 FROM tracepoint:tcp:tcp_probe";
    let backend = ScriptedBackend::new("no-move script", vec![q.into()])
        .expect("replies")
        .claiming_grammar();
    let d = TestDaemon::with_backend(Arc::new(backend), |_| {}).await;
    let events = ask_all(
        &mut d.client().await,
        "show each TCP connection as it changes state: the local port and the remote address and port",
        1,
    )
    .await
    .expect("ask");
    assert!(final_answer(&events).is_none(), "{events:#?}");
    let told = events.iter().any(|e| {
        matches!(&e.event, Some(proto::ask_event::Event::Check(c))
            if c.name == "query" && !c.passed && c.detail.contains("daddr_v6"))
    });
    assert!(told, "the missing field is reported: {events:#?}");
    d.stop().await;
}

#[tokio::test]
async fn a_query_on_a_syscall_entry_that_reads_the_return_value_moves_to_its_exit() {
    // `ret` exists only at sys_exit_*: the other half of the same syscall.
    let q = "SELECT comm, args->ret FROM tracepoint:syscalls:sys_enter_openat";
    let backend = ScriptedBackend::new("move script", vec![q.into()])
        .expect("replies")
        .claiming_grammar();
    let d = TestDaemon::with_backend(Arc::new(backend), |_| {}).await;
    let events = ask_all(
        &mut d.client().await,
        "print the command name and the return value of every openat call",
        1,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).unwrap_or_else(|| panic!("no answer: {events:#?}"));
    assert!(
        !answer.program.contains("sys_enter_openat"),
        "{}",
        answer.program
    );
    assert!(
        answer
            .program
            .contains("tracepoint:syscalls:sys_exit_openat"),
        "{}",
        answer.program
    );
    d.stop().await;
}

#[tokio::test]
async fn an_event_the_request_spells_is_the_query_scope_even_beside_a_named_call() {
    // The request spells signal_generate's name and names kill(2): FROM is not narrowed to
    // kill, which the subject check would refuse every time.
    let q = "SELECT args->pid, args->sig FROM tracepoint:signal:signal_generate";
    let backend = ScriptedBackend::new("spelled script", vec![q.into()])
        .expect("replies")
        .claiming_grammar();
    let d = TestDaemon::with_backend(Arc::new(backend), |_| {}).await;
    let events = ask_all(
        &mut d.client().await,
        "beyond kill(2): list each signal the kernel generates, with the receiving pid and the signal number",
        1,
    )
    .await
    .expect("ask");
    let request_id = match (final_answer(&events), final_no_answer(&events)) {
        (Some(a), _) => a.request_id.clone(),
        (_, Some(n)) => n.request_id.clone(),
        _ => panic!("the ask ended: {events:#?}"),
    };
    let rec = d
        .client()
        .await
        .get_request(proto::GetRequestRequest { id: request_id })
        .await
        .expect("get_request")
        .into_inner();
    let scope = rec
        .transcript
        .iter()
        .find(|e| e.text.contains("query step: FROM"))
        .map(|e| e.text.clone())
        .expect("the query step's scope is recorded");
    assert!(scope.contains("signal:signal_generate"), "{scope}");
    assert!(!scope.contains("sys_enter_kill"), "{scope}");
    assert!(!scope.contains("narrowed"), "{scope}");
    d.stop().await;
}
