//! `kgentctl ask`: one plain-English request, its progress as it happens, and its verdict.
//!
//! The Ask stream is read here once, for both `ask` and `eval`: progress goes to stderr as each
//! event arrives, and the stream must end in exactly one Answer or NoAnswer. Showing the final
//! verdict and running the answer are this command's; scoring it is eval's.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Args;
use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{
    ask_event, run_request, Answer, AskEvent, AskRequest, NoAnswer, RunRequest, Target,
};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::show::{check_line, one_line, plural, seconds, target_name, tokens};
use crate::status::RpcError;
use crate::{client, json, run, Exit, TargetArg};

#[derive(Debug, Args)]
pub struct AskArgs {
    /// What you want to observe, in plain English (quote it).
    #[arg(value_name = "REQUEST")]
    request: String,

    /// The kind of program to produce.
    #[arg(long, value_enum, default_value = "bpftrace")]
    target: TargetArg,

    /// Give up after this many candidates (default: kgentd's configuration).
    #[arg(long, value_name = "N")]
    max_iterations: Option<u32>,

    /// Skip the smoke run (kgentd runs every candidate that loads under a harmless trigger
    /// workload and requires its output to show the requested activity). Faster, weaker.
    #[arg(long)]
    no_smoke_run: bool,

    /// Also print the source of every candidate on stderr as it arrives.
    #[arg(long)]
    show_candidates: bool,

    /// Print the verdict (and every event) as JSON on stdout instead of the bare program.
    #[arg(long, conflicts_with = "run")]
    json: bool,

    /// Run the answer at once and stream its output (Ctrl-C stops it).
    #[arg(long)]
    run: bool,

    /// Stop the program after this many seconds (0: until Ctrl-C).
    #[arg(long, value_name = "S", default_value_t = 0, requires = "run")]
    duration: u32,
}

/// How an Ask ended: the final event of its stream.
pub enum Outcome {
    Answer(Answer),
    NoAnswer(NoAnswer),
}

/// An Ask that ran to its end: the outcome and every event on the way.
pub struct Asked {
    pub outcome: Outcome,
    pub events: Vec<AskEvent>,
}

/// Prints Ask events on stderr as they arrive.
pub struct ProgressPrinter {
    /// Put in front of every line (eval nests progress under its task).
    pub indent: &'static str,
    pub show_candidates: bool,
    /// Print nothing (`fleet ask`: many hosts' progress would interleave).
    pub quiet: bool,
}

impl ProgressPrinter {
    fn event(&self, event: &AskEvent) {
        if self.quiet {
            return;
        }
        let indent = self.indent;
        match &event.event {
            Some(ask_event::Event::Progress(progress)) => {
                let mut line = format!(
                    "{indent}[{:>7}] {}",
                    seconds(progress.elapsed_ms),
                    progress.stage
                );
                if progress.iteration > 0 {
                    line.push_str(&format!(" (iteration {})", progress.iteration));
                }
                let detail = one_line(&progress.detail, 100);
                if !detail.is_empty() {
                    line.push_str(&format!(": {detail}"));
                }
                eprintln!("{line}");
            }
            Some(ask_event::Event::Candidate(candidate)) => {
                let lines = candidate.source.lines().count();
                eprintln!(
                    "{indent}candidate {} ({lines} line{})",
                    candidate.iteration,
                    plural(lines)
                );
                if self.show_candidates {
                    for line in candidate.source.lines() {
                        eprintln!("{indent}    │ {line}");
                    }
                }
            }
            Some(ask_event::Event::Check(check)) => {
                eprintln!("{indent}  {}", check_line(check));
            }
            // The verdict is shown by the caller, which knows what to do with it.
            Some(ask_event::Event::Answer(_)) | Some(ask_event::Event::NoAnswer(_)) | None => {}
        }
    }
}

/// Sends one Ask and reads its stream to the verdict, printing progress on the way.
pub async fn request(
    client: &mut KgentClient<Channel>,
    request: AskRequest,
    printer: &ProgressPrinter,
) -> anyhow::Result<Asked> {
    let mut stream = client
        .ask(request)
        .await
        .map_err(|status| RpcError::new("Ask", status))?
        .into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.map_err(|status| RpcError::new("Ask", status))?;
        printer.event(&event);
        let outcome = match &event.event {
            Some(ask_event::Event::Answer(answer)) => Some(Outcome::Answer(answer.clone())),
            Some(ask_event::Event::NoAnswer(none)) => Some(Outcome::NoAnswer(none.clone())),
            _ => None,
        };
        events.push(event);
        if let Some(outcome) = outcome {
            return Ok(Asked { outcome, events });
        }
    }
    bail!("kgentd ended the Ask stream without an answer or a reason for having none")
}

pub async fn ask(daemon: &crate::client::Daemon, args: AskArgs) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    let printer = ProgressPrinter {
        indent: "",
        show_candidates: args.show_candidates,
        quiet: false,
    };
    let request = AskRequest {
        text: args.request,
        target: Target::from(args.target).into(),
        max_iterations: args.max_iterations.unwrap_or(0),
        smoke_run: false,
        skip_smoke_run: args.no_smoke_run,
    };
    let asked = self::request(&mut client, request, &printer).await?;

    if args.json {
        let mut document = match &asked.outcome {
            Outcome::Answer(answer) => {
                json!({ "outcome": "answer", "answer": json::answer(answer) })
            }
            Outcome::NoAnswer(none) => {
                json!({ "outcome": "no_answer", "no_answer": json::no_answer(none) })
            }
        };
        document["events"] = asked.events.iter().map(json::ask_event).collect();
        writeln!(std::io::stdout(), "{document:#}").context("writing to stdout")?;
    }

    match asked.outcome {
        Outcome::NoAnswer(none) => {
            show_no_answer(&none);
            Ok(Exit::NoAnswer)
        }
        Outcome::Answer(answer) => {
            if !args.json {
                let program = answer.program.trim_end();
                writeln!(std::io::stdout(), "{program}").context("writing to stdout")?;
            }
            show_answer(&answer);
            if !args.run {
                return Ok(Exit::Success);
            }
            eprintln!();
            let request = RunRequest {
                program: Some(run_request::Program::AnswerId(answer.request_id)),
                target: answer.target,
                duration_s: args.duration,
                ..Default::default()
            };
            run::stream(&mut client, request, false).await
        }
    }
}

/// The explanation and evidence of an answer, on stderr (the program itself is on stdout).
fn show_answer(answer: &Answer) {
    let (tokens_in, tokens_out) = tokens(answer.usage.as_ref());
    eprintln!();
    eprintln!(
        "answer {} ({}): {} iteration{}, {tokens_in} tokens in / {tokens_out} out, {}",
        answer.request_id,
        target_name(answer.target),
        answer.iterations,
        plural(answer.iterations as usize),
        seconds(answer.wall_ms)
    );
    if !answer.explanation.trim().is_empty() {
        for line in answer.explanation.trim().lines() {
            eprintln!("  {line}");
        }
    }
    if !answer.checks.is_empty() {
        eprintln!("checks:");
        for check in &answer.checks {
            eprintln!("  {}", check_line(check));
        }
    }
}

/// Why there is no answer, and the diagnostics of the last candidate, on stderr.
fn show_no_answer(none: &NoAnswer) {
    /// Lines of one diagnostic worth showing; the rest is in `kgentctl history ID`.
    const DIAGNOSTIC_LINES: usize = 12;

    let (tokens_in, tokens_out) = tokens(none.usage.as_ref());
    eprintln!();
    eprintln!(
        "no answer {}: {} iteration{}, {tokens_in} tokens in / {tokens_out} out, {}",
        none.request_id,
        none.iterations,
        plural(none.iterations as usize),
        seconds(none.wall_ms)
    );
    let reason = none.reason.trim();
    eprintln!(
        "reason: {}",
        if reason.is_empty() {
            "(kgentd gave none)"
        } else {
            reason
        }
    );
    if none.last_checks.is_empty() {
        return;
    }
    eprintln!("last checks:");
    for check in &none.last_checks {
        eprintln!("  {}", check_line(check));
        let lines: Vec<&str> = check.detail.lines().collect();
        // A one-line diagnostic is already whole on the check's own line.
        if check.passed || lines.len() < 2 {
            continue;
        }
        for line in lines.iter().take(DIAGNOSTIC_LINES) {
            eprintln!("      {line}");
        }
        if lines.len() > DIAGNOSTIC_LINES {
            eprintln!(
                "      … {} more lines: kgentctl history {}",
                lines.len() - DIAGNOSTIC_LINES,
                none.request_id
            );
        }
    }
}
