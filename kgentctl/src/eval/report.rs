//! The results of an evaluation: one record per task, the table a person reads, the totals
//! (A, FP, FN, median seconds) and the JSON file a script reads.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use super::score::Verdict;
use crate::show::truncate;

/// Everything that happened to one task.
#[derive(Debug, Serialize)]
pub struct TaskResult {
    pub id: String,
    pub feasible: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why_infeasible: String,
    pub verdict: Verdict,
    /// Why the verdict is not `correct`.
    pub reason: Option<String>,
    /// kgentd's request id (see `kgentctl history ID`), when the Ask got that far.
    pub request_id: Option<String>,
    pub iterations: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub ask_seconds: f64,
    pub run_seconds: f64,
    /// The delivered program.
    pub program: Option<String>,
    /// kgentd's reason for not delivering one.
    pub no_answer_reason: Option<String>,
    /// kgentd's checks of the answer (or of the last candidate).
    pub checks: Vec<Value>,
    pub run: Option<RunRecord>,
}

impl TaskResult {
    pub fn seconds(&self) -> f64 {
        self.ask_seconds + self.run_seconds
    }
}

/// How the delivered program ran.
#[derive(Debug, Default, Serialize)]
pub struct RunRecord {
    pub job_id: Option<String>,
    pub probes: u32,
    /// The program's stdout lines, what the check ran against.
    pub output: Vec<String>,
    /// The program's stderr lines.
    pub stderr: Vec<String>,
    pub exit_code: Option<i32>,
    pub finished_reason: Option<String>,
    pub trigger: Option<TriggerRecord>,
    /// Why the run failed, when it did.
    pub failure: Option<String>,
}

/// How the task's trigger ran.
#[derive(Debug, Serialize)]
pub struct TriggerRecord {
    pub seconds: f64,
    /// `None` when it ran and exited with status 0.
    pub failure: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Totals {
    pub tasks: usize,
    pub correct: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    /// correct / tasks
    pub a: f64,
    /// false positives / tasks
    pub fp: f64,
    /// false negatives / tasks
    #[serde(rename = "fn")]
    pub fn_: f64,
    pub median_seconds: f64,
}

pub fn totals(results: &[TaskResult]) -> Totals {
    let count = |verdict: Verdict| results.iter().filter(|r| r.verdict == verdict).count();
    let tasks = results.len();
    let fraction = |n: usize| {
        if tasks == 0 {
            0.0
        } else {
            n as f64 / tasks as f64
        }
    };
    let (correct, false_positives, false_negatives) = (
        count(Verdict::Correct),
        count(Verdict::FalsePositive),
        count(Verdict::FalseNegative),
    );
    Totals {
        tasks,
        correct,
        false_positives,
        false_negatives,
        a: fraction(correct),
        fp: fraction(false_positives),
        fn_: fraction(false_negatives),
        median_seconds: median(results.iter().map(TaskResult::seconds).collect()),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// The table of all tasks followed by the totals.
pub fn table(results: &[TaskResult]) -> String {
    let id_width = results
        .iter()
        .map(|result| result.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut text = format!(
        "{:<id_width$}  {:<7}  {:>4}  {:>8}  {:>7}  {:>7}  REASON\n",
        "TASK", "VERDICT", "ITER", "TOK IN", "TOK OUT", "SECONDS"
    );
    for result in results {
        let reason = result.reason.as_deref().unwrap_or("");
        let line = format!(
            "{:<id_width$}  {:<7}  {:>4}  {:>8}  {:>7}  {:>7.1}  {}",
            result.id,
            result.verdict.label(),
            result.iterations,
            result.prompt_tokens,
            result.completion_tokens,
            result.seconds(),
            truncate(&reason.replace('\n', " "), 90)
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    let totals = totals(results);
    text.push_str(&format!(
        "\n{} task{}: A {:.3} ({}/{})  FP {:.3} ({}/{})  FN {:.3} ({}/{})  median {:.1} s per task\n",
        totals.tasks,
        crate::show::plural(totals.tasks),
        totals.a,
        totals.correct,
        totals.tasks,
        totals.fp,
        totals.false_positives,
        totals.tasks,
        totals.fn_,
        totals.false_negatives,
        totals.tasks,
        totals.median_seconds
    ));
    text
}

/// Writes (or rewrites) the JSON results file.
pub fn write_json(
    path: &Path,
    tasks_file: &Path,
    host: Option<Value>,
    results: &[TaskResult],
) -> anyhow::Result<()> {
    let document = serde_json::json!({
        "tasks_file": tasks_file.display().to_string(),
        "host": host,
        "tasks": results,
        "totals": totals(results),
    });
    let text = serde_json::to_string_pretty(&document).context("encoding the results")?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("writing the results to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, verdict: Verdict, ask: f64, run: f64) -> TaskResult {
        TaskResult {
            id: id.into(),
            feasible: true,
            why_infeasible: String::new(),
            verdict,
            reason: (verdict != Verdict::Correct).then(|| "no answer: kprobes".to_string()),
            request_id: None,
            iterations: 2,
            prompt_tokens: 1500,
            completion_tokens: 300,
            ask_seconds: ask,
            run_seconds: run,
            program: None,
            no_answer_reason: None,
            checks: Vec::new(),
            run: None,
        }
    }

    #[test]
    fn totals_are_fractions_of_all_tasks_with_the_median_time() {
        let results = [
            result("a", Verdict::Correct, 10.0, 5.0),
            result("b", Verdict::FalsePositive, 20.0, 0.0),
            result("c", Verdict::FalseNegative, 30.0, 0.0),
            result("d", Verdict::Correct, 40.0, 2.0),
        ];
        let totals = totals(&results);
        assert_eq!(
            totals,
            Totals {
                tasks: 4,
                correct: 2,
                false_positives: 1,
                false_negatives: 1,
                a: 0.5,
                fp: 0.25,
                fn_: 0.25,
                median_seconds: 25.0,
            }
        );
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn table_has_one_row_per_task_and_the_totals() {
        let results = [
            result("file-delete-audit", Verdict::Correct, 10.0, 5.0),
            result("llc", Verdict::FalseNegative, 20.0, 0.0),
        ];
        let text = table(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("TASK"), "{text}");
        assert!(
            lines[1].starts_with("file-delete-audit  correct     2      1500      300     15.0"),
            "{text}"
        );
        assert!(lines[2].ends_with("no answer: kprobes"), "{text}");
        assert!(
            text.ends_with(
                "2 tasks: A 0.500 (1/2)  FP 0.000 (0/2)  FN 0.500 (1/2)  median 17.5 s per task\n"
            ),
            "{text}"
        );
    }
}
