//! Who may do what, judged from the socket's peer credentials: an unprivileged user (nobody,
//! through setpriv) talks to a real kgentd over its real socket with the real kgentctl.
use std::os::unix::fs::PermissionsExt;

use kgent_tests::{as_nobody, ask_all, final_answer, TestDaemon, GOOD_OPENAT};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn an_unprivileged_caller_may_ask_but_not_run_arbitrary_code_or_read_others_requests() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    // Root's request.
    let events = ask_all(
        &mut d.client().await,
        "print every file that gets opened",
        2,
    )
    .await
    .expect("ask");
    let root_answer = final_answer(&events).expect("answer").request_id.clone();

    // Without access to the socket, nobody cannot even connect (the socket is root-only when
    // the kgent group does not exist).
    let out = as_nobody(&d.socket, &["host"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("kgent.sock"),
        "{}",
        text(&out.stderr)
    );

    // Open the socket to everyone: now the policy, not the file mode, decides.
    kgent_tests::open_socket_to_everyone(&d);

    let out = as_nobody(&d.socket, &["ask", "print every file that gets opened"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "nobody may ask: {}",
        text(&out.stderr)
    );

    let file = d.dir.path().join("p.bt");
    std::fs::write(&file, "BEGIN { printf(\"hi\\n\"); exit(); }\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = as_nobody(&d.socket, &["run", file.to_str().expect("path")]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("needs root"),
        "{}",
        text(&out.stderr)
    );

    let out = as_nobody(&d.socket, &["run", "--id", &root_answer, "--duration", "1"]).await;
    assert_eq!(
        out.status.code(),
        Some(5),
        "root's answer is root's: {}",
        text(&out.stderr)
    );

    let out = as_nobody(&d.socket, &["history", &root_answer]).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));

    // nobody sees only its own request, recorded with its uid.
    let out = as_nobody(&d.socket, &["history", "--json"]).await;
    let list = text(&out.stdout);
    assert_eq!(list.matches("\"id\"").count(), 1, "{list}");
    assert!(list.contains("65534"), "{list}");
    d.stop().await;
}

#[tokio::test]
async fn a_caller_learns_the_symbols_of_binaries_it_could_read_and_no_others() {
    let d = TestDaemon::scripted(&[GOOD_OPENAT]).await;
    kgent_tests::open_socket_to_everyone(&d);
    // A copy of a program that only root may read.
    let secret = d.dir.path().join("root-only-tool");
    std::fs::copy("/usr/bin/true", &secret).expect("copy");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let path = secret.to_str().expect("path");
    let out = as_nobody(&d.socket, &["probes", "uprobes", path]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("not readable by uid"),
        "{}",
        text(&out.stderr)
    );
    // Readable by everyone: listed for nobody too.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = as_nobody(&d.socket, &["probes", "uprobes", path]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Root lists anything.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let listed = d
        .client()
        .await
        .list_uprobes(kgent_tests::proto::ListUprobesRequest {
            binary: path.into(),
            filter: String::new(),
            limit: 1,
        })
        .await;
    assert!(listed.is_ok(), "{listed:?}");
    d.stop().await;
}
