//! What an ask tells its caller as it goes, and how it ends, as domain types. The agent never
//! builds a protocol message: `api` turns these into the gRPC stream's messages, and a library
//! caller (a benchmark, a test) reads them as they are.
use std::time::Duration;

use super::ProgramTarget;

/// One thing that happened during an ask.
#[derive(Debug, Clone)]
pub enum AskEvent {
    /// A stage of the loop finished or started: grounding, plan, model, repair, smoke-run.
    Progress {
        iteration: u32,
        stage: String,
        detail: String,
        /// Since the ask started.
        elapsed: Duration,
    },
    /// A candidate program about to be checked (after deterministic repairs).
    Candidate { iteration: u32, source: String },
    /// The verdict of one check, or of a step before the checks (`query`, `extract`).
    Check(CheckReport),
}

/// One named check's verdict on one candidate, as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub iteration: u32,
    pub name: String,
    pub passed: bool,
    /// Neither passed nor failed (a symbolic verdict z3 could not reach, or nothing to judge):
    /// shown as such, never as a pass, and no reason to reject the candidate.
    pub inconclusive: bool,
    /// Evidence on success, the diagnostic on failure.
    pub detail: String,
    pub elapsed: Duration,
}

/// Model tokens an ask used, summed over its drafts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// A program that passed every check on this host.
#[derive(Debug, Clone)]
pub struct Answer {
    pub request_id: String,
    pub program: String,
    pub target: ProgramTarget,
    pub explanation: String,
    /// The checks it passed (its evidence).
    pub checks: Vec<CheckReport>,
    pub iterations: u32,
    pub usage: Usage,
    pub wall: Duration,
}

/// No program, and why.
#[derive(Debug, Clone)]
pub struct NoAnswer {
    pub request_id: String,
    pub reason: String,
    /// The checks of the last candidate, if any was checked.
    pub last_checks: Vec<CheckReport>,
    pub iterations: u32,
    pub usage: Usage,
    pub wall: Duration,
}
