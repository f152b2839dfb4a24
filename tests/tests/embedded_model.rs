//! The real embedded model (Qwen2.5-Coder-1.5B through llama.cpp, fetched by setup.sh) end to
//! end: English in, a program that loads on this kernel out, and that program, run, really shows
//! a file the test opens.
use std::sync::Arc;

use kgent_tests::{ask_all, final_answer, run_until_finished, TestDaemon};
use kgentd::config::ModelConfig;
use kgentd::llm::EmbeddedBackend;

#[tokio::test]
async fn the_embedded_model_answers_a_simple_request_with_a_program_that_works() {
    let cfg = ModelConfig::default();
    assert!(
        cfg.path.exists(),
        "{} is missing: fetch it with `bash setup.sh --no-build`",
        cfg.path.display()
    );
    let d = TestDaemon::with_backend(Arc::new(EmbeddedBackend::new(&cfg)), |_| {}).await;
    let events = ask_all(
        &mut d.client().await,
        "print the pid, process name and path of every file that gets opened",
        4,
    )
    .await
    .expect("ask");
    let answer = final_answer(&events).unwrap_or_else(|| panic!("no answer: {events:#?}"));
    assert!(answer
        .checks
        .iter()
        .any(|c| c.name == "bpftrace-load" && c.passed));
    let usage = answer.usage.expect("usage");
    assert!(
        usage.prompt_tokens > 100 && usage.completion_tokens > 10,
        "{usage:?}"
    );
    let host = d.host_info().await;
    assert!(host.model_loaded);
    assert_eq!(host.model_backend, "embedded");

    // Run the answer and open a file it must report.
    let path = format!("/tmp/kgent-e2e-{}.txt", std::process::id());
    let mut stream = d.run_answer(&answer.request_id, 3).await.expect("run");
    let p = path.clone();
    let (output, _) = run_until_finished(&mut stream, move |_| {
        std::fs::write(&p, b"x").expect("write");
        std::fs::read(&p).expect("read");
    })
    .await;
    let _ = std::fs::remove_file(&path);
    assert!(
        output.iter().any(|l| l.contains(&path)),
        "the program did not show {path}:\n{}\n{}",
        answer.program,
        output.join("\n")
    );
    d.stop().await;
}
