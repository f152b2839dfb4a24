//! `kgentctl eval --references`: checks a task file's own checks, not kgentd.
//!
//! Each feasible task's reference program runs through exactly the window an answer gets
//! (`super::run_program`: attach, trigger, settle, Stop, wait for the exit) and the task's check
//! judges what it printed. With the trigger a good check passes; without it a good check fails,
//! since a check that background activity alone satisfies would score a wrong program correct.
//! This module owns only that judgement and its report: running belongs to eval.rs, the check
//! to task.rs. A reference goes to kgentd's Run RPC as source, never to Ask.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;
use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{run_request, Target};
use tonic::transport::Channel;

use super::report::RunRecord;
use super::run_program;
use super::task::Task;
use crate::show::{one_line, truncate};
use crate::Exit;

/// What running one task's reference showed.
#[derive(Debug, PartialEq)]
enum Finding {
    /// An infeasible task: nothing to run.
    Infeasible(String),
    /// A feasible task without a reference program.
    Missing,
    /// The program, or in a triggered run the trigger, failed.
    RunFailed(String),
    /// It ran: the check's verdict on its output.
    Checked(Result<(), String>),
}

impl Finding {
    fn of(record: &RunRecord, task: &Task) -> Finding {
        if let Some(failure) = &record.failure {
            return Finding::RunFailed(failure.clone());
        }
        if let Some(failure) = record.trigger.as_ref().and_then(|t| t.failure.as_ref()) {
            return Finding::RunFailed(format!("the trigger failed: {failure}"));
        }
        Finding::Checked(task.check.verify(&record.output.join("\n")))
    }

    /// Whether the check behaved as it must (`None`: nothing was run).
    fn is_good(&self, with_trigger: bool) -> Option<bool> {
        match self {
            Finding::Infeasible(_) => None,
            Finding::Missing | Finding::RunFailed(_) => Some(false),
            Finding::Checked(verdict) => Some(verdict.is_ok() == with_trigger),
        }
    }

    fn label(&self, with_trigger: bool) -> &'static str {
        match self.is_good(with_trigger) {
            None => "skip",
            Some(true) => "ok",
            Some(false) => "BAD",
        }
    }

    fn detail(&self) -> String {
        match self {
            Finding::Infeasible(why) => format!("infeasible, no reference to run ({why})"),
            Finding::Missing => "feasible, but the task has no reference program".to_string(),
            Finding::RunFailed(failure) => format!("run failed: {failure}"),
            Finding::Checked(Ok(())) => "check passed".to_string(),
            Finding::Checked(Err(failure)) => format!("check failed: {failure}"),
        }
    }
}

/// Runs every task's reference, one at a time, and prints a row per task and the totals;
/// `Exit::Error` when any check did not behave as it must.
pub async fn check(
    client: &mut KgentClient<Channel>,
    tasks: &[Task],
    references: &HashMap<String, String>,
    with_trigger: bool,
) -> anyhow::Result<Exit> {
    let mut rows: Vec<(&str, Finding)> = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        eprintln!(
            "\n[{}/{}] {}{}",
            index + 1,
            tasks.len(),
            task.id,
            if with_trigger { "" } else { " (no trigger)" }
        );
        let finding = match (task.feasible, references.get(&task.id)) {
            (false, _) => Finding::Infeasible(task.why_infeasible.clone()),
            (true, None) => Finding::Missing,
            (true, Some(reference)) => {
                let trigger = if with_trigger {
                    task.trigger.as_str()
                } else {
                    ""
                };
                let program = run_request::Program::Source(reference.clone());
                let record =
                    run_program(client, program, Target::Bpftrace, trigger, task.settle).await;
                for line in &record.output {
                    eprintln!("    │ {line}");
                }
                let finding = Finding::of(&record, task);
                if matches!(finding, Finding::RunFailed(_)) {
                    for line in &record.stderr {
                        eprintln!("    ! {line}");
                    }
                }
                finding
            }
        };
        eprintln!(
            "  → {}: {}",
            finding.label(with_trigger),
            one_line(&finding.detail(), 300)
        );
        rows.push((&task.id, finding));
    }

    eprintln!();
    write!(std::io::stdout(), "{}", table(&rows, with_trigger)).context("writing to stdout")?;
    let all_good = rows
        .iter()
        .all(|(_, finding)| finding.is_good(with_trigger) != Some(false));
    Ok(if all_good { Exit::Success } else { Exit::Error })
}

/// One row per task, then the totals and the rule they were judged by.
fn table(rows: &[(&str, Finding)], with_trigger: bool) -> String {
    let id_width = rows
        .iter()
        .map(|(id, _)| id.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut text = format!("{:<id_width$}  {:<6}  DETAIL\n", "TASK", "RESULT");
    for (id, finding) in rows {
        let detail = truncate(&finding.detail().replace('\n', " "), 110);
        text.push_str(&format!(
            "{id:<id_width$}  {:<6}  {detail}\n",
            finding.label(with_trigger)
        ));
    }
    let count = |good: Option<bool>| {
        rows.iter()
            .filter(|(_, finding)| finding.is_good(with_trigger) == good)
            .count()
    };
    text.push_str(&format!(
        "\n{} task{}: {} ok, {} bad, {} skipped ({})\n",
        rows.len(),
        crate::show::plural(rows.len()),
        count(Some(true)),
        count(Some(false)),
        count(None),
        if with_trigger {
            "with the trigger, ok = the reference ran and its check passed"
        } else {
            "without the trigger, ok = the reference ran and its check failed"
        }
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_must_pass_with_the_trigger_and_fail_without_it() {
        let passed = Finding::Checked(Ok(()));
        let failed = Finding::Checked(Err("expected /x/ not in output".into()));
        assert_eq!(passed.is_good(true), Some(true));
        assert_eq!(failed.is_good(true), Some(false));
        assert_eq!(passed.is_good(false), Some(false));
        assert_eq!(failed.is_good(false), Some(true));

        let crashed = Finding::RunFailed("the program exited with status 1".into());
        assert_eq!(crashed.is_good(false), Some(false));
        assert_eq!(Finding::Missing.is_good(true), Some(false));
        assert_eq!(Finding::Infeasible("no PMU".into()).is_good(true), None);
    }

    #[test]
    fn table_counts_ok_bad_and_skipped() {
        let rows = [
            ("opens", Finding::Checked(Ok(()))),
            ("llc", Finding::Infeasible("no PMU".into())),
            (
                "kills",
                Finding::Checked(Err("expected /9/ not in output".into())),
            ),
        ];
        let text = table(&rows, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "opens  ok      check passed", "{text}");
        assert!(lines[2].starts_with("llc    skip    infeasible"), "{text}");
        assert!(
            lines[3].starts_with("kills  BAD     check failed"),
            "{text}"
        );
        assert!(
            text.contains("3 tasks: 1 ok, 1 bad, 1 skipped (with the trigger"),
            "{text}"
        );
        assert!(table(&rows, false).contains("3 tasks: 1 ok, 1 bad, 1 skipped (without"));
    }
}
