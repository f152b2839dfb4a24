//! `kgentd specs`: the specs DB of this host, checked, rebuilt and exported. The curated part
//! (`specs-db/attach-points.toml`) is compiled into kgentd; the generated part is measured on
//! the host (tracefs, BTF, bpf.h, which families attach, which helpers each program type may
//! call) and cached per kernel build, with the sentence vectors of the searchable entries.
//! `--rebuild` drops those caches and measures and embeds again; `--export` writes the merged
//! DB as JSON lines. Nothing here runs inside the daemon.
use std::io::Write;
use std::path::Path;

use kgentd::config::Config;
use kgentd::daemon::{discover_host, feature_cache_file};
use kgentd::knowledge::embedding::Embedder;
use kgentd::knowledge::semantic;
use kgentd::knowledge::Knowledge;

pub async fn run(
    mut config: Config,
    rebuild: bool,
    export: Option<&Path>,
    ground: Option<&str>,
) -> anyhow::Result<()> {
    let example_dirs = std::mem::take(&mut config.agent.example_dirs);
    let example_dirs = if ground.is_some() {
        example_dirs // grounding offers the host's installed tools too, as the daemon does
    } else {
        Vec::new()
    };
    if rebuild {
        let host = discover_host(&config).await?;
        remove(&feature_cache_file(&host, &config))?;
        match Embedder::load(&config.retrieval.embedding_model) {
            Ok(e) => remove(&semantic::cache_file(&config.cache_dir, &e))?,
            Err(e) => println!("embeddings: {e}"),
        }
    }
    let host = discover_host(&config).await?;
    let (n_tp, n_ex) = (
        config.agent.grounding_tracepoints,
        config.agent.grounding_examples,
    );
    let knowledge = tokio::task::spawn_blocking(move || {
        let knowledge = Knowledge::build(&host, &example_dirs);
        let embeddings =
            knowledge.enable_embeddings(&config.retrieval.embedding_model, &config.cache_dir);
        (host, knowledge, embeddings)
    })
    .await?;
    let (host, knowledge, embeddings) = knowledge;
    let catalog = &knowledge.catalog;
    let c = catalog.counts();
    println!(
        "kernel {}: {} tracepoints, {} raw tracepoints, {} kernel functions, {} helpers ({} program types measured), {} hooks, {} perf events, {} uprobes; {} curated entries",
        host.kernel_release,
        c.tracepoints,
        c.raw_tracepoints,
        c.kernel_functions,
        c.helpers,
        host.helpers_by_program_type.len(),
        c.hooks,
        c.perf_events,
        c.uprobes,
        c.curated
    );
    for w in host.warnings.iter().chain(&catalog.warnings) {
        println!("warning: {w}");
    }
    if !catalog.missing_specs.is_empty() {
        println!(
            "curated entries this kernel lacks (kept out of the catalog): {}",
            catalog.missing_specs.join(", ")
        );
    }
    match embeddings {
        Ok(r) => println!(
            "embeddings: {} texts, {:?}, in {:.1} s",
            r.texts,
            r.provenance,
            r.vectors.as_secs_f64()
        ),
        Err(e) => println!("embeddings: {e} (search stays BM25 only)"),
    }
    if let Some(request) = ground {
        let intent = kgentd::intent::Intent::read(request);
        let g = knowledge.ground(&host, &intent, n_tp, n_ex);
        println!("\n{}", kgentd::agent::user_prompt_for_bench(request, &g));
        let subjects = knowledge.subjects(&intent);
        if subjects.is_empty() {
            println!("\nsubjects: none this host's attach points single out");
        } else {
            println!("\nsubjects (a program must attach to a probe that speaks of each):");
            for s in subjects {
                let words: Vec<String> = s
                    .words
                    .iter()
                    .map(|(w, weight)| format!("{} {weight:.1}", w.word))
                    .collect();
                println!(
                    "  \"{}\" ({}; best {:.1}): {}",
                    s.phrase(),
                    words.join(", "),
                    s.best,
                    s.probes.join(", ")
                );
            }
        }
    }
    if let Some(path) = export {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for e in catalog.entries() {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        println!(
            "wrote {} entries to {}",
            catalog.entries().len(),
            path.display()
        );
    }
    Ok(())
}

fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            println!("dropped {}", path.display());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot remove {}: {e}", path.display())),
    }
}
