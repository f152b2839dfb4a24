//! `kgentctl jobs` and `kgentctl stop`: the job table (every run, live or ended, with how it
//! ended) and stopping one job by id. Nothing here runs a program.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use kgent_proto::v1::{Job, ListJobsRequest, StopRequest};
use serde_json::json;

use crate::show::{target_name, timestamp, truncate};
use crate::status::RpcError;
use crate::{client, Exit};

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// How many jobs to list, newest first (default: kgentd's, 50).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,

    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The job to stop (see `kgentctl jobs`).
    #[arg(value_name = "JOB_ID")]
    id: String,
}

fn job_json(job: &Job) -> serde_json::Value {
    json!({
        "id": job.id,
        "owner_uid": job.owner_uid,
        "target": target_name(job.target),
        "state": job.state,
        "started_unix_ms": job.started_unix_ms,
        "ended_unix_ms": job.ended_unix_ms,
        "duration_s": job.duration_s,
        "max_events_per_s": job.max_events_per_s,
        "detached": job.detached,
        "outcome": job.outcome,
        "log_path": job.log_path,
    })
}

pub async fn jobs(daemon: &crate::client::Daemon, args: JobsArgs) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    let jobs = client
        .list_jobs(ListJobsRequest {
            limit: args.limit.unwrap_or(0),
        })
        .await
        .map_err(|status| RpcError::new("ListJobs", status))?
        .into_inner()
        .jobs;
    let mut stdout = std::io::stdout();
    if args.json {
        let doc: Vec<_> = jobs.iter().map(job_json).collect();
        writeln!(stdout, "{:#}", serde_json::Value::Array(doc)).context("writing to stdout")?;
        return Ok(Exit::Success);
    }
    if jobs.is_empty() {
        eprintln!("no jobs yet");
        return Ok(Exit::Success);
    }
    writeln!(
        stdout,
        "{:<12}  {:<8}  {:<6}  {:>5}  {:<20}  {:<8}  OUTCOME",
        "JOB", "TARGET", "STATE", "UID", "STARTED", "LIMITS"
    )
    .context("writing to stdout")?;
    for job in &jobs {
        let limits = match (job.duration_s, job.detached) {
            (0, false) => "client".to_owned(),
            (0, true) => "detached".to_owned(),
            (d, false) => format!("{d}s"),
            (d, true) => format!("{d}s det."),
        };
        writeln!(
            stdout,
            "{:<12}  {:<8}  {:<6}  {:>5}  {:<20}  {:<8}  {}",
            job.id,
            target_name(job.target),
            job.state,
            job.owner_uid,
            timestamp(job.started_unix_ms),
            limits,
            truncate(&job.outcome, 100)
        )
        .context("writing to stdout")?;
    }
    Ok(Exit::Success)
}

pub async fn stop(daemon: &crate::client::Daemon, args: StopArgs) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    client
        .stop(StopRequest {
            job_id: args.id.clone(),
        })
        .await
        .map_err(|status| RpcError::new("Stop", status))?;
    eprintln!("asked job {} to stop; it prints its maps and ends", args.id);
    Ok(Exit::Success)
}
