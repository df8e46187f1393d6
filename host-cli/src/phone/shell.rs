//! The phone's side as the preparation and UI logic see it: a shell that runs a command
//! line, a screen capture, and a clock to wait with. The real shell is ADB (`adb.rs`); tests
//! use a scripted fake, so the logic is the same code path either way.

use super::error::PhoneError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A phone's shell.
pub trait Shell {
    /// Runs a command line (as `adb shell` does) and returns its standard output.
    fn shell(&mut self, command: &str) -> Result<String, PhoneError>;
    /// A PNG of the screen (`screencap -p`).
    fn screencap(&mut self) -> Result<Vec<u8>, PhoneError>;
}

/// Time, so tests can wait without sleeping.
pub trait Clock {
    /// Now, in Unix seconds.
    fn now(&self) -> f64;
    /// Waits.
    fn sleep(&self, d: Duration);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Sleeps until Unix time `t` (at once if it has passed).
pub fn sleep_until(clock: &dyn Clock, t: f64) {
    let left = t - clock.now();
    if left.is_finite() && left > 0.0 {
        clock.sleep(Duration::from_secs_f64(left));
    }
}

/// A word for the phone's `sh`: single-quoted unless it is plainly safe, so names, SSIDs,
/// passphrases and typed text can never run as commands.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The PNG file signature.
pub const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Checks that `bytes` are a PNG (a phone that cannot capture prints an error instead).
pub fn check_png(bytes: Vec<u8>) -> Result<Vec<u8>, PhoneError> {
    if bytes.starts_with(PNG_MAGIC) {
        Ok(bytes)
    } else {
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        Err(PhoneError::Unexpected {
            command: "screencap -p".into(),
            problem: format!("not a PNG: {start:?}"),
        })
    }
}

/// Polls `probe` until it reports done, waiting `poll` between tries, for at most `timeout`;
/// `probe` says what it saw when not done yet.
pub fn wait_for<T>(
    clock: &dyn Clock,
    step: &'static str,
    timeout: Duration,
    poll: Duration,
    mut probe: impl FnMut() -> Result<Result<T, String>, PhoneError>,
) -> Result<T, PhoneError> {
    let start = clock.now();
    loop {
        match probe()? {
            Ok(v) => return Ok(v),
            Err(last) => {
                let waited_s = clock.now() - start;
                if waited_s >= timeout.as_secs_f64() {
                    return Err(PhoneError::Timeout {
                        step,
                        waited_s,
                        last,
                    });
                }
                clock.sleep(poll);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_words_whole_for_the_phone_shell() {
        for word in ["plain", "two words", "it's", "$(reboot)", "a;b", "", "%s"] {
            let line = format!("echo {}", quote(word));
            let split = matador_lab::phone::shell::split(&line).expect("splits");
            assert_eq!(split.len(), 1, "{line}");
            assert_eq!(split[0].1, ["echo", word], "{line}");
        }
        assert_eq!(quote("com.example/.Main"), "com.example/.Main");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn only_pngs_pass() {
        assert!(check_png(b"\x89PNG\r\n\x1a\nrest".to_vec()).is_ok());
        let e = check_png(b"screencap: error".to_vec()).expect_err("not a png");
        assert!(e.to_string().contains("screencap: error"), "{e}");
    }
}
