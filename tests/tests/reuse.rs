//! Verified answers reused on the same kernel build: a repeated request is answered without the
//! model, its program checked again for real (policy, attach points, the load through bpftrace
//! and the kernel verifier); `kgentctl cache export/import` carries answers to another daemon,
//! which answers from them although its model could not; an entry that no longer loads is
//! never served; an export of another build is refused.
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use kgent_tests::{ask_all, final_answer, final_no_answer, proto, workspace_bin, TestDaemon};
use kgentd::llm::ScriptedBackend;
use serde_json::Value;

/// A reply no loop can turn into a program: a daemon with it answers only from reuse.
const NO_PROGRAM: &str = "I cannot write that program.";

const REQUEST: &str = "print every file opened, with the pid and command that opened it";

async fn daemon(replies: &[&str]) -> TestDaemon {
    let backend = ScriptedBackend::new(
        "reuse test",
        replies.iter().map(|s| s.to_string()).collect(),
    )
    .expect("replies");
    TestDaemon::with_backend(Arc::new(backend), |cfg| cfg.reuse_answers = true).await
}

/// kgentctl against a test daemon's socket (on a blocking thread: the daemon shares this
/// runtime).
async fn kgentctl(socket: &Path, args: &[&str]) -> Output {
    let socket = socket.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(workspace_bin("kgentctl"))
            .arg("--socket")
            .arg(socket)
            .args(args)
            .output()
            .expect("kgentctl")
    })
    .await
    .expect("kgentctl thread")
}

fn tokens(answer: &proto::Answer) -> u64 {
    answer
        .usage
        .as_ref()
        .map_or(0, |u| u.prompt_tokens + u.completion_tokens)
}

fn reused_checks_passed(answer: &proto::Answer) {
    let load = answer
        .checks
        .iter()
        .find(|c| c.name == "bpftrace-load")
        .unwrap_or_else(|| panic!("the load check runs again: {:?}", answer.checks));
    assert!(load.passed, "{load:?}");
    assert!(answer
        .checks
        .iter()
        .any(|c| c.name == "program-policy" && c.passed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_answer_is_reused_on_the_same_build_and_checked_again() {
    let first = daemon(&[kgent_tests::GOOD_OPENAT, NO_PROGRAM]).await;
    let mut client = first.client().await;

    let events = ask_all(&mut client, REQUEST, 0).await.expect("ask");
    let answered = final_answer(&events).expect("the loop answers").clone();
    assert!(
        tokens(&answered) > 0,
        "the first answer came from the model"
    );

    // The same request (in other spacing and case): the model's next reply is no program, so
    // an answer here can only be the kept one, checked again.
    let again = format!("  {}  ", REQUEST.to_uppercase());
    let events = ask_all(&mut client, &again, 0).await.expect("ask");
    let reused = final_answer(&events)
        .unwrap_or_else(|| panic!("reused: {:?}", final_no_answer(&events)))
        .clone();
    assert_eq!(reused.program, answered.program);
    assert_eq!(tokens(&reused), 0, "no model tokens");
    assert_eq!(reused.iterations, 0, "no draft");
    assert_ne!(
        reused.request_id, answered.request_id,
        "recorded as a request of its own"
    );
    reused_checks_passed(&reused);
    assert!(events.iter().any(|e| matches!(
        &e.event,
        Some(proto::ask_event::Event::Progress(p)) if p.stage == "reuse"
    )));
    let recorded = client
        .get_request(proto::GetRequestRequest {
            id: reused.request_id.clone(),
        })
        .await
        .expect("the reused answer is recorded")
        .into_inner();
    assert_eq!(recorded.program, answered.program);

    // Export (as root: admin), import into a daemon whose model cannot answer.
    let dir = tempfile::tempdir().expect("tmp");
    let export: PathBuf = dir.path().join("answers.json");
    let export_arg = export.to_string_lossy().into_owned();
    let out = kgentctl(&first.socket, &["cache", "export", &export_arg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&export).expect("export")).expect("json");
    assert_eq!(exported.len(), 1, "{exported:?}");

    let second = daemon(&[NO_PROGRAM]).await;
    let out = kgentctl(&second.socket, &["cache", "import", &export_arg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut client2 = second.client().await;
    let events = ask_all(&mut client2, REQUEST, 0).await.expect("ask");
    let imported = final_answer(&events)
        .unwrap_or_else(|| panic!("from the import: {:?}", final_no_answer(&events)))
        .clone();
    assert_eq!(imported.program, answered.program);
    assert_eq!(tokens(&imported), 0);
    reused_checks_passed(&imported);

    // An answer of another kernel build is refused whole.
    let mut other = exported.clone();
    other[0]["build"]["btf_sha256"] = "0000".into();
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, serde_json::to_string(&other).expect("json")).expect("write");
    let out = kgentctl(
        &second.socket,
        &["cache", "import", &other_file.to_string_lossy()],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(5),
        "refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("another kernel build"));

    // A kept program that no longer loads is never served: dropped, and the request asked
    // afresh (this model has no program: no answer).
    let mut broken = exported.clone();
    broken[0]["intent"] = "count nothing at all".into();
    broken[0]["program"] = "tracepoint:nope:nothing { @ = count(); }".into();
    let broken_file = dir.path().join("broken.json");
    std::fs::write(&broken_file, serde_json::to_string(&broken).expect("json")).expect("write");
    let out = kgentctl(
        &second.socket,
        &["cache", "import", &broken_file.to_string_lossy()],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = ask_all(&mut client2, "Count nothing at all.", 2)
        .await
        .expect("ask");
    assert!(
        final_answer(&events).is_none(),
        "a kept program that fails its checks is not an answer"
    );
    assert!(events.iter().any(|e| matches!(
        &e.event,
        Some(proto::ask_event::Event::Check(c)) if !c.passed && c.iteration == 0
    )));

    first.stop().await;
    second.stop().await;
}
