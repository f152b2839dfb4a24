//! Benchmark task files: parsing, validation and the output check of one task.
//!
//! The format is the benchmark task format (shared/eval/README.md)'s. Every task is validated (ids unique, regexes
//! compile) before the first one runs, so a typo fails in a second rather than an hour into an
//! evaluation. The `reference` program of a task is never part of a `Task`: only `references`
//! reads it, for `eval --references` (which runs it to check the task's own check), so the ask
//! evaluation cannot pass it to the model.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{bail, Context};
use regex::Regex;
use serde::Deserialize;

/// A task as written in the file (`reference` deliberately absent).
#[derive(Debug, Deserialize)]
struct TaskEntry {
    id: String,
    prompt: String,
    feasible: bool,
    #[serde(default)]
    why_infeasible: String,
    #[serde(default)]
    trigger: String,
    #[serde(default = "default_settle_s")]
    settle_s: f64,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    reject: Vec<String>,
}

fn default_settle_s() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
struct TaskFile {
    #[serde(default)]
    task: Vec<TaskEntry>,
}

/// A task's reference program as written in the file, read only by `references`.
#[derive(Debug, Deserialize)]
struct ReferenceEntry {
    id: String,
    #[serde(default)]
    reference: String,
}

#[derive(Debug, Deserialize)]
struct ReferenceFile {
    #[serde(default)]
    task: Vec<ReferenceEntry>,
}

/// One benchmark task, validated.
#[derive(Debug)]
pub struct Task {
    pub id: String,
    pub prompt: String,
    pub feasible: bool,
    /// For people reading the results; the harness does not compare it with anything.
    pub why_infeasible: String,
    /// Shell command run while the program is attached; empty for none.
    pub trigger: String,
    /// How long the program keeps running after the trigger ends.
    pub settle: Duration,
    pub check: OutputCheck,
}

/// What a program's output must (and must not) contain.
#[derive(Debug)]
pub struct OutputCheck {
    expect: Vec<Regex>,
    reject: Vec<Regex>,
}

impl OutputCheck {
    pub fn new(expect: &[String], reject: &[String]) -> anyhow::Result<Self> {
        let compile = |which: &str, patterns: &[String]| -> anyhow::Result<Vec<Regex>> {
            patterns
                .iter()
                .map(|pattern| {
                    Regex::new(pattern).with_context(|| {
                        format!("{which} pattern {pattern:?} is not a valid regex")
                    })
                })
                .collect()
        };
        Ok(OutputCheck {
            expect: compile("expect", expect)?,
            reject: compile("reject", reject)?,
        })
    }

    /// Checks the program's whole stdout (its lines joined with newlines): `Ok` when every
    /// `expect` matches and no `reject` does, otherwise every broken rule, in file order.
    pub fn verify(&self, output: &str) -> Result<(), String> {
        let mut failures: Vec<String> = self
            .expect
            .iter()
            .filter(|regex| !regex.is_match(output))
            .map(|regex| format!("expected /{}/ not in output", regex.as_str()))
            .collect();
        for regex in &self.reject {
            if let Some(found) = regex.find(output) {
                failures.push(format!(
                    "rejected /{}/ matched {:?}",
                    regex.as_str(),
                    found.as_str()
                ));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }
}

/// Parses and validates a task file.
pub fn parse(text: &str) -> anyhow::Result<Vec<Task>> {
    let file: TaskFile = toml::from_str(text).context("not a valid task file")?;
    if file.task.is_empty() {
        bail!("the file has no [[task]] entries");
    }
    let mut seen = HashSet::new();
    file.task
        .into_iter()
        .map(|entry| {
            if entry.id.trim().is_empty() {
                bail!("a task has an empty id");
            }
            if !seen.insert(entry.id.clone()) {
                bail!("task id {:?} appears twice", entry.id);
            }
            validate(entry)
        })
        .collect()
}

fn validate(entry: TaskEntry) -> anyhow::Result<Task> {
    let id = entry.id;
    if entry.prompt.trim().is_empty() {
        bail!("task {id}: the prompt is empty");
    }
    let settle = Duration::try_from_secs_f64(entry.settle_s)
        .with_context(|| format!("task {id}: settle_s = {} is not a duration", entry.settle_s))?;
    let check =
        OutputCheck::new(&entry.expect, &entry.reject).with_context(|| format!("task {id}"))?;
    Ok(Task {
        id,
        prompt: entry.prompt,
        feasible: entry.feasible,
        why_infeasible: entry.why_infeasible,
        trigger: entry.trigger,
        settle,
        check,
    })
}

/// Every task's reference program by task id, for `eval --references`; tasks without one
/// (infeasible tasks) are absent.
pub fn references(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let file: ReferenceFile = toml::from_str(text).context("not a valid task file")?;
    Ok(file
        .task
        .into_iter()
        .filter(|entry| !entry.reference.trim().is_empty())
        .map(|entry| (entry.id, entry.reference))
        .collect())
}

/// The tasks named in `only` (all of them when it is empty), in file order.
pub fn select(tasks: Vec<Task>, only: &[String]) -> anyhow::Result<Vec<Task>> {
    if only.is_empty() {
        return Ok(tasks);
    }
    let unknown: Vec<&str> = only
        .iter()
        .filter(|id| !tasks.iter().any(|task| &task.id == *id))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
        bail!(
            "no task with id {} (the file has: {})",
            unknown.join(", "),
            known.join(", ")
        );
    }
    Ok(tasks
        .into_iter()
        .filter(|task| only.contains(&task.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[task]]
id = "failed-opens"
prompt = "Show failed opens."
feasible = true
why_infeasible = ""
trigger = "cat /tmp/missing"
settle_s = 2
expect = ['missing.*(\b2\b|ENOENT)']
reject = ['exists']
reference = """
the reference program
"""

[[task]]
id = "llc-misses"
prompt = "Count cache misses."
feasible = false
why_infeasible = "no hardware PMU"
trigger = "true"
settle_s = 0.5
expect = []
reject = []

[[task]]
id = "defaults"
prompt = "Anything."
feasible = true
"#;

    /// The error message of a parse that must fail.
    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("accepted an invalid task file:\n{text}"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn parses_tasks_with_defaults_and_without_the_reference() -> anyhow::Result<()> {
        let tasks = parse(FILE)?;
        assert_eq!(tasks.len(), 3);
        assert_eq!(tasks[0].id, "failed-opens");
        assert!(tasks[0].feasible);
        assert_eq!(tasks[0].settle, Duration::from_secs(2));
        assert_eq!(tasks[0].trigger, "cat /tmp/missing");
        assert!(!tasks[1].feasible);
        assert_eq!(tasks[1].why_infeasible, "no hardware PMU");
        assert_eq!(tasks[1].settle, Duration::from_millis(500));
        assert_eq!(tasks[2].settle, Duration::from_secs(1));
        assert_eq!(tasks[2].trigger, "");
        assert_eq!(tasks[2].check.verify(""), Ok(()));
        Ok(())
    }

    #[test]
    fn invalid_files_are_refused_with_the_task_named() {
        let error =
            refusal("[[task]]\nid = \"t\"\nprompt = \"p\"\nfeasible = true\nexpect = ['(']\n");
        assert!(
            error.contains("task t") && error.contains("expect pattern"),
            "{error}"
        );

        let error = refusal(
            "[[task]]\nid = \"t\"\nprompt = \"p\"\nfeasible = true\n\
             [[task]]\nid = \"t\"\nprompt = \"q\"\nfeasible = false\n",
        );
        assert!(error.contains("appears twice"), "{error}");

        let error =
            refusal("[[task]]\nid = \"t\"\nprompt = \"p\"\nfeasible = true\nsettle_s = -1\n");
        assert!(error.contains("settle_s = -1"), "{error}");

        assert!(refusal("").contains("no [[task]]"));
        assert!(refusal("[[task]]\nid = \"t\"\nfeasible = true\n").contains("prompt"));
    }

    #[test]
    fn references_are_read_apart_from_the_tasks() -> anyhow::Result<()> {
        let references = references(FILE)?;
        assert_eq!(
            references.get("failed-opens").map(String::as_str),
            Some("the reference program\n")
        );
        assert!(!references.contains_key("llc-misses"));
        assert!(!references.contains_key("defaults"));
        Ok(())
    }

    #[test]
    fn only_keeps_file_order_and_names_unknown_ids() -> anyhow::Result<()> {
        let only = vec!["defaults".to_string(), "failed-opens".to_string()];
        let chosen = select(parse(FILE)?, &only)?;
        let ids: Vec<&str> = chosen.iter().map(|task| task.id.as_str()).collect();
        assert_eq!(ids, ["failed-opens", "defaults"]);

        let Err(error) = select(parse(FILE)?, &["nope".to_string()]) else {
            panic!("selected a task that does not exist");
        };
        let error = error.to_string();
        assert!(
            error.contains("nope") && error.contains("llc-misses"),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn check_runs_against_the_whole_output() -> anyhow::Result<()> {
        let check = OutputCheck::new(
            &[
                r"kgentdevfsync\b.*\d".to_string(),
                r"(?s)kgentdevfsync.*kgentdevfsync".to_string(),
            ],
            &[r"\b123457\b".to_string()],
        )?;
        assert_eq!(
            check.verify("kgentdevfsync 12 us\nother\nkgentdevfsync 9 us"),
            Ok(())
        );
        assert_eq!(
            check.verify("kgentdevfsync 123457"),
            Err(
                "expected /(?s)kgentdevfsync.*kgentdevfsync/ not in output; \
                 rejected /\\b123457\\b/ matched \"123457\""
                    .to_string()
            )
        );
        Ok(())
    }
}
