//! The `symbolic` check: the contracts a request implies for a bpftrace candidate, judged by
//! z3 (see [`crate::symbolic`]). A refuted contract fails the candidate, its counterexample in
//! words for the model; unknown verdicts, or no contract at all, make the check inconclusive,
//! which is shown as such and never as a pass.
use std::time::{Duration, Instant};

use super::{Check, CheckKind, Evidence, Verdict};
use crate::host::HostFacts;
use crate::intent::Intent;
use crate::symbolic::{self, Outcome, Types};

/// The `symbolic` check of a candidate the verifier does not read (a C program): inconclusive,
/// saying so, so the evidence never implies it was judged.
pub fn symbolic_not_read() -> Check {
    Check {
        kind: CheckKind::Symbolic,
        verdict: Verdict::Inconclusive,
        evidence: Evidence::Contracts(vec![
            "not judged: the symbolic verifier reads bpftrace programs only, not C".into(),
        ]),
        elapsed: Duration::ZERO,
    }
}

/// Judges `source` against the contracts `intent` implies. Runs the solver on a blocking thread.
pub async fn check_symbolic(
    host: &std::sync::Arc<HostFacts>,
    intent: &Intent,
    source: &str,
    timeout: Duration,
) -> Check {
    let started = Instant::now();
    let contracts = symbolic::contracts_for(intent, source, &host.tracepoints);
    if contracts.is_empty() {
        return Check {
            kind: CheckKind::Symbolic,
            verdict: Verdict::Inconclusive,
            evidence: Evidence::Contracts(vec![
                "no contract: the request implies none this verifier knows for the program".into(),
            ]),
            elapsed: started.elapsed(),
        };
    }
    let host = host.clone();
    let source = source.to_owned();
    let findings = tokio::task::spawn_blocking(move || {
        let types = Types {
            tracepoints: &host.tracepoints,
            btf: symbolic::kernel_btf(),
        };
        symbolic::verify(&source, &contracts, &types, timeout)
    })
    .await;
    let findings = match findings {
        Ok(f) => f,
        Err(e) => {
            return Check {
                kind: CheckKind::Symbolic,
                verdict: Verdict::Inconclusive,
                evidence: Evidence::Contracts(vec![format!("the verifier did not finish: {e}")]),
                elapsed: started.elapsed(),
            }
        }
    };
    let refuted: Vec<String> = findings
        .iter()
        .filter_map(|f| match &f.outcome {
            Outcome::Refuted(why) => Some(format!("{} — refuted {why}", f.contract)),
            _ => None,
        })
        .collect();
    let applicable = findings
        .iter()
        .filter(|f| !matches!(f.outcome, Outcome::NotApplicable(_)))
        .count();
    let all_proved = applicable > 0
        && findings
            .iter()
            .all(|f| matches!(f.outcome, Outcome::Proved | Outcome::NotApplicable(_)));
    let (verdict, lines) = if !refuted.is_empty() {
        (Verdict::Fail, refuted)
    } else {
        let lines = findings
            .iter()
            .map(|f| match &f.outcome {
                Outcome::Proved => format!("{}: proved", f.contract),
                Outcome::Refuted(why) => format!("{}: refuted {why}", f.contract),
                Outcome::Unknown(why) => format!("{}: unknown ({why})", f.contract),
                Outcome::NotApplicable(why) => format!("{}: does not apply ({why})", f.contract),
            })
            .collect();
        let verdict = if all_proved {
            Verdict::Pass
        } else {
            Verdict::Inconclusive
        };
        (verdict, lines)
    };
    Check {
        kind: CheckKind::Symbolic,
        verdict,
        evidence: Evidence::Contracts(lines),
        elapsed: started.elapsed(),
    }
}
