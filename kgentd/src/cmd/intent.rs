//! `kgentd intent`: how kgent reads a request, printed for people: every concept the request is
//! read as asking for with the source of its rule (`specs-db/intent.toml`), and what it names
//! and states. Reads nothing of the host: the same request reads the same everywhere.
use std::path::Path;

use anyhow::Context;
use kgentd::config::Config;
use kgentd::host::HostFacts;
use kgentd::intent::{vocabulary, Concept, Intent};

pub fn run(request: &str) {
    let intent = Intent::read(request);
    let v = vocabulary::shipped();
    println!("request: {request}");
    let concepts: Vec<Concept> = intent.concepts().collect();
    if concepts.is_empty() {
        println!("asks for: nothing the vocabulary names");
    } else {
        println!("asks for:");
        for c in concepts {
            let source = v.concepts.get(&c).map_or("", |r| r.source.as_str());
            println!("  {c:?}  ({source})");
        }
    }
    let lists: [(&str, &[String]); 5] = [
        ("calls written as calls", &intent.calls),
        (
            "words that name a syscall if it exists",
            &intent.syscall_words,
        ),
        ("kernel-function-like identifiers", &intent.identifiers),
        ("filesystems", &intent.filesystems),
        ("binaries for uprobes", &intent.binary_words),
    ];
    for (name, l) in lists {
        if !l.is_empty() {
            println!("{name}: {}", l.join(", "));
        }
    }
    if !intent.numbers.is_empty() {
        let n: Vec<String> = intent.numbers.iter().map(i128::to_string).collect();
        println!(
            "numbers stated (with units multiplied out): {}",
            n.join(", ")
        );
    }
    if let Some(n) = &intent.process_name {
        println!("process name filtered on: {n}");
    }
    if let Some(u) = intent.time_unit {
        println!("time unit: {}", u.suffix());
    }
    for e in &intent.exclusions {
        println!("leaves out: {e:?}");
    }
    if !intent.subjects.is_empty() {
        let words: Vec<String> = intent
            .subjects
            .iter()
            .map(|s| {
                if s.kernel.is_empty() {
                    s.word.clone()
                } else {
                    format!("{} (names {})", s.word, s.kernel.join(", "))
                }
            })
            .collect();
        println!("subjects (what is observed): {}", words.join("; "));
    }
    println!("search text: {}", intent.search_text);
}

/// `--program FILE`: the request-coverage check of an ask, run on `program` against
/// `request` with this host's catalog. Prints the verdict; true when it passed.
pub fn judge(config: &Config, request: &str, program: &Path) -> anyhow::Result<bool> {
    let source = if program == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading the program from stdin")?
    } else {
        std::fs::read_to_string(program)
            .with_context(|| format!("reading the program {}", program.display()))?
    };
    let host = HostFacts::discover(&config.tools.bpftrace);
    let check = kgentd::check::check_coverage(&host, &Intent::read(request), &source);
    let verdict = if check.passed() { "passed" } else { "FAILED" };
    println!("request-coverage {verdict}: {}", check.detail());
    Ok(check.passed())
}
