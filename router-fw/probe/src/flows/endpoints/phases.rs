//! The phases of a measurement, from its message timers: authentication between the app's
//! launch and the first message, messaging in a window around each message, background the
//! rest.

use serde::{Deserialize, Serialize};

/// What the app was doing when a flow started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Near a message being sent.
    Messaging,
    /// After launch, before the first message: login, key exchange, contact sync.
    Authentication,
    /// Anything else.
    Background,
}

/// The timers of one measurement, in seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Timers {
    /// When the app was launched.
    pub launched: f64,
    /// When each message was sent.
    #[serde(default)]
    pub messages: Vec<f64>,
    /// Seconds before a message that still count as messaging.
    #[serde(default = "default_before")]
    pub window_before: f64,
    /// Seconds after a message that still count as messaging.
    #[serde(default = "default_after")]
    pub window_after: f64,
}

fn default_before() -> f64 {
    1.0
}

fn default_after() -> f64 {
    5.0
}

impl Timers {
    /// Timers with the default windows (1 s before, 5 s after each message).
    pub fn new(launched: f64, messages: Vec<f64>) -> Self {
        Timers {
            launched,
            messages,
            window_before: default_before(),
            window_after: default_after(),
        }
    }

    /// The phase of a flow that started at `start_ns` (ns since the Unix epoch).
    pub fn phase_at(&self, start_ns: u64) -> Phase {
        let t = start_ns as f64 / 1e9;
        if self
            .messages
            .iter()
            .any(|m| t >= m - self.window_before && t <= m + self.window_after)
        {
            return Phase::Messaging;
        }
        let first_message = self.messages.iter().copied().fold(f64::INFINITY, f64::min);
        if t >= self.launched && t < first_message {
            return Phase::Authentication;
        }
        Phase::Background
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn phases_follow_the_timers() {
        let t = Timers::new(100.0, vec![130.0, 160.0]);
        assert_eq!(t.phase_at(90 * S), Phase::Background);
        assert_eq!(t.phase_at(100 * S), Phase::Authentication);
        assert_eq!(t.phase_at(128 * S), Phase::Authentication);
        assert_eq!(t.phase_at(129 * S), Phase::Messaging);
        assert_eq!(t.phase_at(135 * S), Phase::Messaging);
        assert_eq!(t.phase_at(136 * S), Phase::Background);
        assert_eq!(t.phase_at(161 * S), Phase::Messaging);
        assert_eq!(t.phase_at(200 * S), Phase::Background);
    }

    #[test]
    fn without_messages_everything_after_launch_is_authentication() {
        let t = Timers::new(100.0, vec![]);
        assert_eq!(t.phase_at(99 * S), Phase::Background);
        assert_eq!(t.phase_at(5000 * S), Phase::Authentication);
    }
}
