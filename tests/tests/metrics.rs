//! The Prometheus endpoint as a scraper sees it: a real kgentd with `[metrics] listen` on
//! loopback, one ask (scripted model: a wrong draft, then a right one, checked for real) and
//! one run of the answer; the exposition is fetched over HTTP and read by the official Python
//! client's text parser (prometheus_client), and the counters must have moved.
use std::sync::Arc;
use std::time::Duration;

use kgent_tests::{
    connect, final_answer, proto, python_script, test_config, test_python, GOOD_OPENAT,
};
use kgentd::daemon::{listen, Daemon, Serving};
use kgentd::llm::ScriptedBackend;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The metrics as the Python parser read them.
struct Scrape(Value);

impl Scrape {
    async fn of(url: &str) -> Self {
        let o = tokio::process::Command::new(test_python())
            .arg(python_script("scrape_metrics.py"))
            .arg(url)
            .output()
            .await
            .expect("python");
        assert!(
            o.status.success(),
            "the exposition must parse: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Self(serde_json::from_slice(&o.stdout).expect("JSON from scrape_metrics.py"))
    }

    /// The value of sample `name` whose labels include `labels` (0 when there is none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["name"] == name)
            .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .filter_map(|s| s["value"].as_f64())
            .sum()
    }

    fn family_type(&self, name: &str) -> &str {
        self.0["families"][name].as_str().unwrap_or("missing")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_after_an_ask_and_a_run_shows_the_counters_moved() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = test_config(dir.path());
    cfg.metrics.listen = "127.0.0.1:0".into();
    let socket = cfg.socket.clone();
    let listener = listen(&socket, "kgent-test-no-such-group").expect("listen");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = cfg.metrics.clone();
    let serving = Serving::start(listener, &metrics, async {
        let _ = stopped.await;
    })
    .await
    .expect("serving starts");
    let url = format!(
        "http://{}/metrics",
        serving.metrics_addr().expect("a metrics address")
    );
    let bad = "```bpftrace\ntracepoint:syscalls:sys_enter_fileopen { printf(\"%d %s\\n\", pid, comm); }\n```";
    let backend =
        ScriptedBackend::new("test script", vec![bad.into(), GOOD_OPENAT.into()]).expect("backend");
    let daemon = Daemon::build_with_backend(cfg, Arc::new(backend))
        .await
        .expect("daemon builds");
    serving.ready(&daemon).await;

    let before = Scrape::of(&url).await;
    assert!(before.0["content_type"]
        .as_str()
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    assert_eq!(before.family_type("kgent_jobs"), "gauge");
    assert_eq!(before.family_type("kgent_model_tokens"), "counter");
    assert!(
        before.value("kgent_catalog_build_seconds", &[]) > 0.0,
        "the catalog build time is set once the daemon is built"
    );

    let mut client = connect(&socket).await;
    let mut stream = client
        .ask(proto::AskRequest {
            text: "print the pid, process name and path of every file that gets opened".into(),
            max_iterations: 4,
            skip_smoke_run: true,
            ..Default::default()
        })
        .await
        .expect("ask")
        .into_inner();
    let mut events = Vec::new();
    while let Some(ev) = stream.message().await.expect("ask stream") {
        events.push(ev);
    }
    let answer = final_answer(&events).expect("an answer on the second draft");
    assert_eq!(answer.iterations, 2);

    let asked = Scrape::of(&url).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        asked.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(asked.family_type("kgent_asks"), "counter");
    assert_eq!(asked.family_type("kgent_ask_duration_seconds"), "histogram");
    assert_eq!(moved("kgent_asks_total", &[("verdict", "answered")]), 1.0);
    assert_eq!(
        moved(
            "kgent_ask_duration_seconds_count",
            &[("verdict", "answered")]
        ),
        1.0
    );
    assert_eq!(moved("kgent_ask_iterations_sum", &[]), 2.0);
    assert!(
        moved("kgent_check_failures_total", &[("check", "bpftrace-load")]) >= 1.0,
        "the first draft failed its load check"
    );
    assert!(moved("kgent_model_tokens_total", &[("kind", "completion")]) > 0.0);
    assert_eq!(moved("kgent_model_tokens_per_second_count", &[]), 2.0);

    // A run of the answer: live while it runs, with its own events; ended after.
    let mut run = client
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::AnswerId(
                answer.request_id.clone(),
            )),
            duration_s: 3,
            ..Default::default()
        })
        .await
        .expect("run")
        .into_inner();
    let mut job = String::new();
    let mut lines = 0;
    let mut during = None;
    let finished = loop {
        let ev = run
            .message()
            .await
            .expect("run stream")
            .expect("a Finished event");
        match ev.event {
            Some(proto::run_event::Event::Started(s)) => {
                job = s.job_id;
                for _ in 0..20 {
                    let _ = std::fs::read("/etc/hostname");
                }
            }
            Some(proto::run_event::Event::Line(l)) if !l.stderr => {
                lines += 1;
                if during.is_none() {
                    // Give the counter a moment to include this line's siblings, then scrape.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    during = Some(Scrape::of(&url).await);
                }
            }
            Some(proto::run_event::Event::Finished(f)) => break f,
            _ => {}
        }
    };
    assert!(lines > 0, "the run printed opens: {finished:?}");
    let during = during.expect("a scrape while the job ran");
    assert!(during.value("kgent_jobs", &[("state", "live")]) >= 1.0);
    assert!(
        during.value("kgent_job_events_total", &[("job", job.as_str())]) >= 1.0,
        "the job's own events while it runs"
    );

    let after = Scrape::of(&url).await;
    assert_eq!(
        after.value("kgent_jobs_ended_total", &[]) - asked.value("kgent_jobs_ended_total", &[]),
        1.0
    );
    assert!(
        after.value("kgent_events_total", &[]) - asked.value("kgent_events_total", &[])
            >= f64::from(lines),
        "every line the client got was counted"
    );
    assert_eq!(
        after.value("kgent_job_events_total", &[("job", job.as_str())]),
        0.0,
        "an ended job's series are gone"
    );

    // Anything but GET /metrics is not the endpoint.
    let addr = serving.metrics_addr().expect("a metrics address");
    let mut http = tokio::net::TcpStream::connect(addr).await.expect("connect");
    http.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut reply = String::new();
    http.read_to_string(&mut reply).await.expect("reply");
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");

    let _ = stop.send(());
    serving.finish(daemon).await.expect("server stops cleanly");
    let _ = std::fs::remove_dir(kgent_tests::test_pin_root(dir.path()));
}
