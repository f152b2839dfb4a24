//! `kgentctl history`: past requests as a table, or one request with its full transcript (every
//! prompt sent to the model, every reply, every check), which is how a person finds out why a
//! request ended the way it did.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use kgent_proto::v1::{GetRequestRequest, ListRequestsRequest, RequestRecord, RequestSummary};
use serde_json::Value;

use crate::show::{seconds, timestamp, tokens, truncate};
use crate::status::RpcError;
use crate::{client, json, Exit};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Show this request with its full transcript instead of the list.
    #[arg(value_name = "ID")]
    id: Option<String>,

    /// How many requests to list, newest first (default: kgentd's, 50).
    #[arg(long, value_name = "N", conflicts_with = "id")]
    limit: Option<u32>,

    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn history(daemon: &crate::client::Daemon, args: HistoryArgs) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    let mut stdout = std::io::stdout();
    match args.id {
        Some(id) => {
            let record = client
                .get_request(GetRequestRequest { id })
                .await
                .map_err(|status| RpcError::new("GetRequest", status))?
                .into_inner();
            if args.json {
                writeln!(stdout, "{:#}", json::request_record(&record))
            } else {
                write!(stdout, "{}", record_text(&record))
            }
        }
        None => {
            let list = client
                .list_requests(ListRequestsRequest {
                    limit: args.limit.unwrap_or(0),
                })
                .await
                .map_err(|status| RpcError::new("ListRequests", status))?
                .into_inner();
            if args.json {
                let requests: Vec<Value> =
                    list.requests.iter().map(json::request_summary).collect();
                writeln!(stdout, "{:#}", Value::Array(requests))
            } else {
                write!(stdout, "{}", list_text(&list.requests))
            }
        }
    }
    .context("writing to stdout")?;
    Ok(Exit::Success)
}

/// The list of requests as a table, one line each.
fn list_text(requests: &[RequestSummary]) -> String {
    if requests.is_empty() {
        return "no requests yet: try `kgentctl ask \"…\"`\n".to_string();
    }
    let id_width = requests
        .iter()
        .map(|request| request.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut text = format!(
        "{:<id_width$}  {:<20}  {:<9}  {:>6}  {:>5}  {:>8}  REQUEST\n",
        "ID", "TIME (UTC)", "STATE", "UID", "ITER", "WALL"
    );
    for request in requests {
        text.push_str(&format!(
            "{:<id_width$}  {:<20}  {:<9}  {:>6}  {:>5}  {:>8}  {}\n",
            request.id,
            timestamp(request.created_unix_ms),
            request.state,
            request.caller_uid,
            request.iterations,
            seconds(request.wall_ms),
            truncate(&request.text.replace('\n', " "), 60),
        ));
    }
    text
}

/// One request in full: summary, outcome, program and the transcript in order.
fn record_text(record: &RequestRecord) -> String {
    let mut text = String::new();
    if let Some(summary) = &record.summary {
        text.push_str(&format!("request   {}\n", summary.id));
        text.push_str(&format!("text      {}\n", summary.text));
        text.push_str(&format!(
            "state     {} (uid {}, {}, {} iterations, {})\n",
            summary.state,
            summary.caller_uid,
            timestamp(summary.created_unix_ms),
            summary.iterations,
            seconds(summary.wall_ms)
        ));
    }
    let (tokens_in, tokens_out) = tokens(record.usage.as_ref());
    text.push_str(&format!("tokens    {tokens_in} in / {tokens_out} out\n"));
    if !record.outcome.is_empty() {
        text.push_str(&format!("outcome   {}\n", record.outcome));
    }
    if !record.program.is_empty() {
        text.push_str("\nprogram:\n");
        for line in record.program.trim_end().lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text.push_str(&format!(
        "\ntranscript ({} entries):\n",
        record.transcript.len()
    ));
    for entry in &record.transcript {
        text.push_str(&format!(
            "\n── {} · iteration {} · +{}\n",
            entry.kind,
            entry.iteration,
            seconds(entry.at_ms)
        ));
        for line in entry.text.trim_end().lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use kgent_proto::v1::TranscriptEntry;

    #[test]
    fn list_truncates_long_requests_to_one_line() {
        let request = RequestSummary {
            id: "r1".into(),
            text: format!("count\nsyscalls {}", "x".repeat(100)),
            state: "answered".into(),
            caller_uid: 1000,
            created_unix_ms: 0,
            wall_ms: 2500,
            iterations: 2,
        };
        let text = list_text(&[request]);
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(
            row.starts_with("r1  1970-01-01T00:00:00Z  answered"),
            "{row}"
        );
        assert!(row.contains("  count syscalls xxx"), "{row}");
        assert!(row.ends_with('…'), "{row}");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn record_shows_every_transcript_entry_in_full() {
        let record = RequestRecord {
            summary: None,
            transcript: vec![
                TranscriptEntry {
                    kind: "prompt".into(),
                    iteration: 1,
                    text: "line one\nline two".into(),
                    at_ms: 10,
                },
                TranscriptEntry {
                    kind: "check".into(),
                    iteration: 1,
                    text: "load: ok".into(),
                    at_ms: 900,
                },
            ],
            program: String::new(),
            outcome: "no_answer".into(),
            usage: None,
        };
        let text = record_text(&record);
        assert!(text.contains("    line one\n    line two\n"), "{text}");
        assert!(text.contains("── check · iteration 1"), "{text}");
        assert!(text.contains("transcript (2 entries)"), "{text}");
    }
}
