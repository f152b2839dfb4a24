//! The API as a client without kgent's .proto sees it (Python grpcio with grpcio-reflection and
//! grpcio-health-checking, over the real Unix socket): reflection lists the services and lets it
//! call HostInfo, and health says NOT_SERVING until the daemon has read the host and built its
//! catalog, SERVING after; a call made meanwhile is answered once it is built.
//!
//! "Before" is observed deterministically: the server starts on the socket first (as the binary
//! does), and the test asks before it builds the daemon, then builds it and opens the API.
use std::process::Output;
use std::sync::Arc;

use kgent_tests::{python_script, test_config, test_python};
use kgentd::daemon::{listen, Daemon, Serving};
use kgentd::llm::ScriptedBackend;

fn command(socket: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(test_python());
    c.arg(python_script("grpc_client.py"))
        .arg(socket)
        .args(args);
    c
}

async fn client(socket: &std::path::Path, args: &[&str]) -> Output {
    command(socket, args).output().await.expect("python")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_not_serving_until_the_catalog_is_built_and_reflection_reaches_host_info() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = test_config(dir.path());
    let socket = cfg.socket.clone();
    let listener = listen(&socket, "kgent-test-no-such-group").expect("listen");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = Serving::start(listener, &cfg.metrics, async {
        let _ = stopped.await;
    })
    .await
    .expect("serving starts");

    // Before the daemon is built: a call waits (started first, it is in flight while the
    // health and reflection calls below run), and health says NOT_SERVING.
    let early = command(&socket, &["call", "kgent.v1.Kgent/HostInfo"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    for service in ["", "kgent.v1.Kgent"] {
        let o = client(&socket, &["health", service]).await;
        assert!(o.status.success(), "health {service:?}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            "NOT_SERVING",
            "health {service:?} before the catalog"
        );
    }

    // Reflection answers from the start, in both protocol versions (grpcurl asks v1 first).
    for version in ["v1", "v1alpha"] {
        let o = client(&socket, &["list", version]).await;
        assert!(o.status.success(), "list {version}: {}", stderr(&o));
        let services = stdout(&o);
        let services: Vec<&str> = services.lines().collect();
        let reflection = format!("grpc.reflection.{version}.ServerReflection");
        for want in ["kgent.v1.Kgent", "grpc.health.v1.Health", &reflection] {
            assert!(services.contains(&want), "{version} lists {services:?}");
        }
    }

    let backend = ScriptedBackend::new("test script", vec!["unused".into()]).expect("backend");
    let daemon = Daemon::build_with_backend(cfg, Arc::new(backend))
        .await
        .expect("daemon builds");
    serving.ready(&daemon).await;

    for service in ["", "kgent.v1.Kgent"] {
        let o = client(&socket, &["health", service]).await;
        assert_eq!(stdout(&o), "SERVING", "health {service:?}: {}", stderr(&o));
    }
    let unknown = client(&socket, &["health", "no.such.Service"]).await;
    assert_eq!(unknown.status.code(), Some(3));
    assert!(
        stderr(&unknown).starts_with("NOT_FOUND"),
        "{}",
        stderr(&unknown)
    );

    let o = early.wait_with_output().await.expect("python");
    assert!(o.status.success(), "HostInfo: {}", stderr(&o));
    let info: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("HostInfo as JSON");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(info["kernelRelease"], release.trim(), "{info}");
    assert_eq!(info["modelBackend"], "scripted", "{info}");
    assert!(info["tracepoints"].as_u64().unwrap_or(0) > 0, "{info}");
    assert!(
        info["families"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "tracepoint")),
        "{info}"
    );

    // A request message built from reflected descriptors, with a field the server must read.
    let o = client(
        &socket,
        &[
            "call",
            "kgent.v1.Kgent/ShowProbe",
            r#"{"name": "tracepoint:syscalls:sys_enter_openat"}"#,
        ],
    )
    .await;
    assert!(o.status.success(), "ShowProbe: {}", stderr(&o));
    let probe: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("ProbeEntry as JSON");
    assert_eq!(
        probe["name"], "tracepoint:syscalls:sys_enter_openat",
        "{probe}"
    );

    let _ = stop.send(());
    serving.finish(daemon).await.expect("server stops cleanly");
}
