//! Running UI scripts: taps, typed text, keys and waits on the phone, a screenshot after
//! every step into the measurement's folder, and the time of every send for the router's
//! phases; the messages of a measurement paced by the app's timers.

use super::error::PhoneError;
use super::shell::{check_png, quote, sleep_until, Clock, Shell};
use crate::spec::{AppSpec, RunKind, Step, Timers, UiScript, MESSAGE_PLACEHOLDER};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a script run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptRun {
    /// When each message was sent (Unix seconds, right after the sending tap returned).
    pub sends: Vec<f64>,
    /// Screenshots saved, in order.
    pub screenshots: Vec<PathBuf>,
}

/// Where screenshots go: `DIR/NNN-label.png`, numbered in the order taken.
#[derive(Debug)]
pub struct Screenshots {
    dir: PathBuf,
    next: u32,
}

impl Screenshots {
    /// Screenshots into `dir` (created when the first is saved).
    pub fn new(dir: &Path) -> Screenshots {
        Screenshots {
            dir: dir.to_path_buf(),
            next: 1,
        }
    }

    /// Takes a screenshot and saves it atomically; its path.
    pub fn take(&mut self, shell: &mut dyn Shell, label: &str) -> Result<PathBuf, PhoneError> {
        let png = check_png(shell.screencap()?)?;
        let path = self.dir.join(format!("{:03}-{label}.png", self.next));
        let io = |source| PhoneError::Io {
            what: "screenshot",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        matador_lab::atomic::write_atomically(&path, &png).map_err(io)?;
        self.next += 1;
        Ok(path)
    }
}

/// A measurement's messages: the app's UI script for the phone's model, the texts to send
/// (none for a baseline run), the timers, and when the app was launched.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The UI script.
    pub script: UiScript,
    /// The message texts, in order; empty for a baseline run.
    pub messages: Vec<String>,
    /// The app's timers.
    pub timers: Timers,
    /// How long a baseline run keeps the app open after the launch (a message run's length).
    pub quiet_s: f64,
    /// Unix time the app was launched.
    pub launched: f64,
}

impl Conversation {
    /// The conversation of `app` on a phone of `model`; `None` when the app has no script
    /// for the model (the campaign checks rule that out).
    pub fn new(app: &AppSpec, model: &str, launched: f64, kind: RunKind) -> Option<Conversation> {
        let messages = match kind {
            RunKind::Messages => (1..=app.message.count)
                .map(|n| app.message_text(n))
                .collect(),
            RunKind::Baseline => Vec::new(),
        };
        Some(Conversation {
            script: app.script_for(model)?.clone(),
            messages,
            timers: app.timers,
            quiet_s: app.messaging_s(),
            launched,
        })
    }
}

/// Runs `steps`, a screenshot after each (labelled `prefix-kind`, or `prefix-NAME` for a
/// `screenshot: NAME` step); `message` is what `send_message` and `{message}` type.
pub fn run_script(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    steps: &[Step],
    message: &str,
    prefix: &str,
    shots: &mut Screenshots,
    run: &mut ScriptRun,
) -> Result<(), PhoneError> {
    for step in steps {
        let label = match step {
            Step::Screenshot(name) => format!("{prefix}-{name}"),
            other => format!("{prefix}-{}", other.kind()),
        };
        run_step(shell, clock, step, message, run)?;
        run.screenshots.push(shots.take(shell, &label)?);
    }
    Ok(())
}

fn run_step(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    step: &Step,
    message: &str,
    run: &mut ScriptRun,
) -> Result<(), PhoneError> {
    match step {
        Step::Tap([x, y]) => tap(shell, *x, *y),
        Step::SendTap([x, y]) => {
            tap(shell, *x, *y)?;
            // After the tap returns: `input` injects the event just before it exits, so
            // the app's traffic starts at most a moment earlier (inside the window before).
            run.sends.push(clock.now());
            Ok(())
        }
        Step::Swipe([x1, y1, x2, y2]) => shell
            .shell(&format!("input swipe {x1} {y1} {x2} {y2}"))
            .map(drop),
        Step::Text(text) => type_text(shell, &text.replace(MESSAGE_PLACEHOLDER, message)),
        Step::Keyevent(key) => shell
            .shell(&format!("input keyevent {}", keycode(key)))
            .map(drop),
        Step::WaitMs(ms) => {
            clock.sleep(Duration::from_millis(*ms));
            Ok(())
        }
        Step::Screenshot(_) => Ok(()),
        Step::SendMessage { field, button } => {
            tap(shell, field[0], field[1])?;
            type_text(shell, message)?;
            tap(shell, button[0], button[1])?;
            run.sends.push(clock.now());
            Ok(())
        }
    }
}

fn tap(shell: &mut dyn Shell, x: u32, y: u32) -> Result<(), PhoneError> {
    shell.shell(&format!("input tap {x} {y}")).map(drop)
}

/// `input text`, which reads `%s` as a space and cannot take a space itself.
fn type_text(shell: &mut dyn Shell, text: &str) -> Result<(), PhoneError> {
    if text.is_empty() {
        return Ok(());
    }
    shell
        .shell(&format!("input text {}", quote(&text.replace(' ', "%s"))))
        .map(drop)
}

/// `ENTER` → `KEYCODE_ENTER`; full names and numbers as they are.
fn keycode(key: &str) -> String {
    if key.starts_with("KEYCODE_") || key.bytes().all(|b| b.is_ascii_digit()) {
        key.to_string()
    } else {
        format!("KEYCODE_{key}")
    }
}

/// Runs a measurement's conversation: the `open` steps, then each message's `send` steps —
/// the first at launch + `before_first_s`, each next `between_s` after the previous send —
/// and waits `after_last_s` after the last. A baseline run sends nothing and keeps the app
/// open as long as a message run would take. Screenshots go into `dir`.
pub fn run_messages(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    conversation: &Conversation,
    dir: &Path,
) -> Result<ScriptRun, PhoneError> {
    let c = conversation;
    let mut shots = Screenshots::new(dir);
    let mut run = ScriptRun::default();
    run.screenshots.push(shots.take(shell, "launched")?);
    run_script(
        shell,
        clock,
        &c.script.open,
        "",
        "open",
        &mut shots,
        &mut run,
    )?;
    if c.messages.is_empty() {
        sleep_until(clock, c.launched + c.quiet_s);
        run.screenshots.push(shots.take(shell, "end")?);
        return Ok(run);
    }
    let mut start = c.launched + c.timers.before_first_s;
    for (i, text) in c.messages.iter().enumerate() {
        sleep_until(clock, start);
        let sent_before = run.sends.len();
        let prefix = format!("m{}", i + 1);
        run_script(
            shell,
            clock,
            &c.script.send,
            text,
            &prefix,
            &mut shots,
            &mut run,
        )?;
        let sent = run
            .sends
            .get(sent_before)
            .copied()
            .ok_or_else(|| PhoneError::NotVerified {
                step: "ui script",
                problem: "the send steps contain no sending step".into(),
            })?;
        start = sent + c.timers.between_s;
    }
    if let Some(last) = run.sends.last() {
        sleep_until(clock, last + c.timers.after_last_s);
    }
    run.screenshots.push(shots.take(shell, "end")?);
    Ok(run)
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
