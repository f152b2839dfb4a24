//! The manual as a user gets it: man pages and shell completions generated from the binaries'
//! own clap definitions (`kgentctl generate …`, `kgentd generate …`, hidden commands the
//! package build runs). Every command and subcommand `--help` lists has a page that `man -l`
//! renders without a groff warning, and bash really completes subcommands from the generated
//! script; zsh and fish scripts name the same commands.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use kgent_tests::workspace_bin;

fn run(bin: &str, args: &[&str]) -> Output {
    let out = Command::new(workspace_bin(bin))
        .args(args)
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The subcommands `--help` lists under "Commands:" (without `help`).
fn listed_subcommands(bin: &str, path: &[String]) -> Vec<String> {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let help = text(&run(bin, &args).stdout);
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A name is indented by two spaces; deeper lines continue a wrapped description.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// `bin` and every subcommand path under it, as `--help` lists them: ["probes", "search"]…
fn command_paths(bin: &str) -> Vec<Vec<String>> {
    let mut paths = vec![Vec::new()];
    let mut i = 0;
    while i < paths.len() {
        let path = paths[i].clone();
        for sub in listed_subcommands(bin, &path) {
            let mut child = path.clone();
            child.push(sub);
            paths.push(child);
        }
        i += 1;
    }
    paths
}

fn man_pages_render(bin: &str, section: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    run(bin, &["generate", "man", &dir.path().display().to_string()]);
    let written: BTreeSet<String> = std::fs::read_dir(dir.path())
        .expect("pages")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let paths = command_paths(bin);
    assert!(paths.len() > 3, "{bin} has subcommands: {paths:?}");
    let page = |path: &[String]| {
        let mut name = vec![bin.to_owned()];
        name.extend(path.iter().cloned());
        format!("{}.{section}", name.join("-"))
    };
    let want: BTreeSet<String> = paths.iter().map(|p| page(p)).collect();
    assert_eq!(written, want, "one page per command, none for hidden ones");
    for path in &paths {
        render(&dir.path().join(page(path)), bin, path);
    }
}

/// `man -l` formats the page with no groff warning, and it names its command.
fn render(page: &Path, bin: &str, path: &[String]) {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "100")
        // The pages have ✓, ✗ and …: a UTF-8 locale, as a user's terminal.
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("man (man-db: bash setup.sh installs it)");
    // Justified text has runs of spaces; a UTF-8 locale renders "-" as U+2010.
    let shown = text(&out.stdout)
        .replace('\u{2010}', "-")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(out.status.success(), "man -l {}", page.display());
    assert_eq!(
        text(&out.stderr),
        "",
        "groff warnings for {}",
        page.display()
    );
    let mut words = vec![bin.to_owned()];
    words.extend(path.iter().cloned());
    for heading in ["NAME", "SYNOPSIS", "DESCRIPTION"] {
        assert!(shown.contains(heading), "{}:\n{shown}", page.display());
    }
    assert!(
        shown.contains(&words.join("-")) && shown.contains(&words.join(" ")),
        "{} names its command:\n{shown}",
        page.display()
    );
}

#[test]
fn every_kgentctl_command_has_a_man_page_that_renders() {
    man_pages_render("kgentctl", "1");
}

#[test]
fn every_kgentd_command_has_a_man_page_that_renders() {
    man_pages_render("kgentd", "8");
}

/// What bash offers for `line` (the word being completed last) with the generated script.
fn bash_completes(script: &Path, bin: &str, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n_{bin} {bin} \"${{COMP_WORDS[COMP_CWORD]}}\" \
         \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" "),
        line.len() - 1,
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

fn completions(bin: &str) {
    let top = listed_subcommands(bin, &[]);
    let dir = tempfile::tempdir().expect("tmp");
    for shell in ["bash", "zsh", "fish"] {
        let script = text(&run(bin, &["generate", "completions", shell]).stdout);
        for sub in &top {
            assert!(script.contains(sub.as_str()), "{shell} offers {sub}");
        }
        assert!(
            !script.contains("man pages or shell completions"),
            "{shell} offers the hidden generate command"
        );
        let first = script.lines().next().unwrap_or_default();
        match shell {
            "zsh" => assert_eq!(first, format!("#compdef {bin}")),
            "fish" => assert!(script.contains(&format!("complete -c {bin} "))),
            _ => {
                let file = dir.path().join(bin);
                std::fs::write(&file, &script).expect("write");
                let offered = bash_completes(&file, bin, &[bin, ""]);
                for sub in &top {
                    assert!(offered.contains(sub), "bash offers {sub}: {offered:?}");
                }
                assert!(!offered.iter().any(|w| w == "generate"), "{offered:?}");
            }
        }
    }
}

#[test]
fn kgentctl_completions_for_bash_zsh_and_fish() {
    completions("kgentctl");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("kgentctl");
    std::fs::write(
        &file,
        run("kgentctl", &["generate", "completions", "bash"]).stdout,
    )
    .expect("write");
    assert_eq!(
        bash_completes(&file, "kgentctl", &["kgentctl", "probes", "s"]),
        ["search", "show"]
    );
}

#[test]
fn kgentd_completions_for_bash_zsh_and_fish() {
    completions("kgentd");
}
