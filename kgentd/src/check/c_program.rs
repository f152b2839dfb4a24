//! Checks of a C candidate against this host:
//!
//! - `clang-compile`: clang compiles it against this kernel's vmlinux.h and kgent.h (errors
//!   condensed to the lines that name the problem);
//! - `verifier-load`: aya loads every program through this kernel's verifier (a rejection comes
//!   back condensed: the message, the source line, the last instructions), and every tracing
//!   program attaches by its section. Network and cgroup programs are loaded and verified but
//!   attach only when run, to a target the caller names. Everything is released before the
//!   check returns.
//!
//! Between the two, `program-policy` judges the compiled object for the caller's role (its
//! program types, the helpers it calls, its uprobe targets); a refused object is never loaded,
//! nor is one whose maps declare more memory than the map budget.
use std::time::{Duration, Instant};

use super::{Check, CheckKind, Evidence};
use crate::config::Role;
use crate::exec::loader;
use crate::toolchain::clang::{ClangToolchain, CompileError};

/// Compiles, judges and loads `source`; the outcomes, in that order (the load not run when
/// the compile or the policy failed).
pub async fn check_c_program(
    clang: &ClangToolchain,
    source: &str,
    kernel_release: &str,
    role: Role,
    max_map_bytes: u64,
) -> Vec<Check> {
    let started = Instant::now();
    let object = clang.compile(source).await;
    let compile_elapsed = started.elapsed();
    let bytes = match object {
        Ok(b) => b,
        Err(e) => {
            let detail = match &e {
                CompileError::Rejected(d) => format!("clang rejected the program:\n{d}"),
                CompileError::Toolchain(t) => t.clone(),
            };
            return vec![
                Check::new(
                    CheckKind::ClangCompile,
                    false,
                    Evidence::Report(detail),
                    compile_elapsed,
                ),
                Check::new(
                    CheckKind::VerifierLoad,
                    false,
                    Evidence::Report("not run: the program did not compile".into()),
                    Duration::ZERO,
                ),
            ];
        }
    };
    let compile = Check::new(
        CheckKind::ClangCompile,
        true,
        Evidence::Report(format!(
            "clang -O2 -g -target bpf compiled it against this kernel's vmlinux.h ({} bytes of BPF object)",
            bytes.len()
        )),
        compile_elapsed,
    );
    let policy = super::policy_check(
        role,
        crate::exec::object_refusals(role, &bytes),
        Instant::now(),
    );
    if policy.failed() {
        return vec![
            compile,
            policy,
            Check::new(
                CheckKind::VerifierLoad,
                false,
                Evidence::Report("not run: the program policy refused the program".into()),
                Duration::ZERO,
            ),
        ];
    }
    let started = Instant::now();
    let over_budget = match loader::over_map_budget(&bytes, max_map_bytes) {
        Ok(over) => over,
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = over_budget {
        return vec![
            compile,
            policy,
            Check::new(
                CheckKind::VerifierLoad,
                false,
                Evidence::Report(format!("not loaded: {why}")),
                started.elapsed(),
            ),
        ];
    }
    let release = kernel_release.to_owned();
    let verdict = tokio::task::spawn_blocking(move || {
        let mut loaded = loader::load(&bytes)?;
        let attached = loaded.attach_for_check()?;
        Ok::<_, loader::LoadError>(format!(
            "the kernel {release} verifier accepted {} program(s); {}",
            loaded.facts.programs.len(),
            attached.join("; ")
        ))
    })
    .await;
    let (passed, detail) = match verdict {
        Ok(Ok(evidence)) => (true, evidence),
        Ok(Err(e)) => (false, e.to_string()),
        Err(e) => (false, format!("the load check crashed: {e}")),
    };
    vec![
        compile,
        policy,
        Check::new(
            CheckKind::VerifierLoad,
            passed,
            Evidence::Report(detail),
            started.elapsed(),
        ),
    ]
}
