//! End-to-end tests with the real `adb` 29 client through a private adb server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::tests_support::{binary_blob, Server};
use super::AuthPolicy;

const ADB: &str = "/usr/bin/adb";

/// A private adb server: its own port and HOME (so its key lives in a temp dir).
struct AdbServer {
    home: tempfile::TempDir,
    port: u16,
}

impl AdbServer {
    fn new() -> AdbServer {
        let home = tempfile::tempdir().expect("tempdir");
        // A port nobody listens on now; the adb server binds it when first used.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        AdbServer { home, port }
    }

    /// Runs adb with `args`, killing it after `limit`.
    fn run(&self, args: &[&str], limit: Duration) -> Output {
        self.run_with_input(args, b"", limit)
    }

    /// Runs adb with `args` and `input` on its stdin, killing it after `limit`.
    fn run_with_input(&self, args: &[&str], input: &[u8], limit: Duration) -> Output {
        let mut child = Command::new(ADB)
            .args(args)
            .env("HOME", self.home.path())
            .env("ANDROID_ADB_SERVER_PORT", self.port.to_string())
            .env_remove("ANDROID_SERIAL")
            .env_remove("ADB_VENDOR_KEYS")
            .env_remove("ANDROID_SDK_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn adb");
        if let Some(mut stdin) = child.stdin.take() {
            // Closing stdin afterwards is how adb learns the input ended.
            let _ = std::io::Write::write_all(&mut stdin, input);
        }
        // Collect output on another thread: a child filling a pipe nobody reads would never exit.
        let pid = child.id();
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(child.wait_with_output()));
        match result.recv_timeout(limit) {
            Ok(output) => output.expect("adb output"),
            Err(_) => {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                panic!("adb {args:?} took longer than {limit:?}");
            }
        }
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args, Duration::from_secs(30));
        assert!(out.status.success(), "adb {args:?}: {}", describe(&out));
        out
    }

    fn public_key(&self) -> String {
        let path = self.home.path().join(".android/adbkey.pub");
        std::fs::read_to_string(path).expect("adb made no key")
    }
}

impl Drop for AdbServer {
    fn drop(&mut self) {
        // Runs on panic too, so no adb server outlives the test.
        let _ = self.run(&["kill-server"], Duration::from_secs(10));
    }
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits until the adb server lists `serial` as an authorised device.
fn wait_online(adb: &AdbServer, serial: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = adb.ok(&["devices"]);
        let listing = String::from_utf8_lossy(&out.stdout).to_string();
        if listing.lines().any(|l| l == format!("{serial}\tdevice")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{serial} never came online: {listing}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn real_adb_client_through_the_adb_server() {
    assert!(
        Path::new(ADB).exists(),
        "{ADB} is not installed: `cargo xtask test` installs it (apt install adb)"
    );
    let server = Server::start(AuthPolicy::AcceptNew);
    let adb = AdbServer::new();
    let serial = server.addr.to_string();
    adb.ok(&["start-server"]);

    // First contact: adb 29 signs the token, is refused, then offers its public key. It reports
    // "failed to authenticate" at that point, yet the device accepts the key and comes online.
    let connect = adb.ok(&["connect", &serial]);
    let said = String::from_utf8_lossy(&connect.stdout).to_string();
    assert!(said.contains(&serial), "{}", describe(&connect));
    wait_online(&adb, &serial);
    let stored = server.device.key_lines();
    let offered = adb.public_key();
    let offered_key = offered.split_whitespace().next().expect("key");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with(offered_key), "{stored:?}");

    // Second contact: the stored key verifies the signature, no key offer needed.
    adb.ok(&["disconnect", &serial]);
    let again = adb.ok(&["connect", &serial]);
    let said = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(
        said.starts_with(&format!("connected to {serial}")),
        "{}",
        describe(&again)
    );
    wait_online(&adb, &serial);

    let out = adb.ok(&["-s", &serial, "shell", "echo", "hi"]);
    assert_eq!(out.stdout, b"hi\n");
    let out = adb.run(&["-s", &serial, "shell", "false"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let out = adb.run(
        &["-s", &serial, "shell", "fail", "oops"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b""[..], &b"oops\n"[..])
    );

    let work = tempfile::tempdir().expect("tempdir");
    let local: PathBuf = work.path().join("payload.bin");
    let payload = binary_blob(300_000);
    std::fs::write(&local, &payload).expect("write payload");
    adb.ok(&[
        "-s",
        &serial,
        "push",
        path_str(&local),
        "/sdcard/Pictures/payload.bin",
    ]);
    let pushed = server.device.root().join("sdcard/Pictures/payload.bin");
    assert!(
        std::fs::read(&pushed).expect("pushed file") == payload,
        "push corrupted the file"
    );

    let small = server.device.root().join("sdcard/x");
    std::fs::write(&small, b"tiny\n").expect("write x");
    let pulled = work.path().join("out");
    adb.ok(&["-s", &serial, "pull", "/sdcard/x", path_str(&pulled)]);
    assert_eq!(std::fs::read(&pulled).expect("pulled file"), b"tiny\n");
    let pulled_big = work.path().join("big");
    adb.ok(&[
        "-s",
        &serial,
        "pull",
        "/sdcard/Pictures/payload.bin",
        path_str(&pulled_big),
    ]);
    assert!(
        std::fs::read(&pulled_big).expect("pulled") == payload,
        "pull corrupted the file"
    );
    let escape = adb.run(
        &[
            "-s",
            &serial,
            "pull",
            "/../../etc/passwd",
            path_str(&pulled),
        ],
        Duration::from_secs(30),
    );
    assert!(!escape.status.success(), "{}", describe(&escape));

    let out = adb.ok(&["-s", &serial, "exec-out", "blob"]);
    assert!(
        out.stdout == binary_blob(70_000),
        "exec-out not binary exact ({} bytes)",
        out.stdout.len()
    );

    let out = adb.ok(&["-s", &serial, "ls", "/sdcard"]);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains("Pictures") && listing.contains(" x\n"),
        "{listing}"
    );

    // Without a terminal, `adb shell` sends stdin as shell v2 packets.
    let input = b"echo piped\nfail inner\n";
    let out = adb.run_with_input(&["-s", &serial, "shell"], input, Duration::from_secs(30));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "emu64xa:/ $ piped\nemu64xa:/ $ emu64xa:/ $ "
    );
    assert_eq!(out.stderr, b"inner\n");

    // A directory push relies on SEND creating parent directories (fixed_push_mkdir).
    let tree = work.path().join("tree");
    std::fs::create_dir_all(tree.join("deep/er")).expect("mkdir");
    std::fs::write(tree.join("deep/er/leaf.txt"), b"leaf").expect("write leaf");
    adb.ok(&["-s", &serial, "push", path_str(&tree), "/sdcard/new"]);
    let leaf = server.device.root().join("sdcard/new/deep/er/leaf.txt");
    assert_eq!(std::fs::read(leaf).expect("leaf pushed"), b"leaf");

    adb.ok(&["-s", &serial, "reboot", "bootloader"]);
    assert_eq!(
        *server.device.reboots.lock().expect("lock"),
        vec!["bootloader".to_string()]
    );
}
