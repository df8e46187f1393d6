//! `cargo bench -p matador-probe --bench flows`: flow extraction against reading the file and
//! against tshark, on the same generated pcaps of mixed phone traffic (0.1 GB and ≥ 1 GB).
//!
//! Prints MB/s of `cat FILE > /dev/null` (page cache), of our parser and of
//! `tshark -T fields` on the large file, the ratios, and our parser's peak RSS for both sizes
//! (it must stay flat). Files are kept in `MATADOR_BENCH_DIR` (default: a folder in the temp
//! dir) and reused; `MATADOR_BENCH_TSHARK=0` skips tshark.

#[path = "../../tests/support/mod.rs"]
mod support;
mod traffic;

use matador_probe::flows::{extract, ExtractConfig};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Our parser runs in a child process so its peak RSS is its own.
const CHILD: &str = "MATADOR_BENCH_CHILD";
const SIZES: [(&str, u64); 2] = [("0.1 GB", 100_000_000), ("1.1 GB", 1_100_000_000)];
const TSHARK_FIELDS: [&str; 9] = [
    "frame.len",
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "tls.handshake.extensions_server_name",
    "dns.qry.name",
];

fn main() {
    if let Ok(path) = std::env::var(CHILD) {
        child(Path::new(&path));
        return;
    }
    let dir = std::env::var_os("MATADOR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("matador-bench-flows"));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let mut results = Vec::new();
    for (label, target) in SIZES {
        let path = dir.join(format!("mixed-{target}.pcap"));
        let size = ensure_file(&path, target);
        let cat = best_of(3, || {
            time_command(
                Command::new("sh")
                    .args(["-c", "cat \"$1\" > /dev/null", "sh"])
                    .arg(&path),
            )
        });
        let mut peak_kb = 0;
        let mut summary = String::new();
        let ours = best_of(3, || {
            let out = Command::new(std::env::current_exe().unwrap())
                .env(CHILD, &path)
                .output()
                .expect("run the parser child");
            assert!(
                out.status.success(),
                "parser child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8(out.stdout).unwrap();
            let fields: Vec<&str> = line.split_whitespace().collect();
            peak_kb = fields[1].parse::<u64>().unwrap();
            summary = fields[2..].join(" ");
            Duration::from_nanos(fields[0].parse().unwrap())
        });
        results.push((label, path, size, cat, ours, peak_kb, summary));
    }
    println!();
    println!(
        "{:<8} {:>14} {:>12} {:>12} {:>10} {:>14}",
        "file", "bytes", "cat MB/s", "ours MB/s", "ours/cat", "our peak RSS"
    );
    for (label, _, size, cat, ours, peak_kb, summary) in &results {
        println!(
            "{label:<8} {size:>14} {:>12.0} {:>12.0} {:>9.2}x {:>11} KiB   ({summary})",
            mb_s(*size, *cat),
            mb_s(*size, *ours),
            cat.as_secs_f64() / ours.as_secs_f64(),
            peak_kb
        );
    }
    if std::env::var("MATADOR_BENCH_TSHARK").as_deref() == Ok("0") {
        return;
    }
    let (_, path, size, cat, ours, ..) = results.last().unwrap();
    let mut tshark = Command::new("tshark");
    tshark.args(["-n", "-r"]).arg(path).args(["-T", "fields"]);
    for f in TSHARK_FIELDS {
        tshark.args(["-e", f]);
    }
    let t = time_command(&mut tshark);
    println!();
    println!(
        "tshark -T fields -e {} on {}:",
        TSHARK_FIELDS.join(" -e "),
        path.display()
    );
    println!(
        "  cat    {:>8.0} MB/s  {:>8.2} s",
        mb_s(*size, *cat),
        cat.as_secs_f64()
    );
    println!(
        "  ours   {:>8.0} MB/s  {:>8.2} s",
        mb_s(*size, *ours),
        ours.as_secs_f64()
    );
    println!(
        "  tshark {:>8.0} MB/s  {:>8.2} s",
        mb_s(*size, t),
        t.as_secs_f64()
    );
    println!(
        "  ours is {:.0}x tshark (goal >= 50x) and takes {:.2}x the time of cat (goal <= 2x)",
        t.as_secs_f64() / ours.as_secs_f64(),
        ours.as_secs_f64() / cat.as_secs_f64()
    );
}

/// The child: parse, then report elapsed ns, peak RSS (KiB) and a summary.
fn child(path: &Path) {
    let start = Instant::now();
    let file = File::open(path).expect("open capture");
    let x = extract(file, &ExtractConfig::default()).expect("parse capture");
    let elapsed = start.elapsed();
    let named = x.flows.iter().filter(|f| f.name.is_some()).count();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!(
        "{} {peak_kb} {} packets, {} flows ({named} named), {} ClientHellos, {} QUIC Initials",
        elapsed.as_nanos(),
        x.stats.packets,
        x.flows.len(),
        x.stats.tls_client_hellos,
        x.stats.quic_initials
    );
}

/// Makes the capture if it is missing or too small; returns its size.
fn ensure_file(path: &Path, target: u64) -> u64 {
    if let Ok(m) = std::fs::metadata(path) {
        if m.len() >= target {
            return m.len();
        }
    }
    eprintln!(
        "generating {} ({} bytes of mixed traffic)…",
        path.display(),
        target
    );
    let start = Instant::now();
    let tmp = path.with_extension("part");
    let out = BufWriter::with_capacity(1 << 20, File::create(&tmp).expect("create capture"));
    let (bytes, packets) = traffic::write_pcap(out, target, target).expect("write capture");
    std::fs::rename(&tmp, path).expect("rename capture");
    eprintln!(
        "  {bytes} bytes, {packets} packets in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    bytes
}

fn time_command(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd.stdout(Stdio::null()).status().expect("run command");
    assert!(status.success(), "{cmd:?} failed");
    start.elapsed()
}

fn best_of(n: usize, mut run: impl FnMut() -> Duration) -> Duration {
    (0..n).map(|_| run()).min().unwrap()
}

fn mb_s(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / 1e6 / t.as_secs_f64()
}
