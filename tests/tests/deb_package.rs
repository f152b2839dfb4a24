//! The Debian package as an administrator gets it: `packaging/deb/build.sh` packages the
//! workspace binaries, and `packaging/deb/test.sh` installs the package on this host, checks it
//! (the conffile is what `kgentd --print-config` reads, `systemd-analyze verify` passes on the
//! installed units, `man kgentctl` renders, group and socket are set up) and removes it with
//! `dpkg -r` and `dpkg -P`, leaving the host as it found it. The script skips (exit 77, said on
//! stderr) where the package or any of its paths is already installed, so a real installation
//! is never replaced.
use std::path::Path;
use std::process::Command;

use kgent_tests::workspace_bin;

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging/deb")
        .join(name)
}

#[test]
fn the_package_installs_serves_its_manual_and_purges_cleanly() {
    let kgentd = workspace_bin("kgentd");
    let bin_dir = kgentd.parent().expect("binary directory");
    let out = tempfile::tempdir().expect("tmp");
    let built = Command::new("bash")
        .arg(script("build.sh"))
        .arg("--bin-dir")
        .arg(bin_dir)
        .arg("--out")
        .arg(out.path())
        .args(["--compress", "gzip"])
        .output()
        .expect("bash");
    assert!(
        built.status.success(),
        "build.sh: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8_lossy(&built.stdout).trim().to_owned();
    assert!(deb.ends_with(".deb") && Path::new(&deb).exists(), "{deb}");

    let tested = Command::new("bash")
        .arg(script("test.sh"))
        .arg(&deb)
        .output()
        .expect("bash");
    let log = String::from_utf8_lossy(&tested.stderr);
    match tested.status.code() {
        Some(0) => assert!(log.contains("[deb test] ok"), "{log}"),
        Some(77) => eprintln!("{log}"),
        _ => panic!("test.sh {deb}:\n{log}"),
    }
}
