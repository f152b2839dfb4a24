//! `kgentctl cache`: move kgentd's verified answers between hosts of one kernel build. The
//! daemon keeps them and checks each again before reusing it; this module only carries the
//! JSON across (admin only on both sides).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use kgent_proto::v1::{ExportAnswersRequest, ImportAnswersRequest};

use crate::client::{self, Daemon};
use crate::status::RpcError;
use crate::Exit;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Write the verified answers kept for this host's kernel build (JSON) to FILE or stdout.
    Export {
        /// Where to write them; `-` or nothing: stdout.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Give kgentd answers exported by a host of the same kernel build (it refuses others).
    Import {
        /// An export (`-`: stdin).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub async fn cache(daemon: &Daemon, command: CacheCommand) -> anyhow::Result<Exit> {
    let mut client = client::connect(daemon).await?;
    match command {
        CacheCommand::Export { file } => {
            let export = client
                .export_answers(ExportAnswersRequest {})
                .await
                .map_err(|status| RpcError::new("ExportAnswers", status))?
                .into_inner();
            match file.filter(|f| f.as_os_str() != "-") {
                Some(path) => std::fs::write(&path, &export.answers_json)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => writeln!(std::io::stdout(), "{}", export.answers_json)
                    .context("writing to stdout")?,
            }
            eprintln!(
                "{} verified answer{} exported from {daemon}",
                export.count,
                crate::show::plural(export.count as usize)
            );
        }
        CacheCommand::Import { file } => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading stdin")?;
            } else {
                text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
            }
            let imported = client
                .import_answers(ImportAnswersRequest { answers_json: text })
                .await
                .map_err(|status| RpcError::new("ImportAnswers", status))?
                .into_inner()
                .imported;
            eprintln!(
                "{imported} verified answer{} imported into {daemon}; each is checked again before it is first reused",
                crate::show::plural(imported as usize)
            );
        }
    }
    Ok(Exit::Success)
}
