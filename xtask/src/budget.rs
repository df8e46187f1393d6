//! `cargo xtask budget`: the router daemon's budgets from DESIGN.md, measured, printed against
//! their limits, and failed when over (method and numbers in docs/budgets.md):
//!
//! - size: the stripped static aarch64 `matador-routerd` of `cargo xtask dist`, ≤ 4 MiB;
//! - idle RSS: `matador-routerd run` with one AP, up and idle, ≤ 8 MiB;
//! - capture RSS: the same daemon during a measurement that captures and parses replayed phone
//!   traffic (DNS, TLS, HTTP, QUIC; new addresses every loop, past the extractor's flow cap):
//!   the largest VmRSS sampled while it captures, and its VmHWM once it has extracted the
//!   endpoints and stored the results, each ≤ 32 MiB.
//!
//! The RSS runs use the x86_64 musl build, natively: the same code, allocator (musl's) and
//! 64-bit data layout as on aarch64, whereas under qemu-user the RSS would be the emulator's
//! (its translation cache and its own heap), not the daemon's.

use crate::budget_netns::{Net, MANAGEMENT};
use crate::{cross, dist, setup};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
const SIZE_BUDGET: u64 = 4 * MIB;
const IDLE_BUDGET: u64 = 8 * MIB;
const CAPTURE_BUDGET: u64 = 32 * MIB;

/// Phone traffic replayed (from the probe's test data, Ethernet link type).
const PCAPS: [&str; 3] = ["dns-tls.pcap", "http-be-ns.pcap", "quic.pcapng"];
/// Replays of the files, each with new addresses: 9 flows a loop, 72,000 in all, past the
/// extractor's cap of 65,536 tracked flows (its worst case for memory). `MATADOR_BUDGET_LOOPS`
/// overrides it (e.g. 500 for a busy but realistic phone: 4,500 flows).
const LOOPS: u32 = 8000;
/// Packets per second replayed.
const PPS: u32 = 25_000;

const TOKEN: &str = "budget-token-0123456789";

pub fn run() -> Result<()> {
    setup::require_root("budget")?;
    setup::ensure_packages()?;
    let aarch64 = dist::build("aarch64-unknown-linux-musl")?;
    let x86_64 = dist::build("x86_64-unknown-linux-musl")?;
    let size = std::fs::metadata(&aarch64)?.len();
    let (idle, capturing, peak) = daemon_rss(&x86_64)?;
    let rows = [
        ("stripped aarch64 binary", size, SIZE_BUDGET),
        ("idle RSS (VmRSS, x86_64 musl)", idle, IDLE_BUDGET),
        ("RSS capturing+parsing (VmRSS)", capturing, CAPTURE_BUDGET),
        ("peak with results stored (VmHWM)", peak, CAPTURE_BUDGET),
    ];
    println!();
    println!(
        "{:<34} {:>12} {:>10}  verdict",
        "budget", "measured", "limit"
    );
    let mut over = Vec::new();
    for (what, got, limit) in rows {
        let ok = got <= limit;
        println!(
            "{what:<34} {:>8.2} MiB {:>6} MiB  {}",
            got as f64 / MIB as f64,
            limit / MIB,
            if ok { "ok" } else { "OVER" }
        );
        if !ok {
            over.push(what);
        }
    }
    if !over.is_empty() {
        bail!("over budget: {}", over.join(", "));
    }
    Ok(())
}

/// The daemon under `ip netns exec`; SIGTERM (then SIGKILL) on drop.
struct Daemon(Child);

impl Daemon {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the daemon in a private namespace: idle VmRSS, the largest VmRSS while it captures
/// and parses, and its VmHWM once the measurement's results are stored.
fn daemon_rss(binary: &Path) -> Result<(u64, u64, u64)> {
    let dir = cross::workspace_root().join("target/budget");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    write_private(&dir.join("token"), TOKEN)?;
    let config = dir.join("routerd.yaml");
    std::fs::write(&config, config_yaml(&dir))?;
    let net = Net::new()?;
    let log = std::fs::File::create(dir.join("routerd.log"))?;
    let child = Command::new("ip")
        .args(["netns", "exec", &net.router])
        .arg(binary)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting matador-routerd")?;
    let daemon = Daemon(child);
    let ready = dir.join("run/ready");
    wait_until(Duration::from_secs(30), || ready.exists()).with_context(|| {
        format!(
            "the daemon did not come up; its log is {}",
            dir.join("routerd.log").display()
        )
    })?;
    let pid = daemon.pid();
    // Idle: through a watch period (5 s) or two; the largest VmRSS seen.
    let mut idle = 0;
    for _ in 0..24 {
        idle = idle.max(status_kib(pid, "VmRSS")? * 1024);
        std::thread::sleep(Duration::from_millis(500));
    }
    let idle_hwm = status_kib(pid, "VmHWM")? * 1024;
    println!(
        "xtask: idle daemon: VmRSS {} KiB, VmHWM since start {} KiB",
        idle / 1024,
        idle_hwm / 1024
    );
    let started = api(
        &net,
        "POST",
        "/v1/measurements",
        r#"{"id":"budget","ap":"ap0","app":"budget.replay","capture":true,"traces":false,"duration_s":600}"#,
    )?;
    println!("xtask: measurement started: {started}");
    let peak_rss = sample_during(pid, || replay(&net))?;
    api(&net, "POST", "/v1/measurements/budget/stop", "{}")?;
    let mut state = String::new();
    wait_until(Duration::from_secs(120), || {
        state = api(&net, "GET", "/v1/measurements/budget", "")
            .ok()
            .and_then(|v| v["state"].as_str().map(str::to_string))
            .unwrap_or_default();
        state == "done" || state == "failed"
    })
    .context("the measurement did not finish processing")?;
    let hwm = status_kib(pid, "VmHWM")? * 1024;
    println!(
        "xtask: measurement {state}: VmRSS peak while replaying {} KiB, VmHWM {} KiB",
        peak_rss / 1024,
        hwm / 1024
    );
    print_stats(&dir);
    // The capture and results (about 110 MB) have served; the daemon's log stays.
    let _ = std::fs::remove_dir_all(dir.join("state"));
    drop(daemon);
    drop(net);
    Ok((idle, peak_rss, hwm))
}

fn config_yaml(dir: &Path) -> String {
    format!(
        "router: budget\nmanagement: {MANAGEMENT}\napi_port: 8443\ntoken_file: {}\n\
         state_dir: {}\nrun_dir: {}\nuplink: up0\nradio: simulated\nwireguard: userspace\n\
         aps:\n  - name: ap0\n    ssid: matador-budget\n    passphrase: budget-passphrase\n\
         \x20   interface: ap0\n    subnet: 10.77.1.0/24\n    country: CH\n",
        dir.join("token").display(),
        dir.join("state").display(),
        dir.join("run").display()
    )
}

/// Replays the phone traffic into the AP from the phone's side of the veth.
fn replay(net: &Net) -> Result<()> {
    let data = cross::workspace_root().join("router-fw/probe/tests/data");
    let loops: u32 = std::env::var("MATADOR_BUDGET_LOOPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(LOOPS);
    let started = Instant::now();
    setup::run(
        Command::new("ip")
            .args(["netns", "exec", &net.phone, "tcpreplay", "-q", "-i", "ph0"])
            .arg(format!("--loop={loops}"))
            .arg("--unique-ip")
            .arg(format!("--pps={PPS}"))
            .args(PCAPS.iter().map(|f| data.join(f)))
            .stdout(Stdio::null()),
    )?;
    println!(
        "xtask: replayed {loops} loops of {} in {:.1} s",
        PCAPS.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `work` while sampling the daemon's VmRSS every 50 ms; returns the largest seen.
fn sample_during(pid: u32, work: impl FnOnce() -> Result<()>) -> Result<u64> {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS").unwrap_or(0) * 1024);
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap_or(0);
        result.map(|()| peak)
    })
}

/// A `/proc/<pid>/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("the daemon (pid {pid}) is gone"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// One API request with curl inside the router's namespace (the API listens only there).
fn api(net: &Net, method: &str, path: &str, body: &str) -> Result<serde_json::Value> {
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &net.router,
        "curl",
        "-sS",
        "--fail-with-body",
    ])
    // The daemon's self-signed certificate, in our own namespace: not pinned here.
    .args(["-k", "-X", method])
    .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
    .arg(format!("https://{MANAGEMENT}:8443{path}"));
    if !body.is_empty() {
        cmd.args(["-H", "Content-Type: application/json", "--data", body]);
    }
    let out = cmd.output().context("running curl")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "{method} {path}: {} {text}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text}"))
}

/// Prints what the daemon's flow extraction saw, from its `.flows` result.
fn print_stats(dir: &Path) {
    let Some(path) = find_file(&dir.join("state"), ".flows.data") else {
        println!("xtask: no .flows result found under {}", dir.display());
        return;
    };
    let Ok(v) = std::fs::read(&path)
        .map_err(anyhow::Error::from)
        .and_then(|b| Ok(serde_json::from_slice::<serde_json::Value>(&b)?))
    else {
        return;
    };
    let flows = v["flows"].as_array().map_or(0, Vec::len);
    println!("xtask: capture: {}", v["capture"]);
    println!("xtask: extraction: {} ({flows} flows kept)", v["stats"]);
}

fn find_file(dir: &Path, suffix: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, suffix) {
                return Some(found);
            }
        } else if path.to_string_lossy().ends_with(suffix) {
            return Some(path);
        }
    }
    None
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out after {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())?;
    Ok(())
}
