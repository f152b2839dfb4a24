//! Scoring one task, exactly as the benchmark task format (shared/eval/README.md) defines it.
//!
//! A feasible task is correct when the delivered program ran through the trigger window without
//! error and its output passed the task's check; a false positive when a program was delivered
//! but the run or the check failed; a false negative when no program was delivered. An
//! infeasible task is correct when no program was delivered and kgentd said why; a false
//! positive when a program was delivered anyway.

use serde::Serialize;

use super::task::Task;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Correct,
    FalsePositive,
    FalseNegative,
}

impl Verdict {
    /// The short name used in the table.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Correct => "correct",
            Verdict::FalsePositive => "FP",
            Verdict::FalseNegative => "FN",
        }
    }
}

/// What came of asking for (and, when feasible, running) one task's program.
#[derive(Debug)]
pub enum Attempt {
    /// The Ask call itself failed (kgentd unreachable, RPC error): nothing was delivered.
    AskFailed(String),
    /// kgentd delivered no program, for this reason.
    NoAnswer(String),
    /// A program was delivered and not run (infeasible tasks are not run).
    Delivered,
    /// A program was delivered and run: its stdout, or why the run failed.
    Ran(Result<String, String>),
}

/// The verdict on one task, with the reason when it is not correct.
pub fn score(task: &Task, attempt: &Attempt) -> (Verdict, Option<String>) {
    match (task.feasible, attempt) {
        (_, Attempt::AskFailed(error)) => {
            (Verdict::FalseNegative, Some(format!("ask failed: {error}")))
        }
        (true, Attempt::NoAnswer(reason)) => (
            Verdict::FalseNegative,
            Some(format!("no answer: {}", reason.trim())),
        ),
        (true, Attempt::Delivered) => (
            Verdict::FalsePositive,
            Some("a program was delivered but not run".to_string()),
        ),
        (true, Attempt::Ran(Err(failure))) => (Verdict::FalsePositive, Some(failure.clone())),
        (true, Attempt::Ran(Ok(output))) => match task.check.verify(output) {
            Ok(()) => (Verdict::Correct, None),
            Err(_) if output.trim().is_empty() => (
                Verdict::FalsePositive,
                Some("the program printed nothing".to_string()),
            ),
            Err(failure) => (Verdict::FalsePositive, Some(failure)),
        },
        (false, Attempt::NoAnswer(reason)) if !reason.trim().is_empty() => (Verdict::Correct, None),
        (false, Attempt::NoAnswer(_)) => (
            Verdict::FalseNegative,
            Some("no program, but kgentd gave no reason".to_string()),
        ),
        (false, Attempt::Delivered | Attempt::Ran(_)) => (
            Verdict::FalsePositive,
            Some("a program was delivered for an infeasible task".to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::task::OutputCheck;
    use super::*;

    fn task(feasible: bool) -> anyhow::Result<Task> {
        Ok(Task {
            id: "t".into(),
            prompt: "p".into(),
            feasible,
            why_infeasible: String::new(),
            trigger: String::new(),
            settle: Duration::from_secs(1),
            check: OutputCheck::new(
                &[r"kgentdevdel.*victim\.txt".to_string()],
                &[r"\b0x[0-9a-f]+\b".to_string()],
            )?,
        })
    }

    #[test]
    fn feasible_task_is_correct_only_when_the_output_passes() -> anyhow::Result<()> {
        let feasible = task(true)?;
        let good = Attempt::Ran(Ok("1234 kgentdevdel /tmp/victim.txt".into()));
        assert_eq!(score(&feasible, &good), (Verdict::Correct, None));

        let rejected = Attempt::Ran(Ok("1234 kgentdevdel /tmp/victim.txt 0x1f".into()));
        assert_eq!(score(&feasible, &rejected).0, Verdict::FalsePositive);

        let silent = Attempt::Ran(Ok(String::new()));
        assert_eq!(
            score(&feasible, &silent),
            (
                Verdict::FalsePositive,
                Some("the program printed nothing".to_string())
            )
        );

        let crashed = Attempt::Ran(Err("exited with status 1".into()));
        assert_eq!(score(&feasible, &crashed).0, Verdict::FalsePositive);
        Ok(())
    }

    #[test]
    fn feasible_task_without_a_program_is_a_false_negative() -> anyhow::Result<()> {
        let feasible = task(true)?;
        let none = Attempt::NoAnswer("kprobes unavailable".into());
        assert_eq!(
            score(&feasible, &none),
            (
                Verdict::FalseNegative,
                Some("no answer: kprobes unavailable".to_string())
            )
        );
        let failed = Attempt::AskFailed("connection reset".into());
        assert_eq!(score(&feasible, &failed).0, Verdict::FalseNegative);
        Ok(())
    }

    #[test]
    fn infeasible_task_is_correct_only_when_refused_with_a_reason() -> anyhow::Result<()> {
        let infeasible = task(false)?;
        let refused = Attempt::NoAnswer("no hardware PMU on this VM".into());
        assert_eq!(score(&infeasible, &refused), (Verdict::Correct, None));

        let mute = Attempt::NoAnswer("  ".into());
        assert_eq!(score(&infeasible, &mute).0, Verdict::FalseNegative);

        assert_eq!(
            score(&infeasible, &Attempt::Delivered).0,
            Verdict::FalsePositive
        );
        let ran = Attempt::Ran(Ok("kgentdevdel victim.txt".into()));
        assert_eq!(score(&infeasible, &ran).0, Verdict::FalsePositive);
        Ok(())
    }
}
