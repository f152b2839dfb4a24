//! `kgentctl eval`: the benchmark harness.
//!
//! Runs a task file one task at a time (tasks share process names, paths and ports), exactly as
//! the benchmark task format (shared/eval/README.md) asks: Ask; run the answer; start the trigger only once kgentd says
//! every probe is attached; let it settle; stop the program gracefully and wait for it to exit so
//! its maps are printed; check its stdout. A failure of one task (even an RPC error) is that
//! task's verdict, and the evaluation goes on. `--references` runs each task's reference program
//! through the same window instead of asking (references.rs), to check the task file's checks.

mod references;
mod report;
mod score;
mod task;

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{
    run_event, run_request, AskRequest, Finished, HostInfoRequest, RunEvent, RunRequest, Started,
    StopRequest, Target,
};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::{sleep, timeout};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::Streaming;

use crate::TargetArg;

use self::report::{RunRecord, TaskResult, TriggerRecord};
use self::score::{score, Attempt, Verdict};
use self::task::Task;
use crate::ask::{self, Outcome, ProgressPrinter};
use crate::show::{one_line, plural, tokens};
use crate::status::RpcError;
use crate::{client, json, Exit};

/// Longest wait for kgentd to report every probe attached.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a trigger may run; it is killed (with everything it started) after that.
const TRIGGER_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the program to exit after Stop: bpftrace with hundreds of probes takes
/// tens of seconds to detach.
const EXIT_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The task file: TOML, one [[task]] per request with id, prompt, feasible, why_infeasible, trigger, settle_s, expect and reject (regexes), and reference (read only by --references).
    #[arg(value_name = "TASKS.toml")]
    tasks: PathBuf,

    /// Run only these tasks, by id (comma-separated).
    #[arg(long, value_name = "ID,ID", value_delimiter = ',')]
    only: Vec<String>,

    /// Write every detail (programs, outputs, reasons, tokens, timings) to this JSON file; it is
    /// rewritten after each task, so an interrupted evaluation keeps what it did.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Give up on a task after this many candidates (default: kgentd's configuration).
    #[arg(long, value_name = "N")]
    max_iterations: Option<u32>,

    /// Ask with the smoke run skipped (for measuring what it adds).
    #[arg(long)]
    no_smoke_run: bool,

    /// The kind of program to ask for; C answers are run and scored like bpftrace ones.
    #[arg(long, value_enum, default_value = "bpftrace")]
    target: TargetArg,

    /// Check the task file instead of kgentd: run each feasible task's `reference` program (no
    /// Ask, no model) through the same window an answer gets, and report whether its check passed.
    #[arg(long, conflicts_with_all = ["json", "max_iterations", "no_smoke_run"])]
    references: bool,

    /// With --references: run without the trigger, where every check must fail (a check that
    /// passes on background activity alone cannot tell a right program from a wrong one).
    #[arg(long, requires = "references")]
    no_trigger: bool,
}

pub async fn eval(daemon: &crate::client::Daemon, args: EvalArgs) -> anyhow::Result<Exit> {
    let text = std::fs::read_to_string(&args.tasks)
        .with_context(|| format!("reading {}", args.tasks.display()))?;
    let tasks = task::parse(&text).with_context(|| format!("in {}", args.tasks.display()))?;
    let tasks = task::select(tasks, &args.only)?;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("kgentctl: warning: not running as root; task triggers expect root and may fail");
    }

    let mut client = client::connect(daemon).await?;
    if args.references {
        let references =
            task::references(&text).with_context(|| format!("in {}", args.tasks.display()))?;
        let with_trigger = !args.no_trigger;
        return references::check(&mut client, &tasks, &references, with_trigger).await;
    }
    let host = match client.host_info(HostInfoRequest {}).await {
        Ok(response) => Some(json::host_info(&response.into_inner())),
        Err(status) => {
            eprintln!("kgentctl: warning: {}", RpcError::new("HostInfo", status));
            None
        }
    };
    let mut results: Vec<TaskResult> = Vec::with_capacity(tasks.len());
    if let Some(path) = &args.json {
        report::write_json(path, &args.tasks, host.clone(), &results)?;
    }

    for (index, task) in tasks.iter().enumerate() {
        eprintln!(
            "\n[{}/{}] {}: {}",
            index + 1,
            tasks.len(),
            task.id,
            one_line(&task.prompt, 100)
        );
        let result = run_task(
            &mut client,
            task,
            args.target.into(),
            args.max_iterations,
            args.no_smoke_run,
        )
        .await;
        eprintln!(
            "  → {}{} ({} iteration{}, {} tokens in / {} out, {:.1} s)",
            result.verdict.label(),
            result
                .reason
                .as_deref()
                .map(|reason| format!(": {}", one_line(reason, 200)))
                .unwrap_or_default(),
            result.iterations,
            plural(result.iterations as usize),
            result.prompt_tokens,
            result.completion_tokens,
            result.seconds()
        );
        results.push(result);
        if let Some(path) = &args.json {
            report::write_json(path, &args.tasks, host.clone(), &results)?;
        }
    }

    eprintln!();
    write!(std::io::stdout(), "{}", report::table(&results)).context("writing to stdout")?;
    if let Some(path) = &args.json {
        eprintln!("details in {}", path.display());
    }
    Ok(Exit::Success)
}

/// Asks for one task's program, runs it when the task is feasible, and scores it.
async fn run_task(
    client: &mut KgentClient<Channel>,
    task: &Task,
    target: Target,
    max_iterations: Option<u32>,
    skip_smoke_run: bool,
) -> TaskResult {
    let mut result = TaskResult {
        id: task.id.clone(),
        feasible: task.feasible,
        why_infeasible: task.why_infeasible.clone(),
        verdict: Verdict::FalseNegative,
        reason: None,
        request_id: None,
        iterations: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        ask_seconds: 0.0,
        run_seconds: 0.0,
        program: None,
        no_answer_reason: None,
        checks: Vec::new(),
        run: None,
    };
    let request = AskRequest {
        text: task.prompt.clone(),
        target: target.into(),
        max_iterations: max_iterations.unwrap_or(0),
        smoke_run: false,
        skip_smoke_run,
    };
    let printer = ProgressPrinter {
        indent: "  ",
        show_candidates: false,
        quiet: false,
    };
    let asked_at = Instant::now();
    let asked = ask::request(client, request, &printer).await;
    result.ask_seconds = asked_at.elapsed().as_secs_f64();

    let attempt = match asked.map(|asked| asked.outcome) {
        Err(error) => Attempt::AskFailed(format!("{error:#}")),
        Ok(Outcome::NoAnswer(none)) => {
            (result.prompt_tokens, result.completion_tokens) = tokens(none.usage.as_ref());
            result.request_id = Some(none.request_id);
            result.iterations = none.iterations;
            result.checks = none.last_checks.iter().map(json::check).collect();
            result.no_answer_reason = Some(none.reason.clone());
            Attempt::NoAnswer(none.reason)
        }
        Ok(Outcome::Answer(answer)) => {
            (result.prompt_tokens, result.completion_tokens) = tokens(answer.usage.as_ref());
            result.request_id = Some(answer.request_id.clone());
            result.iterations = answer.iterations;
            result.checks = answer.checks.iter().map(json::check).collect();
            result.program = Some(answer.program);
            if task.feasible {
                for line in result.program.iter().flat_map(|program| program.lines()) {
                    eprintln!("    │ {line}");
                }
                let ran_at = Instant::now();
                let program = run_request::Program::AnswerId(answer.request_id.clone());
                let run = run_program(
                    client,
                    program,
                    Target::Unspecified,
                    &task.trigger,
                    task.settle,
                )
                .await;
                result.run_seconds = ran_at.elapsed().as_secs_f64();
                let attempt = Attempt::Ran(match &run.failure {
                    Some(failure) => Err(failure.clone()),
                    None => Ok(run.output.join("\n")),
                });
                result.run = Some(run);
                attempt
            } else {
                Attempt::Delivered
            }
        }
    };

    let (verdict, reason) = score(task, &attempt);
    let trigger_failure = result
        .run
        .as_ref()
        .and_then(|run| run.trigger.as_ref())
        .and_then(|trigger| trigger.failure.as_ref());
    result.reason = match (reason, trigger_failure) {
        (Some(reason), Some(trigger)) => Some(format!("{reason}; the trigger failed: {trigger}")),
        (reason, _) => reason,
    };
    result.verdict = verdict;
    result
}

/// Runs a program (a delivered answer or a task's reference) through a task's window: the
/// trigger (none when empty), then `settle`; records what it printed.
async fn run_program(
    client: &mut KgentClient<Channel>,
    program: run_request::Program,
    target: Target,
    trigger: &str,
    settle: Duration,
) -> RunRecord {
    let mut record = RunRecord::default();
    let request = RunRequest {
        program: Some(program),
        target: target.into(),
        duration_s: 0,
        ..Default::default()
    };
    if let Err(failure) = drive_run(client, request, trigger, settle, &mut record).await {
        record.failure = Some(failure);
    }
    record
}

/// The run of one program: attach, trigger, settle, stop, wait for the exit. `Err` says why the
/// run failed; the output gathered so far is in `record` either way.
async fn drive_run(
    client: &mut KgentClient<Channel>,
    request: RunRequest,
    trigger: &str,
    settle: Duration,
    record: &mut RunRecord,
) -> Result<(), String> {
    let mut events = client
        .run(request)
        .await
        .map_err(|status| RpcError::new("Run", status).to_string())?
        .into_inner();

    let started = match timeout(ATTACH_TIMEOUT, next_milestone(&mut events, record)).await {
        Err(_) => {
            return Err(format!(
                "the program was not attached after {} s",
                ATTACH_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(failure)) => return Err(failure),
        Ok(Ok(Milestone::Finished(finished))) => {
            ended(record, &finished)?;
            return Err("the program ended before it was attached".to_string());
        }
        Ok(Ok(Milestone::Started(started))) => started,
    };
    eprintln!(
        "  attached {} probe{} (job {})",
        started.probes,
        plural(started.probes as usize),
        started.job_id
    );
    record.job_id = Some(started.job_id.clone());
    record.probes = started.probes;

    if !trigger.trim().is_empty() {
        match while_running(&mut events, record, run_trigger(trigger)).await? {
            Drained::Done(trigger) => record.trigger = Some(trigger),
            Drained::Finished(finished) => return ended(record, &finished),
        }
    }
    if let Drained::Finished(finished) = while_running(&mut events, record, sleep(settle)).await? {
        return ended(record, &finished);
    }

    let stop = StopRequest {
        job_id: started.job_id,
    };
    if let Err(status) = client.stop(stop).await {
        // The program may have ended on its own just now; its Finished event tells.
        eprintln!("  warning: {}", RpcError::new("Stop", status));
    }
    match while_running(&mut events, record, sleep(EXIT_TIMEOUT)).await? {
        Drained::Finished(finished) => ended(record, &finished),
        Drained::Done(()) => Err(format!(
            "the program did not exit within {} s of Stop, so its final output is lost",
            EXIT_TIMEOUT.as_secs()
        )),
    }
}

/// Records how the program ended; a non-zero exit status fails the run.
fn ended(record: &mut RunRecord, finished: &Finished) -> Result<(), String> {
    record.exit_code = Some(finished.exit_code);
    let reason = finished.reason.trim();
    if !reason.is_empty() {
        record.finished_reason = Some(reason.to_string());
    }
    if finished.exit_code == 0 {
        return Ok(());
    }
    let mut failure = format!("the program exited with status {}", finished.exit_code);
    if !reason.is_empty() {
        failure.push_str(&format!(": {reason}"));
    }
    if let Some(last) = record
        .stderr
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())
    {
        failure.push_str(&format!(" (stderr: {})", last.trim()));
    }
    Err(failure)
}

/// A Run event that changes what the harness does next.
enum Milestone {
    Started(Started),
    Finished(Finished),
}

/// Reads the Run stream up to its next milestone, keeping every output line in `record`.
/// Cancel-safe: a line read before cancellation is already recorded.
async fn next_milestone(
    events: &mut Streaming<RunEvent>,
    record: &mut RunRecord,
) -> Result<Milestone, String> {
    loop {
        let event = match events.next().await {
            None => {
                return Err("kgentd closed the output stream before the program finished".into())
            }
            Some(Err(status)) => return Err(RpcError::new("Run", status).to_string()),
            Some(Ok(event)) => event,
        };
        match event.event {
            Some(run_event::Event::Started(started)) => return Ok(Milestone::Started(started)),
            Some(run_event::Event::Finished(finished)) => return Ok(Milestone::Finished(finished)),
            Some(run_event::Event::Line(line)) if line.stderr => record.stderr.push(line.text),
            Some(run_event::Event::Line(line)) => record.output.push(line.text),
            None => {}
        }
    }
}

enum Drained<T> {
    /// `until` completed while the program kept running.
    Done(T),
    /// The program finished first.
    Finished(Finished),
}

/// Keeps collecting the program's output until `until` completes or the program finishes.
async fn while_running<F: Future>(
    events: &mut Streaming<RunEvent>,
    record: &mut RunRecord,
    until: F,
) -> Result<Drained<F::Output>, String> {
    let mut until = std::pin::pin!(until);
    loop {
        tokio::select! {
            done = &mut until => return Ok(Drained::Done(done)),
            milestone = next_milestone(events, record) => match milestone? {
                Milestone::Started(_) => {}
                Milestone::Finished(finished) => return Ok(Drained::Finished(finished)),
            },
        }
    }
}

/// Runs a task's trigger with `sh -c`, in a process group of its own.
async fn run_trigger(script: &str) -> TriggerRecord {
    let started = Instant::now();
    let failure = trigger_failure(script).await;
    TriggerRecord {
        seconds: started.elapsed().as_secs_f64(),
        failure,
    }
}

/// Kills a trigger's whole process group when dropped while armed: on timeout, or when the
/// program ended during the trigger and the trigger future was dropped. It is armed only while
/// the group's leader (the `sh`) is not yet reaped, so the group id cannot have been reused.
struct TriggerGroup(Option<Pid>);

impl Drop for TriggerGroup {
    fn drop(&mut self) {
        if let Some(group) = self.0.take() {
            // ESRCH (already gone) is the expected failure and needs nothing done.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// `None` when the trigger exited with status 0, otherwise what went wrong.
async fn trigger_failure(script: &str) -> Option<String> {
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return Some(format!("could not start sh: {error}")),
    };
    let mut group = TriggerGroup(
        child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .map(Pid::from_raw),
    );
    let mut stderr_pipe = child.stderr.take();
    let finished = timeout(TRIGGER_TIMEOUT, async {
        let mut stderr = String::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            // A trigger whose stderr is not text only loses its diagnostic.
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        (child.wait().await, stderr)
    })
    .await;
    match finished {
        Err(_) => {
            drop(group);
            // Reap the killed shell; its status is of no interest.
            let _ = child.wait().await;
            Some(format!(
                "still running after {} s, killed",
                TRIGGER_TIMEOUT.as_secs()
            ))
        }
        Ok((status, stderr)) => {
            group.0 = None;
            match status {
                Err(error) => Some(format!("waiting for it failed: {error}")),
                Ok(status) if status.success() => None,
                Ok(status) => {
                    let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
                    Some(match last {
                        Some(line) => format!("{status}: {}", line.trim()),
                        None => status.to_string(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_status_and_last_stderr_line_are_reported() {
        assert_eq!(trigger_failure("true").await, None);
        assert_eq!(
            trigger_failure("echo first >&2; echo 'no such file' >&2; exit 3").await,
            Some("exit status: 3: no such file".to_string())
        );
    }
}
