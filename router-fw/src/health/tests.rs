use super::*;

#[test]
fn starts_of_this_boot_within_ten_minutes_of_uptime_are_counted() {
    let record = "old 100\nb1 10\nb1 300\nb1 700\nb1 705\n";
    // At uptime 710: 300, 700 and 705 are within 600 s; 10 is not; `old` is another boot.
    assert_eq!(recent_starts(record, "b1", 710), 3);
    assert_eq!(recent_starts(record, "b2", 710), 0);
    // A malformed record counts nothing rather than failing.
    assert_eq!(recent_starts("garbage\nb1 x\n\n", "b1", 10), 0);
}

#[test]
fn the_start_record_keeps_the_newest_twenty() {
    let mut record = String::new();
    for up in 0..30 {
        record = append_start(&record, "b", up);
    }
    assert_eq!(record.lines().count(), STARTS_KEPT);
    assert!(
        record.starts_with("b 10\n") && record.ends_with("b 29\n"),
        "{record}"
    );
}

#[test]
fn a_crash_loop_and_the_last_crash_are_reported_from_the_state_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    // The first start of a new router: the state directory does not exist yet.
    assert_eq!(record_start(&state).recent, 1);
    std::fs::write(crash_file(&state), "panicked at src/x.rs:1: boom\n").expect("write");
    let first = record_start(&state);
    assert_eq!(
        first.last_crash.as_deref(),
        Some("panicked at src/x.rs:1: boom")
    );
    let mut last = first;
    for _ in 2..CRASH_LOOP_STARTS {
        last = record_start(&state);
    }
    assert_eq!(last.recent, CRASH_LOOP_STARTS, "same boot, same minute");
    assert_eq!(last.last_crash, None, "read once");
    let h = report(&Readings {
        starts: last,
        clock_unix: CLOCK_FLOOR_UNIX + 1,
        clock_synchronized: true,
        ..Readings::default()
    });
    assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
    assert!(
        h.warnings[0].starts_with("crash loop: 5 starts"),
        "{:?}",
        h.warnings
    );
}

#[test]
fn a_full_disk_a_wrong_clock_a_full_spool_and_failing_uploads_are_warnings() {
    let healthy = Readings {
        starts: Starts {
            recent: 1,
            last_crash: None,
        },
        disk_free_bytes: 100 << 20,
        disk_min_free_bytes: 16 << 20,
        clock_synchronized: true,
        clock_unix: CLOCK_FLOOR_UNIX + 86_400,
        spooled: (3, 1 << 20),
        spool_capacity: 256 << 20,
        upload: Some(UploadHealth::default()),
    };
    let h = report(&healthy);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert!(h.clock_plausible);

    let sick = Readings {
        disk_free_bytes: 1 << 20,
        clock_unix: 86_400,
        clock_synchronized: false,
        spooled: (900, 250 << 20),
        upload: Some(UploadHealth {
            failures: 4,
            last_error: Some("collector 10.200.0.1:8444: connection refused".into()),
            ..UploadHealth::default()
        }),
        ..healthy
    };
    let h = report(&sick);
    let all = h.warnings.join("\n");
    for expected in [
        "disk full: 1 MiB free, below the 16 MiB",
        "wrong clock: 86400 is before 2026",
        "result spool 97 % full (900 results)",
        "uploads failing (4 attempts): collector 10.200.0.1:8444: connection refused",
    ] {
        assert!(all.contains(expected), "no `{expected}` in\n{all}");
    }
    assert!(!h.clock_plausible);
    assert!(
        !all.contains("not synchronised"),
        "the wrong clock says it already"
    );
}
