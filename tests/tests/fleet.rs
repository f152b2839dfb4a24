//! Fleets: three kgentd processes, each in its own network namespace joined to the client's
//! namespace by a veth pair (the addresses exist only inside those namespaces), each serving
//! `[listen.tcp]` with a certificate from a CA this test makes, asked by `kgentctl fleet ask`
//! over mutual TLS. Real kernel, real bpftrace, real TLS; the model is the scripted backend.
//!
//! One host keeps sampling (perf software events) from its programs by configuration (`host.disabled_families`), one is
//! killed while it checks a candidate; clients without a certificate, with an expired one, with
//! one from another CA, and with one mapped to `observer` are refused with the codes a gRPC
//! client sees. SIGHUP makes a daemon read its certificates again.
//!
//! Needs root (network namespaces, eBPF) and the workspace binaries.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kgent_proto::v1::kgent_client::KgentClient;
use kgent_proto::v1::{run_request, HostInfoRequest, RunRequest};
use kgent_tests::{test_pin_root, workspace_bin, GOOD_OPENAT};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::Value;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// A sampling program (the perf "software" family: profile, interval, BEGIN, END).
const PROFILE_COMM: &str = "```bpftrace\nprofile:hz:99\n{\n  @samples[pid, comm] = count();\n}\n```\nCounts on-CPU samples per pid and command.";

const PORT: u16 = 7443;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces of one test run; dropping it deletes them (and the veths inside).
struct Namespaces {
    client: String,
    hosts: Vec<String>,
}

impl Namespaces {
    /// A client namespace and `n` host namespaces; host i is 10.231.i.2, reached from the
    /// client's 10.231.i.1 over its own veth pair.
    fn new(n: usize) -> Self {
        let tag = format!("kf{}", std::process::id() % 100_000);
        let ns = Self {
            client: format!("{tag}c"),
            hosts: (0..n).map(|i| format!("{tag}h{i}")).collect(),
        };
        ip(&["netns", "add", &ns.client]);
        ip(&["-n", &ns.client, "link", "set", "lo", "up"]);
        for (i, host) in ns.hosts.iter().enumerate() {
            ip(&["netns", "add", host]);
            ip(&["-n", host, "link", "set", "lo", "up"]);
            let (c, h) = (format!("{tag}c{i}"), format!("{tag}h{i}"));
            ip(&["link", "add", &c, "type", "veth", "peer", "name", &h]);
            ip(&["link", "set", &c, "netns", &ns.client]);
            ip(&["link", "set", &h, "netns", host]);
            ip(&[
                "-n",
                &ns.client,
                "addr",
                "add",
                &format!("10.231.{i}.1/24"),
                "dev",
                &c,
            ]);
            ip(&["-n", &ns.client, "link", "set", &c, "up"]);
            ip(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("10.231.{i}.2/24"),
                "dev",
                &h,
            ]);
            ip(&["-n", host, "link", "set", &h, "up"]);
        }
        ns
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain([&self.client]) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The test's CA and the certificates it signs.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes `<dir>/<name>.crt` and `.key`: a certificate for `cn` with `sans`, expired when
    /// asked.
    fn issue(&self, dir: &Path, name: &str, cn: &str, sans: &[&str], expired: bool) -> Pem {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let pem = Pem {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&pem.cert, cert.pem()).expect("write cert");
        std::fs::write(&pem.key, key.serialize_pem()).expect("write key");
        pem
    }
}

struct Pem {
    cert: PathBuf,
    key: PathBuf,
}

/// One kgentd in its namespace; dropping it ends the process.
struct Host {
    child: Option<Child>,
    log: PathBuf,
    dir: PathBuf,
}

impl Host {
    /// Starts host i in namespace `ns` with the server certificate `dir/server<i>.crt`.
    fn start(ns: &str, i: usize, dir: &Path, ca: &Path, disabled: &[&str]) -> Self {
        let home = dir.join(format!("host{i}"));
        std::fs::create_dir_all(&home).expect("host dir");
        let replies = home.join("replies.json");
        std::fs::write(
            &replies,
            serde_json::to_string(&[GOOD_OPENAT, PROFILE_COMM]).expect("json"),
        )
        .expect("replies");
        let server = Pem {
            cert: dir.join(format!("server{i}.crt")),
            key: dir.join(format!("server{i}.key")),
        };
        let config = format!(
            r#"socket = "{home}/k.sock"
socket_group = "kgent-test-no-such-group"
state_dir = "{home}/state"

[agent]
example_dirs = []

[model]
backend = "scripted"
scripted_replies = "{replies}"

[retrieval]
embeddings = false

[jobs]
pin_root = "{pins}"

[host]
disabled_families = {disabled:?}

[listen.tcp]
address = "10.231.{i}.2:{PORT}"
cert = "{cert}"
key = "{key}"
client_ca = "{ca}"

[listen.tcp.roles]
admin = ["fleet-admin", "old-admin"]
observer = ["dashboard"]
"#,
            home = home.display(),
            replies = replies.display(),
            pins = test_pin_root(&home).display(),
            cert = server.cert.display(),
            key = server.key.display(),
            ca = ca.display(),
        );
        let config_file = home.join("kgentd.toml");
        std::fs::write(&config_file, config).expect("config");
        let log = home.join("kgentd.log");
        let child = in_netns(ns, &workspace_bin("kgentd"))
            .arg("--config")
            .arg(&config_file)
            .env("KGENT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("log"))
            .spawn()
            .expect("kgentd");
        Self {
            child: Some(child),
            log,
            dir: home,
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir(test_pin_root(&self.dir));
    }
}

/// `program` in network namespace `ns` and nothing else: `ip netns exec` would also remount
/// /sys, hiding tracefs and bpffs from kgentd.
fn in_netns(ns: &str, program: &Path) -> Command {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net=/var/run/netns/{ns}"))
        .arg(program);
    command
}

fn kgentctl(ns: &str, hosts_file: &Path, args: &[&str]) -> Output {
    in_netns(ns, &workspace_bin("kgentctl"))
        .arg("--hosts-file")
        .arg(hosts_file)
        .args(args)
        .output()
        .expect("kgentctl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `fleet ask --json`: the document and the exit code.
fn fleet_ask(ns: &str, hosts_file: &Path, request: &str) -> (Value, Option<i32>) {
    let out = kgentctl(
        ns,
        hosts_file,
        &[
            "fleet",
            "ask",
            "--hosts",
            "web*",
            "--no-smoke-run",
            "--timeout",
            "240",
            "--json",
            request,
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "fleet ask printed no JSON ({e}); stdout: {} stderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (doc, out.status.code())
}

fn host_outcome<'a>(doc: &'a Value, host: &str) -> &'a Value {
    doc["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["host"] == host))
        .unwrap_or_else(|| panic!("no result for {host} in {doc:#}"))
}

/// The bpftrace processes `parent` started.
fn bpftrace_children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(close) = stat.rfind(')') else {
                return false;
            };
            let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok());
            comm == "bpftrace" && ppid == Some(parent)
        })
        .collect()
}

/// A gRPC call from inside the client namespace with the given client identity (none: no
/// certificate): HostInfo, then, when `source` is given, Run of that program text.
fn call_from(
    ns: &str,
    url: String,
    ca: PathBuf,
    identity: Option<&Pem>,
    source: Option<&str>,
) -> Result<(), tonic::Status> {
    let identity = identity.map(|p| {
        Identity::from_pem(
            std::fs::read(&p.cert).expect("cert"),
            std::fs::read(&p.key).expect("key"),
        )
    });
    let source = source.map(str::to_string);
    let netns = File::open(format!("/var/run/netns/{ns}")).expect("netns");
    std::thread::spawn(move || {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(std::fs::read(&ca).expect("ca")));
            if let Some(identity) = identity {
                tls = tls.identity(identity);
            }
            let channel = Endpoint::from_shared(url)
                .expect("url")
                .tls_config(tls)
                .expect("tls")
                .connect_timeout(Duration::from_secs(10))
                .connect()
                .await
                .map_err(|e| tonic::Status::unavailable(format!("connect: {e:?}")))?;
            let mut client = KgentClient::new(channel);
            client.host_info(HostInfoRequest {}).await?;
            if let Some(source) = source {
                let mut stream = client
                    .run(RunRequest {
                        program: Some(run_request::Program::Source(source)),
                        duration_s: 1,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                while stream.message().await?.is_some() {}
            }
            Ok(())
        })
    })
    .join()
    .expect("client thread")
}

/// Sends SIGHUP and waits until the daemon's log says it read its certificates again for the
/// `nth` time.
fn hangup(pid: nix::unistd::Pid, host: &Host, nth: usize) {
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    let t = Instant::now();
    while host.log().matches("TLS certificates read again").count() < nth {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no reload after SIGHUP: {}",
            host.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn fleet_ask_over_mutual_tls_across_three_namespaces() {
    let dir = tempfile::tempdir().expect("tmp");
    let dir = dir.path();
    let ns = Namespaces::new(3);

    let ca = Ca::new("kgent fleet test CA");
    let ca_file = dir.join("ca.crt");
    std::fs::write(&ca_file, &ca.pem).expect("ca");
    for i in 0..3 {
        ca.issue(
            dir,
            &format!("server{i}"),
            &format!("web{i}"),
            &[&format!("10.231.{i}.2")],
            false,
        );
    }
    let admin = ca.issue(dir, "admin", "fleet-admin", &[], false);
    let observer = ca.issue(dir, "observer", "dashboard", &["dash.example"], false);
    let expired = ca.issue(dir, "expired", "old-admin", &[], true);
    let stranger = Ca::new("another CA").issue(dir, "stranger", "fleet-admin", &[], false);

    let mut hosts: Vec<Host> = (0..3)
        .map(|i| {
            let disabled: &[&str] = if i == 2 { &["software"] } else { &[] };
            Host::start(&ns.hosts[i], i, dir, &ca_file, disabled)
        })
        .collect();

    let hosts_file = dir.join("hosts.toml");
    std::fs::write(
        &hosts_file,
        format!(
            "cert = \"{}\"\nkey = \"{}\"\nca = \"{}\"\n\n[hosts.web0]\naddress = \"https://10.231.0.2:{PORT}\"\n[hosts.web1]\naddress = \"https://10.231.1.2:{PORT}\"\n[hosts.web2]\naddress = \"https://10.231.2.2:{PORT}\"\n",
            admin.cert.display(),
            admin.key.display(),
            ca_file.display()
        ),
    )
    .expect("hosts file");

    // Every daemon answers over TLS once it has read its host.
    for (i, host) in hosts.iter().enumerate() {
        let t = Instant::now();
        loop {
            let out = kgentctl(
                &ns.client,
                &hosts_file,
                &["--host", &format!("web{i}"), "host"],
            );
            if out.status.success() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(180),
                "web{i} never answered over TLS: {}\nits log:\n{}",
                text(&out.stderr),
                host.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    // 1. One request, three hosts, three verified answers: one program, one group.
    let (doc, code) = fleet_ask(
        &ns.client,
        &hosts_file,
        "print the pid, command and file name of every openat call",
    );
    for i in 0..3 {
        let h = host_outcome(&doc, &format!("web{i}"));
        assert_eq!(h["outcome"], "answer", "web{i}: {h:#}");
        assert!(
            h["program"]
                .as_str()
                .is_some_and(|p| p.contains("sys_enter_openat")),
            "{h:#}\n{}",
            text(
                &kgentctl(
                    &ns.client,
                    &hosts_file,
                    &[
                        "--host",
                        &format!("web{i}"),
                        "history",
                        h["request_id"].as_str().unwrap_or_default()
                    ]
                )
                .stdout
            )
        );
    }
    let groups = doc["groups"].as_array().expect("groups");
    assert_eq!(
        groups.len(),
        1,
        "identical programs group together: {doc:#}"
    );
    assert_eq!(groups[0]["hosts"].as_array().map(Vec::len), Some(3));
    assert_eq!(code, Some(0), "{doc:#}");

    // 2. web2 keeps sampling programs out: it answers NoAnswer saying so; the others answer.
    let (doc, code) = fleet_ask(
        &ns.client,
        &hosts_file,
        "sample the CPU 99 times a second and count the samples per pid and command",
    );
    for i in 0..2 {
        let h = host_outcome(&doc, &format!("web{i}"));
        assert_eq!(h["outcome"], "answer", "web{i}: {h:#}");
    }
    let web2 = host_outcome(&doc, "web2");
    assert_eq!(web2["outcome"], "no_answer", "{web2:#}");
    let reason = web2["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("disabled on this host by its configuration"),
        "the reason says sampling is disabled here: {web2:#}"
    );
    assert_eq!(code, Some(3), "a host without an answer: exit 3");

    // 2b. --share: web0 (first of this kernel build) asks its model; web1 and web2 are offered
    // its verified answer and check it again before answering from it. web1 answers without a
    // model call; web2, where sampling is disabled, refuses it on its own checks.
    let out = kgentctl(
        &ns.client,
        &hosts_file,
        &[
            "fleet",
            "ask",
            "--hosts",
            "web*",
            "--share",
            "--no-smoke-run",
            "--json",
            "sample the CPU 99 times a second and count the samples per pid and command, shared",
        ],
    );
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&out.stderr)));
    let web0 = host_outcome(&doc, "web0");
    let web1 = host_outcome(&doc, "web1");
    assert_eq!(web0["outcome"], "answer", "{doc:#}");
    assert!(
        web0["tokens"].as_u64() > Some(0),
        "web0 asked its model: {doc:#}"
    );
    assert_eq!(web1["outcome"], "answer", "{doc:#}");
    assert_eq!(
        web1["tokens"].as_u64(),
        Some(0),
        "web1 reused web0's answer: {doc:#}"
    );
    assert_eq!(web1["program"], web0["program"]);
    let web2 = host_outcome(&doc, "web2");
    assert_eq!(
        web2["outcome"], "no_answer",
        "web2 checks the offer itself: {doc:#}"
    );

    // 3. web1 dies while it checks a candidate: it is reported down, the others finish.
    let fleet = in_netns(&ns.client, &workspace_bin("kgentctl"))
        .arg("--hosts-file")
        .arg(&hosts_file)
        .args([
            "fleet",
            "ask",
            "--hosts",
            "web*",
            "--no-smoke-run",
            "--json",
            "sample the CPU 99 times a second and count the samples per pid and command, again",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kgentctl");
    let web1 = hosts[1].pid().expect("web1 runs");
    let t = Instant::now();
    while bpftrace_children_of(web1).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "web1 never started a load check"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    hosts[1].kill();
    let out = fleet.wait_with_output().expect("kgentctl");
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&out.stderr)));
    assert_eq!(host_outcome(&doc, "web0")["outcome"], "answer", "{doc:#}");
    assert_eq!(host_outcome(&doc, "web1")["outcome"], "down", "{doc:#}");
    assert_eq!(
        host_outcome(&doc, "web2")["outcome"],
        "no_answer",
        "{doc:#}"
    );
    assert_eq!(out.status.code(), Some(4), "a host down: exit 4");

    // 4. Who may connect, and what an observer may do.
    let url = format!("https://10.231.0.2:{PORT}");
    let call = |identity: Option<&Pem>, source: Option<&str>| {
        call_from(&ns.client, url.clone(), ca_file.clone(), identity, source)
    };
    let program = "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", comm); }";
    call(Some(&admin), None).expect("the admin certificate is accepted");
    // Refused in the TLS handshake. TLS 1.3 finishes the client's side of the handshake before
    // the server has judged its certificate, so the client learns it on its first call: as the
    // server's alert (Unknown) or as the connection closing under it (Cancelled, Unavailable),
    // whichever its transport reads first. The server's log says which certificate and why.
    for (what, identity) in [
        ("no certificate", None),
        ("an expired certificate", Some(&expired)),
        ("a certificate of another CA", Some(&stranger)),
    ] {
        let status = call(identity, None).expect_err(what);
        assert!(
            matches!(
                status.code(),
                tonic::Code::Unknown | tonic::Code::Unavailable | tonic::Code::Cancelled
            ),
            "{what}: refused at the TLS layer: {status:?}"
        );
    }
    let log = hosts[0].log();
    assert!(log.contains("presented no certificate"), "{log}");
    assert!(log.contains("has expired"), "{log}");
    assert!(log.contains("not signed by listen.tcp.client_ca"), "{log}");
    call(Some(&observer), None).expect("an observer may read the host");
    let status = call(Some(&observer), Some(program)).expect_err("observer runs text");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");

    // 4b. fleet run (admin): each host's output line prefixed by its name; the dead web1 is
    // reported down and does not stop the others.
    let program_file = dir.join("tick.bt");
    std::fs::write(
        &program_file,
        "interval:s:1 { printf(\"tick\\n\"); exit(); }\n",
    )
    .expect("program");
    let out = kgentctl(
        &ns.client,
        &hosts_file,
        &[
            "fleet",
            "run",
            "--hosts",
            "web*",
            "--duration",
            "10",
            &program_file.to_string_lossy(),
        ],
    );
    let stdout = text(&out.stdout);
    for host in ["web0", "web2"] {
        assert!(
            stdout.lines().any(|l| l == format!("{host} | tick")),
            "{host}'s output, prefixed: {stdout}\n{}",
            text(&out.stderr)
        );
    }
    assert!(
        text(&out.stderr).contains("web1 | down"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(4));

    // 5. SIGHUP reads the certificates again: a client CA that no longer signs the admin's
    // certificate shuts it out, without a restart; restoring it lets it in again.
    let web0 = nix::unistd::Pid::from_raw(hosts[0].pid().expect("web0 runs") as i32);
    std::fs::write(&ca_file, Ca::new("rotated CA").pem).expect("rotate");
    hangup(web0, &hosts[0], 1);
    std::fs::write(dir.join("client-ca.crt"), &ca.pem).expect("ca copy");
    let status = call_from(
        &ns.client,
        url.clone(),
        dir.join("client-ca.crt"),
        Some(&admin),
        None,
    )
    .expect_err("the rotated client CA does not sign the admin's certificate");
    assert_ne!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    std::fs::write(&ca_file, &ca.pem).expect("restore");
    hangup(web0, &hosts[0], 2);
    call(Some(&admin), None).expect("the restored CA lets the admin in again");
}
