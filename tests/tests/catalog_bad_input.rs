//! Bad input to the catalog and retrieval: an unknown or non-ELF binary for uprobes, a missing
//! or corrupt embedding model, a corrupt embedding cache. Each gives a clear error or a rebuild,
//! and the daemon keeps answering.
use std::path::Path;

use kgent_tests::{proto, TestDaemon, GOOD_OPENAT};
use kgentd::config::DEFAULT_EMBEDDING_MODEL;
use kgentd::knowledge::embedding::Embedder;
use kgentd::knowledge::semantic::{self, Provenance};
use tonic::Code;

#[tokio::test]
async fn an_unknown_binary_for_uprobes_is_refused_clearly_and_the_daemon_stays_up() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut client = d.client().await;
    let list = |binary: &str, filter: &str| proto::ListUprobesRequest {
        binary: binary.into(),
        filter: filter.into(),
        limit: 0,
    };
    let err = client
        .list_uprobes(list("kgent-no-such-binary", ""))
        .await
        .expect_err("unknown binary");
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("absolute path"), "{}", err.message());
    let err = client
        .list_uprobes(list("/etc/passwd", ""))
        .await
        .expect_err("not an ELF file");
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("not an ELF"), "{}", err.message());
    // Still serving: a real binary lists its symbols.
    let bash = client
        .list_uprobes(list("bash", "readline"))
        .await
        .expect("bash")
        .into_inner();
    assert!(bash.symbols.iter().any(|s| s == "readline"), "{bash:?}");
    assert!(bash.total_symbols as usize > bash.symbols.len());
    d.stop().await;
}

#[tokio::test]
async fn usdt_probes_come_from_elf_notes_like_bpftrace_lists_them() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut client = d.client().await;
    let r = client
        .list_uprobes(proto::ListUprobesRequest {
            // gcc carries libstdc++'s USDT notes; bpftrace 0.17 cannot parse "++" in a path.
            binary: "gcc".into(),
            filter: String::new(),
            limit: 1,
        })
        .await
        .expect("gcc is on every machine of this kind")
        .into_inner();
    let out = std::process::Command::new("bpftrace")
        .args(["-l", &format!("usdt:{}:*", r.path)])
        .output()
        .expect("bpftrace");
    let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            // usdt:/path/to/lib.so:provider:name
            let mut parts = l.trim().rsplitn(3, ':');
            let (name, provider) = (parts.next()?, parts.next()?);
            Some(format!("{provider}:{name}"))
        })
        .collect();
    listed.sort();
    assert!(!r.usdt.is_empty());
    assert_eq!(r.usdt, listed);
    d.stop().await;
}

#[tokio::test]
async fn search_answers_with_bm25_and_says_so_when_the_embedding_model_is_missing() {
    let backend = kgentd::llm::ScriptedBackend::new("t", vec![GOOD_OPENAT.to_owned()]).expect("b");
    let d = TestDaemon::with_backend(std::sync::Arc::new(backend), |c| {
        c.retrieval.embeddings = true;
        c.retrieval.embedding_model = "/nonexistent/kgent-model".into();
    })
    .await;
    let mut client = d.client().await;
    let r = client
        .search_probes(proto::SearchProbesRequest {
            query: "tcp connection established".into(),
            limit: 5,
        })
        .await
        .expect("search")
        .into_inner();
    assert!(r.retrieval.starts_with("BM25 only"), "{}", r.retrieval);
    assert_eq!(r.entries[0].name, "tracepoint:sock:inet_sock_set_state");
    d.stop().await;
}

#[test]
fn a_corrupt_model_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    for f in ["tokenizer.json", "config.json"] {
        std::fs::copy(
            Path::new(DEFAULT_EMBEDDING_MODEL).join(f),
            dir.path().join(f),
        )
        .expect("the embedding model is installed by setup.sh");
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").expect("write");
    let err = Embedder::load(dir.path()).err().expect("corrupt weights");
    assert!(err.contains("setup.sh"), "{err}");
    let err = Embedder::load(Path::new("/nonexistent"))
        .err()
        .expect("missing");
    assert!(err.contains("setup.sh"), "{err}");
}

#[test]
fn a_corrupt_embedding_cache_is_rebuilt() {
    let embedder = Embedder::load(Path::new(DEFAULT_EMBEDDING_MODEL))
        .expect("the embedding model is installed by setup.sh");
    let cache = tempfile::tempdir().expect("tmp");
    let texts: Vec<String> = [
        "a new tcp connection",
        "a file was opened",
        "a process started",
    ]
    .map(String::from)
    .to_vec();
    let (first, p) = semantic::load_or_embed(&embedder, &texts, cache.path()).expect("embed");
    assert_eq!(p, Provenance::Computed(3));
    let (_, p) = semantic::load_or_embed(&embedder, &texts, cache.path()).expect("cached");
    assert_eq!(p, Provenance::Cache);
    let file = semantic::cache_file(cache.path(), &embedder);
    let mut bytes = std::fs::read(&file).expect("cache file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).expect("corrupt it");
    let (again, p) = semantic::load_or_embed(&embedder, &texts, cache.path()).expect("rebuilt");
    assert_eq!(p, Provenance::Rebuilt(3));
    let (_, p) = semantic::load_or_embed(&embedder, &texts, cache.path()).expect("cached");
    assert_eq!(p, Provenance::Cache);
    // The same model gives the same vectors: the nearest text to each text is itself.
    let q = embedder.embed_query("a file was opened").expect("query");
    assert_eq!(first.top(&q, 1)[0].0, 1);
    assert_eq!(again.top(&q, 1)[0].0, 1);
    // One new text embeds only that text.
    let mut more = texts.clone();
    more.push("packets dropped".into());
    let (_, p) = semantic::load_or_embed(&embedder, &more, cache.path()).expect("one more");
    assert_eq!(p, Provenance::Computed(1));
}
