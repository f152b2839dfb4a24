//! Domain ↔ protocol: the agent's events and outcomes as the messages of the Ask stream. The
//! only place that knows both shapes; neither side builds the other's types.
use crate::agent::{Answer, AskEvent, CheckReport, NoAnswer, Usage};
use crate::proto;

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<CheckReport> for proto::CheckResult {
    fn from(c: CheckReport) -> Self {
        proto::CheckResult {
            iteration: c.iteration,
            name: c.name,
            passed: c.passed,
            inconclusive: c.inconclusive,
            detail: c.detail,
            elapsed_ms: ms(c.elapsed),
        }
    }
}

impl From<Usage> for proto::Usage {
    fn from(u: Usage) -> Self {
        proto::Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

impl From<AskEvent> for proto::AskEvent {
    fn from(e: AskEvent) -> Self {
        let event = match e {
            AskEvent::Progress {
                iteration,
                stage,
                detail,
                elapsed,
            } => proto::ask_event::Event::Progress(proto::Progress {
                stage,
                detail,
                iteration,
                elapsed_ms: ms(elapsed),
            }),
            AskEvent::Candidate { iteration, source } => {
                proto::ask_event::Event::Candidate(proto::Candidate { iteration, source })
            }
            AskEvent::Check(c) => proto::ask_event::Event::Check(c.into()),
        };
        proto::AskEvent { event: Some(event) }
    }
}

impl From<Answer> for proto::AskEvent {
    fn from(a: Answer) -> Self {
        let answer = proto::Answer {
            request_id: a.request_id,
            program: a.program,
            target: a.target.proto() as i32,
            explanation: a.explanation,
            checks: a.checks.into_iter().map(Into::into).collect(),
            iterations: a.iterations,
            usage: Some(a.usage.into()),
            wall_ms: ms(a.wall),
        };
        proto::AskEvent {
            event: Some(proto::ask_event::Event::Answer(answer)),
        }
    }
}

impl From<NoAnswer> for proto::AskEvent {
    fn from(n: NoAnswer) -> Self {
        let no_answer = proto::NoAnswer {
            request_id: n.request_id,
            reason: n.reason,
            last_checks: n.last_checks.into_iter().map(Into::into).collect(),
            iterations: n.iterations,
            usage: Some(n.usage.into()),
            wall_ms: ms(n.wall),
        };
        proto::AskEvent {
            event: Some(proto::ask_event::Event::NoAnswer(no_answer)),
        }
    }
}
