//! deploy/kubernetes/ as a cluster would read it: every manifest parses, the DaemonSet grants
//! exactly the capabilities systemd/kgentd.service grants (and runs unprivileged otherwise),
//! mounts what kgentd reads from the node at the paths it reads them, the ConfigMap's
//! kgentd.toml is a configuration kgentd itself accepts whose TLS files are the Secret's keys
//! where the Secret is mounted, and the headless Service reaches the DaemonSet's port.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kgentd::config::Config;
use serde_yaml::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

fn manifest(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `CAP_X` of the unit's CapabilityBoundingSet with the network drop-in's (a DaemonSet serves
/// fleets over TCP on the host network, as the unit does with systemd/kgentd-network.conf),
/// as Kubernetes names them (`X`).
fn unit_capabilities() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd");
    ["kgentd.service", "kgentd-network.conf"]
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(root.join(f)).expect("systemd unit file");
            text.lines()
                .filter_map(|l| l.strip_prefix("CapabilityBoundingSet="))
                .flat_map(|v| {
                    v.split_whitespace()
                        .map(|c| c.trim_start_matches("CAP_").to_owned())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn kustomization_lists_every_manifest() {
    let k = manifest("kustomization.yaml");
    let listed: BTreeSet<String> = strings(&k["resources"]).into_iter().collect();
    let present: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("deploy/kubernetes")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
    for name in &listed {
        let m = manifest(name);
        assert!(
            m["apiVersion"].as_str().is_some() && m["kind"].as_str().is_some(),
            "{name}"
        );
        if m["kind"] != "Namespace" {
            assert_eq!(m["metadata"]["namespace"], "kgent", "{name}");
        }
    }
}

#[test]
fn the_daemonset_runs_one_unprivileged_kgentd_per_node_with_the_units_capabilities() {
    let ds = manifest("daemonset.yaml");
    assert_eq!(ds["kind"], "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true, "it traces the node's processes");
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"],
        ds["spec"]["template"]["metadata"]["labels"]
    );
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_ne!(security["privileged"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    let added: BTreeSet<String> = strings(&security["capabilities"]["add"])
        .into_iter()
        .collect();
    assert_eq!(
        added,
        unit_capabilities(),
        "the same capabilities as systemd/kgentd.service"
    );

    // What kgentd reads from the node, at the same paths inside the pod.
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let mounts = container["volumeMounts"].as_sequence().expect("mounts");
    for path in [
        "/sys/kernel/btf",
        "/sys/kernel/tracing",
        "/sys/fs/bpf",
        "/var/cache/kgent",
        "/var/lib/kgent",
    ] {
        let volume = volumes
            .iter()
            .find(|v| v["hostPath"]["path"] == path)
            .unwrap_or_else(|| panic!("no hostPath volume for {path}"));
        let mount = mounts
            .iter()
            .find(|m| m["name"] == volume["name"])
            .unwrap_or_else(|| panic!("{path} is not mounted"));
        assert_eq!(mount["mountPath"], path);
        if path != "/sys/kernel/btf" {
            assert_ne!(mount["readOnly"], true, "kgentd writes {path}");
        }
    }
}

#[test]
fn config_secret_and_service_fit_the_daemonset() {
    let ds = manifest("daemonset.yaml");
    let pod = &ds["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mounts = container["volumeMounts"].as_sequence().expect("mounts");
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let mount_of = |pred: &dyn Fn(&Value) -> bool| {
        let volume = volumes.iter().find(|v| pred(v)).expect("volume");
        mounts
            .iter()
            .find(|m| m["name"] == volume["name"])
            .expect("mounted")
            .clone()
    };

    // The ConfigMap's kgentd.toml, read by kgentd's own loader.
    let cm = manifest("configmap.yaml");
    let config_mount = mount_of(&|v| v["configMap"]["name"] == cm["metadata"]["name"]);
    let config_path = config_mount["mountPath"].as_str().expect("path");
    let args = strings(&container["args"]);
    assert_eq!(args, ["--config", config_path]);
    let toml = cm["data"][config_mount["subPath"].as_str().expect("subPath")]
        .as_str()
        .expect("kgentd.toml");
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("kgentd.toml");
    std::fs::write(&file, toml).expect("write");
    let config = Config::load(&file, true).expect("kgentd accepts the ConfigMap's kgentd.toml");
    let tcp = config.listen.tcp.expect("[listen.tcp] is on");

    // Its TLS files are the Secret's keys, where the Secret is mounted.
    let secret = manifest("secret.yaml");
    let tls_mount = mount_of(&|v| v["secret"]["secretName"] == secret["metadata"]["name"]);
    let tls_dir = Path::new(tls_mount["mountPath"].as_str().expect("path"));
    for file in [&tcp.cert, &tcp.key, &tcp.client_ca] {
        assert_eq!(file.parent(), Some(tls_dir), "{}", file.display());
        let key = file.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            secret["stringData"][key].as_str().is_some(),
            "the Secret has no {key}"
        );
    }

    // One port: the listener's, the container's, the headless Service's target.
    let port: u64 = tcp
        .address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("address:port");
    let container_port = &container["ports"][0];
    assert_eq!(container_port["containerPort"].as_u64(), Some(port));
    let svc = manifest("service.yaml");
    assert_eq!(svc["spec"]["clusterIP"], "None", "headless");
    assert_eq!(
        svc["spec"]["selector"],
        ds["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(
        svc["spec"]["ports"][0]["targetPort"],
        container_port["name"]
    );
    assert_eq!(config.socket, PathBuf::from("/run/kgent/kgent.sock"));
}
