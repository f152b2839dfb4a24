//! `kgentctl mcp` as an AI agent uses it: the official MCP client SDK (Python `mcp`) starts it
//! over stdio as an unprivileged user (nobody, through setpriv) against a real kgentd, lists
//! the tools, asks for a program and gets one verified on this kernel with its evidence, is
//! refused when it runs program text of its own, and may run the verified answer it asked for.
use std::os::unix::fs::PermissionsExt;

use kgent_tests::{python_script, test_python, workspace_bin, TestDaemon, GOOD_OPENAT, NOBODY};
use serde_json::Value;

/// The call of `tool` the agent made (the `nth` one of that tool).
fn call<'a>(report: &'a Value, tool: &str, nth: usize) -> &'a Value {
    report["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["tool"] == tool)
        .nth(nth)
        .unwrap_or_else(|| panic!("no call {nth} of {tool}: {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_gets_a_verified_program_and_runs_its_answer_but_not_its_own_text() {
    // nobody (primary group 65534) is an operator here: it may run its verified answers.
    let backend = kgentd::llm::ScriptedBackend::new("test script", vec![GOOD_OPENAT.to_string()])
        .expect("replies");
    let d = TestDaemon::with_backend(std::sync::Arc::new(backend), |c| {
        c.roles.operator = vec!["65534".into()]
    })
    .await;
    // The policy, not the file mode, decides: nobody may connect.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666))
        .expect("chmod socket");
    // kgentctl beside the socket: the checkout may not be readable by nobody.
    let ctl = d.dir.path().join("kgentctl");
    kgent_tests::copy_executable(&workspace_bin("kgentctl"), &ctl);

    let out = tokio::process::Command::new(test_python())
        .arg(python_script("mcp_agent.py"))
        .arg("print the pid, process name and path of every file that gets opened")
        .arg("--")
        .args([
            "setpriv",
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
        ])
        .arg(&ctl)
        .arg("--socket")
        .arg(&d.socket)
        .arg("mcp")
        .output()
        .await
        .expect("python");
    assert!(
        out.status.success(),
        "the MCP session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON from mcp_agent.py");

    let mut tools: Vec<&str> = report["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    tools.sort_unstable();
    assert_eq!(
        tools,
        [
            "ask",
            "history",
            "host_info",
            "run",
            "search_probes",
            "show_probe"
        ]
    );

    let host = call(&report, "host_info", 0);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(host["result"]["kernel_release"], release.trim(), "{host}");

    let search = call(&report, "search_probes", 0);
    assert_eq!(search["is_error"], false, "{search}");
    assert!(
        search["result"]["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty() && e.iter().all(|p| p["name"].is_string())),
        "{search}"
    );

    let ask = call(&report, "ask", 0);
    let answer = &ask["result"];
    assert_eq!(ask["is_error"], false, "{ask}");
    assert_eq!(answer["verified"], true, "{ask}");
    assert!(
        answer["program"]
            .as_str()
            .is_some_and(|p| p.contains("sys_enter_openat")),
        "{ask}"
    );
    let checks = answer["checks"].as_array().expect("the evidence");
    assert!(
        checks.iter().any(|c| c["name"] == "bpftrace-load")
            && checks
                .iter()
                .all(|c| c["passed"] == true || c["inconclusive"] == true),
        "evidence: every check passed on this kernel (or, symbolic without a contract, says it is inconclusive), the load among them: {ask}"
    );

    let own_text = call(&report, "run", 0);
    assert_eq!(own_text["is_error"], true, "{own_text}");
    assert_eq!(own_text["result"]["code"], "PermissionDenied", "{own_text}");
    assert!(
        own_text["result"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs root")),
        "{own_text}"
    );

    let answer_run = call(&report, "run", 1);
    assert_eq!(answer_run["is_error"], false, "{answer_run}");
    assert_eq!(answer_run["result"]["exit_code"], 0, "{answer_run}");
    assert!(
        answer_run["result"]["job_id"]
            .as_str()
            .is_some_and(|j| !j.is_empty()),
        "{answer_run}"
    );

    // The agent is the user running `kgentctl mcp`: its request is recorded as nobody's.
    let history = call(&report, "history", 0);
    let requests = history["result"]["requests"].as_array().expect("requests");
    assert!(
        requests
            .iter()
            .any(|r| r["id"] == answer["request_id"] && r["caller_uid"] == 65534),
        "{history}"
    );
    d.stop().await;
}
