//! The model backends as a user meets them: a missing or corrupt model file is a clear
//! `Unavailable` and the daemon stays up; an OpenAI-compatible server over a real loopback
//! connection drives the loop.
use std::io::Write;
use std::sync::{Arc, Mutex};

use kgent_tests::{ask_all, final_answer, TestDaemon, GOOD_OPENAT};
use kgentd::config::ModelConfig;
use kgentd::llm::{EmbeddedBackend, OpenAiBackend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REQUEST: &str = "print the pid, process name and path of every file that gets opened";

#[tokio::test]
async fn a_missing_model_is_unavailable_and_the_daemon_stays_up() {
    let cfg = ModelConfig {
        path: "/nonexistent/kgent/model.gguf".into(),
        ..ModelConfig::default()
    };
    let d = TestDaemon::with_backend(Arc::new(EmbeddedBackend::new(&cfg)), |_| {}).await;
    let err = ask_all(&mut d.client().await, REQUEST, 1)
        .await
        .expect_err("no model");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        err.message().contains("cannot open the model"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("setup.sh"),
        "the error says how to fix it"
    );
    assert!(
        !d.host_info().await.model_loaded,
        "still up, model not loaded"
    );
    // The failed request is on record, not lost.
    let list = d.requests().await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].state, "failed");
    d.stop().await;
}

#[tokio::test]
async fn a_corrupt_model_is_refused_by_its_hash() {
    let mut file = tempfile::NamedTempFile::new().expect("temp");
    file.write_all(b"GGUF this is not really a model")
        .expect("write");
    let cfg = ModelConfig {
        path: file.path().to_path_buf(),
        ..ModelConfig::default()
    };
    let d = TestDaemon::with_backend(Arc::new(EmbeddedBackend::new(&cfg)), |_| {}).await;
    for _ in 0..2 {
        let err = ask_all(&mut d.client().await, REQUEST, 1)
            .await
            .expect_err("bad model");
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(
            err.message().contains("corrupt or not the expected file"),
            "{}",
            err.message()
        );
    }
    d.host_info().await; // still up
    d.stop().await;
}

/// A minimal OpenAI-compatible server on loopback: answers every chat completion with the next
/// scripted reply and keeps each request body.
async fn openai_server(replies: Vec<&'static str>) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then the body by Content-Length.
            let (head_end, len) = loop {
                let k = sock.read(&mut chunk).await.unwrap_or(0);
                if k == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..k]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (p + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let k = sock.read(&mut chunk).await.unwrap_or(0);
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..k]);
            }
            let body: serde_json::Value =
                serde_json::from_slice(&buf[head_end..]).unwrap_or_default();
            seen2.lock().expect("lock").push(body);
            let reply = replies[n.min(replies.len() - 1)];
            n += 1;
            let resp = serde_json::json!({
                "id": "x", "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366}
            }).to_string();
            let http = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{resp}", resp.len());
            let _ = sock.write_all(http.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test]
async fn the_openai_backend_drives_the_loop_over_a_real_connection() {
    let bad = "```bpftrace\ntracepoint:syscalls:sys_enter_opennn { }\n```";
    let (url, seen) = openai_server(vec![bad, GOOD_OPENAT]).await;
    std::env::set_var("KGENT_TEST_OPENAI_KEY", "sk-test-123");
    let cfg = ModelConfig {
        openai_base_url: url,
        openai_model: "qwen-test".into(),
        openai_api_key_env: "KGENT_TEST_OPENAI_KEY".into(),
        ..ModelConfig::default()
    };
    let backend = OpenAiBackend::new(&cfg).expect("backend");
    let d = TestDaemon::with_backend(Arc::new(backend), |_| {}).await;
    let events = ask_all(&mut d.client().await, REQUEST, 3)
        .await
        .expect("ask");
    let answer = final_answer(&events).expect("answer");
    assert_eq!(answer.iterations, 2);
    let usage = answer.usage.expect("usage");
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (642, 90),
        "the server's usage is summed"
    );
    // The endpoint names an internal host: root (an admin) sees it, other users the model only.
    let info = d.host_info().await;
    assert!(
        info.model.starts_with("qwen-test at http://127.0.0.1:"),
        "{}",
        info.model
    );
    kgent_tests::open_socket_to_everyone(&d);
    let out = kgent_tests::as_nobody(&d.socket, &["host"]).await;
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("qwen-test") && !shown.contains("127.0.0.1"),
        "{shown}"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["model"], "qwen-test");
    let msgs = seen[1]["messages"].as_array().expect("messages");
    assert_eq!(msgs[0]["role"], "system");
    assert!(msgs
        .last()
        .and_then(|m| m["content"].as_str())
        .is_some_and(|c| c.contains("tracepoint not found")));
    d.stop().await;
}

#[tokio::test]
async fn an_unreachable_openai_endpoint_is_unavailable() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cfg = ModelConfig {
        openai_base_url: format!("http://127.0.0.1:{port}/v1"),
        ..ModelConfig::default()
    };
    let d = TestDaemon::with_backend(Arc::new(OpenAiBackend::new(&cfg).expect("backend")), |_| {})
        .await;
    let err = ask_all(&mut d.client().await, REQUEST, 1)
        .await
        .expect_err("down");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(err.message().contains("cannot reach"), "{}", err.message());
    d.stop().await;
}

#[tokio::test]
async fn a_model_that_outlasts_the_time_budget_is_stopped_at_it() {
    // An endpoint that reads the request and never answers: the ask's wall-time budget, not the
    // client's longer timeout, ends the draft, as a no-answer saying so.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let cfg = ModelConfig {
        openai_base_url: format!("http://{addr}/v1"),
        openai_timeout_s: 600,
        ..ModelConfig::default()
    };
    let backend = Arc::new(OpenAiBackend::new(&cfg).expect("backend"));
    let d = TestDaemon::with_backend(backend, |c| c.agent.max_ask_seconds = 2).await;
    let events = ask_all(&mut d.client().await, REQUEST, 3)
        .await
        .expect("ask");
    let none = kgent_tests::final_no_answer(&events).expect("no answer");
    assert!(
        none.reason
            .contains("the time budget ran out during a draft"),
        "{}",
        none.reason
    );
    d.stop().await;
}
