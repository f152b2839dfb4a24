//! `kgentctl host`: what kgentd found this host's kernel can do (and why not, where it cannot),
//! and which model backend answers requests. It only shows kgentd's findings; it probes nothing.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use kgent_proto::v1::{HostInfoRequest, HostInfoResponse};

use crate::status::RpcError;
use crate::{client, json, Exit};

#[derive(Debug, Args)]
pub struct HostArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn host(daemon: &crate::client::Daemon, args: HostArgs) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    let info = client
        .host_info(HostInfoRequest {})
        .await
        .map_err(|status| RpcError::new("HostInfo", status))?
        .into_inner();
    let mut stdout = std::io::stdout();
    if args.json {
        writeln!(stdout, "{:#}", json::host_info(&info))
    } else {
        write!(stdout, "{}", host_text(&info))
    }
    .context("writing to stdout")?;
    Ok(Exit::Success)
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

fn or_unknown(value: &str) -> &str {
    if value.trim().is_empty() {
        "(unknown)"
    } else {
        value
    }
}

fn host_text(info: &HostInfoResponse) -> String {
    let mut text = format!(
        "kernel       {}\n\
         BTF          {}\n\
         tracepoints  {}\n\
         catalog      {} kernel functions, {} raw tracepoints, {} helpers, {} curated specs\n\
         search       {}\n\
         bpftrace     {}\n\
         model        {} via {} ({})\n",
        or_unknown(&info.kernel_release),
        yes_no(info.btf),
        info.tracepoints,
        info.kernel_functions,
        info.raw_tracepoints,
        info.helpers,
        info.curated_specs,
        or_unknown(&info.retrieval),
        or_unknown(&info.bpftrace_version),
        or_unknown(&info.model),
        or_unknown(&info.model_backend),
        if info.model_loaded {
            "loaded"
        } else {
            "not loaded"
        },
    );
    if info.families.is_empty() {
        return text;
    }
    let width = info
        .families
        .iter()
        .map(|family| family.name.chars().count())
        .max()
        .unwrap_or(0);
    text.push_str("\nattach families:\n");
    for family in &info.families {
        let mut line = format!("  {:<width$}  {:<3}", family.name, yes_no(family.available));
        if !family.reason.trim().is_empty() {
            line.push_str(&format!("  {}", family.reason.trim()));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use kgent_proto::v1::AttachFamily;

    #[test]
    fn unavailable_family_shows_its_reason() {
        let info = HostInfoResponse {
            kernel_release: "6.18.0".into(),
            btf: true,
            families: vec![
                AttachFamily {
                    name: "tracepoint".into(),
                    available: true,
                    reason: String::new(),
                },
                AttachFamily {
                    name: "kprobe".into(),
                    available: false,
                    reason: "CONFIG_KPROBES unset".into(),
                },
            ],
            model_backend: "llama.cpp".into(),
            model: "qwen".into(),
            model_loaded: false,
            tracepoints: 1800,
            bpftrace_version: String::new(),
            ..Default::default()
        };
        let text = host_text(&info);
        assert!(text.contains("  tracepoint  yes\n"), "{text}");
        assert!(
            text.contains("  kprobe      no   CONFIG_KPROBES unset\n"),
            "{text}"
        );
        assert!(text.contains("bpftrace     (unknown)\n"), "{text}");
        assert!(
            text.contains("model        qwen via llama.cpp (not loaded)\n"),
            "{text}"
        );
    }
}
