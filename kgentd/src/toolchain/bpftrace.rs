//! The bpftrace front end: which probes a script names, and a real load of the script through
//! the host's bpftrace and kernel verifier.
//!
//! bpftrace 0.17 has no dry run that reaches the verifier, so a load check runs the script with
//! `BEGIN { exit(); }` appended: bpftrace parses, type-checks, loads every program through the
//! verifier, attaches every probe, then exits. Exit code 1 means a parse or semantic error,
//! anything else non-zero a load or attach failure.
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use regex::Regex;
use std::sync::LazyLock;
use tokio::io::AsyncWriteExt;

/// One probe a script attaches to, e.g. `tracepoint:syscalls:sys_enter_openat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// "tracepoint", "kprobe", "t", "BEGIN", …
    pub prefix: String,
    /// What follows the prefix, e.g. "syscalls:sys_enter_openat" (empty for BEGIN/END).
    pub target: String,
}

impl ProbeSpec {
    pub fn is_tracepoint(&self) -> bool {
        self.prefix == "tracepoint" || self.prefix == "t"
    }

    /// Whether the probe fires on something happening in the system, as opposed to the
    /// program's own start, end or a timer.
    pub fn observes_events(&self) -> bool {
        !matches!(
            self.prefix.as_str(),
            "BEGIN" | "END" | "interval" | "i" | "profile" | "p"
        )
    }
}

/// bpftrace reading a script on stdin, piped, in its own process group (so everything it starts
/// can be signalled at once), killed if the handle is dropped.
pub fn command(bpftrace: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bpftrace);
    cmd.arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("BPFTRACE_NO_USER_SYMBOLS", "1")
        .kill_on_drop(true);
    crate::process::in_new_group(&mut cmd);
    cmd
}

/// A probe block: the probes of one header and the body they share.
#[derive(Debug, Clone)]
pub struct ProbeBlock {
    pub probes: Vec<ProbeSpec>,
    pub body: String,
}

/// Outcome of a load check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadVerdict {
    /// Loaded through the verifier and attached `probes` probes.
    Attached {
        probes: u32,
    },
    /// bpftrace rejected the text (parse or type error): exit code 1.
    Rejected,
    /// Parsed, but the kernel refused to load or attach it.
    LoadFailed {
        exit_code: i32,
    },
    TimedOut,
    /// bpftrace could not be run at all.
    ToolMissing,
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    pub verdict: LoadVerdict,
    /// Condensed stderr: what a model (or a person) needs to fix the script.
    pub diagnostic: String,
    pub elapsed: Duration,
}

static PROBE_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(BEGIN|END|[A-Za-z]+:[^\s{]*)").expect("static regex"));
static ATTACHING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Attaching (\d+) probes?").expect("static regex"));

/// Splits a script into probe blocks. Tolerant of malformed input: it never fails, it just finds
/// fewer blocks (bpftrace itself is the judge of syntax).
pub fn probe_blocks(source: &str) -> Vec<ProbeBlock> {
    let text = strip_comments(source);
    let bytes = text.as_bytes();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // A header starts at a line start (after whitespace) outside any block.
        let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
        let line = text[i..line_end].trim_start();
        let mut header_probes = Vec::new();
        let mut j = i;
        if PROBE_HEADER.is_match(line) {
            // The header runs to the first '{' (it may span lines: "a,\n b").
            let Some(open) = find_outside_strings(&text, i, b'{') else {
                break;
            };
            let header = strip_predicate(&text[i..open]);
            for part in header.split(',') {
                let p = part.trim();
                if p.is_empty() {
                    continue;
                }
                let (prefix, target) = match p.split_once(':') {
                    Some((a, b)) => (a.to_owned(), b.to_owned()),
                    None => (p.to_owned(), String::new()),
                };
                header_probes.push(ProbeSpec { prefix, target });
            }
            j = open;
        }
        if header_probes.is_empty() {
            i = line_end + 1;
            continue;
        }
        // Find the matching close brace, skipping string literals.
        let (mut depth, mut k, mut in_str) = (0usize, j, false);
        while k < bytes.len() {
            match bytes[k] {
                b'\\' if in_str => k += 1,
                b'"' => in_str = !in_str,
                b'{' if !in_str => depth += 1,
                b'}' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let body_end = k.min(bytes.len());
        blocks.push(ProbeBlock {
            probes: header_probes,
            body: text[(j + 1).min(body_end)..body_end].to_owned(),
        });
        i = body_end + 1;
    }
    blocks
}

/// The probe list of a header, without its `/predicate/`. Probe specs may contain '/' (uprobe
/// paths) but never whitespace; a predicate is the first word starting with '/' that does not
/// continue a comma-separated list.
fn strip_predicate(header: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for word in header.split_whitespace() {
        let continues = kept.last().is_none_or(|w| w.ends_with(','));
        if word.starts_with('/') && !continues {
            break;
        }
        kept.push(word);
    }
    kept.join(" ")
}

/// The first `byte` at or after `from` that is not inside a string literal.
fn find_outside_strings(text: &str, from: usize, byte: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut in_str = false;
    let mut k = from;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' if in_str => k += 1,
            b'"' => in_str = !in_str,
            b if b == byte && !in_str => return Some(k),
            _ => {}
        }
        k += 1;
    }
    None
}

/// The source without `//` and `/* */` comments.
pub fn strip_comments(source: &str) -> String {
    static COMMENTS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)/\*.*?\*/|//[^\n]*").expect("static regex"));
    COMMENTS.replace_all(source, "").into_owned()
}

/// Field names a block reads from `args` (`args->x`, `args.x`).
pub fn args_fields(body: &str) -> Vec<String> {
    static ARGS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\bargs\s*(?:->|\.)\s*([A-Za-z_][A-Za-z0-9_]*)").expect("static regex")
    });
    let mut v: Vec<String> = ARGS.captures_iter(body).map(|c| c[1].to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

/// bpftrace's output, line by line. Programs print raw kernel bytes (`str()` of a bad pointer, a
/// binary path), so lines are decoded lossily: invalid UTF-8 must not end the stream.
pub struct OutputLines<R> {
    inner: tokio::io::Split<tokio::io::BufReader<R>>,
}

impl<R: tokio::io::AsyncRead + Unpin> OutputLines<R> {
    pub fn new(reader: R) -> Self {
        use tokio::io::AsyncBufReadExt;
        Self {
            inner: tokio::io::BufReader::new(reader).split(b'\n'),
        }
    }

    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        Ok(self.inner.next_segment().await?.map(|mut bytes| {
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }))
    }
}

/// Removes the noise every bpftrace run prints and keeps what explains a failure, bounded so a
/// model never receives megabytes of log.
pub fn condense(stderr: &str) -> String {
    const MAX_LINES: usize = 24;
    const MAX_CHARS: usize = 2400;
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("couldn't set RLIMIT_MEMLOCK"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = lines
        .iter()
        .take(MAX_LINES)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > MAX_LINES {
        out.push_str(&format!("\n… ({} more lines)", lines.len() - MAX_LINES));
    }
    if out.len() > MAX_CHARS {
        let cut = (0..=MAX_CHARS)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push_str(" …");
    }
    out
}

/// Adds `stmt` to the script's BEGIN block, or a BEGIN block holding it (bpftrace 0.17 refuses
/// a second BEGIN). BEGIN fires once every other probe is attached. A new block goes at the end,
/// so the line numbers in bpftrace's diagnostics are those of `source`.
pub fn with_begin_statement(source: &str, stmt: &str) -> String {
    static BEGIN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*BEGIN\s*(?:/[^/]*/)?\s*\{").expect("static regex"));
    match BEGIN.find(source) {
        Some(m) => format!("{} {stmt}{}", &source[..m.end()], &source[m.end()..]),
        None => format!("{}\nBEGIN {{ {stmt} }}\n", source.trim_end()),
    }
}

/// Loads `source` through bpftrace and the kernel verifier, attaches it, and exits at once.
pub async fn check_load(bpftrace: &Path, source: &str, timeout: Duration) -> LoadReport {
    let started = Instant::now();
    let script = with_begin_statement(source, "exit();");
    let added_begin = script.matches("BEGIN").count() > source.matches("BEGIN").count();
    let mut child = match command(bpftrace).spawn() {
        Ok(c) => c,
        Err(e) => {
            return LoadReport {
                verdict: LoadVerdict::ToolMissing,
                diagnostic: format!(
                    "cannot run {}: {e} (install bpftrace: bash setup.sh)",
                    bpftrace.display()
                ),
                elapsed: started.elapsed(),
            }
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes()).await;
    }
    let pgid = crate::process::group_of(&child);
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code().unwrap_or(-1);
            let verdict = match code {
                0 => LoadVerdict::Attached {
                    // Not counting the BEGIN probe the check itself added.
                    probes: ATTACHING
                        .captures(&stdout)
                        .and_then(|c| c[1].parse().ok())
                        .map_or(0, |n: u32| n.saturating_sub(u32::from(added_begin))),
                },
                1 => LoadVerdict::Rejected,
                c => LoadVerdict::LoadFailed { exit_code: c },
            };
            LoadReport {
                verdict,
                diagnostic: condense(&stderr),
                elapsed: started.elapsed(),
            }
        }
        Ok(Err(e)) => LoadReport {
            verdict: LoadVerdict::ToolMissing,
            diagnostic: format!("bpftrace failed to run: {e}"),
            elapsed: started.elapsed(),
        },
        Err(_) => {
            crate::process::kill_group(pgid);
            LoadReport {
                verdict: LoadVerdict::TimedOut,
                diagnostic: format!(
                    "bpftrace did not finish loading within {} s",
                    timeout.as_secs()
                ),
                elapsed: started.elapsed(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_probes_and_fields() {
        let src = r#"
// a comment with tracepoint:fake:x {
tracepoint:syscalls:sys_enter_open,
tracepoint:syscalls:sys_enter_openat
/comm != "a{b"/
{ printf("%s\n", str(args->filename)); @x[tid] = args.flags; }
kprobe:do_sys_open { @c = count(); }
uretprobe:/bin/bash:readline /pid == 1/ { printf("%s\n", str(retval)); }
END { clear(@x); }
"#;
        let blocks = probe_blocks(src);
        assert_eq!(blocks.len(), 4, "{blocks:#?}");
        assert_eq!(blocks[0].probes.len(), 2);
        assert_eq!(blocks[0].probes[1].target, "syscalls:sys_enter_openat");
        assert_eq!(args_fields(&blocks[0].body), ["filename", "flags"]);
        assert_eq!(blocks[1].probes[0].prefix, "kprobe");
        assert_eq!(blocks[2].probes[0].target, "/bin/bash:readline");
        assert_eq!(blocks[3].probes[0].prefix, "END");
    }

    #[test]
    fn begin_statement_joins_an_existing_begin() {
        let s = with_begin_statement("BEGIN { printf(\"hi\\n\"); }\nt:a:b {}", "exit();");
        assert_eq!(s.matches("BEGIN").count(), 1);
        assert!(s.starts_with("BEGIN { exit(); "));
        let s = with_begin_statement("t:a:b {}\n", "exit();");
        assert_eq!(s, "t:a:b {}\nBEGIN { exit(); }\n");
    }

    #[test]
    fn malformed_input_does_not_panic() {
        for src in ["tracepoint:a:b {", "}}}", "BEGIN", "t:x:y { \"", "{{{"] {
            let _ = probe_blocks(src);
        }
    }

    #[test]
    fn condense_drops_noise_and_bounds_size() {
        let noisy = format!(
            "WARNING: couldn't set RLIMIT_MEMLOCK\nstdin:1:1: ERROR: x\n{}",
            "line\n".repeat(1000)
        );
        let c = condense(&noisy);
        assert!(c.starts_with("stdin:1:1: ERROR: x"));
        assert!(c.len() < 2600);
    }
}
