//! Assembling and serving the daemon: open the store, read the host, build the knowledge and the
//! model backend, reconcile the jobs a previous daemon left, listen on the Unix socket (and on
//! TCP with mutual TLS when `[listen.tcp]` says so), and shut down cleanly (every job ended, the
//! store flushed).
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

use crate::agent::Agent;
use crate::api::readiness::{self, Gate};
use crate::api::{tls, KgentService};
use crate::config::{Config, MetricsConfig, TcpListenConfig};
use crate::error::KgentError;
use crate::exec::{Jobs, JobsSetup};
use crate::features::{self, Measurement};
use crate::host::HostFacts;
use crate::knowledge::Knowledge;
use crate::llm::{self, Backend};
use crate::metrics;
use crate::reuse::AnswerCache;
use crate::store::{Retention, Store};
use crate::toolchain::clang::ClangToolchain;

pub struct Daemon {
    pub agent: Arc<Agent>,
    /// The ask entry point: verified answers of this kernel build reused, else the agent.
    pub answers: Arc<AnswerCache>,
    pub jobs: Jobs,
    pub config: Config,
}

impl Daemon {
    /// Builds every part. Only what makes the daemon useless is fatal (no store, a backend
    /// configuration that cannot work); a missing model file is reported when it is first needed.
    pub async fn build(config: Config) -> Result<Self, KgentError> {
        let backend =
            llm::from_config(&config.model).map_err(|e| KgentError::Model(Box::new(e)))?;
        Self::build_with_backend(config, backend).await
    }

    pub async fn build_with_backend(
        config: Config,
        backend: Arc<dyn Backend>,
    ) -> Result<Self, KgentError> {
        let store = Store::open(&config.state_dir)?.with_retention(Retention {
            max_records: config.limits.max_history_records,
            max_age_ms: u64::from(config.limits.max_history_days) * 24 * 3600 * 1000,
        })?;
        let recovered = store.recover_interrupted()?;
        if recovered > 0 {
            tracing::warn!(
                "{recovered} request(s) were interrupted by a previous stop; marked failed"
            );
        }
        let host = discover_host(&config).await?;
        let dirs = config.agent.example_dirs.clone();
        let (host, knowledge) = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let knowledge = Knowledge::build(&host, &dirs);
            metrics::catalog_built(started.elapsed());
            (host, knowledge)
        })
        .await
        .map_err(|e| KgentError::Internal(format!("indexing crashed: {e}")))?;
        tracing::info!(
            kernel = %host.kernel_release,
            tracepoints = host.tracepoints.len(),
            examples = knowledge.example_count(),
            backend = backend.kind(),
            "host read"
        );
        let c = knowledge.catalog.counts();
        tracing::info!(
            tracepoints = c.tracepoints,
            raw_tracepoints = c.raw_tracepoints,
            kernel_functions = c.kernel_functions,
            helpers = c.helpers,
            "catalog built"
        );
        for w in &host.warnings {
            tracing::warn!("host: {w}");
        }
        for w in &knowledge.catalog.warnings {
            tracing::warn!("catalog: {w}");
        }
        for f in host.families.iter().filter(|f| !f.available) {
            tracing::info!("{} unavailable: {}", f.name, f.reason);
        }
        let knowledge = Arc::new(knowledge);
        enable_embeddings(&knowledge, &config);
        let clang = Arc::new(ClangToolchain::new(
            config.tools.clang.clone(),
            config.tools.llvm_strip.clone(),
            config.tools.bpftool.clone(),
            config.cache_dir.clone(),
        ));
        let tracefs = host.tracefs.clone();
        let jobs = Jobs::new(JobsSetup {
            bpftrace: config.tools.bpftrace.clone(),
            max_running: config.limits.max_running_jobs,
            max_per_uid: config.limits.max_jobs_per_uid,
            store: store.clone(),
            clang: clang.clone(),
            pin_root: config.jobs.pin_root.clone(),
            log_dir: config.state_dir.join("job-logs"),
            max_log_bytes: config.limits.max_job_log_bytes,
            max_map_bytes: config.limits.max_map_bytes,
            lock_dir: "/run/kgent".into(),
            tracefs,
        })?;
        for line in jobs.reconcile().await? {
            tracing::warn!("reconcile: {line}");
        }
        let provoked_cache = config.cache_dir.join(format!(
            "provoked-v3-{}-{:016x}.json",
            features::build_key(&host.kernel_release, &host.bpftrace_version),
            crate::check::workload_fingerprint()
        ));
        let agent = Arc::new(Agent {
            backend,
            host: Arc::new(host),
            knowledge,
            store,
            config: config.agent.clone(),
            bpftrace: config.tools.bpftrace.clone(),
            clang,
            max_map_bytes: config.limits.max_map_bytes,
            check_timeout: Duration::from_secs(config.tools.check_timeout_s),
            provoked: tokio::sync::OnceCell::new(),
            provoked_cache,
        });
        let answers = Arc::new(AnswerCache::new(agent.clone(), config.reuse_answers));
        Ok(Self {
            agent,
            answers,
            jobs,
            config,
        })
    }

    /// Serves until `shutdown` completes, then kills every job.
    pub async fn serve(
        self,
        listener: UnixListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), KgentError> {
        let mut serving = Serving::start(listener, &self.config.metrics, shutdown).await?;
        if let Some(tcp) = &self.config.listen.tcp {
            serving.listen_tcp(tcp).await?;
        }
        serving.ready(&self).await;
        serving.finish(self).await
    }

    /// The API service over this daemon's parts.
    fn service(&self) -> KgentService {
        let mut roles =
            crate::authz::Roles::resolve(&self.config.roles, self.config.limits.max_run_seconds);
        if let Some(tcp) = &self.config.listen.tcp {
            roles = roles.with_certificates(crate::authz::CertRoles::new(&tcp.roles));
        }
        KgentService::new(
            self.answers.clone(),
            self.jobs.clone(),
            self.config.limits.clone(),
            self.config.jobs.max_events_per_s,
            roles,
        )
    }
}

/// The gRPC server on the daemon's socket, answering from before the daemon is built: health
/// says `NOT_SERVING` and API calls wait until [`Serving::ready`]. With `[metrics] listen`, the
/// Prometheus endpoint beside it; with [`Serving::listen_tcp`], the same API over mutual TLS.
pub struct Serving {
    gate: Gate,
    server: tokio::task::JoinHandle<Result<(), KgentError>>,
    metrics: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    /// The router, for a second listener (it shares the gate).
    router: tonic::transport::server::Router,
    shutdown: Shared<BoxFuture<'static, ()>>,
    tcp: Option<TcpServing>,
}

/// The TCP listener's server, its accept loop and its SIGHUP watcher.
struct TcpServing {
    server: tokio::task::JoinHandle<Result<(), KgentError>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Serving {
    /// Starts serving `listener` (health, reflection, the gated API) until `shutdown` completes,
    /// and the metrics endpoint when `metrics` names an address (refused when it is not
    /// loopback and not allowed).
    pub async fn start(
        listener: UnixListener,
        metrics: &MetricsConfig,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Self, KgentError> {
        let metrics = match metrics::bind(metrics).await? {
            Some(l) => {
                let addr = l.local_addr()?;
                tracing::info!("Prometheus metrics on http://{addr}/metrics");
                Some((addr, tokio::spawn(metrics::serve(l))))
            }
            None => None,
        };
        let (gate, router) = readiness::router().await?;
        let shutdown = shutdown.boxed().shared();
        let unix = router.clone();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            unix.serve_with_incoming_shutdown(UnixListenerStream::new(listener), stop)
                .await
                .map_err(|e| KgentError::Internal(format!("gRPC server: {e}")))
        });
        Ok(Self {
            gate,
            server,
            metrics,
            router,
            shutdown,
            tcp: None,
        })
    }

    /// Serves the same API on `[listen.tcp]` with mutual TLS until the shutdown, and reads the
    /// certificate files again on every SIGHUP (a failed reload keeps the previous ones).
    pub async fn listen_tcp(&mut self, config: &TcpListenConfig) -> Result<(), KgentError> {
        let certificates = Arc::new(tls::Certificates::load(config)?);
        if in_private_network_namespace() {
            tracing::warn!(
                "the TCP listener is in a network namespace of its own (the unit's \
                 PrivateNetwork=yes): other hosts cannot reach it; install \
                 /usr/share/doc/kgent/examples/kgentd-network.conf as a drop-in of kgentd.service"
            );
        }
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| KgentError::io("cannot watch SIGHUP", e))?;
        let (address, incoming, accept) = tls::listen(certificates.clone()).await?;
        let reload = tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match certificates.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificates read again"),
                    Err(e) => tracing::error!("SIGHUP: {e}; the previous certificates stay"),
                }
            }
        });
        let router = self.router.clone();
        let stop = self.shutdown.clone();
        let server = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, stop)
                .await
                .map_err(|e| KgentError::Internal(format!("gRPC server (TCP): {e}")))
        });
        tracing::info!(address = %address, "listening on TCP with mutual TLS");
        self.tcp = Some(TcpServing {
            server,
            tasks: [accept, reload],
        });
        Ok(())
    }

    /// Where the metrics endpoint listens, when it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    /// Opens the API over `daemon` and reports `SERVING`.
    pub async fn ready(&self, daemon: &Daemon) {
        self.gate.open(daemon.service()).await;
    }

    /// Waits for the server to stop, then ends every job of `daemon`.
    pub async fn finish(self, daemon: Daemon) -> Result<(), KgentError> {
        let mut result = match self.server.await {
            Ok(r) => r,
            Err(e) => Err(KgentError::Internal(format!("gRPC server crashed: {e}"))),
        };
        if let Some(tcp) = self.tcp {
            let tcp_result = match tcp.server.await {
                Ok(r) => r,
                Err(e) => Err(KgentError::Internal(format!("gRPC server crashed: {e}"))),
            };
            result = result.and(tcp_result);
            for task in tcp.tasks {
                task.abort();
            }
        }
        daemon.jobs.shutdown().await;
        if let Some((_, task)) = self.metrics {
            task.abort();
        }
        result
    }
}

/// The host as read from the live system, with what loading programs showed applied (from the
/// cache of this kernel build when there is one).
pub async fn discover_host(config: &Config) -> Result<HostFacts, KgentError> {
    let bpftrace = config.tools.bpftrace.clone();
    let mut host = tokio::task::spawn_blocking(move || HostFacts::discover(&bpftrace))
        .await
        .map_err(|e| KgentError::Internal(format!("host discovery crashed: {e}")))?;
    let measured = measured_features(&host, config).await;
    features::apply(&mut host, &measured);
    disable_families(&mut host, &config.host.disabled_families);
    Ok(host)
}

/// Whether kgentd's network namespace is not the one of PID 1 (the host's), as under the
/// unit's `PrivateNetwork=yes`. False when either cannot be read.
fn in_private_network_namespace() -> bool {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
    matches!((ns("self"), ns("1")), (Some(own), Some(host)) if own != host)
}

/// `[host] disabled_families`: those families are unavailable here, saying so as their reason;
/// a name no family has is reported and disables nothing.
fn disable_families(host: &mut HostFacts, disabled: &[String]) {
    for name in disabled {
        match host.families.iter_mut().find(|f| f.name == name.as_str()) {
            Some(f) => {
                f.available = false;
                f.reason = format!(
                    "{name} programs are disabled on this host by its configuration (host.disabled_families in kgentd.toml)"
                );
            }
            None => tracing::warn!(
                "host.disabled_families: no attach family {name:?} (see `kgentctl host`); it disables nothing"
            ),
        }
    }
}

/// The feature cache file of this kernel build.
pub fn feature_cache_file(host: &HostFacts, config: &Config) -> std::path::PathBuf {
    let key = features::build_key(&host.kernel_release, &host.bpftrace_version);
    config.cache_dir.join(format!("features-v2-{key}.json"))
}

/// Loads the embedding model and the catalog's vectors on a thread of their own (seconds from
/// the cache, about a minute the first time on a new kernel build): the daemon serves at once,
/// with BM25-only search until the vectors are attached. A plain thread, not a runtime task, so
/// a shutdown never waits for it.
fn enable_embeddings(knowledge: &Arc<Knowledge>, config: &Config) {
    if !config.retrieval.embeddings {
        tracing::info!(
            "sentence embeddings are off (retrieval.embeddings = false): search is BM25 only"
        );
        return;
    }
    let knowledge = knowledge.clone();
    let model = config.retrieval.embedding_model.clone();
    let cache = config.cache_dir.clone();
    let spawned = std::thread::Builder::new()
        .name("kgent-embeddings".into())
        .spawn(move || {
            // Below requests and load checks: embedding a new kernel's catalog takes minutes of
            // CPU. Threads the model starts inherit the lower priority.
            // SAFETY: setpriority only reads its integer arguments; on Linux, PRIO_PROCESS with
            // 0 means the calling thread.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
            match knowledge.enable_embeddings(&model, &cache) {
                Ok(r) => tracing::info!(
                    texts = r.texts,
                    source = ?r.provenance,
                    model_load_ms = r.model_load.as_millis() as u64,
                    vectors_ms = r.vectors.as_millis() as u64,
                    "hybrid search ready (BM25 + all-MiniLM-L6-v2)"
                ),
                Err(e) => tracing::warn!("search stays BM25 only: {e}"),
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("search stays BM25 only: cannot start the embedding thread: {e}");
    }
}

/// Which families attach here and which helpers each program type may call: from the cache for
/// this kernel build, else measured now (a few seconds, once per kernel build) and cached in
/// `cache_dir`. A corrupt cache (or one in an older format) is measured again.
async fn measured_features(host: &HostFacts, config: &Config) -> Measurement {
    let file = feature_cache_file(host, config);
    if let Some(m) = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Measurement>(&b).ok())
    {
        tracing::info!(
            "attach families: measured before for this kernel build ({})",
            file.display()
        );
        return m;
    }
    let started = std::time::Instant::now();
    let m = features::measure(
        &config.tools.bpftrace,
        Duration::from_secs(config.tools.check_timeout_s),
    )
    .await;
    tracing::info!(
        "attach families measured in {} ms",
        started.elapsed().as_millis()
    );
    let write = std::fs::create_dir_all(&config.cache_dir).and_then(|_| {
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&m).unwrap_or_default())?;
        std::fs::rename(&tmp, &file)
    });
    if let Err(e) = write {
        tracing::warn!("cannot cache the feature probes in {}: {e}", file.display());
    }
    m
}

/// The listening socket: handed over by systemd (socket activation) or bound here, mode 0660
/// and group `socket_group` when that group exists (root only otherwise).
pub fn listen(socket: &Path, group: &str) -> Result<UnixListener, KgentError> {
    if let Some(l) = systemd_listener()? {
        tracing::info!("using the socket passed by systemd");
        return Ok(l);
    }
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(KgentError::Config(format!(
                "another kgentd is already serving {}; stop it or pass --socket",
                socket.display()
            )));
        }
        std::fs::remove_file(socket)?;
    }
    let listener = UnixListener::bind(socket)
        .map_err(|e| KgentError::io(format!("cannot listen on {}", socket.display()), e))?;
    let gid = nix::unistd::Group::from_name(group)
        .ok()
        .flatten()
        .map(|g| g.gid);
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(mode))?;
    if let Some(gid) = gid {
        nix::unistd::chown(socket, None, Some(gid))
            .map_err(|e| KgentError::Config(format!("chown {}: {e}", socket.display())))?;
    }
    tracing::info!(
        socket = %socket.display(),
        "listening (mode {mode:o}{})",
        if gid.is_some() { format!(", group {group}") } else { ", root only: no such group".into() }
    );
    Ok(listener)
}

/// Whether systemd passed this process its listening socket (LISTEN_PID/LISTEN_FDS). Then the
/// socket's path belongs to the socket unit: kgentd must not remove it when it stops, or
/// clients could not reach the next instance systemd starts.
pub fn socket_activated() -> bool {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(0);
    ours && fds >= 1
}

/// fd 3 when systemd passed exactly one socket to this process, marked close-on-exec so no
/// child inherits it; LISTEN_* leave the environment too.
fn systemd_listener() -> Result<Option<UnixListener>, KgentError> {
    use std::os::fd::FromRawFd;
    if !socket_activated() {
        return Ok(None);
    }
    // SAFETY: systemd guarantees fd 3 is an open listening socket handed to this process.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
    nix::fcntl::fcntl(
        3,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| {
        KgentError::Internal(format!(
            "cannot mark the activated socket close-on-exec: {e}"
        ))
    })?;
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    std_listener.set_nonblocking(true)?;
    Ok(Some(UnixListener::from_std(std_listener)?))
}
