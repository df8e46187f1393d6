//! Preparing a phone against the scripted fake: the happy path with every state read back,
//! and each way a phone can refuse, with what is left behind.

use super::super::fake::{FakeClock, FakePhone, SharedFake};
use super::super::handle::Phone;
use super::*;
use std::sync::{Arc, Mutex};

const T0: f64 = 1_700_000_000.0;

fn plan() -> PhonePlan {
    PhonePlan {
        package: "com.globalmessenger.android".into(),
        activity: ".HomeActivity".into(),
        uid: None,
        wifi: WifiPlan {
            ssid: "matador-a".into(),
            passphrase: "lab-passphrase-a".into(),
            subnet: "10.77.1.0/24".parse().ok(),
        },
        vpn: None,
        location: Some(Location {
            lat: 47.3769,
            lon: 8.5417,
        }),
        root: RootVia::Adbd,
        firewall_ipv6: true,
        timing: Timing::default(),
    }
}

fn phone() -> (FakePhone, FakeClock) {
    let clock = FakeClock::at(T0);
    (FakePhone::new(clock.clone()), clock)
}

const ACCEPT: &str = "-A OUTPUT -o wlan0 -m owner --uid-owner 10123 -j ACCEPT";
const DROP: &str = "-A OUTPUT -o wlan0 -j DROP";

#[test]
fn a_phone_is_prepared_launched_and_cleaned_up_with_every_step_read_back() {
    let (mut p, clock) = phone();
    p.iptables.push("-A OUTPUT -j oem_out".into());
    let done = prepare(&mut p, &clock, &plan()).expect("prepared");
    assert_eq!(done.uid, 10123, "from pm, not the .beta package");
    assert_eq!(done.address.to_string(), "10.77.1.150/24");
    assert_eq!(p.iptables, ["-A OUTPUT -j oem_out", ACCEPT, DROP]);
    assert_eq!(p.ip6tables, [ACCEPT, DROP]);
    assert_eq!(
        p.settings.get("airplane_mode_on").map(String::as_str),
        Some("1")
    );
    assert!(p.wifi_enabled);
    assert_eq!(p.connected.as_deref(), Some("matador-a"));
    assert!(p.location_enabled);
    assert_eq!(
        p.providers.get("gps"),
        Some(&(true, Some((47.3769, 8.5417))))
    );
    assert_eq!(p.providers.len(), 2);
    // The firewall is up before the phone joins any network.
    let first = |prefix: &str| p.log.iter().position(|c| c.starts_with(prefix));
    assert!(first("iptables -w -A") < first("settings put global airplane_mode_on"));
    assert!(first("ip6tables -w -A") < first("cmd wifi connect-network"));
    assert_eq!(
        p.log
            .iter()
            .find(|c| c.starts_with("cmd wifi connect-network"))
            .map(String::as_str),
        Some("cmd wifi connect-network matador-a wpa2 lab-passphrase-a")
    );
    // Two status reads before the connection shows: polled, not slept through.
    assert!(p.ran("cmd wifi status") >= 3);
    assert!(clock.now() - T0 < 5.0, "{}", clock.now() - T0);
    assert_eq!(p.focus, None, "prepared, not started");

    let before = clock.now();
    let launched = launch(&mut p, &clock, &done, &Timing::default()).expect("launched");
    assert!(launched >= before && launched <= clock.now());
    assert_eq!(
        p.focus.as_deref(),
        Some("com.globalmessenger.android/.HomeActivity")
    );
    let stop = p
        .log
        .iter()
        .rposition(|c| c == "am force-stop com.globalmessenger.android");
    let start = p.log.iter().rposition(|c| c.starts_with("am start -n"));
    assert!(stop < start, "started clean");
    still_in_front(&mut p, &done).expect("still in front");
    // A phone that rebooted mid-measurement shows its launcher: the measurement is void.
    p.focus = Some("com.android.launcher3/.Launcher".into());
    let lost = still_in_front(&mut p, &done).expect_err("lost the focus");
    assert!(lost.to_string().contains("launcher3"), "{lost}");
    p.focus = None;
    assert!(still_in_front(&mut p, &done).is_err(), "nothing in front");

    cleanup(&mut p, &done).expect("cleaned up");
    assert_eq!(p.iptables, ["-A OUTPUT -j oem_out"]);
    assert!(p.ip6tables.is_empty());
    assert!(p.providers.is_empty());
    assert_eq!(p.focus, None);
    assert_eq!(
        serde_json::from_str::<Prepared>(&serde_json::to_string(&done).expect("json")).ok(),
        Some(done),
        "an orchestrator can keep it for cleanup after a crash"
    );
}

#[test]
fn rules_a_crashed_run_left_are_replaced() {
    let (mut p, clock) = phone();
    p.iptables = vec![
        "-A OUTPUT -o wlan0 -m owner --uid-owner 10999 -j ACCEPT".into(),
        DROP.into(),
        DROP.into(),
    ];
    prepare(&mut p, &clock, &plan()).expect("prepared");
    assert_eq!(p.iptables, [ACCEPT, DROP]);
}

#[test]
fn a_wrong_passphrase_times_out_without_leaking_it_and_undoes_the_firewall() {
    let (mut p, clock) = phone();
    p.networks
        .insert("matador-a".into(), "another-passphrase".into());
    let e = prepare(&mut p, &clock, &plan()).expect_err("never connects");
    let text = e.to_string();
    assert!(
        matches!(e, PhoneError::Timeout { step: "wi-fi", .. }),
        "{text}"
    );
    assert!(
        text.contains("not connected to \"matador-a\": Wifi is not connected"),
        "{text}"
    );
    assert!(!text.contains("lab-passphrase-a"), "{text}");
    let waited = clock.now() - T0;
    assert!((45.0..50.0).contains(&waited), "waited {waited}");
    assert!(
        p.iptables.is_empty() && p.ip6tables.is_empty(),
        "firewall undone"
    );
    // A passphrase Android refuses outright is reported at once, blanked out too.
    let (mut p, clock) = phone();
    let mut short = plan();
    short.wifi.passphrase = "short".into();
    let text = prepare(&mut p, &clock, &short)
        .expect_err("refused")
        .to_string();
    assert!(
        text.contains("Invalid passphrase") && !text.contains("short "),
        "{text}"
    );
}

#[test]
fn states_that_do_not_read_back_are_errors() {
    let (mut p, clock) = phone();
    p.airplane_sticks = false;
    let e = prepare(&mut p, &clock, &plan()).expect_err("airplane mode not set");
    assert!(
        e.to_string()
            .starts_with("airplane mode: airplane_mode_on reads \"null\""),
        "{e}"
    );

    let (mut p, clock) = phone();
    p.iptables_ignores_append = true;
    let e = prepare(&mut p, &clock, &plan()).expect_err("rules not listed");
    assert!(
        e.to_string()
            .starts_with("firewall: iptables -S OUTPUT lists []"),
        "{e}"
    );
    assert_eq!(
        p.ran("cmd wifi connect-network"),
        0,
        "no network without the firewall"
    );

    let (mut p, clock) = phone();
    p.address = "192.168.1.20/24".into();
    let e = prepare(&mut p, &clock, &plan()).expect_err("wrong network");
    assert!(
        e.to_string()
            .contains("not in the router's subnet 10.77.1.0/24"),
        "{e}"
    );
    assert!(p.iptables.is_empty(), "undone");
}

#[test]
fn a_missing_app_changes_nothing_and_uids_fall_back_to_the_spec() {
    let (mut p, clock) = phone();
    let mut other = plan();
    other.package = "org.absent.app".into();
    let e = prepare(&mut p, &clock, &other).expect_err("not installed");
    assert_eq!(
        e.to_string(),
        "app: org.absent.app is not installed on the phone"
    );
    assert_eq!(p.ran("iptables"), 0);
    let (mut p, clock) = phone();
    p.packages.push(("org.nouid.app".into(), 0));
    let mut nouid = plan();
    nouid.package = "org.nouid.app".into();
    nouid.uid = Some(10321);
    // `uid:0` parses: a phone that prints a UID is believed.
    assert_eq!(prepare(&mut p, &clock, &nouid).map(|d| d.uid).ok(), Some(0));
}

#[test]
fn root_through_su_wraps_only_iptables() {
    let (mut p, clock) = phone();
    p.root_via_su_only = true;
    let e = prepare(&mut p, &clock, &plan()).expect_err("adbd is not root");
    assert!(
        e.to_string()
            .contains("Permission denied (you must be root)"),
        "{e}"
    );
    let (mut p, clock) = phone();
    p.root_via_su_only = true;
    let mut su = plan();
    su.root = RootVia::Su;
    let done = prepare(&mut p, &clock, &su).expect("prepared through su");
    assert_eq!(p.iptables, [ACCEPT, DROP]);
    assert!(p
        .log
        .contains(&format!("su -c 'iptables -w -A {}'", &ACCEPT[3..])));
    cleanup(&mut p, &done).expect("cleaned through su");
    assert!(p.iptables.is_empty());
}

#[test]
fn a_missing_activity_is_an_error_also_without_exit_codes() {
    for exit_codes in [true, false] {
        let (mut p, clock) = phone();
        p.exit_codes = exit_codes;
        let mut bad = plan();
        bad.activity = ".NoSuchActivity".into();
        let done = prepare(&mut p, &clock, &bad).expect("prepared");
        let e = launch(&mut p, &clock, &done, &bad.timing).expect_err("no activity");
        assert!(e.to_string().contains("Activity class"), "{e}");
    }
    let (mut p, clock) = phone();
    p.focus_polls = 1000;
    let done = prepare(&mut p, &clock, &plan()).expect("prepared");
    let e = launch(&mut p, &clock, &done, &Timing::default()).expect_err("never in front");
    assert!(e.to_string().starts_with("app in front: not done after 20 s; last seen: com.android.launcher3/.Launcher has the focus"), "{e}");
}

#[tokio::test]
async fn the_async_handle_runs_the_same_steps_on_blocking_threads() {
    let (mut p, _clock) = phone();
    // The handle waits with the real clock: no polls to wait for here.
    p.polls_to_connect = 0;
    p.focus_polls = 0;
    let shared = Arc::new(Mutex::new(p));
    let phone = Phone::new(SharedFake(Arc::clone(&shared)));
    assert_eq!(
        phone
            .shell("getprop ro.product.model")
            .await
            .ok()
            .as_deref(),
        Some("Pixel 7\n")
    );
    let done = phone.prepare(&plan()).await.expect("prepared");
    phone
        .launch(&done, Timing::default())
        .await
        .expect("launched");
    assert!(phone.screenshot().await.is_ok());
    phone.cleanup(&done).await.expect("cleaned up");
    let p = shared.lock().expect("lock");
    assert!(p.iptables.is_empty());
    assert_eq!(p.shots, 1);
}

#[test]
fn exit_codes_when_reported_change_nothing() {
    let (mut p, clock) = phone();
    p.exit_codes = true;
    let done = prepare(&mut p, &clock, &plan()).expect("prepared");
    launch(&mut p, &clock, &done, &Timing::default()).expect("launched");
    cleanup(&mut p, &done).expect("cleaned up");
    // A second cleanup finds the providers gone already, which is fine.
    cleanup(&mut p, &done).expect("cleaned up twice");
    assert!(p.iptables.is_empty() && p.providers.is_empty());
}

#[test]
fn a_plan_comes_from_the_app_the_router_and_the_vantage_node() {
    use crate::spec::{parse_app, parse_inventory};
    let inv = parse_inventory(
        crate::spec::tests::INVENTORY,
        "inv.yaml",
        std::path::Path::new("."),
    )
    .expect("inventory");
    let app = parse_app(crate::spec::tests::APP, "app.yaml").expect("app");
    let router = inv
        .router("zrh")
        .and_then(|r| r.connection(None).ok())
        .expect("zrh");
    let wifi = WifiPlan::of(&router).expect("inline passphrase");
    assert!(!format!("{wifi:?}").contains("correct-horse"));
    let node = inv.vantage_node("vp-de").expect("vp-de");
    let plan = PhonePlan::new(&app, wifi, node, RootVia::Su);
    assert_eq!(plan.package, "com.example.chat");
    assert_eq!(
        plan.location,
        Some(Location {
            lat: 50.11,
            lon: 8.68
        })
    );
    assert_eq!(plan.wifi.passphrase, "correct-horse");
    assert!(plan.firewall_ipv6);
}

#[test]
fn a_phone_on_a_wireguard_ingress_keeps_its_network_and_firewalls_its_vpn() {
    let (mut p, clock) = phone();
    let mut vpn_plan = plan();
    vpn_plan.vpn = Some("10.78.2.2".parse().expect("address"));
    p.polls_to_connect = 0;
    let e = prepare(&mut p, &clock, &vpn_plan).expect_err("no tunnel yet");
    assert!(e.to_string().contains("10.78.2.2"), "{e}");
    assert!(
        p.iptables.is_empty(),
        "nothing left behind: {:?}",
        p.iptables
    );

    p.vpn = Some(("wg0".into(), "10.78.2.2/32".into()));
    let done = prepare(&mut p, &clock, &vpn_plan).expect("prepared");
    assert_eq!(done.address.to_string(), "10.78.2.2/32");
    assert_eq!(
        p.iptables,
        [
            "-A OUTPUT -o wg0 -m owner --uid-owner 10123 -j ACCEPT",
            "-A OUTPUT -o wg0 -j DROP"
        ]
    );
    assert_eq!(
        p.ran("settings put global airplane_mode_on"),
        0,
        "cellular stays on"
    );
    assert_eq!(p.ran("cmd wifi connect-network"), 0);
    cleanup(&mut p, &done).expect("cleaned");
    assert!(p.iptables.is_empty(), "{:?}", p.iptables);
}
