//! The daemon's configuration: `/etc/kgent/kgentd.toml`, where every key has a default.
//!
//! Owns parsing and defaults only; command-line overrides are applied by the binary.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::KgentError;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/kgent/kgentd.toml";
pub const DEFAULT_SOCKET: &str = "/run/kgent/kgent.sock";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/kgent";
pub const DEFAULT_MODEL_PATH: &str =
    "/var/cache/kgent/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
/// SHA-256 of the official Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF file.
pub const DEFAULT_MODEL_SHA256: &str =
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046";
/// all-MiniLM-L6-v2 (model.safetensors, tokenizer.json, config.json), fetched by setup.sh.
pub const DEFAULT_EMBEDDING_MODEL: &str = "/var/cache/kgent/models/all-minilm-l6-v2";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Unix socket the API listens on.
    pub socket: PathBuf,
    /// Group given access to the socket (mode 0660) when it exists; otherwise root only.
    pub socket_group: String,
    /// Directory of the sled database.
    pub state_dir: PathBuf,
    /// Facts measured once per kernel build (which attach families work).
    pub cache_dir: PathBuf,
    /// Answer a request already answered on this kernel build (same request, BTF, bpftrace
    /// and target) from that answer, checked again here (policy, attach points, the real
    /// load) instead of asking the model.
    pub reuse_answers: bool,
    pub agent: AgentConfig,
    pub model: ModelConfig,
    pub limits: LimitsConfig,
    pub tools: ToolsConfig,
    pub retrieval: RetrievalConfig,
    pub jobs: JobsConfig,
    pub metrics: MetricsConfig,
    pub roles: RolesConfig,
    pub listen: ListenConfig,
    pub host: HostConfig,
}

/// What a caller may do, ordered from least to most (enforced by the authz module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Observer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Observer => "observer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// `[roles]`: which Unix groups get which role (enforced by the authz module). Root is always admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolesConfig {
    /// Groups (names or numeric gids) whose members may ask and read their own history.
    pub observer: Vec<String>,
    /// Groups whose members may also run their verified answers (detached too).
    pub operator: Vec<String>,
    /// Groups whose members may run anything (arbitrary text, network and cgroup programs,
    /// unsafe builtins and helpers).
    pub admin: Vec<String>,
    /// The role of a caller in none of these groups (it could connect: the socket's group).
    pub default: Role,
    /// Longest run an operator may start, in seconds (capped by limits.max_run_seconds); a
    /// duration of 0 means this maximum.
    pub operator_max_run_seconds: u32,
}

impl Default for RolesConfig {
    fn default() -> Self {
        Self {
            observer: Vec::new(),
            operator: Vec::new(),
            admin: Vec::new(),
            default: Role::Observer,
            operator_max_run_seconds: 3600,
        }
    }
}

/// `[listen]`: listeners beside the Unix socket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// `[listen.tcp]`: the API over TCP with mutual TLS, for fleets. Absent (the default): the
    /// Unix socket only.
    pub tcp: Option<TcpListenConfig>,
}

/// `[listen.tcp]`: every client must present a certificate signed by `client_ca`; its subject
/// common name or a subject alternative name (DNS name, URI, e-mail, IP address) maps to a
/// role like a Unix group does in `[roles]` (enforced by the authz module). Sending SIGHUP to
/// kgentd reads the three files again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpListenConfig {
    /// Address and port, e.g. "0.0.0.0:7443" or "[::]:7443".
    pub address: String,
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificates (PEM) that sign client certificates.
    pub client_ca: PathBuf,
    #[serde(default)]
    pub roles: CertRolesConfig,
}

/// `[listen.tcp.roles]`: which client-certificate names get which role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertRolesConfig {
    /// Names (common name or subject alternative name) whose holders may ask and read their
    /// own history.
    pub observer: Vec<String>,
    /// Names whose holders may also run their verified answers.
    pub operator: Vec<String>,
    /// Names whose holders may run anything. Only a name listed here makes a TCP caller admin.
    pub admin: Vec<String>,
    /// The role of a certificate whose names are in none of these lists: observer or operator
    /// (admin must be granted by name).
    pub default: Role,
}

impl Default for CertRolesConfig {
    fn default() -> Self {
        Self {
            observer: Vec::new(),
            operator: Vec::new(),
            admin: Vec::new(),
            default: Role::Observer,
        }
    }
}

/// `[host]`: what an operator keeps from this host's programs, whatever the kernel supports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostConfig {
    /// Attach families no program may use here (e.g. ["kprobe", "fentry"]), as `kgentctl host`
    /// names them; a request that needs one gets NoAnswer saying so.
    pub disabled_families: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the Prometheus endpoint (`http://<listen>/metrics`), e.g. "127.0.0.1:9464";
    /// "" (the default) serves none. Loopback only unless `allow_non_loopback`.
    pub listen: String,
    /// Serve the metrics on a non-loopback address. The endpoint has no authentication, and the
    /// metrics tell how kgent is used (request outcomes, job ids): expose them only on a network
    /// you trust, or scrape through a local agent.
    pub allow_non_loopback: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Directory of the sentence-embedding model (all-MiniLM-L6-v2: model.safetensors,
    /// tokenizer.json, config.json). Missing: search is BM25 only, with a warning.
    pub embedding_model: PathBuf,
    /// Turn sentence embeddings off (BM25 only).
    pub embeddings: bool,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            embedding_model: DEFAULT_EMBEDDING_MODEL.into(),
            embeddings: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// bpffs directory this daemon owns: C jobs pin their programs, links and maps under
    /// `<pin_root>/<job>`; on start, whatever no live job owns there is removed.
    pub pin_root: PathBuf,
    /// Records (C) or output lines (bpftrace) per second delivered to a client before the
    /// rest are dropped (counted and reported); a run may ask for less.
    pub max_events_per_s: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            pin_root: "/sys/fs/bpf/kgent".into(),
            max_events_per_s: 100_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Synthesis → check → repair rounds before giving up with NoAnswer.
    pub max_iterations: u32,
    /// Wall-clock budget of one ask, in seconds: no new draft starts after it, nor one that would
    /// end past it if it took as long as the slowest so far, and the model is stopped when it is
    /// reached (a reply cut short ends the ask with no answer; the checks of a reply that came
    /// in time still run). 0: no limit.
    pub max_ask_seconds: u64,
    /// Model tokens (prompt + reply, summed over drafts) one ask may use: no new draft is
    /// started after it. 0: no limit.
    pub max_ask_tokens: u64,
    /// Longest reply asked of the model, in tokens.
    pub max_reply_tokens: u32,
    /// Tracepoints shown to the model per request.
    pub grounding_tracepoints: usize,
    /// Example programs shown to the model per request.
    pub grounding_examples: usize,
    /// Extra directories of `*.bt` example programs (the host's bpftrace tools).
    pub example_dirs: Vec<PathBuf>,
    /// Constrain the embedded model with a per-request grammar: probes only from the grounded
    /// attach points, `args->` fields only those of the probe they appear under.
    pub grammar: bool,
    /// Before the first draft, let the (grammar-constrained) model pick the attach points and
    /// say what to record; the first draft is constrained to that plan. Off by default: not yet
    /// measured to help (it costs a second pass over the prompt).
    pub plan: bool,
    /// The model first fills in a query (SELECT … FROM probes WHERE … GROUP BY …) under a
    /// grammar, which kgent compiles to bpftrace; free-form bpftrace follows when the query
    /// drafts fail. Needs a backend whose decoding a grammar constrains (the embedded model).
    pub query: bool,
    /// Drafts written as queries before the loop falls back to free-form bpftrace.
    pub query_drafts: u32,
    /// Apply deterministic repairs (field spellings, pointer conditions, `str()`, syscall
    /// kprobes) before checking a candidate.
    pub repair: bool,
    /// Run each candidate that loads against a harmless trigger workload and require that its
    /// output shows what the request asks to observe.
    pub smoke_run: bool,
    /// Check statically that a candidate computes what the request explicitly asks for (the
    /// process name, a duration, a histogram, the return value, a syscall named as a call).
    pub coverage: bool,
    /// Check statically that a candidate's probes observe what the request is about, not a
    /// neighbouring event (the request's subjects, as this host's attach points name them); a
    /// request none of whose candidates passes gets no answer. Off by default: on the labelled
    /// set (tests/eval/probe-labels.toml) it rejects 63% of wrong neighbours but also 30% of
    /// right probes, and a refusal on an incidental word can steer the model to a wrong probe.
    /// Off, the subjects the intent vocabulary names (`names = true`) are still held to.
    pub subject_check: bool,
    /// Judge each bpftrace candidate that loads against the contracts its request implies
    /// (only failed calls, ports in host byte order, IPv6 too, a thread's own latency, bytes as
    /// the call's result) with the z3 symbolic verifier; a refuted contract is fed back to the
    /// model with its counterexample.
    pub symbolic: bool,
    /// z3's time per contract, in milliseconds; a timeout is "unknown", never a pass.
    pub symbolic_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Embedded,
    Openai,
    Scripted,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" => Ok(Self::Embedded),
            "openai" => Ok(Self::Openai),
            "scripted" => Ok(Self::Scripted),
            other => Err(format!(
                "unknown backend {other:?}: expected embedded, openai or scripted"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub backend: BackendKind,
    /// GGUF file for the embedded backend.
    pub path: PathBuf,
    /// Expected SHA-256 of `path`; empty skips the check (for models you built yourself).
    pub sha256: String,
    /// CPU threads for the embedded backend; 0 = all cores.
    pub threads: u32,
    /// Context window of the embedded backend, in tokens.
    pub context_tokens: u32,
    /// OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.
    pub openai_base_url: String,
    pub openai_model: String,
    /// Environment variable holding the API key (checked first).
    pub openai_api_key_env: String,
    /// File holding the API key (used when the variable is unset).
    pub openai_api_key_file: Option<PathBuf>,
    pub openai_timeout_s: u64,
    /// Replies replayed by the scripted backend (tests only): a JSON array of strings.
    pub scripted_replies: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request text accepted, in bytes.
    pub max_request_bytes: usize,
    /// Asks waiting or running at once before new ones get ResourceExhausted.
    pub max_concurrent_asks: usize,
    /// Programs running at once before new runs get ResourceExhausted.
    pub max_running_jobs: usize,
    /// Longest run an admin may ask for, in seconds; a duration of 0 means this maximum.
    pub max_run_seconds: u32,
    /// Asks one uid may have waiting or running at once (admins are exempt).
    pub max_asks_per_uid: usize,
    /// Programs one uid may have running at once (admins are exempt).
    pub max_jobs_per_uid: usize,
    /// Largest a detached job's log grows, in bytes, before it moves to `<job>.log.1` (the one
    /// before is dropped) and a new log starts: a job keeps at most twice this on disk.
    pub max_job_log_bytes: u64,
    /// Requests kept in the history; the oldest go first. 0: no limit.
    pub max_history_records: usize,
    /// Days a request is kept in the history. 0: no limit.
    pub max_history_days: u32,
    /// Memory the maps of one C program may declare, in bytes (each map's max_entries × (key
    /// size + value size), ring and perf buffers by their size), checked before it is loaded.
    pub max_map_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    pub bpftrace: PathBuf,
    /// clang, for C programs (`-O2 -g -target bpf`).
    pub clang: PathBuf,
    pub llvm_strip: PathBuf,
    /// bpftool, to generate this kernel's vmlinux.h.
    pub bpftool: PathBuf,
    /// Longest a load check may take, in seconds (probe-heavy programs attach slowly).
    pub check_timeout_s: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            socket: DEFAULT_SOCKET.into(),
            socket_group: "kgent".into(),
            state_dir: DEFAULT_STATE_DIR.into(),
            cache_dir: "/var/cache/kgent".into(),
            agent: AgentConfig::default(),
            model: ModelConfig::default(),
            limits: LimitsConfig::default(),
            tools: ToolsConfig::default(),
            retrieval: RetrievalConfig::default(),
            jobs: JobsConfig::default(),
            metrics: MetricsConfig::default(),
            roles: RolesConfig::default(),
            listen: ListenConfig::default(),
            host: HostConfig::default(),
            reuse_answers: true,
        }
    }
}

impl AgentConfig {
    /// When an ask started at `started` must have its last reply: `max_ask_seconds` later.
    pub fn ask_deadline(&self, started: std::time::Instant) -> Option<std::time::Instant> {
        (self.max_ask_seconds > 0)
            .then(|| started + std::time::Duration::from_secs(self.max_ask_seconds))
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_iterations: 5,
            max_ask_seconds: 80,
            max_ask_tokens: 0,
            max_reply_tokens: 400,
            grounding_tracepoints: 8,
            grounding_examples: 3,
            example_dirs: vec!["/usr/sbin".into(), "/usr/share/bpftrace/tools".into()],
            grammar: true,
            plan: false,
            query: true,
            query_drafts: 2,
            repair: true,
            smoke_run: true,
            coverage: true,
            subject_check: false,
            symbolic: true,
            symbolic_timeout_ms: 2000,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Embedded,
            path: DEFAULT_MODEL_PATH.into(),
            sha256: DEFAULT_MODEL_SHA256.into(),
            threads: 0,
            context_tokens: 4096,
            openai_base_url: "http://127.0.0.1:8080/v1".into(),
            openai_model: "default".into(),
            openai_api_key_env: "KGENT_OPENAI_API_KEY".into(),
            openai_api_key_file: None,
            openai_timeout_s: 300,
            scripted_replies: None,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: 16 * 1024,
            max_concurrent_asks: 16,
            max_running_jobs: 16,
            max_run_seconds: 24 * 3600,
            max_asks_per_uid: 4,
            max_jobs_per_uid: 4,
            max_job_log_bytes: 64 << 20,
            max_history_records: 10_000,
            max_history_days: 90,
            max_map_bytes: 512 << 20,
        }
    }
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            bpftrace: "bpftrace".into(),
            clang: "clang".into(),
            llvm_strip: "llvm-strip".into(),
            bpftool: "bpftool".into(),
            check_timeout_s: 90,
        }
    }
}

impl Config {
    /// Reads `path`; a missing file at the default location means "all defaults", a missing
    /// file named explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, KgentError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let config: Self = toml::from_str(&text).map_err(|e| {
                    KgentError::Config(format!("{}: {}", path.display(), e.message()))
                })?;
                config
                    .validate()
                    .map_err(|e| KgentError::Config(format!("{}: {e}", path.display())))?;
                Ok(config)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(e) => Err(KgentError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// What parsing cannot refuse: a TCP listener must not make unnamed certificates admin.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(host) = plain_http_host(&self.model.openai_base_url) {
            if !is_loopback_host(host) {
                return Err(format!(
                    "model.openai_base_url {} is plain http:// to {host}, which is not this machine: prompts and the API key would cross the network unencrypted; use https:// (or a loopback address for a local server)",
                    self.model.openai_base_url
                ));
            }
        }
        if let Some(tcp) = &self.listen.tcp {
            if tcp.roles.default == Role::Admin {
                return Err("listen.tcp.roles.default = \"admin\" would make every certificate the CA signs an admin; list admin certificates by name in listen.tcp.roles.admin".into());
            }
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// The host of a plain `http://` URL (`None` for any other scheme): `[::1]`, `127.0.0.1`, a name.
fn plain_http_host(url: &str) -> Option<&str> {
    let rest = url.trim().strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    Some(match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    })
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_to_another_machine_is_refused() {
        let mut config = Config::default();
        for ok in [
            "http://127.0.0.1:8080/v1",
            "http://[::1]:8080/v1",
            "http://localhost/v1",
            "https://models.example.com/v1",
        ] {
            config.model.openai_base_url = ok.into();
            assert!(config.validate().is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.7:8080/v1",
            "http://models.internal/v1",
            "http://user@192.168.1.2/v1",
        ] {
            config.model.openai_base_url = bad.into();
            let err = config.validate().expect_err(bad);
            assert!(err.contains("https://"), "{err}");
        }
    }

    #[test]
    fn a_tcp_listener_may_not_make_every_certificate_admin() {
        let text = r#"
[listen.tcp]
address = "0.0.0.0:7443"
cert = "/c"
key = "/k"
client_ca = "/ca"
[listen.tcp.roles]
default = "admin"
"#;
        let config: Config = toml::from_str(text).expect("parses");
        let err = config.validate().expect_err("refused");
        assert!(err.contains("admin"), "{err}");
        assert!(Config::default().listen.tcp.is_none(), "off by default");
        assert!(Config::default().validate().is_ok());
    }
}
