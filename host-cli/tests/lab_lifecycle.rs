//! Bring-up and tear-down: nothing left behind, `up` twice harmless, a crashed lab cleaned
//! by the next `up`, bad topologies refused with file:line before anything is built.

mod common;

use common::{host, host_ok, lab_namespaces, Lab};

fn lab_processes_alive(status: &serde_json::Value) -> Vec<i64> {
    status["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["pid"].as_i64())
        .filter(|&pid| i32::try_from(pid).is_ok_and(matador_lab::control::alive))
        .collect()
}

#[test]
fn down_removes_every_namespace_process_and_file() {
    let lab = Lab::up();
    let status = lab.status();
    assert_eq!(status["up"], true);
    assert_eq!(lab_namespaces().len(), lab.plan.nodes.len());
    assert!(!lab_processes_alive(&status).is_empty());
    let out = host_ok(&["lab", "down"]);
    assert!(out.contains("removed"), "{out}");
    assert!(lab_namespaces().is_empty(), "{:?}", lab_namespaces());
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        lab_processes_alive(&status),
        Vec::<i64>::new(),
        "lab processes left"
    );
    assert!(!std::path::Path::new(matador_lab::control::DEFAULT_LAB_DIR).exists());
    let sockets: Vec<_> = std::fs::read_dir("/var/run/wireguard")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !sockets.iter().any(|s| s.starts_with("wg-vp-")),
        "{sockets:?}"
    );
}

#[test]
fn up_twice_is_harmless_and_a_crashed_lab_is_rebuilt() {
    let lab = Lab::up();
    let again = host_ok(&["lab", "up"]);
    assert!(again.contains("already up"), "{again}");
    // Crash: kill -9 the lab daemon; every delayed link dies with it.
    let status = lab.status();
    let daemon = status["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["what"] == "daemon")
        .expect("daemon")["pid"]
        .as_i64()
        .expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &daemon.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    // A killed process with many TUN queues takes a moment to exit (the kernel closes
    // every queue first); a loaded CI machine stretched that past a fixed 200 ms sleep.
    let mut code = None;
    for _ in 0..100 {
        code = host(&["lab", "status"]).status.code();
        if code == Some(3) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(code, Some(3), "status reports a degraded lab");
    let rebuilt = host_ok(&["lab", "up"]);
    assert!(
        rebuilt.contains(&format!(
            "removed {} namespaces left by an earlier run",
            lab.plan.nodes.len()
        )),
        "{rebuilt}"
    );
    assert_eq!(lab.status()["up"], true);
    let out = lab.exec("vp-gb", &["ping", "-c", "1", "-W", "5", "192.0.2.25"]);
    assert!(
        out.status.success(),
        "traffic flows again: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bad_topologies_are_refused_with_file_and_line_and_build_nothing() {
    let _serial = Lab::serial();
    let _ = host(&["lab", "down"]);
    let default = matador_lab::topology::DEFAULT_TOPOLOGY;
    let cases = [
        (
            "unknown-key",
            default.replace(
                "{ name: pl-waw, country: PL }",
                "{ name: pl-waw, country: PL, speed: fast }",
            ),
            "speed",
        ),
        (
            "missing-node",
            default.replace("{ a: gb-lon, b: pl-waw }", "{ a: gb-lon, b: pl-krk }"),
            "`pl-krk` is not a node",
        ),
        (
            "overlap",
            default
                .replace(
                    "{ name: vp-ch, country: CH, attach: ch-zrh }",
                    "{ name: vp-ch, country: CH, attach: ch-zrh, address: 192.0.2.200 }",
                )
                .replace(
                    "{ name: vp-pl, country: PL, attach: pl-waw }",
                    "{ name: vp-pl, country: PL, attach: pl-waw, address: 192.0.2.201 }",
                ),
            "overlaps",
        ),
        (
            "split",
            default.replace("  - { a: au-syd, b: nz-akl }\n", ""),
            "no route between",
        ),
        (
            "zero-cost-cycle",
            default.replace("cost: 5 }", "cost: 0 }"),
            "cost 0",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("matador-bad-topologies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, yaml, problem) in cases {
        assert_ne!(yaml, default, "{name}: the case must change the file");
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).expect("write");
        let out = host(&["lab", "up", path.to_str().expect("utf-8 path")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        let with_line = format!("{}:", path.display());
        let at = err
            .find(&with_line)
            .unwrap_or_else(|| panic!("{name}: no file in error: {err}"));
        let line_col = err[at + with_line.len()..].split(':').next().unwrap_or("");
        assert!(
            line_col.parse::<u32>().is_ok(),
            "{name}: no line number: {err}"
        );
        assert!(err.contains(problem), "{name}: {err}");
        assert!(
            lab_namespaces().is_empty(),
            "{name}: namespaces were built: {:?}",
            lab_namespaces()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
