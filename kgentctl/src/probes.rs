//! `kgentctl probes`: search the host's catalog of attach points and helpers, or show one entry.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use kgent_proto::v1::{ListUprobesRequest, ProbeEntry, SearchProbesRequest, ShowProbeRequest};

use crate::status::RpcError;
use crate::{client, Exit};

#[derive(Debug, Args)]
pub struct ProbesArgs {
    #[command(subcommand)]
    command: ProbesCommand,
}

#[derive(Debug, Subcommand)]
enum ProbesCommand {
    /// Ranked attach points and helpers for a query in plain words or kernel names.
    Search {
        /// What to look for, e.g. "tcp connection established" or "openat".
        query: String,
        /// How many entries to show.
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// One attach point or helper, with its fields or prototype.
    Show {
        /// e.g. syscalls:sys_enter_openat, tracepoint:sched:sched_switch, vfs_read, bpf_ktime_get_ns.
        name: String,
    },
    /// Uprobe symbols and USDT probes of a binary or library.
    Uprobes {
        /// A path (/usr/bin/bash), a command on PATH (bash) or a library name (libc).
        binary: String,
        /// Only symbols containing this text.
        #[arg(long, default_value = "")]
        filter: String,
        /// How many symbols to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub async fn probes(daemon: &crate::client::Daemon, args: ProbesArgs) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    let mut out = std::io::stdout();
    match args.command {
        ProbesCommand::Search { query, limit } => {
            let resp = client
                .search_probes(SearchProbesRequest { query, limit })
                .await
                .map_err(|s| RpcError::new("SearchProbes", s))?
                .into_inner();
            for e in &resp.entries {
                writeln!(
                    out,
                    "{:<3} {:<52} {}\n      {}",
                    if e.available { "yes" } else { "no" },
                    e.name,
                    e.kind,
                    one_line(
                        if e.signature.is_empty() {
                            &e.description
                        } else {
                            &e.signature
                        },
                        110
                    )
                )
                .context("writing to stdout")?;
            }
            if !resp.retrieval.starts_with("hybrid") && !resp.retrieval.is_empty() {
                eprintln!("note: {}", resp.retrieval);
            }
            if resp.entries.is_empty() {
                writeln!(
                    out,
                    "nothing in the catalog ({} entries) matches",
                    resp.catalog_size
                )
                .context("writing to stdout")?;
            }
        }
        ProbesCommand::Show { name } => {
            let e = client
                .show_probe(ShowProbeRequest { name })
                .await
                .map_err(|s| RpcError::new("ShowProbe", s))?
                .into_inner();
            write!(out, "{}", show_text(&e)).context("writing to stdout")?;
        }
        ProbesCommand::Uprobes {
            binary,
            filter,
            limit,
        } => {
            let r = client
                .list_uprobes(ListUprobesRequest {
                    binary,
                    filter,
                    limit,
                })
                .await
                .map_err(|s| RpcError::new("ListUprobes", s))?
                .into_inner();
            writeln!(
                out,
                "{}: {} function symbols ({} shown), {} USDT probes; uprobes here: {} ({})",
                r.path,
                r.total_symbols,
                r.symbols.len(),
                r.usdt.len(),
                if r.available { "yes" } else { "no" },
                r.reason
            )
            .context("writing to stdout")?;
            for s in &r.symbols {
                writeln!(out, "  uprobe:{}:{s}", r.path).context("writing to stdout")?;
            }
            for u in &r.usdt {
                writeln!(out, "  usdt:{}:{u}", r.path).context("writing to stdout")?;
            }
        }
    }
    Ok(Exit::Success)
}

fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

fn show_text(e: &ProbeEntry) -> String {
    let mut s = format!("{}  ({})\n", e.name, e.kind);
    s.push_str(&format!(
        "usable here: {}: {}\n",
        if e.available { "yes" } else { "no" },
        e.reason
    ));
    s.push_str(&format!("{}\n", e.description));
    if e.kind == "tracepoint" {
        s.push_str("fields (args->NAME):\n");
        for f in e.signature.split("; ").filter(|f| !f.is_empty()) {
            s.push_str(&format!("  {f}\n"));
        }
    } else if !e.signature.is_empty() {
        s.push_str(&format!("{}\n", e.signature));
    }
    if !e.program_types.is_empty() {
        s.push_str(&format!(
            "callable from ({}): {}\n",
            e.program_types.len(),
            e.program_types.join(", ")
        ));
    }
    if !e.facts.is_empty() {
        s.push_str("facts (specs DB):\n");
        for f in &e.facts {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    if !e.instead_of.is_empty() {
        s.push_str(&format!("use instead of: {}\n", e.instead_of.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_tracepoint_fields_one_per_line() {
        let e = ProbeEntry {
            kind: "tracepoint".into(),
            name: "tracepoint:syscalls:sys_enter_openat".into(),
            signature: "int dfd; const char * filename".into(),
            description: "d".into(),
            available: true,
            reason: "measured".into(),
            score: 0.0,
            facts: vec!["filename is a user pointer".into()],
            instead_of: vec!["kprobe:do_sys_open".into()],
            program_types: Vec::new(),
            curated: true,
        };
        let t = show_text(&e);
        assert!(t.contains("\n  const char * filename\n"), "{t}");
        assert!(t.contains("  - filename is a user pointer\n"), "{t}");
        assert!(t.contains("use instead of: kprobe:do_sys_open\n"), "{t}");
        assert_eq!(one_line("a\n  b", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
