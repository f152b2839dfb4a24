//! Man pages and shell completions generated from a binary's clap definition, so that `--help`,
//! `man` and tab completion never disagree: one page per command and subcommand
//! (`kgentctl-probes-search.1`), completions for bash, zsh, fish, elvish and PowerShell.
//!
//! Each binary exposes this as its hidden `generate` command (`kgentctl generate man DIR`,
//! `kgentd generate completions bash`); the Debian package build (`packaging/deb/build.sh`) runs
//! it. It owns the rendering only; what a command says is the binary's.
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Command, Subcommand};
use clap_complete::Shell;

/// What to generate.
#[derive(Debug, Clone, Subcommand)]
pub enum Generate {
    /// Write one man page per command and subcommand (roff) into DIR.
    Man {
        /// Directory to write the pages into (created if missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on stdout.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
}

/// Where the pages go and how they are labelled.
pub struct Manual<'a> {
    /// The man section: "1" for user commands, "8" for daemons and administration.
    pub section: &'a str,
    /// The footer's source, e.g. "kgent 0.1.0".
    pub source: &'a str,
}

/// Carries out `what` for `cmd`; returns the files written (none for completions, which go to
/// `out`).
pub fn run(
    what: Generate,
    cmd: Command,
    manual: &Manual,
    out: &mut dyn Write,
) -> std::io::Result<Vec<PathBuf>> {
    match what {
        Generate::Man { dir } => man_pages(cmd, manual, &dir),
        Generate::Completions { shell } => {
            let mut cmd = without_hidden(&cmd);
            let name = cmd.get_name().to_owned();
            clap_complete::generate(shell, &mut cmd, name, out);
            Ok(Vec::new())
        }
    }
}

/// `cmd` without its hidden subcommands (`generate` itself), which clap_complete would
/// otherwise offer: the names, help, version, arguments and visible subcommands are kept.
fn without_hidden(cmd: &Command) -> Command {
    let mut visible = Command::new(cmd.get_name().to_owned())
        .args(cmd.get_arguments().cloned())
        .groups(cmd.get_groups().cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = cmd.get_about() {
        visible = visible.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        visible = visible.version(version.to_owned());
    }
    visible
}

/// One page per visible command and subcommand, `<cmd>[-<sub>…].<section>`.
pub fn man_pages(cmd: Command, manual: &Manual, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, manual, dir, &mut written)?;
    Ok(written)
}

fn write_pages(
    cmd: &Command,
    manual: &Manual,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone())
        .section(manual.section)
        .source(manual.source)
        .manual("kgent");
    written.push(page.generate_to(dir)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, manual, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn tool() -> Command {
        Command::new("tool")
            .about("A tool")
            .subcommand(
                Command::new("probes").about("Probes").subcommand(
                    Command::new("search")
                        .about("Search")
                        .arg(Arg::new("query")),
                ),
            )
            .subcommand(Command::new("secret").hide(true))
            .arg(
                Arg::new("verbose")
                    .long("verbose")
                    .action(ArgAction::SetTrue),
            )
    }

    #[test]
    fn every_visible_subcommand_gets_a_page_and_hidden_ones_none() {
        let dir = std::env::temp_dir().join(format!("clidoc-test-{}", std::process::id()));
        let manual = Manual {
            section: "8",
            source: "tool 1.0",
        };
        let written = man_pages(tool(), &manual, &dir).expect("pages");
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, ["tool.8", "tool-probes.8", "tool-probes-search.8"]);
        let page = std::fs::read_to_string(dir.join("tool-probes-search.8")).expect("page");
        assert!(page.starts_with(".ie"), "{page}");
        assert!(page.contains(".TH tool-probes-search 8"), "{page}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn completions_name_the_subcommands() {
        let mut out = Vec::new();
        let what = Generate::Completions { shell: Shell::Bash };
        let manual = Manual {
            section: "1",
            source: "tool",
        };
        run(what, tool(), &manual, &mut out).expect("completions");
        let script = String::from_utf8_lossy(&out);
        assert!(script.contains("probes"), "{script}");
        assert!(script.contains("--verbose"), "{script}");
        assert!(
            !script.contains("secret"),
            "a hidden command is not offered: {script}"
        );
    }
}
