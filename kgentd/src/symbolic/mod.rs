//! Symbolic verification: z3 proves that what a bpftrace program shows means what was asked.
//!
//! Contracts come from the typed request (`contract::from_intent`: only failed calls, ports in
//! host byte order, IPv6 too, a thread's own latency, bytes as the call's result) or are written
//! by a user (`contract::parse_written`). Each is judged by running the program symbolically
//! (`run`) over the events the contract speaks of and asking z3 (`solve`) within a time bound.
//! Verdicts are typed: proved, refuted with a counterexample in words, unknown (never a pass),
//! or not applicable.
//!
//! Scope: bpftrace programs (predicates, `if`/`else`, scratch variables, maps with keys and
//! deletes, aggregations, `printf`, casts, `bswap`, `str`, `ntop`). C programs are not read
//! here. Reads host data only through [`Types`]; never loads or runs anything.
pub mod contract;
pub(crate) mod program;
mod run;
mod solve;
mod types;

use std::collections::BTreeMap;
use std::time::Duration;

pub use contract::{Call, Claim, Contract};
pub use run::Types;
pub use solve::{Finding, Outcome};
pub use types::kernel_btf;

use crate::host::Tracepoint;
use crate::intent::Intent;

/// The contracts `intent` implies for `source`.
pub fn contracts_for(
    intent: &Intent,
    source: &str,
    tracepoints: &BTreeMap<String, Tracepoint>,
) -> Vec<Contract> {
    contract::from_intent(intent, &program::read(source), tracepoints)
}

/// A user's contract over `source`, judged at the call `at` names (a probe of the program, e.g.
/// `tracepoint:syscalls:sys_exit_openat`), or at the program's first call when None.
pub fn written_contract(
    source: &str,
    text: &str,
    at: Option<&str>,
    tracepoints: &BTreeMap<String, Tracepoint>,
) -> Result<Contract, String> {
    let written = contract::parse_written(text)?;
    let calls = contract::calls(&program::read(source), tracepoints);
    let call = match at {
        Some(probe) => calls
            .iter()
            .find(|c| c.exit == probe || c.enter.as_deref() == Some(probe))
            .ok_or_else(|| {
                format!(
                    "the program does not attach to {probe}; its calls: {}",
                    calls
                        .iter()
                        .map(|c| c.exit.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        None => calls
            .first()
            .ok_or("the program attaches to no event a contract could speak of")?,
    };
    Ok(Contract {
        call: call.clone(),
        claim: Claim::Written(written),
        text: text.trim().to_owned(),
        source: "written by the user".into(),
    })
}

/// Judges each contract on `source`, each within `timeout`.
pub fn verify(
    source: &str,
    contracts: &[Contract],
    types: &Types,
    timeout: Duration,
) -> Vec<Finding> {
    let blocks = program::read(source);
    contracts
        .iter()
        .map(|c| solve::judge(&blocks, c, types, timeout))
        .collect()
}
