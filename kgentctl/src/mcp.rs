//! `kgentctl mcp`: kgent as a Model Context Protocol server on stdin/stdout, for AI agents
//! (the official Rust SDK, rmcp). Tools: `host_info`, `search_probes`, `show_probe`, `ask`,
//! `run` and `history`.
//!
//! Every tool is a call of kgentd's gRPC API made as the user running `kgentctl mcp`, so the
//! agent is that user and kgentd's policy applies unchanged: anyone may ask and run the answers
//! kgentd verified for them; running arbitrary program text needs root. `ask` hands back only a
//! program that passed its checks on this kernel, with those checks as its evidence, or the
//! reason there is none. `run` is capped in time and output, so a tool call always returns.
//! This module owns the tools' shapes; it checks and runs nothing itself, and writes nothing to
//! stdout but the protocol.

use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{
    ask_event, run_event, run_request, AskRequest, GetRequestRequest, HostInfoRequest,
    ListRequestsRequest, ProbeEntry, RunRequest, SearchProbesRequest, ShowProbeRequest, Target,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use tonic::transport::Channel;

use crate::client::{self, Daemon};
use crate::json;
use crate::status::RpcError;

/// The longest run a tool call may ask for, in seconds: the call returns when it ends.
pub const MAX_RUN_SECONDS: u32 = 60;
/// Seconds a run lasts when the call does not say.
const DEFAULT_RUN_SECONDS: u32 = 10;
/// Output lines a run returns; the rest are counted, not kept.
const MAX_RUN_LINES: usize = 1000;

const INSTRUCTIONS: &str = "\
kgent turns a plain-English request into an eBPF program verified on this very host (its BTF, \
tracefs and in-kernel verifier), and runs it. Use `ask` to get a program: it returns only a \
program that passed every check on this kernel, with the checks as evidence, or the reason \
there is none. Run it with `run` and the request_id `ask` returned. `search_probes` and \
`show_probe` explore what this kernel can attach to; `host_info` says what it supports; \
`history` lists past requests. You act as the user running `kgentctl mcp`: running arbitrary \
program text needs root.";

/// Which kind of program.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProgramKind {
    /// A bpftrace script (the default).
    Bpftrace,
    /// A libbpf-style C program (CO-RE).
    C,
}

impl From<ProgramKind> for Target {
    fn from(kind: ProgramKind) -> Self {
        match kind {
            ProgramKind::Bpftrace => Target::Bpftrace,
            ProgramKind::C => Target::C,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchProbes {
    /// What to look for, in plain words or kernel names: "tcp connection established".
    pub query: String,
    /// How many entries (default 10, at most 200).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ShowProbe {
    /// An attach point or helper: "syscalls:sys_enter_openat", "vfs_read", "bpf_redirect".
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Ask {
    /// What to observe, in plain English: "count openat calls per process name".
    pub request: String,
    /// bpftrace (default) or c.
    pub target: Option<ProgramKind>,
    /// Give up after this many candidates (default: kgentd's configuration).
    pub max_iterations: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Run {
    /// Run this past answer (the request_id `ask` returned).
    pub request_id: Option<String>,
    /// Or run this program text (needs root).
    pub program: Option<String>,
    /// The kind of `program`: bpftrace (default) or c.
    pub target: Option<ProgramKind>,
    /// Seconds to run (default 10, at most 60).
    pub duration_s: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct History {
    /// One request, with its transcript (every prompt, reply and check).
    pub id: Option<String>,
    /// Otherwise the latest requests, newest first (default 20).
    pub limit: Option<u32>,
}

/// The MCP server: the tools over one kgentd.
#[derive(Debug, Clone)]
pub struct KgentTools {
    daemon: Daemon,
    tool_router: ToolRouter<Self>,
}

/// A failed tool call as the agent sees it: what happened (and the gRPC code, for programs).
fn failure(error: impl std::fmt::Display, code: &str) -> CallToolResult {
    CallToolResult::structured_error(json!({ "error": error.to_string(), "code": code }))
}

fn rpc_failure(call: &'static str, status: tonic::Status) -> CallToolResult {
    let code = format!("{:?}", status.code());
    failure(RpcError::new(call, status), &code)
}

fn probe(entry: &ProbeEntry) -> Value {
    json!({
        "kind": entry.kind,
        "name": entry.name,
        "signature": entry.signature,
        "description": entry.description,
        "available": entry.available,
        "reason": entry.reason,
        "score": entry.score,
        "facts": entry.facts,
        "instead_of": entry.instead_of,
        "program_types": entry.program_types,
    })
}

#[tool_router]
impl KgentTools {
    pub fn new(daemon: Daemon) -> Self {
        Self {
            daemon,
            tool_router: Self::tool_router(),
        }
    }

    async fn client(&self) -> Result<KgentClient<Channel>, CallToolResult> {
        client::connect(&self.daemon)
            .await
            .map_err(|e| failure(e, "Unreachable"))
    }

    #[tool(
        description = "What this host's kernel supports (BTF, which attach families work and why not), its tracepoint and kernel-function counts, the bpftrace version and kgentd's model."
    )]
    async fn host_info(&self) -> Result<CallToolResult, ErrorData> {
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(failed) => return Ok(failed),
        };
        Ok(match client.host_info(HostInfoRequest {}).await {
            Ok(info) => CallToolResult::structured(json::host_info(&info.into_inner())),
            Err(status) => rpc_failure("HostInfo", status),
        })
    }

    #[tool(
        description = "Search this host's attach points (tracepoints with their fields, kernel functions, raw tracepoints) and BPF helpers, ranked for a query; each says whether it can be used here."
    )]
    async fn search_probes(
        &self,
        Parameters(args): Parameters<SearchProbes>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(failed) => return Ok(failed),
        };
        let request = SearchProbesRequest {
            query: args.query,
            limit: args.limit.unwrap_or(10),
        };
        Ok(match client.search_probes(request).await {
            Ok(found) => {
                let found = found.into_inner();
                let entries: Vec<Value> = found.entries.iter().map(probe).collect();
                CallToolResult::structured(json!({
                    "entries": entries,
                    "catalog_size": found.catalog_size,
                    "retrieval": found.retrieval,
                }))
            }
            Err(status) => rpc_failure("SearchProbes", status),
        })
    }

    #[tool(
        description = "One attach point or helper of this host: its fields or prototype, curated facts, what it replaces, and whether it can be used here."
    )]
    async fn show_probe(
        &self,
        Parameters(args): Parameters<ShowProbe>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(failed) => return Ok(failed),
        };
        Ok(
            match client
                .show_probe(ShowProbeRequest { name: args.name })
                .await
            {
                Ok(entry) => CallToolResult::structured(probe(&entry.into_inner())),
                Err(status) => rpc_failure("ShowProbe", status),
            },
        )
    }

    #[tool(
        description = "Turn a plain-English request into an eBPF program verified on this host. Returns verified=true with the program, its request_id (for `run`) and the checks it passed on this kernel as evidence, or verified=false with the reason there is no program. Takes seconds to minutes."
    )]
    async fn ask(&self, Parameters(args): Parameters<Ask>) -> Result<CallToolResult, ErrorData> {
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(failed) => return Ok(failed),
        };
        let request = AskRequest {
            text: args.request,
            target: Target::from(args.target.unwrap_or(ProgramKind::Bpftrace)) as i32,
            max_iterations: args.max_iterations.unwrap_or(0),
            ..Default::default()
        };
        let mut events = match client.ask(request).await {
            Ok(events) => events.into_inner(),
            Err(status) => return Ok(rpc_failure("Ask", status)),
        };
        loop {
            match events.message().await {
                Ok(Some(event)) => match event.event {
                    Some(ask_event::Event::Answer(answer)) => {
                        let mut result = json::answer(&answer);
                        result["verified"] = json!(true);
                        return Ok(CallToolResult::structured(result));
                    }
                    Some(ask_event::Event::NoAnswer(none)) => {
                        let mut result = json::no_answer(&none);
                        result["verified"] = json!(false);
                        return Ok(CallToolResult::structured(result));
                    }
                    _ => {}
                },
                Ok(None) => {
                    return Ok(failure(
                        "kgentd ended the ask without an answer or a reason",
                        "Internal",
                    ))
                }
                Err(status) => return Ok(rpc_failure("Ask", status)),
            }
        }
    }

    #[tool(
        description = "Run a verified answer (request_id from `ask`) or, as root only, program text, for duration_s seconds (default 10, at most 60), and return what it printed (at most 1000 lines) and how it ended."
    )]
    async fn run(&self, Parameters(args): Parameters<Run>) -> Result<CallToolResult, ErrorData> {
        let duration_s = args.duration_s.unwrap_or(DEFAULT_RUN_SECONDS);
        if duration_s == 0 || duration_s > MAX_RUN_SECONDS {
            return Ok(failure(
                format!("duration_s must be 1 to {MAX_RUN_SECONDS} seconds, not {duration_s}"),
                "InvalidArgument",
            ));
        }
        let (program, target) = match (args.request_id, args.program) {
            (Some(id), None) => (run_request::Program::AnswerId(id), Target::Unspecified),
            (None, Some(text)) => (
                run_request::Program::Source(text),
                Target::from(args.target.unwrap_or(ProgramKind::Bpftrace)),
            ),
            _ => {
                return Ok(failure(
                    "give exactly one of request_id (a verified answer) and program",
                    "InvalidArgument",
                ))
            }
        };
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(failed) => return Ok(failed),
        };
        let request = RunRequest {
            program: Some(program),
            target: target as i32,
            duration_s,
            ..Default::default()
        };
        let mut events = match client.run(request).await {
            Ok(events) => events.into_inner(),
            Err(status) => return Ok(rpc_failure("Run", status)),
        };
        let mut job_id = String::new();
        let mut lines: Vec<String> = Vec::new();
        let mut stderr: Vec<String> = Vec::new();
        let mut left_out = 0u64;
        loop {
            let event = match events.message().await {
                Ok(Some(event)) => event,
                Ok(None) => {
                    return Ok(failure(
                        "kgentd closed the output before the program finished",
                        "Internal",
                    ))
                }
                Err(status) => return Ok(rpc_failure("Run", status)),
            };
            match event.event {
                Some(run_event::Event::Started(started)) => job_id = started.job_id,
                Some(run_event::Event::Line(line)) => {
                    let kept = if line.stderr { &mut stderr } else { &mut lines };
                    if kept.len() < MAX_RUN_LINES {
                        kept.push(line.text);
                    } else {
                        left_out += 1;
                    }
                }
                Some(run_event::Event::Finished(finished)) => {
                    let result = json!({
                        "job_id": job_id,
                        "output": lines,
                        "stderr": stderr,
                        "lines_left_out": left_out,
                        "exit_code": finished.exit_code,
                        "reason": finished.reason,
                    });
                    return Ok(if finished.exit_code == 0 {
                        CallToolResult::structured(result)
                    } else {
                        CallToolResult::structured_error(result)
                    });
                }
                None => {}
            }
        }
    }

    #[tool(
        description = "Past requests, newest first; with an id, that request with its full transcript (every prompt, model reply and check) and its program."
    )]
    async fn history(
        &self,
        Parameters(args): Parameters<History>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut client = match self.client().await {
            Ok(c) => c,
            Err(failed) => return Ok(failed),
        };
        Ok(match args.id {
            Some(id) => match client.get_request(GetRequestRequest { id }).await {
                Ok(record) => {
                    CallToolResult::structured(json::request_record(&record.into_inner()))
                }
                Err(status) => rpc_failure("GetRequest", status),
            },
            None => {
                let limit = args.limit.unwrap_or(20);
                match client.list_requests(ListRequestsRequest { limit }).await {
                    Ok(list) => {
                        let requests: Vec<Value> = list
                            .into_inner()
                            .requests
                            .iter()
                            .map(json::request_summary)
                            .collect();
                        CallToolResult::structured(json!({ "requests": requests }))
                    }
                    Err(status) => rpc_failure("ListRequests", status),
                }
            }
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for KgentTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("kgent", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Serves the tools on stdin/stdout until the client closes them.
pub async fn serve(daemon: Daemon) -> anyhow::Result<()> {
    let service = KgentTools::new(daemon)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("starting the MCP session on stdin/stdout: {e}"))?;
    service
        .waiting()
        .await
        .map_err(|e| anyhow::anyhow!("the MCP session ended abnormally: {e}"))?;
    Ok(())
}
