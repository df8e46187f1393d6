//! Command-line behaviour that needs no lab: checking topologies, and output into a pipe.

use std::io::Read;
use std::process::{Command, Stdio};

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_matador-host"))
}

#[test]
fn lab_check_accepts_the_default_topology() {
    let out = host().args(["lab", "check"]).output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 16 routers, 12 vantage nodes, 8 services, 4 lab routers, 4 phones.
    assert!(String::from_utf8_lossy(&out.stdout).contains("is valid: 45 nodes"));
}

#[test]
fn lab_check_names_file_line_and_problem() {
    let dir = std::env::temp_dir().join(format!("matador-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "name: x\ncountries: []\nrouters: []\nvantage_nodes: []\nservices: []\nlinks: []\ncolour: red\n")
        .expect("write");
    let out = host()
        .args(["lab", "check"])
        .arg(&path)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("{}:7:", path.display())), "{err}");
    assert!(err.contains("colour"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_output_pipe_ends_the_command_without_a_panic() {
    let mut child = host()
        .args(["lab", "check"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take()); // the reader goes away before anything is read
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).expect("stderr");
    }
    let _ = child.wait().expect("exits");
    assert!(!err.contains("panicked"), "{err}");
}
