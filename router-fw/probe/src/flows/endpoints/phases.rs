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
        self.phase_of(start_ns, start_ns)
    }

    /// The phase of activity from `first_ns` to `last_ns`: messaging when it overlaps a
    /// message's window, authentication when it starts between launch and the first
    /// message, background otherwise.
    pub fn phase_of(&self, first_ns: u64, last_ns: u64) -> Phase {
        if self.windows_hit(first_ns, last_ns).next().is_some() {
            return Phase::Messaging;
        }
        let t = first_ns as f64 / 1e9;
        let first_message = self.messages.iter().copied().fold(f64::INFINITY, f64::min);
        if t >= self.launched && t < first_message {
            return Phase::Authentication;
        }
        Phase::Background
    }

    /// The indices of the messages whose window activity from `first_ns` to `last_ns`
    /// overlaps.
    pub fn windows_hit(&self, first_ns: u64, last_ns: u64) -> impl Iterator<Item = usize> + '_ {
        let (a, b) = (first_ns as f64 / 1e9, last_ns as f64 / 1e9);
        self.messages
            .iter()
            .enumerate()
            .filter(move |(_, &m)| a <= m + self.window_after && b >= m - self.window_before)
            .map(|(i, _)| i)
    }

    /// An endpoint's phase from the phases of its bursts and how many message windows it
    /// was active in: messaging only when active around *every* message (so a periodic
    /// background service that happens to fire near one message is not mistaken for the
    /// app's backend), authentication when active only between launch and the first
    /// message, background otherwise.
    pub fn endpoint_phase(&self, burst_phases: &[Phase], windows_hit: usize) -> Phase {
        if !self.messages.is_empty() && windows_hit >= self.messages.len() {
            Phase::Messaging
        } else if burst_phases.iter().all(|p| *p == Phase::Authentication)
            && !burst_phases.is_empty()
        {
            Phase::Authentication
        } else {
            Phase::Background
        }
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
    fn activity_overlapping_a_window_is_messaging() {
        let t = Timers::new(100.0, vec![130.0, 160.0]);
        // A burst that began before the window and lasted into it.
        assert_eq!(t.phase_of(120 * S, 129 * S + S / 2), Phase::Messaging);
        assert_eq!(t.windows_hit(120 * S, 170 * S).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(t.windows_hit(140 * S, 150 * S).count(), 0);
    }

    #[test]
    fn an_endpoint_is_messaging_only_around_every_message() {
        use Phase::*;
        let t = Timers::new(100.0, vec![130.0, 160.0]);
        assert_eq!(t.endpoint_phase(&[Authentication, Messaging], 2), Messaging);
        // Periodic background traffic that fired near one of two messages.
        assert_eq!(
            t.endpoint_phase(&[Authentication, Messaging], 1),
            Background
        );
        assert_eq!(t.endpoint_phase(&[Authentication], 0), Authentication);
        assert_eq!(
            t.endpoint_phase(&[Authentication, Background], 0),
            Background
        );
        let none = Timers::new(100.0, vec![]);
        assert_eq!(none.endpoint_phase(&[Authentication], 0), Authentication);
    }

    #[test]
    fn without_messages_everything_after_launch_is_authentication() {
        let t = Timers::new(100.0, vec![]);
        assert_eq!(t.phase_at(99 * S), Phase::Background);
        assert_eq!(t.phase_at(5000 * S), Phase::Authentication);
    }
}
