//! The agent loop with scripted model replies against the real kernel: the checks are real
//! (bpftrace, the verifier), so what goes back to the model is bpftrace's real diagnostic.
use kgent_tests::{ask_all, final_answer, final_no_answer, proto, TestDaemon, GOOD_OPENAT};

const REQUEST: &str = "print the pid, process name and path of every file that gets opened";

/// The prompt the model received at `iteration`, from the stored transcript.
async fn prompt_at(d: &TestDaemon, request_id: &str, iteration: u32) -> String {
    let rec = d
        .client()
        .await
        .get_request(proto::GetRequestRequest {
            id: request_id.into(),
        })
        .await
        .expect("get_request")
        .into_inner();
    rec.transcript
        .iter()
        .find(|e| e.kind == "prompt" && e.iteration == iteration)
        .map(|e| e.text.clone())
        .unwrap_or_else(|| panic!("no prompt at iteration {iteration}"))
}

#[tokio::test]
async fn recovers_from_a_hallucinated_tracepoint_with_bpftraces_diagnostic() {
    let bad = "```bpftrace\ntracepoint:syscalls:sys_enter_fileopen { printf(\"%d %s\\n\", pid, comm); }\n```";
    let d = TestDaemon::scripted(&[bad, GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("an answer after repair");
    assert_eq!(answer.iterations, 2);
    assert!(answer.program.contains("sys_enter_openat"));
    // Every check passed; the symbolic one proved the one contract this request implies (it
    // keeps no outcome: an open shows whatever it returned).
    assert!(
        answer.checks.iter().all(|c| c.passed),
        "{:?}",
        answer.checks
    );
    assert!(
        answer.checks.iter().any(|c| c.name == "symbolic"
            && c.passed
            && c.detail.contains("does not depend on its result")),
        "{:?}",
        answer.checks
    );
    assert!(answer.checks.iter().any(|c| c.name == "bpftrace-load"));
    // The first candidate failed bpftrace's real check, and its words reached the model.
    let failed: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(proto::ask_event::Event::Check(c)) if !c.passed => Some(c),
            _ => None,
        })
        .collect();
    assert!(failed
        .iter()
        .any(|c| c.name == "bpftrace-load" && c.iteration == 1));
    let repair = prompt_at(&d, &answer.request_id, 2).await;
    assert!(
        repair.contains("tracepoint not found: syscalls:sys_enter_fileopen"),
        "bpftrace's diagnostic must reach the model:\n{repair}"
    );
    assert!(
        repair.contains("syscalls:sys_enter_open"),
        "nearest real tracepoints are offered"
    );
    d.stop().await;
}

#[tokio::test]
async fn recovers_from_a_wrong_field_name() {
    let bad = "```bpftrace\ntracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->path)); }\n```";
    let d = TestDaemon::scripted(&[bad, GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("an answer after repair");
    assert_eq!(answer.iterations, 2);
    let repair = prompt_at(&d, &answer.request_id, 2).await;
    assert!(
        repair.contains("does not contain a field named 'path'"),
        "bpftrace's diagnostic must reach the model:\n{repair}"
    );
    assert!(
        repair.contains("filename"),
        "the real fields are listed:\n{repair}"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_repeated_candidate_is_not_checked_again_nor_shown_to_the_model_again() {
    let bad = "```bpftrace\ntracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->path)); }\n```";
    let d = TestDaemon::scripted(&[bad, bad, GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("an answer after the repeat");
    assert_eq!(answer.iterations, 3);
    // The repeat was not loaded again: one bpftrace-load failure, at iteration 1.
    let load_failures = events
        .iter()
        .filter(|e| matches!(&e.event, Some(proto::ask_event::Event::Check(c)) if !c.passed && c.name == "bpftrace-load"))
        .count();
    assert_eq!(load_failures, 1);
    // The request is asked afresh with what failed; the copied program is not shown again.
    let after_repeat = prompt_at(&d, &answer.request_id, 3).await;
    assert!(
        after_repeat.contains("does not contain a field named 'path'"),
        "{after_repeat}"
    );
    assert!(!after_repeat.contains("[assistant]"), "{after_repeat}");
    d.stop().await;
}

#[tokio::test]
async fn an_event_that_does_not_exist_here_ends_in_no_answer_with_the_reason() {
    let bad = "```bpftrace\ntracepoint:compositor:frame_rendered { @frames = count(); }\n```";
    let d = TestDaemon::scripted(&[bad]).await;
    let events = ask_all(
        &mut d.client().await,
        "count compositor frames rendered per second",
        3,
    )
    .await
    .expect("ask");
    assert!(final_answer(&events).is_none());
    let no = final_no_answer(&events).expect("NoAnswer");
    assert_eq!(no.iterations, 3);
    assert!(
        no.reason.contains("compositor:frame_rendered"),
        "{}",
        no.reason
    );
    assert!(
        no.reason.contains("does not exist on this kernel"),
        "{}",
        no.reason
    );
    assert!(!no.last_checks.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn kprobes_are_refused_here_with_a_tracepoint_alternative() {
    let bad = "```bpftrace\nkprobe:do_sys_openat2 { printf(\"%s\\n\", comm); }\n```";
    let d = TestDaemon::scripted(&[bad, GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let host_check = events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Check(c))
                if c.name == "host-attach-points" && c.iteration == 1 =>
            {
                Some(c)
            }
            _ => None,
        })
        .expect("host check of the first candidate");
    assert!(!host_check.passed);
    assert!(host_check
        .detail
        .contains("kprobes are not available on this kernel"));
    assert!(host_check.detail.contains("tracepoint:syscalls:"));
    assert!(final_answer(&events).is_some());
    d.stop().await;
}

#[tokio::test]
async fn garbage_replies_go_through_the_repair_loop_without_harm() {
    let d = TestDaemon::scripted(&[
        "I am sorry, as a language model I cannot",
        "\u{0}\u{1}\u{fffd}}}}{{{ ``` ```",
        "```bpftrace\ntracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->filename)\n```",
        GOOD_OPENAT,
    ])
    .await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("answer on the 4th reply");
    assert_eq!(answer.iterations, 4);
    // The daemon is still there and well.
    let host = d.client().await.host_info(proto::HostInfoRequest {}).await;
    assert!(host.is_ok());
    d.stop().await;
}

#[tokio::test]
async fn an_oversized_or_empty_request_is_invalid_argument() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let huge = "a".repeat(1 << 20);
    let err = ask_all(&mut d.client().await, &huge, 1)
        .await
        .expect_err("1 MB is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("limit"), "{}", err.message());
    let err = ask_all(&mut d.client().await, "   ", 1)
        .await
        .expect_err("empty is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // Nothing was recorded for refused requests, and the daemon still answers.
    let list = d.requests().await;
    assert!(list.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn four_concurrent_clients_are_all_answered() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut c = d.client().await;
        tasks.push(tokio::spawn(async move {
            ask_all(&mut c, &format!("{REQUEST} (client {i})"), 2).await
        }));
    }
    for t in tasks {
        let events = t.await.expect("task").expect("ask");
        assert!(final_answer(&events).is_some());
    }
    let list = d.requests().await;
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|r| r.state == "answered"));
    d.stop().await;
}

#[tokio::test]
async fn history_keeps_every_prompt_reply_and_check() {
    let bad =
        "```bpftrace\ntracepoint:syscalls:sys_enter_openat { printf(\"%d\\n\", args->ret); }\n```";
    let d = TestDaemon::scripted(&[bad, GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("answer");
    let rec = d
        .client()
        .await
        .get_request(proto::GetRequestRequest {
            id: answer.request_id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    let summary = rec.summary.expect("summary");
    assert_eq!(summary.state, "answered");
    assert_eq!(
        summary.caller_uid, 0,
        "the caller's uid comes from SO_PEERCRED"
    );
    let kinds = |k: &str| rec.transcript.iter().filter(|e| e.kind == k).count();
    assert_eq!(kinds("prompt"), 2);
    assert_eq!(kinds("reply"), 2);
    // Policy, catalog, coverage, subject and load for the bad candidate; the same, the
    // symbolic verdict and a smoke run for the good one.
    assert_eq!(kinds("check"), 12);
    // The catalog explains args->ret on an enter probe.
    assert!(rec
        .transcript
        .iter()
        .any(|e| e.kind == "check" && e.text.contains("sys_exit_openat as args->ret")));
    assert_eq!(rec.program, answer.program);
    let err = d
        .client()
        .await
        .get_request(proto::GetRequestRequest {
            id: "no-such-id".into(),
        })
        .await
        .expect_err("unknown id");
    assert_eq!(err.code(), tonic::Code::NotFound);
    d.stop().await;
}

#[tokio::test]
async fn an_ask_whose_client_went_away_is_recorded_as_cancelled() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let (events, gone) = tokio::sync::mpsc::channel(64);
    drop(gone);
    let opts = kgentd::agent::AskOptions {
        text: REQUEST.into(),
        target: kgentd::agent::ProgramTarget::Bpftrace,
        max_iterations: 4,
        smoke_run: false,
        skip_smoke_run: true,
        caller_uid: 0,
        role: kgentd::authz::Role::Admin,
    };
    let err = match d.daemon_agent.ask(opts, events).await {
        Err(e) => e,
        Ok(_) => panic!("an ask nobody listens to must stop"),
    };
    assert!(matches!(err, kgentd::error::KgentError::Cancelled), "{err}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::Cancelled);
    // What `kgentctl history` shows: cancelled, not failed, and the loop stopped before a draft.
    let requests = d.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].state, "cancelled");
    let rec = d
        .client()
        .await
        .get_request(proto::GetRequestRequest {
            id: requests[0].id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert!(rec.outcome.contains("client went away"), "{}", rec.outcome);
    assert!(rec.transcript.iter().all(|e| e.kind != "reply"));
    d.stop().await;
}

#[tokio::test]
async fn hardware_counter_requests_are_refused_with_the_reason() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, "measure cache misses per process", 2)
        .await
        .expect("ask");
    let no = final_no_answer(&events).expect("refused");
    assert!(
        no.reason.contains("no hardware performance counters"),
        "{}",
        no.reason
    );
    assert_eq!(
        no.iterations, 0,
        "no model call for what the host cannot do"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_kernel_object_no_attach_point_observes_is_refused_without_a_model_call() {
    // This host has no tracepoint for the dentry cache and no kprobes (HOST.md): whatever a
    // model wrote would watch something else (page-cache readahead, a chdir).
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let events = ask_all(
        &mut d.client().await,
        "how often do path lookups find nothing in the dentry cache?",
        2,
    )
    .await
    .expect("ask");
    let no = final_no_answer(&events).expect("refused");
    assert!(no.reason.contains("dcache"), "{}", no.reason);
    assert_eq!(no.iterations, 0, "{}", no.reason);
    // A page-cache request is observable here: it reaches the model.
    let events = ask_all(&mut d.client().await, "trace page cache additions", 2)
        .await
        .expect("ask");
    assert!(final_no_answer(&events).is_none_or(|n| n.iterations > 0));
    d.stop().await;
}

#[tokio::test]
async fn uprobes_are_grounded_in_the_named_binary_and_checked_against_its_symbols() {
    let bad = "```bpftrace\nuretprobe:/bin/bash:read_line { printf(\"%s\\n\", str(retval)); }\n```";
    let good = "```bpftrace\nuretprobe:/bin/bash:readline { printf(\"%d %s\\n\", pid, str(retval)); }\n```";
    let d = TestDaemon::scripted(&[bad, good]).await;
    let events = ask_all(
        &mut d.client().await,
        "show every command line typed into /bin/bash (its readline function)",
        3,
    )
    .await
    .expect("ask");
    let grounding = events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Progress(p)) if p.stage == "grounding" => {
                Some(p.detail.clone())
            }
            _ => None,
        })
        .expect("grounding progress");
    assert!(
        grounding.contains("uprobe target /bin/bash") && grounding.contains("readline"),
        "{grounding}"
    );
    let host_check = events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Check(c))
                if c.name == "host-attach-points" && c.iteration == 1 =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("host check");
    assert!(!host_check.passed);
    assert!(
        host_check
            .detail
            .contains("defines no function `read_line`"),
        "{}",
        host_check.detail
    );
    let answer = final_answer(&events).unwrap_or_else(|| panic!("no answer: {events:#?}"));
    assert_eq!(answer.iterations, 2);
    assert!(answer
        .checks
        .iter()
        .all(|c| c.passed || (c.name == "symbolic" && c.inconclusive)));
    d.stop().await;
}

#[tokio::test]
async fn a_refusal_is_questioned_once_and_a_second_one_stands() {
    let d = TestDaemon::scripted(&["UNSUPPORTED: cannot be done", GOOD_OPENAT]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    assert_eq!(
        final_answer(&events)
            .expect("answer after reconsidering")
            .iterations,
        2
    );
    d.stop().await;

    let d = TestDaemon::scripted(&["UNSUPPORTED: this kernel has no compositor tracepoints"]).await;
    let events = ask_all(&mut d.client().await, "count compositor frames", 4)
        .await
        .expect("ask");
    let no = final_no_answer(&events).expect("refused");
    assert_eq!(no.iterations, 2);
    assert!(
        no.reason.contains("no compositor tracepoints"),
        "{}",
        no.reason
    );
    d.stop().await;
}

#[tokio::test]
async fn a_plainly_misspelled_field_is_repaired_without_asking_the_model_again() {
    let typo = "```bpftrace\ntracepoint:syscalls:sys_enter_openat { printf(\"%d %s %s\\n\", pid, comm, str(args->file_name)); }\n```";
    let d = TestDaemon::scripted(&[typo, "the model must not be asked again"]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("answer");
    assert_eq!(answer.iterations, 1);
    assert!(
        answer.program.contains("args->filename"),
        "{}",
        answer.program
    );
    let repair = events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Progress(p)) if p.stage == "repair" => {
                Some(p.detail.clone())
            }
            _ => None,
        })
        .expect("the repair is reported");
    assert!(
        repair.contains("args->file_name → args->filename"),
        "{repair}"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_filter_the_request_never_stated_is_removed_from_a_written_draft() {
    let invented = "```bpftrace\ntracepoint:syscalls:sys_enter_openat\n/comm == \"nginx\"/\n{\n  printf(\"%d %s %s\\n\", pid, comm, str(args->filename));\n}\n```";
    let d = TestDaemon::scripted(&[invented, "the model must not be asked again"]).await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("answer");
    assert_eq!(answer.iterations, 1);
    assert!(!answer.program.contains("nginx"), "{}", answer.program);
    assert!(answer.program.contains("sys_enter_openat"));
    let repair = events
        .iter()
        .find_map(|e| match &e.event {
            Some(proto::ask_event::Event::Progress(p)) if p.stage == "repair" => {
                Some(p.detail.clone())
            }
            _ => None,
        })
        .expect("the repair is reported");
    assert!(
        repair.contains("removed the test `comm == \"nginx\"`: the request states no such value"),
        "{repair}"
    );
    d.stop().await;
}

/// A model stand-in that panics when asked, as a bug anywhere in the loop would.
struct PanickingModel;

#[async_trait::async_trait]
impl kgentd::llm::Backend for PanickingModel {
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn model(&self) -> String {
        "a model that panics".into()
    }
    fn loaded(&self) -> bool {
        true
    }
    async fn complete(
        &self,
        _req: kgentd::llm::ChatRequest,
    ) -> Result<kgentd::llm::Completion, kgentd::llm::LlmError> {
        panic!("byte index 1 is not a char boundary; it is inside 'µ' (bytes 0..2) of `µs`")
    }
}

#[tokio::test]
async fn a_panic_while_answering_fails_the_request_with_the_reason() {
    let d = TestDaemon::with_backend(std::sync::Arc::new(PanickingModel), |_| {}).await;
    let err = ask_all(&mut d.client().await, REQUEST, 2)
        .await
        .expect_err("the ask fails");
    assert_eq!(err.code(), tonic::Code::Internal);
    assert!(
        err.message().contains("panicked") && err.message().contains("not a char boundary"),
        "{}",
        err.message()
    );
    // The record is finalised, not left pending, and the daemon still answers.
    let list = d.requests().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].state, "failed");
    let rec = d
        .client()
        .await
        .get_request(proto::GetRequestRequest {
            id: list[0].id.clone(),
        })
        .await
        .expect("get_request")
        .into_inner();
    assert!(
        rec.outcome.contains("not a char boundary"),
        "{}",
        rec.outcome
    );
    d.stop().await;
}

#[tokio::test]
async fn a_program_the_workload_cannot_exercise_is_judged_by_what_it_observes() {
    // Neither memfd_create nor shmget is provoked by the smoke workload, so no smoke run can
    // tell them apart; memfd_create makes an anonymous file (its man page), not a System V
    // shared memory segment: the request-subject check refuses it, though it is off by default.
    let neighbour = "```bpftrace\ntracepoint:syscalls:sys_enter_memfd_create { printf(\"%d %s %s\\n\", pid, comm, str(args->uname)); }\n```";
    let right = "```bpftrace\ntracepoint:syscalls:sys_enter_shmget { printf(\"%d %s %d\\n\", pid, comm, args->key); }\n```";
    let d = TestDaemon::scripted(&[neighbour, right]).await;
    let events = ask_all(
        &mut d.client().await,
        "log System V shared memory segments as processes create them, by process name",
        4,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).unwrap_or_else(|| panic!("no answer: {events:#?}"));
    assert!(
        answer.program.contains("sys_enter_shmget"),
        "{}",
        answer.program
    );
    let refused = events.iter().any(|e| {
        matches!(&e.event, Some(proto::ask_event::Event::Check(c))
            if c.name == "request-subject" && !c.passed && c.iteration == 1
                && c.detail.contains("shared memory"))
    });
    assert!(refused, "{events:#?}");
    assert!(answer
        .checks
        .iter()
        .any(|c| c.name == "request-subject" && c.passed));
    d.stop().await;
}

#[tokio::test]
async fn an_unexercised_program_that_passes_over_the_best_match_is_refused() {
    // A kernel thread's stop never happens under the smoke workload; a process's exit does,
    // and it is what this host's catalog ranks first for the request.
    let kthread = "```bpftrace\ntracepoint:sched:sched_kthread_stop { printf(\"%s %d\\n\", comm, pid); }\n```";
    let exit = "```bpftrace\ntracepoint:sched:sched_process_exit { printf(\"%s %d %d\\n\", comm, pid, (curtask->exit_code >> 8) & 0xff); }\n```";
    let d = TestDaemon::scripted(&[kthread, exit]).await;
    let events = ask_all(
        &mut d.client().await,
        "log processes as they end, with name, pid and exit status",
        4,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).unwrap_or_else(|| panic!("no answer: {events:#?}"));
    assert!(
        answer.program.contains("sched_process_exit"),
        "{}",
        answer.program
    );
    let refused = events.iter().any(|e| {
        matches!(&e.event, Some(proto::ask_event::Event::Check(c))
            if !c.passed && c.iteration == 1 && c.detail.contains("sched_process_exit"))
    });
    assert!(refused, "{events:#?}");
    d.stop().await;
}

#[tokio::test]
async fn a_reply_cut_off_at_the_token_limit_is_told_so() {
    // The reply used every token it was allowed: the program stops mid-string.
    let cut = "```bpftrace\ntracepoint:syscalls:sys_enter_openat { printf(\"%d %s %s\n```";
    let backend = kgentd::llm::ScriptedBackend::new(
        "test script",
        vec![cut.to_string(), GOOD_OPENAT.to_string()],
    )
    .expect("replies");
    let d = TestDaemon::with_backend(std::sync::Arc::new(backend), |c| {
        c.agent.max_reply_tokens = (cut.len() / 4) as u32
    })
    .await;
    let events = ask_all(&mut d.client().await, REQUEST, 4)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("an answer after the cut-off draft");
    assert_eq!(answer.iterations, 2);
    let repair = prompt_at(&d, &answer.request_id, 2).await;
    assert!(repair.contains("token limit"), "{repair}");
    d.stop().await;
}

#[tokio::test]
async fn an_unexercised_program_that_passes_over_the_subjects_provoked_event_is_refused() {
    // The OOM killer's victim event carries RSS fields, so it speaks of "rss" too; but the
    // smoke workload never provokes it, while kmem:rss_stat (this host's best match for the
    // subject, measured to fire under the workload) can be checked by a run.
    let victim = "```bpftrace\ntracepoint:oom:mark_victim { printf(\"%s %d %lu\\n\", comm, pid, args->anon_rss); }\n```";
    let counter = "```bpftrace\ntracepoint:kmem:rss_stat /args->curr/ { printf(\"%s %d %ld\\n\", comm, pid, args->size); }\n```";
    let d = TestDaemon::scripted(&[victim, counter]).await;
    let events = ask_all(
        &mut d.client().await,
        "show the rss of processes, with their name and pid",
        4,
    )
    .await
    .expect("ask");
    let refused = events.iter().any(|e| {
        matches!(&e.event, Some(proto::ask_event::Event::Check(c))
            if c.name == "smoke-run" && !c.passed && c.iteration == 1
                && c.detail.contains("tracepoint:kmem:rss_stat"))
    });
    assert!(refused, "{events:#?}");
    let answer = final_answer(&events).unwrap_or_else(|| panic!("no answer: {events:#?}"));
    assert!(answer.program.contains("rss_stat"), "{}", answer.program);
    d.stop().await;
}
