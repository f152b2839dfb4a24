//! kgentd's messages as JSON, for `--json` output that scripts can rely on.
//!
//! The generated protobuf types do not implement serde, and the field names here are part of
//! kgentctl's own interface, so each message is written out explicitly: targets by name, times
//! in milliseconds, tokens as `prompt_tokens` / `completion_tokens`.

use kgent_proto::v1::{
    ask_event, Answer, AskEvent, CheckResult, HostInfoResponse, NoAnswer, RequestRecord,
    RequestSummary, Usage,
};
use serde_json::{json, Value};

use crate::show::target_name;

pub fn usage(usage: Option<&Usage>) -> Value {
    let (prompt, completion) = crate::show::tokens(usage);
    json!({ "prompt_tokens": prompt, "completion_tokens": completion })
}

pub fn check(check: &CheckResult) -> Value {
    json!({
        "iteration": check.iteration,
        "name": check.name,
        "passed": check.passed,
        "inconclusive": check.inconclusive,
        "detail": check.detail,
        "elapsed_ms": check.elapsed_ms,
    })
}

fn checks(checks: &[CheckResult]) -> Value {
    Value::Array(checks.iter().map(check).collect())
}

pub fn answer(answer: &Answer) -> Value {
    json!({
        "request_id": answer.request_id,
        "program": answer.program,
        "target": target_name(answer.target),
        "explanation": answer.explanation,
        "checks": checks(&answer.checks),
        "iterations": answer.iterations,
        "usage": usage(answer.usage.as_ref()),
        "wall_ms": answer.wall_ms,
    })
}

pub fn no_answer(no_answer: &NoAnswer) -> Value {
    json!({
        "request_id": no_answer.request_id,
        "reason": no_answer.reason,
        "last_checks": checks(&no_answer.last_checks),
        "iterations": no_answer.iterations,
        "usage": usage(no_answer.usage.as_ref()),
        "wall_ms": no_answer.wall_ms,
    })
}

/// One event of an Ask stream, tagged by its kind.
pub fn ask_event(event: &AskEvent) -> Value {
    match &event.event {
        Some(ask_event::Event::Progress(progress)) => json!({
            "progress": {
                "stage": progress.stage,
                "detail": progress.detail,
                "iteration": progress.iteration,
                "elapsed_ms": progress.elapsed_ms,
            }
        }),
        Some(ask_event::Event::Candidate(candidate)) => json!({
            "candidate": { "iteration": candidate.iteration, "source": candidate.source }
        }),
        Some(ask_event::Event::Check(result)) => json!({ "check": check(result) }),
        Some(ask_event::Event::Answer(found)) => json!({ "answer": answer(found) }),
        Some(ask_event::Event::NoAnswer(none)) => json!({ "no_answer": no_answer(none) }),
        None => json!({}),
    }
}

pub fn request_summary(summary: &RequestSummary) -> Value {
    json!({
        "id": summary.id,
        "text": summary.text,
        "state": summary.state,
        "caller_uid": summary.caller_uid,
        "created_unix_ms": summary.created_unix_ms,
        "wall_ms": summary.wall_ms,
        "iterations": summary.iterations,
    })
}

pub fn request_record(record: &RequestRecord) -> Value {
    let transcript: Vec<Value> = record
        .transcript
        .iter()
        .map(|entry| {
            json!({
                "kind": entry.kind,
                "iteration": entry.iteration,
                "text": entry.text,
                "at_ms": entry.at_ms,
            })
        })
        .collect();
    json!({
        "summary": record.summary.as_ref().map(request_summary),
        "outcome": record.outcome,
        "program": record.program,
        "usage": usage(record.usage.as_ref()),
        "transcript": transcript,
    })
}

pub fn host_info(info: &HostInfoResponse) -> Value {
    let families: Vec<Value> = info
        .families
        .iter()
        .map(|family| {
            json!({
                "name": family.name,
                "available": family.available,
                "reason": family.reason,
            })
        })
        .collect();
    json!({
        "kernel_release": info.kernel_release,
        "btf": info.btf,
        "families": families,
        "tracepoints": info.tracepoints,
        "kernel_functions": info.kernel_functions,
        "raw_tracepoints": info.raw_tracepoints,
        "helpers": info.helpers,
        "bpftrace_version": info.bpftrace_version,
        "kernel_build": info.kernel_build,
        "model_backend": info.model_backend,
        "model": info.model,
        "model_loaded": info.model_loaded,
    })
}
