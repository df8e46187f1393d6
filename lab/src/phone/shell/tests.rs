//! The emulated shell's commands on a phone with no network: output formats and exit codes
//! as Android gives them, and the state they change.

use super::*;
use crate::plan::Plan;
use crate::topology::{parse, DEFAULT_TOPOLOGY};

fn phone() -> (Arc<Phone>, tempfile::TempDir) {
    let plan = Plan::build(&parse(DEFAULT_TOPOLOGY, "default").expect("topology")).expect("plan");
    let dir = tempfile::tempdir().expect("tempdir");
    let phone = Phone::from_plan(
        &plan,
        "phone-a",
        dir.path().join("phone"),
        dir.path().to_path_buf(),
    )
    .expect("phone-a is a phone");
    crate::phone::lifecycle::prepare_files(&phone).expect("files");
    (Arc::new(phone), dir)
}

fn sh(phone: &Arc<Phone>, line: &str) -> (String, String, u8) {
    let out = run_line(phone, line);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.code,
    )
}

#[test]
fn unknown_commands_answer_as_androids_shell() {
    let (p, _d) = phone();
    assert_eq!(
        sh(&p, "frobnicate --now"),
        (
            String::new(),
            "/system/bin/sh: frobnicate: not found\n".into(),
            127
        )
    );
    assert_eq!(sh(&p, "false || echo fell back").0, "fell back\n");
    assert_eq!(sh(&p, "false && echo never").0, "");
    assert_eq!(sh(&p, "echo 'a b'; echo c").0, "a b\nc\n");
    assert_eq!(sh(&p, "echo 'open").2, 2, "syntax error");
    assert_eq!(
        sh(&p, "cmd nosuch x"),
        (String::new(), "Can't find service: nosuch\n".into(), 20)
    );
}

#[test]
fn getprop_prints_one_value_or_all_in_brackets() {
    let (p, _d) = phone();
    assert_eq!(sh(&p, "getprop ro.product.model").0, "Pixel 7\n");
    assert_eq!(sh(&p, "getprop sys.boot_completed").0, "1\n");
    assert_eq!(sh(&p, "getprop no.such.prop").0, "\n");
    let all = sh(&p, "getprop").0;
    assert!(all.contains("[ro.build.version.sdk]: [34]\n"), "{all}");
    assert!(all.contains(&format!("[ro.serialno]: [{}]\n", p.serial)));
}

#[test]
fn settings_get_put_list_and_bad_namespaces() {
    let (p, _d) = phone();
    assert_eq!(sh(&p, "settings get global airplane_mode_on").0, "0\n");
    assert_eq!(sh(&p, "settings get secure nothing_here").0, "null\n");
    assert_eq!(sh(&p, "settings put system font_scale 1.3").2, 0);
    assert_eq!(sh(&p, "settings get system font_scale").0, "1.3\n");
    assert!(sh(&p, "settings list system")
        .0
        .contains("font_scale=1.3\n"));
    assert_eq!(sh(&p, "settings --user 0 get system font_scale").0, "1.3\n");
    assert_eq!(
        sh(&p, "settings delete system font_scale").0,
        "Deleted 1 rows\n"
    );
    let bad = sh(&p, "settings get galaxy x");
    assert_eq!(
        (bad.1.as_str(), bad.2),
        ("Invalid namespace 'galaxy'\n", 255)
    );
}

#[test]
fn packages_are_listed_with_their_uids() {
    let (p, _d) = phone();
    let with_uids = sh(&p, "pm list packages -U").0;
    assert!(
        with_uids.contains("package:com.globalmessenger.android uid:10123\n"),
        "{with_uids}"
    );
    assert!(with_uids.contains("package:com.google.android.gms uid:10050\n"));
    assert_eq!(
        sh(&p, "pm list packages swiss").0,
        "package:ch.swissmessenger.app\n"
    );
}

#[test]
fn location_test_providers_take_a_location_only_once_added() {
    let (p, _d) = phone();
    let set = "cmd location providers set-test-provider-location gps --location 46.95,7.45";
    assert_eq!(sh(&p, set).2, 255, "provider does not exist yet");
    assert_eq!(sh(&p, "cmd location providers add-test-provider gps").2, 0);
    assert_eq!(sh(&p, set).2, 0);
    assert_eq!(
        sh(
            &p,
            "cmd location providers set-test-provider-enabled gps true"
        )
        .2,
        0
    );
    let provider = p.state().providers.get("gps").cloned().expect("gps");
    assert!(provider.enabled);
    assert_eq!(provider.location, Some((46.95, 7.45)));
    assert_eq!(
        sh(
            &p,
            "cmd location providers set-test-provider-location gps --location 95,7"
        )
        .2,
        255,
        "latitude out of range"
    );
    assert_eq!(sh(&p, "cmd location is-location-enabled").0, "true\n");
}

#[test]
fn input_edits_the_focused_apps_draft_and_the_screen_shows_it() {
    let (p, _d) = phone();
    let app = p.apps[0].clone();
    p.state().focused = Some(app.name.clone());
    let (fx, fy) = (app.text_field.x + 5, app.text_field.y + 5);
    assert_eq!(sh(&p, "input text ignored").2, 0, "no field focused yet");
    sh(&p, &format!("input tap {fx} {fy}"));
    sh(&p, "input text 'hi%sthere'");
    sh(&p, "input keyevent KEYCODE_DEL");
    assert_eq!(p.state().screens[&app.name].draft, "hi ther");
    let window = sh(&p, "dumpsys window").0;
    assert!(
        window.contains(&format!(
            "mCurrentFocus=Window{{7e1a2b u0 {}}}",
            app.component()
        )),
        "{window}"
    );
    let shot = activity::current_screen(&p);
    assert_eq!(shot.draft, "hi ther");
    assert!(shot.focused_field);
    let png = run_line(&p, "screencap -p").stdout;
    assert_eq!(
        crate::phone::screen::png_dimensions(&png),
        Some(crate::topology::SCREEN_SIZE)
    );
    sh(&p, "input keyevent 3");
    assert!(sh(&p, "dumpsys window").0.contains("com.android.launcher3"));
    assert_eq!(sh(&p, "input tap x y").2, 1, "usage error");
}

#[test]
fn am_start_refuses_components_that_do_not_exist() {
    let (p, _d) = phone();
    let (out, _, code) = sh(&p, "am start -n com.example.nothing/.Main");
    assert_eq!(code, 255);
    assert!(
        out.contains(
            "Error: Activity class {com.example.nothing/com.example.nothing.Main} does not exist."
        ),
        "{out}"
    );
    let (out, _, code) = sh(&p, "monkey -p com.example.nothing 1");
    assert_eq!(code, 251);
    assert!(out.contains("No activities found"));
}

#[test]
fn files_stay_inside_the_phones_tree() {
    let (p, _d) = phone();
    assert_eq!(sh(&p, "screencap -p /sdcard/Pictures/s.png").2, 0);
    assert_eq!(sh(&p, "ls /sdcard/Pictures").0, "s.png\n");
    assert_eq!(
        sh(&p, "cat /../../etc/passwd").2,
        1,
        "no way out of the phone's files"
    );
    assert!(crate::phone::lifecycle::device_path(&p, "/sdcard/../../x").is_none());
}

#[test]
fn logcat_dumps_filters_and_clears() {
    let (p, _d) = phone();
    p.log(
        42,
        crate::phone::logcat::Priority::Info,
        "GlobalMessenger",
        "login ok",
    );
    p.log(43, crate::phone::logcat::Priority::Debug, "Other", "noise");
    let only = sh(&p, "logcat -d -s GlobalMessenger").0;
    assert!(
        only.contains("I GlobalMessenger: login ok") && !only.contains("noise"),
        "{only}"
    );
    assert_eq!(sh(&p, "logcat").2, 1, "following is not emulated");
    sh(&p, "logcat -c");
    assert!(!sh(&p, "logcat -d").0.contains("login ok"));
}

#[test]
fn dumpsys_iphonesubinfo_prints_the_imei() {
    let (p, _d) = phone();
    let imei = crate::topology::default_imei(0);
    assert_eq!(p.role.imei, imei, "phone-a: first phone, no imei");
    assert_eq!(
        sh(&p, "dumpsys iphonesubinfo"),
        (
            format!("Phone Subscriber Info:\n  Device ID={imei}\n"),
            String::new(),
            0
        )
    );
}
