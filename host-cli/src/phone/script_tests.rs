//! UI scripts against the scripted fake: steps become `input` commands, a screenshot
//! follows every step, and messages are paced by the timers with their send times kept.

use super::super::fake::{FakeClock, FakePhone};
use super::*;
use crate::spec::{parse_app, MessageSpec};

const T0: f64 = 1_700_000_000.0;

fn app() -> AppSpec {
    parse_app(
        "name: global-messenger\npackage: com.globalmessenger.android\nactivity: .HomeActivity\n\
         message: { text: \"hello {n} from A\", count: 2 }\n\
         timers: { before_first_s: 8, between_s: 4, after_last_s: 6 }\n\
         ui:\n  default:\n    open: [{screenshot: opened}]\n    send:\n      - send_message: { field: [304, 1528], button: [648, 1528] }\n\
         \x20 Galaxy S23:\n    send:\n      - tap: [304, 1528]\n      - text: \"{message}\"\n      - keyevent: ENTER\n      - send_tap: [648, 1528]\n",
        "app.yaml",
    )
    .expect("app")
}

#[test]
fn messages_are_paced_by_the_timers_and_every_step_is_screenshotted() {
    let clock = FakeClock::at(T0);
    let mut p = FakePhone::new(clock.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Conversation::new(&app(), "Pixel 7", T0, RunKind::Messages).expect("script");
    let run = run_messages(&mut p, &clock, &c, dir.path()).expect("ran");
    assert_eq!(p.typed, ["hello 1 from A", "hello 2 from A"]);
    assert_eq!(run.sends.len(), 2);
    // First message: its script starts at launch + 8 s; the send is after field tap,
    // text and button tap (0.05 s each in the fake).
    let eps = 1e-6;
    assert!(
        (run.sends[0] - (T0 + 8.0 + 0.15)).abs() < eps,
        "{}",
        run.sends[0] - T0
    );
    // Next: 4 s after the previous send, plus its own three commands.
    assert!((run.sends[1] - (run.sends[0] + 4.0 + 0.15)).abs() < eps);
    // The button taps are the sends.
    let button_taps: Vec<f64> = p.taps.iter().filter(|t| t.0 == 648).map(|t| t.2).collect();
    assert_eq!(button_taps.len(), 2);
    assert!((button_taps[1] - run.sends[1]).abs() < eps);
    // 6 s after the last send, then the last screenshot.
    assert!((clock.now() - (run.sends[1] + 6.0 + 0.05)).abs() < eps);
    let names: Vec<String> = run
        .screenshots
        .iter()
        .filter_map(|s| s.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "001-launched.png",
            "002-open-opened.png",
            "003-m1-send-message.png",
            "004-m2-send-message.png",
            "005-end.png"
        ]
    );
    for s in &run.screenshots {
        let bytes = std::fs::read(s).expect("saved");
        assert!(bytes.starts_with(super::super::shell::PNG_MAGIC));
    }
}

#[test]
fn steps_become_input_commands_with_safe_quoting() {
    let clock = FakeClock::at(T0);
    let mut p = FakePhone::new(clock.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut shots = Screenshots::new(dir.path());
    let mut run = ScriptRun::default();
    let steps = [
        Step::Text("it's {message}; $(reboot)".into()),
        Step::Keyevent("ENTER".into()),
        Step::Keyevent("66".into()),
        Step::Keyevent("KEYCODE_BACK".into()),
        Step::Swipe([1, 2, 3, 4]),
        Step::WaitMs(1500),
        Step::SendTap([5, 6]),
    ];
    run_script(
        &mut p, &clock, &steps, "hi there", "x", &mut shots, &mut run,
    )
    .expect("ran");
    assert_eq!(p.typed, ["it's hi there; $(reboot)"]);
    assert!(p
        .log
        .contains(&r"input text 'it'\''s%shi%sthere;%s$(reboot)'".to_string()));
    assert_eq!(p.keys, ["KEYCODE_ENTER", "66", "KEYCODE_BACK"]);
    assert!(p.log.contains(&"input swipe 1 2 3 4".to_string()));
    assert_eq!(run.sends.len(), 1);
    assert_eq!(run.screenshots.len(), steps.len());
    // Every command and screenshot costs 0.05 s; the wait 1.5 s.
    assert!(
        (clock.now() - (T0 + 1.5 + 0.05 * 13.0)).abs() < 1e-6,
        "{}",
        clock.now() - T0
    );
}

#[test]
fn baselines_send_nothing_and_models_get_their_script() {
    let clock = FakeClock::at(T0);
    let mut p = FakePhone::new(clock.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Conversation::new(&app(), "Pixel 7", T0, RunKind::Baseline).expect("script");
    let run = run_messages(&mut p, &clock, &c, dir.path()).expect("ran");
    assert!(run.sends.is_empty() && p.typed.is_empty() && p.taps.is_empty());
    // A message run's length: 8 + 4 × (2 - 1) + 6 s.
    assert!(clock.now() - T0 >= 18.0 && clock.now() - T0 < 18.2);
    let galaxy = Conversation::new(&app(), "Galaxy S23", T0, RunKind::Messages).expect("script");
    assert_eq!(galaxy.script.send.len(), 4);
    let clock = FakeClock::at(T0);
    let mut p = FakePhone::new(clock.clone());
    let run = run_messages(&mut p, &clock, &galaxy, dir.path()).expect("ran");
    assert_eq!(run.sends.len(), 2);
    assert_eq!(p.keys, ["KEYCODE_ENTER", "KEYCODE_ENTER"]);
    let mut one = app();
    one.message = MessageSpec {
        text: "x".into(),
        count: 1,
    };
    one.ui.clear();
    assert!(Conversation::new(&one, "Pixel 7", T0, RunKind::Messages).is_none());
}

#[test]
fn a_screen_that_is_not_a_png_stops_the_run() {
    let clock = FakeClock::at(T0);
    let mut p = FakePhone::new(clock.clone());
    p.screencap_broken = true;
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Conversation::new(&app(), "Pixel 7", T0, RunKind::Messages).expect("script");
    let e = run_messages(&mut p, &clock, &c, dir.path()).expect_err("no png");
    assert!(
        e.to_string()
            .contains("not a PNG: \"screencap: no display\\n\""),
        "{e}"
    );
}
