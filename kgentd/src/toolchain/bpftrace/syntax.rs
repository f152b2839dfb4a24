//! bpftrace source as kgent reads and edits it: a script's probe blocks (their probes,
//! predicate and body, each with its byte span in the source), comments told apart from code
//! and string literals, and edits applied at spans.
//!
//! Everything in kgent that looks at bpftrace text for its structure goes through here, so a
//! `//` inside a string is never a comment, a commented-out `BEGIN` is never a probe, and a
//! repair rewrites the block it means even when another block reads the same. This is not a
//! bpftrace parser and judges no syntax (bpftrace does): malformed text never fails here, it
//! only yields fewer blocks.
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// One probe a script attaches to, e.g. `tracepoint:syscalls:sys_enter_openat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// "tracepoint", "kprobe", "t", "BEGIN", …
    pub prefix: String,
    /// What follows the prefix, e.g. "syscalls:sys_enter_openat" (empty for BEGIN/END).
    pub target: String,
    /// Where the probe is written in the source.
    pub span: Range<usize>,
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

/// A block's `/condition/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    /// The condition between the slashes, trimmed, without comments.
    pub condition: String,
    /// The predicate in the source, slashes included.
    pub span: Range<usize>,
}

/// A probe block: the probes of one header, their predicate and the body they share.
#[derive(Debug, Clone)]
pub struct ProbeBlock {
    pub probes: Vec<ProbeSpec>,
    pub predicate: Option<Predicate>,
    /// The text between the braces, without comments.
    pub body: String,
    /// Where the text between the braces is in the source (comments included).
    pub body_span: Range<usize>,
    /// The whole block in the source, first probe to closing brace.
    pub span: Range<usize>,
}

impl ProbeBlock {
    /// The probe list in the source, first probe to last (commas and line breaks included).
    pub fn probes_span(&self) -> Range<usize> {
        match (self.probes.first(), self.probes.last()) {
            (Some(first), Some(last)) => first.span.start..last.span.end,
            _ => self.span.start..self.span.start,
        }
    }

    /// The block's predicate condition (empty when it has none) and its body, joined by a
    /// space: all the code that runs or decides for this block's events.
    pub fn code(&self) -> String {
        let condition = self.predicate.as_ref().map_or("", |p| p.condition.as_str());
        format!("{condition} {}", self.body)
    }
}

/// A source with its comments removed, and where each byte of what is left came from.
struct Code {
    text: String,
    /// `origin[k]`: the source offset of `text`'s byte `k`; one more entry for the end.
    origin: Vec<usize>,
}

impl Code {
    /// The source range of `text[range]`: from its first byte to just after its last.
    fn source_span(&self, range: Range<usize>) -> Range<usize> {
        let start = self.origin[range.start];
        if range.is_empty() {
            return start..start;
        }
        start..self.origin[range.end - 1] + 1
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Removes `//` and `/* */` comments outside string literals. A block comment between two
/// word characters leaves a space (it separates tokens for bpftrace too); an unclosed `/*` is
/// left as text.
fn code(source: &str) -> Code {
    let bytes = source.as_bytes();
    let mut text: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut origin: Vec<usize> = Vec::with_capacity(bytes.len() + 1);
    let mut i = 0;
    while i < bytes.len() {
        let run = match (bytes[i], bytes.get(i + 1)) {
            (b'"', _) => string_literal(bytes, i),
            (b'/', Some(b'/')) => {
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            (b'/', Some(b'*')) => match source.get(i + 2..).and_then(|r| r.find("*/")) {
                Some(n) => {
                    let after = i + 2 + n + 2;
                    let joins = text.last().is_some_and(|&b| is_word_byte(b))
                        && bytes.get(after).is_some_and(|&b| is_word_byte(b));
                    if joins {
                        text.push(b' ');
                        origin.push(i);
                    }
                    i = after;
                    continue;
                }
                None => i + 1,
            },
            _ => i + 1,
        };
        text.extend_from_slice(&bytes[i..run]);
        origin.extend(i..run);
        i = run;
    }
    origin.push(bytes.len());
    // Only whole comments (which start and end at ASCII bytes) were removed: still UTF-8.
    let text = String::from_utf8(text)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Code { text, origin }
}

/// The end of the string literal that opens at `open` (after its closing quote, or the end of
/// the text when it never closes).
fn string_literal(bytes: &[u8], open: usize) -> usize {
    let mut k = open + 1;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 2,
            b'"' => return k + 1,
            _ => k += 1,
        }
    }
    bytes.len()
}

/// The source without `//` and `/* */` comments (string literals kept whole).
pub fn strip_comments(source: &str) -> String {
    code(source).text
}

/// Whether a line (trimmed at its start) begins a probe header: `BEGIN`, `END` or `word:`.
fn starts_header(line: &str) -> bool {
    let letters = line.bytes().take_while(u8::is_ascii_alphabetic).count();
    line.starts_with("BEGIN")
        || line.starts_with("END")
        || (letters > 0 && line.as_bytes().get(letters) == Some(&b':'))
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

/// The closing brace of the block opened at `open`, skipping string literals; `text.len()` when
/// the block never closes.
fn closing_brace(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut k, mut in_str) = (0usize, open, false);
    while k < bytes.len() {
        match bytes[k] {
            b'\\' if in_str => k += 1,
            b'"' => in_str = !in_str,
            b'{' if !in_str => depth += 1,
            b'}' if !in_str => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
        k += 1;
    }
    bytes.len()
}

/// Words of `text[range]` with their ranges in `text`.
fn words(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (k, c) in text[range.clone()].char_indices() {
        let at = range.start + k;
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..at);
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..range.end);
    }
    out
}

/// Splits a header (`text[header]`, up to its `{`) into the probe list and the predicate.
/// Probe specs may contain '/' (uprobe paths) but never whitespace; the predicate starts at the
/// first word beginning with '/' that does not continue a comma-separated list.
fn split_header(text: &str, header: Range<usize>) -> (Range<usize>, Option<Range<usize>>) {
    let mut probes_end = header.start;
    let mut previous: Option<&str> = None;
    for word in words(text, header.clone()) {
        let w = &text[word.clone()];
        let continues = previous.is_none_or(|p| p.ends_with(','));
        if w.starts_with('/') && !continues {
            let end = header.start + text[header.clone()].trim_end().len();
            return (header.start..probes_end, Some(word.start..end));
        }
        probes_end = word.end;
        previous = Some(w);
    }
    (header.start..probes_end, None)
}

/// The probes of a probe list (`text[list]`), split at commas.
fn probes_of(code: &Code, list: Range<usize>) -> Vec<ProbeSpec> {
    let text = &code.text;
    let mut probes = Vec::new();
    let mut part_start = list.start;
    let ends = text[list.clone()]
        .match_indices(',')
        .map(|(k, _)| list.start + k)
        .chain(std::iter::once(list.end));
    for end in ends {
        let part = &text[part_start..end];
        let lead = part.len() - part.trim_start().len();
        let trimmed = part.trim();
        if !trimmed.is_empty() {
            let start = part_start + lead;
            let written = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
            let (prefix, target) = match written.split_once(':') {
                Some((a, b)) => (a.to_owned(), b.to_owned()),
                None => (written.clone(), String::new()),
            };
            probes.push(ProbeSpec {
                prefix,
                target,
                span: code.source_span(start..start + trimmed.len()),
            });
        }
        part_start = end + 1;
    }
    probes
}

/// The script's probe blocks, in order. Tolerant of malformed input: it never fails, it just
/// finds fewer blocks (bpftrace itself is the judge of syntax).
pub fn probe_blocks(source: &str) -> Vec<ProbeBlock> {
    let code = code(source);
    let text = code.text.as_str();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < text.len() {
        // A header starts at a line start (after whitespace) outside any block.
        let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
        let line = &text[i..line_end];
        let header_start = i + (line.len() - line.trim_start().len());
        if !starts_header(&text[header_start..line_end]) {
            i = line_end + 1;
            continue;
        }
        // The header runs to the first '{' (it may span lines: "a,\n b").
        let Some(open) = find_outside_strings(text, header_start, b'{') else {
            break;
        };
        let (list, predicate) = split_header(text, header_start..open);
        let probes = probes_of(&code, list);
        if probes.is_empty() {
            i = line_end + 1;
            continue;
        }
        let close = closing_brace(text, open);
        let predicate = predicate.map(|p| {
            let written = &text[p.clone()];
            let inner = written.strip_prefix('/').unwrap_or(written);
            let inner = inner.strip_suffix('/').unwrap_or(inner);
            Predicate {
                condition: inner.trim().to_owned(),
                span: code.source_span(p),
            }
        });
        let block_start = probes.first().map_or(0, |p| p.span.start);
        let body_start = code.origin[open] + 1;
        let body_end = code.origin[close];
        blocks.push(ProbeBlock {
            probes,
            predicate,
            body: text[open + 1..close].to_owned(),
            body_span: body_start..body_end.max(body_start),
            span: block_start..(body_end + 1).min(source.len()),
        });
        i = close + 1;
    }
    blocks
}

/// Field names a block reads from `args` (`args->x`, `args.x`).
pub fn args_fields(body: &str) -> Vec<String> {
    static ARGS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\bargs\s*(?:->|\.)\s*([A-Za-z_][A-Za-z0-9_]*)").expect("static regex")
    });
    // Text inside string literals is printed, not read (`printf("args.family=%d", …)`).
    static STRING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*""#).expect("static regex"));
    let code = STRING.replace_all(body, "\"\"");
    let mut v: Vec<String> = ARGS.captures_iter(&code).map(|c| c[1].to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

/// A script with one statement added at the start of its BEGIN block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithBegin {
    pub script: String,
    /// The script had no BEGIN probe: one was added, and bpftrace counts it among the probes it
    /// attaches.
    pub added_probe: bool,
}

/// Adds `stmt` to the script's BEGIN block, or a BEGIN block holding it (bpftrace 0.17 refuses
/// a second BEGIN). BEGIN fires once every other probe is attached. A new block goes at the end,
/// so the line numbers in bpftrace's diagnostics are those of `source`. A BEGIN in a comment is
/// not a BEGIN.
pub fn with_begin_statement(source: &str, stmt: &str) -> WithBegin {
    let begin = probe_blocks(source)
        .into_iter()
        .find(|b| matches!(b.probes.as_slice(), [p] if p.prefix == "BEGIN" && p.target.is_empty()));
    match begin {
        Some(b) => {
            let mut edits = Edits::default();
            let at = b.body_span.start;
            edits.replace(at..at, format!(" {stmt}"));
            WithBegin {
                script: edits.apply(source),
                added_probe: false,
            }
        }
        None => WithBegin {
            script: format!("{}\nBEGIN {{ {stmt} }}\n", source.trim_end()),
            added_probe: true,
        },
    }
}

/// Replacements at spans of one source, applied together: each span is of the source as it was
/// parsed, so one edit never moves another.
#[derive(Debug, Default)]
pub struct Edits {
    edits: Vec<(Range<usize>, String)>,
}

impl Edits {
    pub fn replace(&mut self, span: Range<usize>, text: String) {
        self.edits.push((span, text));
    }

    /// The source with every edit made, back to front. An edit that overlaps one further on,
    /// or whose span is not in the source, is left out.
    pub fn apply(mut self, source: &str) -> String {
        self.edits
            .sort_by_key(|(span, _)| std::cmp::Reverse((span.start, span.end)));
        let mut out = source.to_owned();
        let mut limit = source.len();
        for (span, text) in self.edits {
            if span.end > limit || source.get(span.clone()).is_none() {
                continue;
            }
            out.replace_range(span.clone(), &text);
            limit = span.start;
        }
        out
    }
}

/// The aggregation maps a program empties (`clear`, `zero`, `delete`) in `END` and never
/// prints, sorted, once each.
pub fn tallies_emptied_unprinted(source: &str) -> Vec<String> {
    static AGGREGATION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(@\w*)\s*(?:\[[^\]\n]*\])?\s*=\s*(?:count|sum|avg|min|max|hist|lhist|stats)\s*\(",
        )
        .expect("static regex")
    });
    static EMPTIED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:clear|zero|delete)\s*\(\s*(@\w*)\s*\)").expect("static regex")
    });
    static PRINTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bprint\s*\(\s*(@\w*)").expect("static regex"));
    let blocks = probe_blocks(source);
    let mut tallies: Vec<&str> = Vec::new();
    let mut emptied_at_end: Vec<&str> = Vec::new();
    let mut printed: Vec<&str> = Vec::new();
    for b in &blocks {
        let at_end = b.probes.iter().any(|p| p.prefix == "END");
        for c in AGGREGATION.captures_iter(&b.body) {
            tallies.extend(c.get(1).map(|m| m.as_str()));
        }
        for c in PRINTED.captures_iter(&b.body) {
            printed.extend(c.get(1).map(|m| m.as_str()));
        }
        if at_end {
            for c in EMPTIED.captures_iter(&b.body) {
                emptied_at_end.extend(c.get(1).map(|m| m.as_str()));
            }
        }
    }
    let mut out: Vec<String> = tallies
        .iter()
        .filter(|m| emptied_at_end.contains(m) && !printed.contains(m))
        .map(|m| (*m).to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `a, f(b, c), @m[d]` → `["a", "f(b, c)", "@m[d]"]`: commas outside brackets.
pub fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in text.chars() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
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
    fn spans_point_into_the_source_as_written() {
        let src = "/* header */\nkprobe:a, /* second */ kprobe:b /pid == 1/ { @[comm] = count(); /* c */ }\nEND { }";
        let blocks = probe_blocks(src);
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        let b = &blocks[0];
        assert_eq!(&src[b.probes[0].span.clone()], "kprobe:a");
        assert_eq!(&src[b.probes[1].span.clone()], "kprobe:b");
        assert_eq!(
            &src[b.probes_span()],
            "kprobe:a, /* second */ kprobe:b",
            "the probe list as written"
        );
        let p = b.predicate.as_ref().expect("a predicate");
        assert_eq!(p.condition, "pid == 1");
        assert_eq!(&src[p.span.clone()], "/pid == 1/");
        assert_eq!(&src[b.body_span.clone()], " @[comm] = count(); /* c */ ");
        assert_eq!(b.body, " @[comm] = count();  ");
        assert!(src[b.span.clone()].starts_with("kprobe:a,"));
        assert!(src[b.span.clone()].ends_with("/* c */ }"));
        assert_eq!(&src[blocks[1].span.clone()], "END { }");
        assert!(blocks[1].predicate.is_none());
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        let src = "kprobe:a { printf(\"http://x /* y */ \\\"//\\\"\\n\"); } // gone\n/* gone\ntoo */ kprobe:b { }";
        assert_eq!(
            strip_comments(src),
            "kprobe:a { printf(\"http://x /* y */ \\\"//\\\"\\n\"); } \n kprobe:b { }"
        );
        let blocks = probe_blocks(src);
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        assert!(blocks[0].body.contains("http://x /* y */"), "{blocks:#?}");
        assert_eq!(blocks[1].probes[0].target, "b");
        // A comment between two words still separates them; an unclosed one is text.
        assert_eq!(strip_comments("a/* x */b"), "a b");
        assert_eq!(strip_comments("a /* x */ b"), "a  b");
        assert_eq!(strip_comments("a /* open"), "a /* open");
    }

    #[test]
    fn nested_braces_and_braces_in_strings_stay_in_their_block() {
        let src = "t:a:b { if (pid == 1) { printf(\"}{\\n\"); } else { @x = 1; } }\nt:c:d /comm == \"{\"/ { @y = 2; }";
        let blocks = probe_blocks(src);
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        assert!(blocks[0].body.ends_with("else { @x = 1; } "));
        assert_eq!(
            blocks[1].predicate.as_ref().map(|p| p.condition.as_str()),
            Some("comm == \"{\"")
        );
        assert_eq!(blocks[1].body, " @y = 2; ");
    }

    #[test]
    fn a_predicate_with_division_ends_at_the_brace() {
        let blocks = probe_blocks("kprobe:a / arg0 / 2 > 1 / { }");
        let p = blocks[0].predicate.as_ref().expect("predicate");
        assert_eq!(p.condition, "arg0 / 2 > 1");
        assert_eq!(blocks[0].probes.len(), 1);
    }

    #[test]
    fn begin_statement_joins_an_existing_begin() {
        let s = with_begin_statement("BEGIN { printf(\"hi\\n\"); }\nt:a:b {}", "exit();");
        assert!(!s.added_probe);
        assert_eq!(s.script.matches("BEGIN").count(), 1);
        assert!(s.script.starts_with("BEGIN { exit(); "));
        let s = with_begin_statement("t:a:b {}\n", "exit();");
        assert!(s.added_probe);
        assert_eq!(s.script, "t:a:b {}\nBEGIN { exit(); }\n");
    }

    #[test]
    fn a_begin_in_a_comment_is_not_a_begin() {
        for src in [
            "/*\nBEGIN { printf(\"old\\n\"); }\n*/\nt:a:b { @ = count(); }\n",
            "// BEGIN { }\nt:a:b { printf(\"BEGIN\\n\"); }\n",
        ] {
            let s = with_begin_statement(src, "exit();");
            assert!(s.added_probe, "{src}");
            assert!(s.script.ends_with("\nBEGIN { exit(); }\n"), "{}", s.script);
            assert!(
                s.script.starts_with(src.trim_end()),
                "the comment stays as it was: {}",
                s.script
            );
        }
        // A BEGIN after a block on the same line is still the script's BEGIN.
        let s = with_begin_statement("t:a:b { } BEGIN { @ = 1; }", "exit();");
        assert!(!s.added_probe);
        assert_eq!(s.script, "t:a:b { } BEGIN { exit(); @ = 1; }");
    }

    #[test]
    fn edits_apply_back_to_front_and_skip_overlaps() {
        let src = "abcdef";
        let mut e = Edits::default();
        e.replace(0..1, "A".into());
        e.replace(4..6, "EF!".into());
        e.replace(2..2, "+".into());
        e.replace(3..5, "overlaps".into());
        e.replace(5..99, "outside".into());
        assert_eq!(e.apply(src), "Ab+cdEF!");
    }

    #[test]
    fn malformed_and_non_ascii_input_does_not_panic() {
        for src in [
            "tracepoint:a:b {",
            "}}}",
            "BEGIN",
            "t:x:y { \"",
            "{{{",
            "kprobe:µ /µ/ { printf(\"µs\"); } /* µ",
            "µ:x { }",
            "k:a /",
            "\"unclosed // not a comment\nkprobe:a { }",
        ] {
            for b in probe_blocks(src) {
                let _ = (&src[b.span.clone()], &src[b.body_span.clone()]);
                for p in &b.probes {
                    let _ = &src[p.span.clone()];
                }
            }
            let _ = with_begin_statement(src, "exit();");
        }
    }
}
