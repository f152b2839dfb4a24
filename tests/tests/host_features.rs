//! `HostInfo`'s attach-family matrix against what loading actually does: the test loads its own
//! probes (different functions and events from the daemon's) through bpftrace, and its own
//! compiled XDP and LSM objects through bpftool, and compares.
use std::process::Command;

use kgent_tests::{proto, TestDaemon, GOOD_OPENAT};

/// Whether bpftrace can load and attach `probe` here.
fn bpftrace_attaches(probe: &str) -> bool {
    let out = Command::new("bpftrace")
        .args(["-e", &format!("{probe} {{}} BEGIN {{ exit(); }}")])
        .output()
        .expect("bpftrace (install it: bash setup.sh)");
    out.status.success()
}

/// Whether a minimal object with one program in `section` loads through the kernel verifier.
fn object_loads(section: &str, signature: &str) -> bool {
    let dir = tempfile::tempdir().expect("tmp");
    let src = dir.path().join("p.c");
    std::fs::write(
        &src,
        format!("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC(\"{section}\") int probe({signature}) {{ return 0; }}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"),
    )
    .expect("write");
    let obj = dir.path().join("p.o");
    let cc = Command::new("clang")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("clang (install it: bash setup.sh)");
    assert!(cc.success(), "clang failed on the {section} object");
    let pin = format!(
        "/sys/fs/bpf/kgent-test-{}-{}",
        section.replace('/', "_"),
        std::process::id()
    );
    let loaded = Command::new("bpftool")
        .args(["prog", "load"])
        .arg(&obj)
        .arg(&pin)
        .output()
        .expect("bpftool")
        .status
        .success();
    let _ = std::fs::remove_file(&pin);
    loaded
}

#[tokio::test]
async fn the_family_matrix_matches_what_loading_does() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let host = d.host_info().await;
    let available = |name: &str| {
        host.families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name} in {:?}", host.families))
            .available
    };
    let cases = [
        (
            "tracepoint",
            "tracepoint:sched:sched_process_exit".to_owned(),
        ),
        ("uprobe", "uprobe:/bin/bash:readline".to_owned()),
        ("kprobe", "kprobe:vfs_write".to_owned()),
        ("fentry", "kfunc:vfs_write".to_owned()),
        ("software", "software:page-faults:100".to_owned()),
        ("hardware", "hardware:instructions:1000000".to_owned()),
    ];
    for (family, probe) in cases {
        assert_eq!(
            available(family),
            bpftrace_attaches(&probe),
            "{family} ({probe})"
        );
    }
    assert_eq!(available("xdp"), object_loads("xdp", "struct xdp_md *ctx"));
    assert_eq!(available("tc"), object_loads("tc", "struct __sk_buff *skb"));
    assert_eq!(
        available("lsm"),
        object_loads("lsm/file_open", "unsigned long long *ctx")
    );
    // Every "no" says why.
    for f in host.families.iter().filter(|f| !f.available) {
        assert!(f.reason.len() > 10, "{} has no reason", f.name);
    }
    d.stop().await;
}

#[tokio::test]
async fn a_corrupt_feature_cache_is_measured_again() {
    let cache = std::path::Path::new("/var/cache/kgent");
    // Make sure this daemon's matrix exists, then corrupt it. Only its own file: the cache
    // dir is shared with other kgentd builds on this host, which keep theirs.
    let first = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let info = first.host_info().await;
    first.stop().await;
    let key = kgentd::features::build_key(&info.kernel_release, &info.bpftrace_version);
    let files = vec![cache.join(format!("features-v2-{key}.json"))];
    assert!(files[0].exists(), "{}", files[0].display());
    for f in &files {
        std::fs::write(f, b"{ not json").expect("corrupt");
    }
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let host = d.host_info().await;
    assert!(host
        .families
        .iter()
        .any(|f| f.name == "tracepoint" && f.available));
    for f in &files {
        let text = std::fs::read_to_string(f).expect("rewritten");
        assert!(text.contains("\"family\""), "the cache was rebuilt");
    }
    d.stop().await;
}

#[tokio::test]
async fn the_catalog_counts_match_the_host_and_search_finds_attach_points() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    let mut client = d.client().await;
    let host = client
        .host_info(proto::HostInfoRequest {})
        .await
        .expect("host")
        .into_inner();
    let events = std::fs::read_to_string("/sys/kernel/tracing/available_events").expect("tracefs");
    assert_eq!(host.tracepoints as usize, events.lines().count());
    let btf = Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .expect("bpftool");
    let dump = String::from_utf8_lossy(&btf.stdout);
    let funcs = dump
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("FUNC"))
        .count();
    assert_eq!(host.kernel_functions as usize, funcs);
    let raw = dump
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("TYPEDEF") && l.contains("'btf_trace_"))
        .count();
    assert_eq!(host.raw_tracepoints as usize, raw);
    let header = std::fs::read_to_string("/usr/include/linux/bpf.h").expect("bpf.h");
    let documented: std::collections::BTreeSet<&str> = header
        .lines()
        .filter_map(|l| l.strip_prefix(" * "))
        .filter(|l| !l.starts_with(['\t', ' ']) && l.trim_end().ends_with(')'))
        .filter_map(|l| {
            let name = l[..l.find('(')?].rsplit([' ', '*']).next()?;
            name.starts_with("bpf_").then_some(name)
        })
        .collect();
    assert_eq!(host.helpers as usize, documented.len());

    let found = client
        .search_probes(proto::SearchProbesRequest {
            query: "a process exits".into(),
            limit: 5,
        })
        .await
        .expect("search")
        .into_inner();
    assert!(
        found
            .entries
            .iter()
            .any(|e| e.name == "tracepoint:sched:sched_process_exit"),
        "{:?}",
        found.entries
    );
    let vfs = client
        .show_probe(proto::ShowProbeRequest {
            name: "vfs_read".into(),
        })
        .await
        .expect("show")
        .into_inner();
    assert_eq!(vfs.kind, "kernel function");
    assert_eq!(
        vfs.available,
        host.families
            .iter()
            .any(|f| (f.name == "kprobe" || f.name == "fentry") && f.available)
    );
    let err = client
        .show_probe(proto::ShowProbeRequest {
            name: "no_such_probe_xyz".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), tonic::Code::NotFound);
    d.stop().await;
}
