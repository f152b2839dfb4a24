//! Prometheus metrics: what kgentd counts, and the HTTP endpoint that serves them in the text
//! exposition format (`GET /metrics`), off unless `[metrics] listen` names an address.
//!
//! The metrics are process-wide, as a process has one `/metrics`: the agent, the jobs and the
//! daemon record through the functions and the [`JobMeter`] here and never touch prometheus
//! themselves. The exposition text is the `prometheus` crate's, never written by hand. This
//! module reads only the configuration; it decides nothing about requests or jobs.
//!
//! | metric | type | what |
//! |---|---|---|
//! | `kgent_asks_total{verdict}` | counter | finished asks: answered, no_answer, cancelled, failed |
//! | `kgent_ask_duration_seconds{verdict}` | histogram | time to answer (or to give up) |
//! | `kgent_ask_iterations` | histogram | drafts an ask took |
//! | `kgent_check_failures_total{check}` | counter | candidate checks that failed, by check |
//! | `kgent_model_tokens_total{kind}` | counter | model tokens, prompt and completion |
//! | `kgent_model_tokens_per_second` | histogram | generation speed of each model reply |
//! | `kgent_jobs{state}` | gauge | jobs pending (starting) and live |
//! | `kgent_jobs_ended_total` | counter | jobs ended, however they ended |
//! | `kgent_job_events_total{job}` | counter | records a live job delivered (`rate()`: events/s) |
//! | `kgent_job_dropped_events_total{job,cause}` | counter | records a live job lost |
//! | `kgent_events_total` | counter | records delivered by every job, ended ones included |
//! | `kgent_dropped_events_total{cause}` | counter | records lost by every job |
//! | `kgent_catalog_build_seconds` | gauge | how long the host catalog took to build |
//!
//! A job's own series exist while it runs: they go when it ends, so the number of series stays
//! that of the running jobs. Drop causes: `rate_limit` (over the job's records/s),
//! `buffer_full` (the kernel's perf buffer overflowed), `bpftrace_lost` (bpftrace's "Lost N
//! events").
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use tokio::net::TcpListener;

use crate::config::MetricsConfig;
use crate::error::KgentError;

/// Why records of a job were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Over the job's records-per-second limit.
    RateLimit,
    /// The kernel's perf buffer was full.
    BufferFull,
    /// bpftrace reported events it lost.
    BpftraceLost,
}

impl DropCause {
    const ALL: [DropCause; 3] = [
        DropCause::RateLimit,
        DropCause::BufferFull,
        DropCause::BpftraceLost,
    ];

    fn label(self) -> &'static str {
        match self {
            DropCause::RateLimit => "rate_limit",
            DropCause::BufferFull => "buffer_full",
            DropCause::BpftraceLost => "bpftrace_lost",
        }
    }
}

struct Metrics {
    registry: Registry,
    asks: IntCounterVec,
    ask_seconds: HistogramVec,
    iterations: Histogram,
    check_failures: IntCounterVec,
    model_tokens: IntCounterVec,
    tokens_per_second: Histogram,
    jobs: IntGaugeVec,
    jobs_ended: IntCounter,
    job_events: IntCounterVec,
    job_dropped: IntCounterVec,
    events: IntCounter,
    dropped: IntCounterVec,
    catalog_build: Gauge,
}

impl Metrics {
    fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("kgent".into()), None)?;
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            HistogramOpts::new(name, help).buckets(buckets)
        };
        let m = Self {
            asks: IntCounterVec::new(
                Opts::new("asks_total", "Finished asks, by verdict"),
                &["verdict"],
            )?,
            ask_seconds: HistogramVec::new(
                histogram(
                    "ask_duration_seconds",
                    "Time to answer an ask (or to give up), by verdict",
                    vec![
                        0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
                    ],
                ),
                &["verdict"],
            )?,
            iterations: Histogram::with_opts(histogram(
                "ask_iterations",
                "Drafts an ask took",
                (1..=10).map(f64::from).collect(),
            ))?,
            check_failures: IntCounterVec::new(
                Opts::new(
                    "check_failures_total",
                    "Candidate checks that failed, by check",
                ),
                &["check"],
            )?,
            model_tokens: IntCounterVec::new(
                Opts::new(
                    "model_tokens_total",
                    "Model tokens, by kind (prompt, completion)",
                ),
                &["kind"],
            )?,
            tokens_per_second: Histogram::with_opts(histogram(
                "model_tokens_per_second",
                "Generation speed of each model reply (completion tokens per second)",
                vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0],
            ))?,
            jobs: IntGaugeVec::new(
                Opts::new("jobs", "Jobs by state: pending (starting) and live"),
                &["state"],
            )?,
            jobs_ended: IntCounter::new("jobs_ended_total", "Jobs ended, however they ended")?,
            job_events: IntCounterVec::new(
                Opts::new(
                    "job_events_total",
                    "Records a live job delivered (rate() gives its events per second)",
                ),
                &["job"],
            )?,
            job_dropped: IntCounterVec::new(
                Opts::new(
                    "job_dropped_events_total",
                    "Records a live job lost, by cause",
                ),
                &["job", "cause"],
            )?,
            events: IntCounter::new(
                "events_total",
                "Records delivered by every job, ended ones included",
            )?,
            dropped: IntCounterVec::new(
                Opts::new(
                    "dropped_events_total",
                    "Records lost by every job, by cause",
                ),
                &["cause"],
            )?,
            catalog_build: Gauge::new(
                "catalog_build_seconds",
                "How long this host's catalog took to build at the daemon's start",
            )?,
            registry,
        };
        m.registry.register(Box::new(m.asks.clone()))?;
        m.registry.register(Box::new(m.ask_seconds.clone()))?;
        m.registry.register(Box::new(m.iterations.clone()))?;
        m.registry.register(Box::new(m.check_failures.clone()))?;
        m.registry.register(Box::new(m.model_tokens.clone()))?;
        m.registry.register(Box::new(m.tokens_per_second.clone()))?;
        m.registry.register(Box::new(m.jobs.clone()))?;
        m.registry.register(Box::new(m.jobs_ended.clone()))?;
        m.registry.register(Box::new(m.job_events.clone()))?;
        m.registry.register(Box::new(m.job_dropped.clone()))?;
        m.registry.register(Box::new(m.events.clone()))?;
        m.registry.register(Box::new(m.dropped.clone()))?;
        m.registry.register(Box::new(m.catalog_build.clone()))?;
        // The labels this module knows are reported from the start, at 0.
        for state in ["pending", "live"] {
            m.jobs.with_label_values(&[state]).set(0);
        }
        for kind in ["prompt", "completion"] {
            m.model_tokens.with_label_values(&[kind]);
        }
        for cause in DropCause::ALL {
            m.dropped.with_label_values(&[cause.label()]);
        }
        Ok(m)
    }
}

/// The metrics, or none when they could not be made (a bug: a unit test makes them).
static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    Metrics::new()
        .map_err(|e| tracing::error!("metrics are off: {e}"))
        .ok()
});

fn metrics() -> Option<&'static Metrics> {
    METRICS.as_ref()
}

/// An ask ended with `verdict` (a request state: answered, no_answer, cancelled, failed) after
/// `iterations` drafts and `wall` time.
pub fn ask_finished(verdict: &'static str, iterations: u32, wall: Duration) {
    if let Some(m) = metrics() {
        m.asks.with_label_values(&[verdict]).inc();
        m.ask_seconds
            .with_label_values(&[verdict])
            .observe(wall.as_secs_f64());
        m.iterations.observe(f64::from(iterations));
    }
}

/// A candidate failed the check named `check`.
pub fn check_failed(check: &'static str) {
    if let Some(m) = metrics() {
        m.check_failures.with_label_values(&[check]).inc();
    }
}

/// A model reply: its tokens, and how long generating the completion took.
pub fn model_reply(prompt_tokens: u64, completion_tokens: u64, generation: Duration) {
    if let Some(m) = metrics() {
        m.model_tokens
            .with_label_values(&["prompt"])
            .inc_by(prompt_tokens);
        m.model_tokens
            .with_label_values(&["completion"])
            .inc_by(completion_tokens);
        let seconds = generation.as_secs_f64();
        if completion_tokens > 0 && seconds > 0.0 {
            m.tokens_per_second
                .observe(completion_tokens as f64 / seconds);
        }
    }
}

/// The host catalog was built in `took`.
pub fn catalog_built(took: Duration) {
    if let Some(m) = metrics() {
        m.catalog_build.set(took.as_secs_f64());
    }
}

/// One job's share of the metrics, from its start to its end: it is counted pending, then live
/// ([`JobMeter::live`]), and ended when the meter is dropped, which also removes the job's own
/// series. Owned by whatever runs the job, so a job that ends any way at all is counted ended.
pub struct JobMeter {
    job: String,
    state: &'static str,
    events: Option<IntCounter>,
}

impl JobMeter {
    /// A job recorded, not yet attached.
    pub fn pending(job: &str) -> Self {
        Self::counted(job, "pending")
    }

    /// A job found live at the daemon's start and adopted.
    pub fn adopted(job: &str) -> Self {
        Self::counted(job, "live")
    }

    fn counted(job: &str, state: &'static str) -> Self {
        let events = metrics().map(|m| {
            m.jobs.with_label_values(&[state]).inc();
            m.job_events.with_label_values(&[job])
        });
        Self {
            job: job.to_owned(),
            state,
            events,
        }
    }

    /// Every probe is attached.
    pub fn live(&mut self) {
        if let Some(m) = metrics() {
            m.jobs.with_label_values(&[self.state]).dec();
            m.jobs.with_label_values(&["live"]).inc();
        }
        self.state = "live";
    }

    /// The job delivered one record (a line of output).
    pub fn event(&self) {
        if let (Some(events), Some(m)) = (&self.events, metrics()) {
            events.inc();
            m.events.inc();
        }
    }

    /// The job lost `count` records.
    pub fn dropped(&self, cause: DropCause, count: u64) {
        if let Some(m) = metrics() {
            m.job_dropped
                .with_label_values(&[self.job.as_str(), cause.label()])
                .inc_by(count);
            m.dropped.with_label_values(&[cause.label()]).inc_by(count);
        }
    }
}

impl Drop for JobMeter {
    fn drop(&mut self) {
        if let Some(m) = metrics() {
            m.jobs.with_label_values(&[self.state]).dec();
            m.jobs_ended.inc();
            let _ = m.job_events.remove_label_values(&[self.job.as_str()]);
            for cause in DropCause::ALL {
                let _ = m
                    .job_dropped
                    .remove_label_values(&[self.job.as_str(), cause.label()]);
            }
        }
    }
}

/// Every metric in the Prometheus text exposition format.
pub fn render() -> String {
    let Some(m) = metrics() else {
        return String::new();
    };
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::warn!("cannot encode the metrics: {e}");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The endpoint's listening socket, or none when `[metrics] listen` is empty. A non-loopback
/// address is refused unless `allow_non_loopback` says otherwise.
pub async fn bind(config: &MetricsConfig) -> Result<Option<TcpListener>, KgentError> {
    let listen = config.listen.trim();
    if listen.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = listen.parse().map_err(|e| {
        KgentError::Config(format!(
            "metrics.listen = {listen:?} is not an address and port ({e}); e.g. \"127.0.0.1:9464\""
        ))
    })?;
    if !addr.ip().is_loopback() && !config.allow_non_loopback {
        return Err(KgentError::Config(format!(
            "metrics.listen = {listen:?} is not a loopback address: the endpoint has no \
             authentication and tells how kgent is used; use 127.0.0.1 or [::1] and scrape \
             locally, or set metrics.allow_non_loopback = true"
        )));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| KgentError::io(format!("cannot listen for metrics on {addr}"), e))?;
    Ok(Some(listener))
}

/// Serves `GET /metrics` on `listener` (HTTP/1.1) until the task is dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(respond);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!("metrics endpoint: connection ended: {e}");
            }
        });
    }
}

async fn respond(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, prometheus::TEXT_FORMAT, render()),
        (&Method::GET, _) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "kgentd serves its metrics at /metrics\n".to_owned(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_are_made_and_render_as_prometheus_text() {
        assert!(Metrics::new().is_ok());
        ask_finished("answered", 2, Duration::from_millis(1500));
        let text = render();
        assert!(text.contains("# TYPE kgent_asks_total counter"), "{text}");
        assert!(text.contains("kgent_jobs{state=\"live\"}"), "{text}");
    }

    #[test]
    fn a_job_is_counted_until_its_meter_is_dropped_and_its_series_go_with_it() {
        let mut meter = JobMeter::pending("metrics-unit-job");
        meter.live();
        meter.event();
        meter.dropped(DropCause::RateLimit, 3);
        assert!(render().contains("kgent_job_events_total{job=\"metrics-unit-job\"} 1"));
        drop(meter);
        assert!(!render().contains("metrics-unit-job"));
    }

    #[tokio::test]
    async fn only_a_loopback_address_is_served_unless_allowed() {
        let config = |listen: &str, allow| MetricsConfig {
            listen: listen.into(),
            allow_non_loopback: allow,
        };
        assert!(bind(&config("", false)).await.is_ok_and(|l| l.is_none()));
        let refused = bind(&config("0.0.0.0:0", false)).await;
        assert!(
            matches!(&refused, Err(KgentError::Config(m)) if m.contains("allow_non_loopback")),
            "{refused:?}"
        );
        assert!(bind(&config("not an address", false)).await.is_err());
        assert!(bind(&config("127.0.0.1:0", false))
            .await
            .is_ok_and(|l| l.is_some()));
        let v6 = bind(&config("[::1]:0", false)).await;
        assert!(!matches!(v6, Err(KgentError::Config(_))), "{v6:?}");
    }
}
