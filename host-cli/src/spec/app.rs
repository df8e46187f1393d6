//! The app spec: which app to measure and how to drive it — package and activity, the UI
//! script per phone model, the messages and their timers, the endpoint rules, the noise
//! baseline runs.

use super::checks::{
    check_activity, check_label, check_name, check_package, check_seconds, check_typable,
};
use super::error::{pos, SpecError};
use matador_probe::flows::endpoints::Match;
use matador_probe::flows::Rules;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// Key of the UI script used for phone models that have none of their own.
pub const DEFAULT_SCRIPT: &str = "default";
/// Placeholder in `message.text` for the message's number (1, 2, …).
pub const NUMBER_PLACEHOLDER: &str = "{n}";
/// Placeholder in a `text` step for the measurement's message.
pub const MESSAGE_PLACEHOLDER: &str = "{message}";
/// Largest screen coordinate accepted (phones are a few thousand pixels at most).
const MAX_COORD: u32 = 10_000;
/// Longest `wait_ms` step: ten minutes.
const MAX_WAIT_MS: u64 = 600_000;

/// An app under test, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppSpec {
    /// Name used in campaigns, ids and reports.
    pub name: String,
    /// Android package.
    pub package: String,
    /// Launcher activity, `.Main` (relative to the package) or a full class name.
    pub activity: String,
    /// The app's UID, used only when the phone does not report one (`pm list packages -U`).
    pub uid: Option<u32>,
    /// The messages sent in each measurement.
    pub message: MessageSpec,
    /// Timers of a measurement.
    pub timers: Timers,
    /// Endpoint rules for the router (deny/allow lists, noise baseline).
    pub rules: Rules,
    /// Runs per vantage-node pair that open the app and send nothing, to learn its noise.
    pub noise_baseline_runs: u32,
    /// UI scripts by phone model (`ro.product.model`), with [`DEFAULT_SCRIPT`] for the rest.
    pub ui: BTreeMap<String, UiScript>,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageSpec {
    /// Text of each message; `{n}` becomes its number.
    pub text: String,
    /// Messages per measurement.
    pub count: u32,
}

/// Timers of a measurement, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timers {
    /// From the app's launch to the first message (login, key exchange happen here).
    pub before_first_s: f64,
    /// From one message being sent to the next.
    pub between_s: f64,
    /// From the last message to the end of the measurement.
    pub after_last_s: f64,
    /// Capture started this long before the launch and stopped this long after the end.
    pub capture_margin_s: f64,
}

/// The taps and keys that drive one app on one phone model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UiScript {
    /// Steps run once after the launch, e.g. opening the chat with the other phone.
    pub open: Vec<Step>,
    /// Steps run for each message; exactly one of them sends.
    pub send: Vec<Step>,
}

/// One step of a UI script, written in YAML as a one-key map (`tap: [100, 200]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Tap at `[x, y]`.
    Tap([u32; 2]),
    /// A tap that sends the message: its time is recorded for the router's phases.
    SendTap([u32; 2]),
    /// Swipe from `[x1, y1]` to `[x2, y2]`, given as `[x1, y1, x2, y2]`.
    Swipe([u32; 4]),
    /// Type text; `{message}` stands for the measurement's message.
    Text(String),
    /// Press a key: `ENTER`, `KEYCODE_ENTER` or a key code number.
    Keyevent(String),
    /// Wait this many milliseconds.
    WaitMs(u64),
    /// Name the screenshot taken after this step (every step is screenshotted).
    Screenshot(String),
    /// Tap the text field, type the message, tap the send button (its time is recorded).
    SendMessage {
        /// Where the text field is.
        field: [u32; 2],
        /// Where the send button is.
        button: [u32; 2],
    },
}

impl Step {
    /// Whether the step sends a message.
    pub fn sends(&self) -> bool {
        matches!(self, Step::SendTap(_) | Step::SendMessage { .. })
    }

    /// Short word for file names and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Tap(_) => "tap",
            Step::SendTap(_) => "send-tap",
            Step::Swipe(_) => "swipe",
            Step::Text(_) => "text",
            Step::Keyevent(_) => "keyevent",
            Step::WaitMs(_) => "wait",
            Step::Screenshot(_) => "screenshot",
            Step::SendMessage { .. } => "send-message",
        }
    }
}

impl AppSpec {
    /// `package/activity`, as `am start -n` takes it.
    pub fn component(&self) -> String {
        format!("{}/{}", self.package, self.activity)
    }

    /// The UI script for a phone model: its own, else the default.
    pub fn script_for(&self, model: &str) -> Option<&UiScript> {
        self.ui.get(model).or_else(|| self.ui.get(DEFAULT_SCRIPT))
    }

    /// The text of message `n` (1-based).
    pub fn message_text(&self, n: u32) -> String {
        self.message
            .text
            .replace(NUMBER_PLACEHOLDER, &n.to_string())
    }

    /// The rules as YAML, as the router API's `rules` field takes them.
    pub fn rules_yaml(&self) -> Result<String, String> {
        serde_saphyr::to_string(&self.rules).map_err(|e| e.to_string())
    }

    /// Seconds from the launch to the end of the messages, without the capture margins.
    pub fn messaging_s(&self) -> f64 {
        let t = &self.timers;
        t.before_first_s
            + t.between_s * f64::from(self.message.count.saturating_sub(1))
            + t.after_last_s
    }
}

/// An app spec as written (positions kept for errors).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppFile {
    name: Spanned<String>,
    package: Spanned<String>,
    activity: Spanned<String>,
    #[serde(default)]
    uid: Option<Spanned<u32>>,
    message: MessageFile,
    timers: TimersFile,
    #[serde(default)]
    rules: Option<Spanned<Rules>>,
    #[serde(default)]
    noise_baseline_runs: Option<Spanned<u32>>,
    ui: Spanned<BTreeMap<String, UiScriptFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageFile {
    text: Spanned<String>,
    count: Spanned<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimersFile {
    before_first_s: Spanned<f64>,
    between_s: Spanned<f64>,
    after_last_s: Spanned<f64>,
    #[serde(default)]
    capture_margin_s: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UiScriptFile {
    #[serde(default)]
    open: Vec<Spanned<Step>>,
    #[serde(default)]
    send: Vec<Spanned<Step>>,
}

/// Default margin around the capture when a spec gives none.
const DEFAULT_MARGIN_S: f64 = 2.0;

impl AppFile {
    /// Where the app's name is written.
    pub(super) fn name_position(&self) -> (u64, u64) {
        pos(&self.name)
    }

    /// Checks every field; errors point into `file`.
    pub(super) fn check(self, file: &str) -> Result<AppSpec, SpecError> {
        let at = |p, m: String| SpecError::at(file, p, m);
        check_name("app name", &self.name.value).map_err(|m| at(pos(&self.name), m))?;
        check_package(&self.package.value).map_err(|m| at(pos(&self.package), m))?;
        check_activity(&self.activity.value).map_err(|m| at(pos(&self.activity), m))?;
        if let Some(uid) = &self.uid {
            // App UIDs are 10000-19999 within each Android user (user × 100000 + app id);
            // letting a system UID through the firewall would let the whole system out.
            if !(10_000..=19_999).contains(&(uid.value % 100_000)) {
                return Err(at(
                    pos(uid),
                    format!("uid {} is not an app UID (10000-19999)", uid.value),
                ));
            }
        }
        let m = &self.message;
        check_typable("message text", &m.text.value).map_err(|e| at(pos(&m.text), e))?;
        if !(1..=1000).contains(&m.count.value) {
            return Err(at(pos(&m.count), "message count must be 1 to 1000".into()));
        }
        let t = &self.timers;
        for (what, s) in [
            ("before_first_s", &t.before_first_s),
            ("between_s", &t.between_s),
            ("after_last_s", &t.after_last_s),
        ]
        .into_iter()
        .chain(t.capture_margin_s.as_ref().map(|s| ("capture_margin_s", s)))
        {
            check_seconds(what, s.value).map_err(|e| at(pos(s), e))?;
        }
        let mut rules = match self.rules {
            Some(r) => {
                check_rules(&r.value).map_err(|e| at(pos(&r), e))?;
                r.value
            }
            None => Rules::default(),
        };
        rules.app.get_or_insert_with(|| self.package.value.clone());
        let runs = self.noise_baseline_runs.as_ref();
        if let Some(r) = runs.filter(|r| r.value > 100) {
            return Err(at(pos(r), "noise_baseline_runs must be 0 to 100".into()));
        }
        if self.ui.value.is_empty() {
            return Err(at(
                pos(&self.ui),
                "ui needs at least a `default` script".into(),
            ));
        }
        let mut ui = BTreeMap::new();
        let ui_pos = pos(&self.ui);
        for (model, script) in self.ui.value {
            if model.trim().is_empty() || model.len() > 64 {
                return Err(at(
                    ui_pos,
                    format!(
                        "ui key `{model}` must be a phone model (1 to 64 characters) or `default`"
                    ),
                ));
            }
            let checked =
                check_script(&model, script).map_err(|(p, e)| at(p.unwrap_or(ui_pos), e))?;
            ui.insert(model, checked);
        }
        Ok(AppSpec {
            name: self.name.value,
            package: self.package.value,
            activity: self.activity.value,
            uid: self.uid.map(|u| u.value),
            message: MessageSpec {
                text: self.message.text.value,
                count: self.message.count.value,
            },
            timers: Timers {
                before_first_s: t.before_first_s.value,
                between_s: t.between_s.value,
                after_last_s: t.after_last_s.value,
                capture_margin_s: t
                    .capture_margin_s
                    .as_ref()
                    .map_or(DEFAULT_MARGIN_S, |s| s.value),
            },
            rules,
            noise_baseline_runs: runs.map_or(0, |r| r.value),
            ui,
        })
    }
}

/// A rule with no field would match (and drop, or keep) every endpoint.
fn check_rules(rules: &Rules) -> Result<(), String> {
    let empty = |m: &Match| {
        m.address.is_none()
            && m.prefix.is_none()
            && m.name.is_none()
            && m.protocol.is_none()
            && m.port.is_none()
    };
    for (list, matches) in [
        ("deny", &rules.deny),
        ("allow", &rules.allow),
        ("baseline", &rules.baseline),
    ] {
        if let Some(i) = matches.iter().position(empty) {
            return Err(format!(
                "rules.{list}[{i}] matches everything: give address, prefix, name, protocol or port"
            ));
        }
    }
    Ok(())
}

type Placed = (Option<(u64, u64)>, String);

fn check_script(model: &str, s: UiScriptFile) -> Result<UiScript, Placed> {
    for step in s.open.iter().chain(&s.send) {
        check_step(&step.value).map_err(|e| (Some(pos(step)), e))?;
    }
    if let Some(step) = s.open.iter().find(|s| s.value.sends()) {
        return Err((
            Some(pos(step)),
            format!("ui `{model}`: `open` must not send; sending steps belong in `send`"),
        ));
    }
    let sending = s.send.iter().filter(|s| s.value.sends()).count();
    if sending != 1 {
        return Err((None, format!(
            "ui `{model}`: `send` needs exactly one sending step (`send_message` or `send_tap`), has {sending}"
        )));
    }
    let plain = |v: Vec<Spanned<Step>>| v.into_iter().map(|s| s.value).collect();
    Ok(UiScript {
        open: plain(s.open),
        send: plain(s.send),
    })
}

fn check_step(step: &Step) -> Result<(), String> {
    let coords = |c: &[u32]| match c.iter().find(|v| **v > MAX_COORD) {
        Some(v) => Err(format!(
            "coordinate {v} is off any screen (at most {MAX_COORD})"
        )),
        None => Ok(()),
    };
    match step {
        Step::Tap(c) | Step::SendTap(c) => coords(c),
        Step::Swipe(c) => coords(c),
        Step::SendMessage { field, button } => coords(field).and(coords(button)),
        Step::Text(t) => check_typable("text", &t.replace(MESSAGE_PLACEHOLDER, "x")),
        Step::Keyevent(k) => {
            let ok = !k.is_empty()
                && k.len() <= 48
                && k.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "keyevent `{k}` must be a key name like ENTER or KEYCODE_ENTER, or a number"
                ))
            }
        }
        Step::WaitMs(ms) if *ms > MAX_WAIT_MS => {
            Err(format!("wait_ms {ms} is more than {MAX_WAIT_MS}"))
        }
        Step::WaitMs(_) => Ok(()),
        Step::Screenshot(name) => check_label("screenshot name", name),
    }
}

/// Reads one app spec from YAML text; `file` names it in errors.
pub fn parse_app(text: &str, file: &str) -> Result<AppSpec, SpecError> {
    let raw: AppFile = serde_saphyr::from_str(text).map_err(|e| SpecError::yaml(file, &e))?;
    raw.check(file)
}
