//! C programs end to end: real clang, real aya loads through the real verifier, real attach;
//! output decoded from the object's own BTF and checked against what the test itself did.
//! Tests here share the kernel's view of loaded programs, so they run one at a time.
use std::process::Command;
use std::time::Duration;

use kgent_tests::{link_prog_ids, loaded_progs, proto, run_until_finished, TestDaemon};
use proto::run_event::Event;
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// Counts getppid calls per process in a map and sends one record per call.
const GETPPID_C: &str = r#"
#include "vmlinux.h"
#include "kgent.h"

enum caller_kind { KIND_OTHER = 1, KIND_TEST = 2 };
struct event {
    u32 pid;
    char comm[16];
    u64 calls;
    enum caller_kind kind;
};
KGENT_RINGBUF(events, struct event, 64 * 1024);

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u32);
    __type(value, u64);
} kt4_calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int kt4_rec(struct trace_event_raw_sys_enter *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != TEST_PID)
        return 0;
    u64 one = 1, *n = bpf_map_lookup_elem(&kt4_calls, &pid);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&kt4_calls, &pid, &one, BPF_ANY);
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = pid;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    e->calls = n ? *n : 1;
    e->kind = KIND_TEST;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"#;

/// Waits (up to 2 s: the kernel frees programs after an RCU grace period) until no program
/// called `name` is loaded.
async fn assert_unloaded(name: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while loaded_progs().iter().any(|(_, n)| n == name) {
        assert!(
            std::time::Instant::now() < deadline,
            "program {name} is still loaded after its job ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn run_c(source: String, duration_s: u32, interface: &str) -> proto::RunRequest {
    proto::RunRequest {
        program: Some(proto::run_request::Program::Source(source)),
        target: proto::Target::C as i32,
        duration_s,
        interface: interface.into(),
        ..Default::default()
    }
}

/// This process's name as the kernel reports it (bpf_get_current_comm of the calling thread).
fn my_thread_comm() -> String {
    let tid = nix::unistd::gettid();
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .expect("comm")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_c_program_streams_records_decoded_from_its_btf_and_its_maps_at_the_end() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&["unused"]).await;
    let me = std::process::id();
    let source = GETPPID_C.replace("TEST_PID", &me.to_string());
    let mut stream = d
        .client()
        .await
        .run(run_c(source, 2, ""))
        .await
        .expect("run")
        .into_inner();
    let mut comm = String::new();
    let mut jsons = Vec::new();
    let mut lines = Vec::new();
    let fin = loop {
        let ev = stream.message().await.expect("stream").expect("event");
        match ev.event {
            Some(Event::Started(s)) => {
                assert_eq!(
                    s.attached,
                    ["kt4_rec → tracepoint syscalls:sys_enter_getppid"]
                );
                // The kernel sees the calling thread's name.
                comm = my_thread_comm();
                for _ in 0..4 {
                    nix::unistd::getppid();
                }
            }
            Some(Event::Line(l)) if !l.stderr => {
                if !l.json.is_empty() {
                    jsons.push(l.json.clone());
                }
                lines.push(l.text);
            }
            Some(Event::Finished(f)) => break f,
            _ => {}
        }
    };
    assert_eq!(fin.reason, "the duration ended", "{lines:?}");
    for n in 1..=4 {
        let want = format!("pid={me} comm={comm} calls={n} kind=KIND_TEST");
        assert!(lines.contains(&want), "missing {want:?} in {lines:?}");
    }
    let record: serde_json::Value = serde_json::from_str(&jsons[0]).expect("json");
    assert_eq!(record["ring"], "events");
    assert_eq!(record["record"]["pid"], me);
    assert_eq!(record["record"]["comm"], comm.as_str());
    // The map, dumped when the program stopped: text and JSON.
    assert!(lines.contains(&format!("@kt4_calls[{me}]: 4")), "{lines:?}");
    let map: serde_json::Value = serde_json::from_str(
        jsons
            .iter()
            .find(|j| j.contains("\"map\":\"kt4_calls\""))
            .expect("map json"),
    )
    .expect("json");
    assert_eq!(map["entries"][0]["key"], me);
    assert_eq!(map["entries"][0]["value"], 4);
    assert_unloaded("kt4_rec").await;
    d.stop().await;
}

#[tokio::test]
async fn a_perf_buffer_streams_decoded_records_too() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&["unused"]).await;
    let me = std::process::id();
    let source = format!(
        "#include \"vmlinux.h\"\n#include \"kgent.h\"\nstruct event {{ u32 pid; u32 tid; }};\nKGENT_PERFBUF(kt4_perf, struct event);\nSEC(\"tracepoint/syscalls/sys_enter_getppid\")\nint kt4_perf_rec(struct trace_event_raw_sys_enter *ctx)\n{{\n    u64 id = bpf_get_current_pid_tgid();\n    struct event e = {{ .pid = id >> 32, .tid = (u32)id }};\n    if (e.pid != {me})\n        return 0;\n    bpf_perf_event_output(ctx, &kt4_perf, BPF_F_CURRENT_CPU, &e, sizeof(e));\n    return 0;\n}}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
    );
    let mut stream = d
        .client()
        .await
        .run(run_c(source, 2, ""))
        .await
        .expect("run")
        .into_inner();
    let (lines, fin) = run_until_finished(&mut stream, |_| {
        for _ in 0..3 {
            nix::unistd::getppid();
        }
    })
    .await;
    assert_eq!(fin.reason, "the duration ended");
    let want = format!("pid={me} tid={}", nix::unistd::gettid());
    assert_eq!(lines.iter().filter(|l| **l == want).count(), 3, "{lines:?}");
    assert_unloaded("kt4_perf_rec").await;
    d.stop().await;
}

#[tokio::test]
async fn a_hist_map_is_drawn_as_a_log2_histogram() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&["unused"]).await;
    let me = std::process::id();
    let source = format!(
        "#include \"vmlinux.h\"\n#include \"kgent.h\"\nstruct {{ __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u64); }} kt4_offset_hist SEC(\".maps\");\nSEC(\"tracepoint/syscalls/sys_enter_lseek\")\nint kt4_hist(struct trace_event_raw_sys_enter *ctx)\n{{\n    if ((bpf_get_current_pid_tgid() >> 32) != {me})\n        return 0;\n    u32 slot = kgent_log2(ctx->args[1]);\n    u64 one = 1, *n = bpf_map_lookup_elem(&kt4_offset_hist, &slot);\n    if (n)\n        __sync_fetch_and_add(n, 1);\n    else\n        bpf_map_update_elem(&kt4_offset_hist, &slot, &one, BPF_ANY);\n    return 0;\n}}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
    );
    let mut stream = d
        .client()
        .await
        .run(run_c(source, 2, ""))
        .await
        .expect("run")
        .into_inner();
    let (lines, _) = run_until_finished(&mut stream, |_| {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::File::open("/etc/hostname").expect("open");
        for offset in [1u64, 3, 100, 1000, 1500, 1800] {
            f.seek(SeekFrom::Start(offset)).expect("lseek");
        }
    })
    .await;
    let hist: Vec<&String> = lines
        .iter()
        .skip_while(|l| *l != "@kt4_offset_hist:")
        .skip(1)
        .take_while(|l| l.starts_with('['))
        .collect();
    // Slots 0 ([0, 2)) to 10 ([1K, 2K)): one line each, bars scaled to the largest count.
    assert_eq!(hist.len(), 11, "{lines:?}");
    assert!(
        hist[0].starts_with("[0, 2)") && hist[0].contains(" 1 |"),
        "{hist:?}"
    );
    assert!(
        hist[1].starts_with("[2, 4)") && hist[1].contains(" 1 |"),
        "{hist:?}"
    );
    assert!(
        hist[6].starts_with("[64, 128)") && hist[6].contains(" 1 |"),
        "{hist:?}"
    );
    assert!(
        hist[9].starts_with("[512, 1K)") && hist[9].contains(" 1 |"),
        "{hist:?}"
    );
    assert!(
        hist[10].starts_with("[1K, 2K)") && hist[10].ends_with(&format!("2 |{}|", "@".repeat(52))),
        "{hist:?}"
    );
    assert!(hist[2].contains(" 0 |"), "{hist:?}");
    d.stop().await;
}

#[tokio::test]
async fn bpf_printk_lines_are_shown_and_kgentctl_detaches_and_stops_a_job() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&["unused"]).await;
    let me = std::process::id();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("printk.c");
    std::fs::write(
        &file,
        format!(
            "#include \"vmlinux.h\"\n#include \"kgent.h\"\nSEC(\"tracepoint/syscalls/sys_enter_getppid\")\nint kt4_printk(void *ctx)\n{{\n    u32 pid = bpf_get_current_pid_tgid() >> 32;\n    if (pid == {me})\n        bpf_printk(\"kt4 printk from %d\", pid);\n    return 0;\n}}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
        ),
    )
    .expect("write");
    // tokio's Command: the daemon answering kgentctl runs on this test's runtime.
    let kgentctl = |args: &[&str]| {
        tokio::process::Command::new(kgent_tests::workspace_bin("kgentctl"))
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .output()
    };
    let out = kgentctl(&[
        "run",
        "--target",
        "c",
        "--detach",
        file.to_str().expect("path"),
    ])
    .await
    .expect("kgentctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(job.len(), 12, "the job id on stdout: {job:?}");
    // The client is gone; the job is not.
    let listed = kgentctl(&["jobs", "--json"]).await.expect("kgentctl");
    let jobs: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let entry = jobs
        .as_array()
        .and_then(|a| a.iter().find(|j| j["id"] == job.as_str()))
        .expect("the job is listed")
        .clone();
    assert_eq!(entry["state"], "live");
    assert_eq!(entry["detached"], true);
    assert!(loaded_progs().iter().any(|(_, n)| n == "kt4_printk"));
    for _ in 0..2 {
        nix::unistd::getppid();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = kgentctl(&["stop", &job]).await.expect("kgentctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_unloaded("kt4_printk").await;
    let log_path = entry["log_path"].as_str().expect("log path").to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("finished:") {
            break log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never finished:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let printed = log
        .lines()
        .filter(|l| l.ends_with(&format!(": kt4 printk from {me}")))
        .count();
    assert_eq!(printed, 2, "{log}");
    assert!(log.contains("finished: stopped on request"), "{log}");
    let out = kgentctl(&["stop", &job]).await.expect("kgentctl");
    assert_eq!(
        out.status.code(),
        Some(5),
        "stopping an ended job is a rejection"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_program_the_verifier_rejects_comes_back_with_the_condensed_reason() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&["unused"]).await;
    // The value pointer may be NULL: the verifier refuses the dereference.
    let unchecked = GETPPID_C
        .replace("TEST_PID", "1")
        .replace("if (n)\n        __sync_fetch_and_add(n, 1);\n    else\n        bpf_map_update_elem(&kt4_calls, &pid, &one, BPF_ANY);", "*n += one;");
    assert!(unchecked.contains("*n += one;"));
    let err = d
        .client()
        .await
        .run(run_c(unchecked, 1, ""))
        .await
        .expect_err("rejected");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let msg = err.message();
    assert!(
        msg.contains("the kernel verifier rejected program `kt4_rec`"),
        "{msg}"
    );
    assert!(
        msg.contains("invalid mem access 'map_value_or_null'"),
        "{msg}"
    );
    assert!(msg.contains("at source line:"), "{msg}");
    assert!(msg.lines().count() < 25, "not condensed:\n{msg}");
    // A compile error is condensed too, and names the line.
    let err = d
        .client()
        .await
        .run(run_c(
            GETPPID_C.replace("TEST_PID", "no_such_symbol"),
            1,
            "",
        ))
        .await
        .expect_err("does not compile");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message()
            .contains("error: use of undeclared identifier 'no_such_symbol'"),
        "{}",
        err.message()
    );
    assert!(!loaded_progs().iter().any(|(_, n)| n == "kt4_rec"));
    let jobs = d
        .client()
        .await
        .list_jobs(proto::ListJobsRequest { limit: 0 })
        .await
        .expect("jobs")
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 2);
    assert!(jobs
        .iter()
        .all(|j| j.state == "ended" && j.outcome.starts_with("did not start")));
    d.stop().await;
}

/// Counts UDP packets per IPv4 source at XDP.
const XDP_C: &str = r#"
#include "vmlinux.h"
#include "kgent.h"

struct source { __be32 saddr; };

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct source);
    __type(value, u64);
} kt4_udp SEC(".maps");

SEC("xdp")
int kt4_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(0x0800))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->protocol != 17)
        return XDP_PASS;
    struct source key = { .saddr = ip->saddr };
    u64 one = 1, *n = bpf_map_lookup_elem(&kt4_udp, &key);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&kt4_udp, &key, &one, BPF_ANY);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
"#;

/// A veth pair: `kt4a` here (10.204.0.1), `kt4b` in namespace `kt4ns` (10.204.0.2).
struct VethPair;

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "{cmd}");
}

impl VethPair {
    fn create() -> Self {
        let _ = Command::new("ip").args(["netns", "del", "kt4ns"]).status();
        let _ = Command::new("ip").args(["link", "del", "kt4a"]).status();
        sh("ip netns add kt4ns");
        sh("ip link add kt4a type veth peer name kt4b");
        sh("ip link set kt4b netns kt4ns");
        sh("ip addr add 10.204.0.1/24 dev kt4a && ip link set kt4a up");
        sh("ip -n kt4ns addr add 10.204.0.2/24 dev kt4b && ip -n kt4ns link set kt4b up && ip -n kt4ns link set lo up");
        VethPair
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", "kt4a"]).status();
        let _ = Command::new("ip").args(["netns", "del", "kt4ns"]).status();
    }
}

#[tokio::test]
async fn an_xdp_program_counts_packets_on_a_veth_and_its_counters_are_read_back() {
    let _g = SERIAL.lock().await;
    let _veth = VethPair::create();
    let d = TestDaemon::scripted(&["unused"]).await;
    let mut client = d.client().await;
    let mut stream = client
        .run(run_c(XDP_C.into(), 0, "kt4a"))
        .await
        .expect("run")
        .into_inner();
    let job = loop {
        match stream
            .message()
            .await
            .expect("stream")
            .expect("event")
            .event
        {
            Some(Event::Started(s)) => {
                assert_eq!(s.attached, ["kt4_xdp → xdp on kt4a"]);
                break s.job_id;
            }
            Some(Event::Finished(f)) => panic!("ended early: {f:?}"),
            _ => {}
        }
    };
    // Five datagrams from the namespace arrive at kt4a.
    sh("ip netns exec kt4ns bash -c 'for i in 1 2 3 4 5; do echo kt4 > /dev/udp/10.204.0.1/9; sleep 0.1; done'");
    client
        .stop(proto::StopRequest { job_id: job })
        .await
        .expect("stop");
    let (lines, fin) = run_until_finished(&mut stream, |_| {}).await;
    assert_eq!(fin.reason, "stopped on request");
    assert!(
        lines.contains(&"@kt4_udp[saddr=10.204.0.2]: 5".to_owned()),
        "{lines:?}"
    );
    assert_unloaded("kt4_xdp").await;
    d.stop().await;
}

/// Pins under the daemon's pin root.
fn pins(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(root) {
        for d in dirs.flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                out.push(format!(
                    "{}/{}",
                    d.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ));
            }
        }
    }
    out
}

async fn answers(socket: &std::path::Path) -> bool {
    let path = socket.to_path_buf();
    let Ok(endpoint) = tonic::transport::Endpoint::try_from("http://[::]:50051") else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
    else {
        return false;
    };
    proto::kgent_client::KgentClient::new(channel)
        .host_info(proto::HostInfoRequest {})
        .await
        .is_ok()
}

/// The pid of a bpftrace process whose parent is `parent`.
fn bpftrace_child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let close = stat.rfind(')')?;
        let ppid: u32 = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
        (stat.contains("(bpftrace)") && ppid == parent).then_some(pid)
    })
}

struct Kgentd {
    child: std::process::Child,
}

impl Kgentd {
    async fn start(dir: &std::path::Path) -> Self {
        let config = dir.join("kgentd.toml");
        let replies = dir.join("replies.json");
        std::fs::write(&replies, "[\"unused\"]").expect("replies");
        std::fs::write(
            &config,
            format!(
                "socket = {:?}\nstate_dir = {:?}\n[agent]\nexample_dirs = []\n[model]\nbackend = \"scripted\"\nscripted_replies = {:?}\n[jobs]\npin_root = {:?}\n",
                dir.join("kgent.sock"),
                dir.join("state"),
                replies,
                kgent_tests::test_pin_root(dir)
            ),
        )
        .expect("config");
        let _ = std::fs::remove_file(dir.join("kgent.sock"));
        let child = Command::new(kgent_tests::workspace_bin("kgentd"))
            .arg("--config")
            .arg(&config)
            .stderr(std::fs::File::create(dir.join("kgentd.log")).expect("log"))
            .spawn()
            .expect("kgentd");
        // Answering an RPC means the daemon is built, and so has reconciled.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !answers(&dir.join("kgent.sock")).await {
            assert!(
                std::time::Instant::now() < deadline,
                "kgentd did not start: {}",
                std::fs::read_to_string(dir.join("kgentd.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child }
    }

    fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Kgentd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes whatever is left under a pin root, even when the test fails half-way.
struct PinRootGuard(std::path::PathBuf);

impl Drop for PinRootGuard {
    fn drop(&mut self) {
        for d in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let _ = std::fs::remove_file(f.path());
            }
            let _ = std::fs::remove_dir(d.path());
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

async fn started(stream: &mut tonic::Streaming<proto::RunEvent>) -> String {
    loop {
        match stream
            .message()
            .await
            .expect("stream")
            .expect("event")
            .event
        {
            Some(Event::Started(s)) => return s.job_id,
            Some(Event::Finished(f)) => panic!("ended early: {f:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn after_kill_9_a_restarted_daemon_leaves_no_orphan_and_says_what_happened() {
    let _g = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let root = kgent_tests::test_pin_root(dir.path());
    let _cleanup = PinRootGuard(root.clone());
    let socket = dir.path().join("kgent.sock");
    let daemon = Kgentd::start(dir.path()).await;
    let mut client = kgent_tests::connect(&socket).await;
    // One job tied to its client, one detached.
    let attached_src = GETPPID_C
        .replace("TEST_PID", "1")
        .replace("kt4_rec", "kt4_kill");
    let mut stream = client
        .run(run_c(attached_src, 0, ""))
        .await
        .expect("run")
        .into_inner();
    let tied = started(&mut stream).await;
    let detached_src = GETPPID_C
        .replace("TEST_PID", &std::process::id().to_string())
        .replace("kt4_rec", "kt4_det");
    let mut req = run_c(detached_src, 0, "");
    req.detach = true;
    let mut detached_stream = client.run(req).await.expect("run").into_inner();
    let detached = started(&mut detached_stream).await;
    // And a bpftrace job that prints nothing until it stops (so nothing makes it notice).
    let mut bt_stream = client
        .run(proto::RunRequest {
            program: Some(proto::run_request::Program::Source(
                "tracepoint:syscalls:sys_enter_getpgid { @kt4 = count(); }\n".into(),
            )),
            ..Default::default()
        })
        .await
        .expect("run bpftrace")
        .into_inner();
    let bt_job = started(&mut bt_stream).await;
    let bpftrace_pid = bpftrace_child_of(daemon.child.id()).expect("kgentd's bpftrace child");
    let kill_ids: Vec<u64> = loaded_progs()
        .into_iter()
        .filter(|(_, n)| n == "kt4_kill")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(kill_ids.len(), 1);
    assert!(
        pins(&root).contains(&format!("{tied}/link_kt4_kill")),
        "{:?}",
        pins(&root)
    );

    daemon.kill_9();
    drop(stream);
    drop(bt_stream);
    // bpftrace dies with the daemon (PR_SET_PDEATHSIG): gone, or a zombie init has yet to reap.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{bpftrace_pid}/stat"))
        .is_ok_and(|s| !s.contains(") Z"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "bpftrace {bpftrace_pid} outlived the killed daemon"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The pins hold the programs: without a reconcile they would be orphans.
    assert!(loaded_progs().iter().any(|(_, n)| n == "kt4_kill"));
    assert!(link_prog_ids().contains(&kill_ids[0]));

    let daemon = Kgentd::start(dir.path()).await;
    let mut client = kgent_tests::connect(&socket).await;
    assert_unloaded("kt4_kill").await;
    assert!(!link_prog_ids().contains(&kill_ids[0]), "orphaned link");
    assert!(
        !root.join(&tied).exists(),
        "orphaned pins: {:?}",
        pins(&root)
    );
    let jobs = client
        .list_jobs(proto::ListJobsRequest { limit: 0 })
        .await
        .expect("jobs")
        .into_inner()
        .jobs;
    let tied_job = jobs.iter().find(|j| j.id == tied).expect("tied job");
    assert_eq!(tied_job.state, "ended");
    assert!(
        tied_job.outcome.contains("kgentd stopped while it ran"),
        "{}",
        tied_job.outcome
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::path::Path::new(&format!("/proc/{bpftrace_pid}/stat")).exists()
        && !std::fs::read_to_string(format!("/proc/{bpftrace_pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "orphaned bpftrace {bpftrace_pid}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bt = jobs.iter().find(|j| j.id == bt_job).expect("bpftrace job");
    assert_eq!(bt.state, "ended");
    assert!(
        bt.outcome.contains("process group was killed"),
        "{}",
        bt.outcome
    );
    // The detached job was re-adopted: still attached, and it still counts.
    let det_job = jobs
        .iter()
        .find(|j| j.id == detached)
        .expect("detached job");
    assert_eq!(det_job.state, "live", "{}", det_job.outcome);
    assert!(loaded_progs().iter().any(|(_, n)| n == "kt4_det"));
    for _ in 0..3 {
        nix::unistd::getppid();
    }
    client
        .stop(proto::StopRequest {
            job_id: detached.clone(),
        })
        .await
        .expect("stop the re-adopted job");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while loaded_progs().iter().any(|(_, n)| n == "kt4_det") || root.join(&detached).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stopped job stayed loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(&det_job.log_path).expect("detached job log");
    assert!(log.contains("finished: stopped on request"), "{log}");
    assert!(
        log.contains("calls=3 kind=KIND_TEST"),
        "the re-adopted job decodes records:\n{log}"
    );
    drop(daemon);
}

/// What a model might write first: the map value is used without a NULL check.
const TOP_OPENAT_UNCHECKED: &str = "```c\n#include \"vmlinux.h\"\n#include \"kgent.h\"\n\nKGENT_PRINT_EVERY(1);\n\nstruct {\n    __uint(type, BPF_MAP_TYPE_HASH);\n    __uint(max_entries, 10240);\n    __type(key, char[16]);\n    __type(value, u64);\n} openat_by_comm SEC(\".maps\");\n\nSEC(\"tracepoint/syscalls/sys_enter_openat\")\nint kt4_top(struct trace_event_raw_sys_enter *ctx)\n{\n    char comm[16] = {};\n    bpf_get_current_comm(comm, sizeof(comm));\n    u64 *n = bpf_map_lookup_elem(&openat_by_comm, comm);\n    *n += 1;\n    return 0;\n}\n\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n```\nCounts openat calls per process name.";

/// The repaired program.
const TOP_OPENAT: &str = "```c\n#include \"vmlinux.h\"\n#include \"kgent.h\"\n\nKGENT_PRINT_EVERY(1);\n\nstruct {\n    __uint(type, BPF_MAP_TYPE_HASH);\n    __uint(max_entries, 10240);\n    __type(key, char[16]);\n    __type(value, u64);\n} openat_by_comm SEC(\".maps\");\n\nSEC(\"tracepoint/syscalls/sys_enter_openat\")\nint kt4_top(struct trace_event_raw_sys_enter *ctx)\n{\n    char comm[16] = {};\n    bpf_get_current_comm(comm, sizeof(comm));\n    u64 one = 1, *n = bpf_map_lookup_elem(&openat_by_comm, comm);\n    if (n)\n        __sync_fetch_and_add(n, 1);\n    else\n        bpf_map_update_elem(&openat_by_comm, comm, &one, BPF_ANY);\n    return 0;\n}\n\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n```\nCounts openat calls per process name and prints the top ones every second.";

const TOP_REQUEST: &str =
    "every second, list the process names that call openat most often, with their counts";

#[tokio::test]
async fn ask_target_c_repairs_a_verifier_rejection_then_kgentctl_runs_and_decodes_it() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&[TOP_OPENAT_UNCHECKED, TOP_OPENAT]).await;
    // A thread with a name of its own opens files while the answer runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opens = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let opener = {
        let (stop, opens) = (stop.clone(), opens.clone());
        std::thread::Builder::new()
            .name("kt4opener".into())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::File::open("/etc/hostname");
                    opens.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .expect("thread")
    };
    let out = tokio::process::Command::new(kgent_tests::workspace_bin("kgentctl"))
        .arg("--socket")
        .arg(&d.socket)
        .args([
            "ask",
            "--target",
            "c",
            "--run",
            "--duration",
            "3",
            TOP_REQUEST,
        ])
        .output()
        .await
        .expect("kgentctl");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = opener.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The answer is the repaired program, compiled and verified on this kernel.
    assert!(stdout.contains("__sync_fetch_and_add(n, 1);"), "{stdout}");
    assert!(stderr.contains("clang-compile"), "{stderr}");
    assert!(stderr.contains("verifier-load"), "{stderr}");
    // Printed every second, then once more at the end, decoded from BTF.
    let prints = stdout.matches("@openat_by_comm:").count();
    assert!(prints >= 3, "expected periodic prints:\n{stdout}");
    let last = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("@openat_by_comm[kt4opener]: "))
        .filter_map(|n| n.parse::<u64>().ok())
        .next_back()
        .expect("the opener's count");
    let opened = opens.load(std::sync::atomic::Ordering::Relaxed);
    assert!(last > 0 && last <= opened, "{last} of {opened} opens");
    // The model was told why the first candidate was rejected, condensed.
    let requests = d.requests().await;
    let rec = d
        .client()
        .await
        .get_request(proto::GetRequestRequest {
            id: requests[0].id.clone(),
        })
        .await
        .expect("record")
        .into_inner();
    let repair = rec
        .transcript
        .iter()
        .find(|e| e.kind == "prompt" && e.iteration == 2)
        .expect("second prompt");
    assert!(
        repair
            .text
            .contains("invalid mem access 'map_value_or_null'"),
        "{}",
        repair.text
    );
    assert!(repair.text.contains("at source line:"), "{}", repair.text);
    assert!(
        repair.text.len() < 20_000,
        "the repair prompt is not condensed"
    );
    assert_unloaded("kt4_top").await;
    d.stop().await;
}

#[tokio::test]
async fn a_second_daemon_may_not_take_a_pin_root_another_one_owns() {
    let _g = SERIAL.lock().await;
    let d = TestDaemon::scripted(&["unused"]).await;
    let other = tempfile::tempdir().expect("tmp");
    let mut cfg = kgent_tests::test_config(other.path());
    cfg.jobs.pin_root = kgent_tests::test_pin_root(d.dir.path());
    let backend = std::sync::Arc::new(
        kgentd::llm::ScriptedBackend::new("test", vec!["unused".into()]).expect("backend"),
    );
    let err = match kgentd::daemon::Daemon::build_with_backend(cfg, backend).await {
        Ok(_) => panic!("two daemons own one pin root"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("another kgentd owns the pin root"), "{err}");
    assert!(err.contains("jobs.pin_root"), "{err}");
    d.stop().await;
}
