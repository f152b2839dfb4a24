//! `kgentd verify`: the symbolic verifier on a given bpftrace program, for users and tests.
//! Contracts come from `--contract` (written) and/or `--request` (derived from a request as
//! an ask would); each is judged with z3 and printed with its outcome. Nothing is loaded.
//!
//! Exit status: 0 when every contract is proved (or does not apply), 1 when one is refuted,
//! 2 when none is refuted but one is unknown.
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use kgentd::config::Config;
use kgentd::symbolic::{self, Outcome, Types};

pub struct Request<'a> {
    pub program: &'a Path,
    pub contracts: &'a [String],
    pub request: Option<&'a str>,
    pub at: Option<&'a str>,
    pub timeout: Duration,
}

/// Runs the verifier; returns the process exit status.
pub async fn run(config: Config, req: Request<'_>) -> anyhow::Result<i32> {
    let source = if req.program == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the program from stdin")?;
        s
    } else {
        std::fs::read_to_string(req.program)
            .with_context(|| format!("reading {}", req.program.display()))?
    };
    if req.contracts.is_empty() && req.request.is_none() {
        anyhow::bail!("nothing to verify: give --contract 'assert …' and/or --request '…'");
    }
    let host = kgentd::daemon::discover_host(&config).await?;
    let mut contracts = Vec::new();
    for text in req.contracts {
        let c = symbolic::written_contract(&source, text, req.at, &host.tracepoints)
            .map_err(|e| anyhow::anyhow!("contract `{text}`: {e}"))?;
        contracts.push(c);
    }
    if let Some(request) = req.request {
        let intent = kgentd::intent::Intent::read(request);
        let derived = symbolic::contracts_for(&intent, &source, &host.tracepoints);
        if derived.is_empty() {
            println!("the request implies no contract this verifier knows for this program");
        }
        contracts.extend(derived);
    }
    let types = Types {
        tracepoints: &host.tracepoints,
        btf: symbolic::kernel_btf(),
    };
    let findings =
        tokio::task::block_in_place(|| symbolic::verify(&source, &contracts, &types, req.timeout));
    let mut status = 0;
    for f in &findings {
        let (mark, detail) = match &f.outcome {
            Outcome::Proved => ("proved", String::new()),
            Outcome::Refuted(why) => {
                status = 1;
                ("REFUTED", format!("\n    {why}"))
            }
            Outcome::Unknown(why) => {
                if status == 0 {
                    status = 2;
                }
                ("unknown", format!("\n    {why}"))
            }
            Outcome::NotApplicable(why) => ("n/a", format!(" ({why})")),
        };
        println!(
            "{mark:8} {} [{} ms]{detail}",
            f.contract,
            f.elapsed.as_millis()
        );
    }
    Ok(status)
}
