//! Spool tests without root: rotation, the total cap, the free-space guard (simulated disks),
//! and that the files, alone and concatenated, read back in our reader and in tshark.

use super::super::tests::tshark_fields;
use super::*;
use matador_probe::flows::capture::PcapngReader;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const NAME: &str = "phy0-ap0";
const T0: u64 = 1_700_000_000_000_000_000;

fn config(dir: &Path, file_limit: u64, total: u64) -> SpoolConfig {
    SpoolConfig {
        dir: dir.join("m"),
        snaplen: 256,
        file_limit_bytes: file_limit,
        total_limit_bytes: total,
        min_free_bytes: 0,
        link: LinkType::ETHERNET,
    }
}

fn plenty() -> FreeSpace {
    Box::new(|_| Ok(u64::MAX / 2))
}

/// A shared free-space reading the test turns down, and how often it was read.
fn simulated(free: u64) -> (FreeSpace, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (level, reads) = (Arc::new(AtomicU64::new(free)), Arc::new(AtomicU64::new(0)));
    let (l, r) = (level.clone(), reads.clone());
    let f: FreeSpace = Box::new(move |_| {
        r.fetch_add(1, Ordering::Relaxed);
        Ok(l.load(Ordering::Relaxed))
    });
    (f, level, reads)
}

fn frame(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize + j) as u8).collect()
}

/// Every file's bytes, in order.
fn concatenated(files: &[PathBuf]) -> Vec<u8> {
    files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect()
}

fn read_all(bytes: &[u8]) -> Vec<(u64, Vec<u8>, u32)> {
    let mut r = PcapngReader::new(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        out.push((p.timestamp_ns, p.data.to_vec(), p.wire_len));
    }
    out
}

#[test]
fn rotates_into_sections_whose_concatenation_is_one_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let header = PcapngWriter::<io::Sink>::header_len(NAME);
    // Room for four 100-byte packets (132-byte blocks) per file.
    let limit = header + 4 * 132;
    let mut spool =
        Spool::with_free_space(config(tmp.path(), limit, 1 << 30), NAME, plenty()).unwrap();
    let mut sent = Vec::new();
    for i in 0..10 {
        let f = frame(i, 100);
        assert!(spool.write(T0 + i * 1_000_001, &f, 100));
        sent.push((T0 + i * 1_000_001, f, 100));
    }
    // A frame beyond the snaplen is cut, its wire length kept.
    let big = frame(99, 1000);
    assert!(spool.write(T0 + 99, &big, 1000));
    sent.push((T0 + 99, big[..256].to_vec(), 1000));
    let summary = spool.finish();

    let names: Vec<_> = summary
        .files
        .iter()
        .map(|f| f.file_name().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "capture-0001.pcapng",
            "capture-0002.pcapng",
            "capture-0003.pcapng",
            "capture-0004.pcapng"
        ]
    );
    let sizes: Vec<u64> = summary
        .files
        .iter()
        .map(|f| f.metadata().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|s| *s <= limit), "{sizes:?} over {limit}");
    assert_eq!(sizes.iter().sum::<u64>(), summary.bytes_written);
    assert_eq!((summary.packets_written, summary.stopped), (11, None));
    for file in &summary.files {
        read_all(&std::fs::read(file).unwrap());
    }

    let all = concatenated(&summary.files);
    assert_eq!(read_all(&all), sent);
    let joined = tmp.path().join("all.pcapng");
    std::fs::write(&joined, &all).unwrap();
    let rows = tshark_fields(
        &joined,
        &["frame.time_epoch", "frame.interface_name", "frame.len"],
    );
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[1], ["1700000000.001000001", NAME, "100"]);
    assert_eq!(rows[10], ["1700000000.000000099", NAME, "1000"]);
}

#[test]
fn total_cap_stops_writing_but_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let header = PcapngWriter::<io::Sink>::header_len(NAME);
    let total = 2 * header + 6 * 132;
    let cfg = config(tmp.path(), header + 4 * 132, total);
    let mut spool = Spool::with_free_space(cfg, NAME, plenty()).unwrap();
    let written = (0..20)
        .filter(|i| spool.write(T0, &frame(*i, 100), 100))
        .count();
    assert_eq!(written, 6, "the second header takes room too");
    assert_eq!(
        spool.stopped(),
        Some(&StopReason::TotalCap { limit: total })
    );
    assert!(!spool.write(T0, &[1; 4], 4), "nothing more once stopped");
    let summary = spool.finish();
    assert!(summary.bytes_written <= total);
    assert_eq!(
        (summary.packets_written, summary.packets_not_written),
        (6, 15)
    );
    assert_eq!(
        summary.stopped.unwrap().to_string(),
        format!("total cap of {total} bytes reached")
    );
    assert_eq!(read_all(&concatenated(&summary.files)).len(), 6);
}

#[test]
fn free_space_is_read_at_rotation_and_every_few_megabytes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (free, level, reads) = simulated(1 << 40);
    let mut cfg = config(tmp.path(), 64 << 20, 1 << 40);
    cfg.snaplen = 1600;
    cfg.min_free_bytes = 10 << 20;
    let mut spool = Spool::with_free_space(cfg, NAME, free).unwrap();
    let f = frame(1, 1500);
    // ~20 MB of packets in one file.
    for _ in 0..14_000 {
        assert!(spool.write(T0, &f, 1500));
    }
    let n = reads.load(Ordering::Relaxed);
    assert!((5..=7).contains(&n), "{n} free-space reads for 20 MB");

    // The disk fills up (another writer): the next reading stops the spool.
    level.store(12 << 20, Ordering::Relaxed);
    let more = (0..4_000).take_while(|_| spool.write(T0, &f, 1500)).count();
    assert!(more < 3_000, "{more} packets written after the disk filled");
    let dir = tmp.path().join("m");
    assert_eq!(
        spool.stopped(),
        Some(&StopReason::LowSpace {
            min_free: 10 << 20,
            dir: dir.clone()
        })
    );
    assert!(!spool.write(T0, &f, 1500));
    let summary = spool.finish();
    assert_eq!(summary.files.len(), 1);
    assert_eq!(
        summary.stopped.unwrap().to_string(),
        format!("free space below {} bytes on {}", 10 << 20, dir.display())
    );
    assert_eq!(
        read_all(&concatenated(&summary.files)).len() as u64,
        summary.packets_written
    );
}

#[test]
fn a_simulated_small_disk_keeps_its_minimum_free() {
    let tmp = tempfile::tempdir().unwrap();
    let capacity: u64 = 3 << 20;
    let dir = tmp.path().join("m");
    let probe_dir = dir.clone();
    // Free space as the files in the directory leave it.
    let free: FreeSpace = Box::new(move |_| {
        let used: u64 = std::fs::read_dir(&probe_dir)?
            .map(|e| e.and_then(|e| e.metadata()).map_or(0, |m| m.len()))
            .sum();
        Ok(capacity.saturating_sub(used))
    });
    let mut cfg = config(tmp.path(), 256 << 10, 1 << 40);
    cfg.min_free_bytes = 1 << 20;
    let mut spool = Spool::with_free_space(cfg, NAME, free).unwrap();
    let written = (0..40_000)
        .take_while(|i| spool.write(T0, &frame(*i, 200), 200))
        .count();
    assert!(written > 1000, "{written}");
    assert!(matches!(spool.stopped(), Some(StopReason::LowSpace { .. })));
    let summary = spool.finish();
    assert!(capacity - summary.bytes_written >= 1 << 20);
    assert_eq!(read_all(&concatenated(&summary.files)).len(), written);
}

#[test]
fn a_full_disk_at_start_writes_nothing_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path(), 1 << 20, 1 << 30);
    cfg.min_free_bytes = 1 << 20;
    let mut spool = Spool::with_free_space(cfg, NAME, Box::new(|_| Ok(1 << 19))).unwrap();
    assert!(!spool.write(T0, &[0; 60], 60));
    let summary = spool.finish();
    assert!(summary.files.is_empty());
    assert_eq!(summary.packets_not_written, 1);
    assert!(matches!(summary.stopped, Some(StopReason::LowSpace { .. })));
}

#[test]
fn unreadable_free_space_fails_the_start_and_stops_later() {
    let tmp = tempfile::tempdir().unwrap();
    let broken: FreeSpace = Box::new(|_| Err(io::Error::other("statvfs broke")));
    let err = Spool::with_free_space(config(tmp.path(), 1 << 20, 1 << 30), NAME, broken)
        .err()
        .unwrap();
    assert!(err.to_string().contains("statvfs broke"), "{err}");

    // Working at the start, broken at the first rotation.
    let (free, level, _) = simulated(1 << 40);
    let header = PcapngWriter::<io::Sink>::header_len(NAME);
    let mut cfg = config(tmp.path(), header + 2 * 132, 1 << 30);
    cfg.snaplen = 100;
    let _ = std::fs::remove_dir_all(&cfg.dir);
    let mut spool = Spool::with_free_space(cfg, NAME, free).unwrap();
    level.store(0, Ordering::Relaxed);
    assert!(spool.write(T0, &[0; 100], 100) && spool.write(T0, &[0; 100], 100));
    assert!(!spool.write(T0, &[0; 100], 100));
    assert_eq!(spool.finish().packets_written, 2);
}

#[test]
fn settings_and_directories_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path(), 1 << 20, 1 << 30);
    cfg.snaplen = 10;
    let err = Spool::with_free_space(cfg, NAME, plenty()).err().unwrap();
    assert!(err.to_string().contains("snaplen 10"), "{err}");

    let cfg = config(tmp.path(), 300, 1 << 30);
    let err = Spool::with_free_space(cfg, NAME, plenty()).err().unwrap();
    assert!(err.to_string().contains("raise it to at least"), "{err}");

    let cfg = config(tmp.path(), 1 << 20, 1 << 30);
    let spool = Spool::with_free_space(cfg.clone(), NAME, plenty()).unwrap();
    spool.finish();
    let err = Spool::with_free_space(cfg, NAME, plenty()).err().unwrap();
    assert!(
        matches!(err, CaptureError::DirectoryNotEmpty { .. }),
        "{err}"
    );

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut cfg = config(&file, 1 << 20, 1 << 30);
    cfg.dir = file.join("below");
    let err = Spool::open(cfg, NAME).err().unwrap();
    assert!(
        err.to_string().contains("cannot use capture directory"),
        "{err}"
    );
}

#[test]
fn statvfs_reads_this_filesystem() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(statvfs_free_bytes(tmp.path()).unwrap() > 0);
    assert!(statvfs_free_bytes(&tmp.path().join("missing")).is_err());
}

#[test]
fn segments_are_readable_by_the_daemon_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let header = PcapngWriter::<io::Sink>::header_len(NAME);
    // One snaplen-sized packet per file: the second write rotates into a new segment.
    let limit = header + 32 + 256;
    let mut spool =
        Spool::with_free_space(config(tmp.path(), limit, 1 << 30), NAME, plenty()).unwrap();
    for i in 0..2 {
        assert!(spool.write(T0 + i, &frame(i, 256), 256));
    }
    let summary = spool.finish();
    assert_eq!(summary.files.len(), 2);
    for file in &summary.files {
        let mode = file.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
    }
}

#[test]
fn run_is_in_ram_and_a_missing_directory_is_an_error() {
    // /dev/shm is tmpfs on every Linux this runs on (and /proc is neither tmpfs nor ramfs).
    assert_eq!(super::in_ram(Path::new("/dev/shm")).ok(), Some(true));
    assert_eq!(super::in_ram(Path::new("/proc")).ok(), Some(false));
    assert!(super::in_ram(Path::new("/nonexistent/matador")).is_err());
}
