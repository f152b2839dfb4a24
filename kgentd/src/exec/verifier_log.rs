//! Condensing the kernel verifier's log to the lines that explain a rejection: the error
//! message, the source line it points at (clang's `-g` puts `; source @ file:line` lines in the
//! verbose log), and the last few instructions before it. A verbose log can be megabytes; what
//! comes out is at most ~30 short lines, safe to hand to a model.

/// Instructions shown before the failing one.
const INSTRUCTIONS_SHOWN: usize = 6;
const MAX_LINE_CHARS: usize = 200;
const MAX_ERROR_LINES: usize = 8;

fn is_instruction(line: &str) -> bool {
    let Some((n, rest)) = line.split_once(": ") else {
        return false;
    };
    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && rest.starts_with('(')
}

fn is_state_noise(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("from ")
        || is_register_state(t)
        || t.starts_with("func#")
        || t.starts_with("last_idx")
        || t.starts_with("regs=")
        || t.starts_with("mark_precise")
        || t.starts_with("Validating ")
        || t.starts_with("Func#")
        || t.starts_with("frame")
        || t.split_once(": ").is_some_and(|(n, rest)| {
            n.chars().all(|c| c.is_ascii_digit())
                && (rest.starts_with('R') || rest.starts_with("frame"))
        })
}

/// `R1_w=ctx()` or `R10=fp0`: register state, not a message (`R0 invalid …` is a message).
fn is_register_state(t: &str) -> bool {
    let Some(rest) = t.strip_prefix('R') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && matches!(rest[digits..].chars().next(), Some('=') | Some('_'))
}

fn is_stats(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("processed ")
        || t.starts_with("verification time")
        || t.starts_with("stack depth")
        || t.starts_with("insns processed")
}

fn cut(line: &str) -> String {
    let t = line.trim_end();
    if t.chars().count() > MAX_LINE_CHARS {
        let mut s: String = t.chars().take(MAX_LINE_CHARS).collect();
        s.push('…');
        s
    } else {
        t.to_owned()
    }
}

/// The lines of `log` that explain the rejection.
pub fn condense(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let last_insn = lines.iter().rposition(|l| is_instruction(l));
    let tail_start = last_insn.map_or(0, |i| i + 1);
    let errors: Vec<String> = lines[tail_start..]
        .iter()
        .filter(|l| !is_stats(l) && !is_state_noise(l) && !is_instruction(l))
        .take(MAX_ERROR_LINES)
        .map(|l| cut(l))
        .collect();
    let mut out = Vec::new();
    if errors.is_empty() {
        out.push("the verifier gave no message (see the instructions below)".to_owned());
    } else {
        out.extend(errors);
    }
    if let Some(last) = last_insn {
        if let Some(src) = lines[..=last]
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with(';'))
        {
            out.push(format!(
                "at source line: {}",
                cut(src.trim_start_matches([' ', ';']))
            ));
        }
        let insns: Vec<&&str> = lines[..=last]
            .iter()
            .filter(|l| is_instruction(l))
            .collect();
        let shown = &insns[insns.len().saturating_sub(INSTRUCTIONS_SHOWN)..];
        out.push("last instructions before the rejection:".to_owned());
        out.extend(shown.iter().map(|l| format!("  {}", cut(l))));
    }
    if let Some(stats) = lines
        .iter()
        .find(|l| l.trim_start().starts_with("processed "))
    {
        out.push(cut(stats));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_message_the_source_line_and_the_last_instructions() {
        let mut log = String::from("func#0 @0\n0: R1=ctx() R10=fp0\n");
        for i in 0..200 {
            log.push_str(&format!(
                "{i}: (b7) r{} = 0                       ; R1_w=0\n",
                i % 9
            ));
        }
        log.push_str("; e->pid = 1; @ prog.c:21\n200: (62) *(u32 *)(r0 +0) = 1\nR0 invalid mem access 'map_value_or_null'\nprocessed 201 insns (limit 1000000) max_states_per_insn 0 total_states 10 peak_states 10 mark_read 1\n");
        let c = condense(&log);
        assert!(
            c.starts_with("R0 invalid mem access 'map_value_or_null'"),
            "{c}"
        );
        assert!(c.contains("at source line: e->pid = 1; @ prog.c:21"), "{c}");
        assert!(c.contains("200: (62) *(u32 *)(r0 +0) = 1"), "{c}");
        assert!(c.contains("processed 201 insns"));
        assert!(c.lines().count() < 15, "{c}");
    }

    #[test]
    fn a_stats_only_log_keeps_its_message() {
        let log = "invalid argument: unknown func bpf_foo#999\nprocessed 0 insns (limit 1000000)\n";
        let c = condense(log);
        assert!(
            c.starts_with("invalid argument: unknown func bpf_foo#999"),
            "{c}"
        );
    }
}
