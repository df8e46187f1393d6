//! Measurements: what the host asks a router to run (`POST /v1/measurements`) and how it goes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::check::{check_id, Invalid};

/// Longest measurement the router accepts: one day.
pub const MAX_DURATION_S: u32 = 24 * 60 * 60;
/// Longest app identifier (Android package names are far shorter).
const MAX_APP_LEN: usize = 255;
/// Most message times in one stop request.
pub const MAX_MESSAGES: usize = 10_000;
/// Widest window around a message.
const MAX_WINDOW_S: f64 = 3600.0;

/// Start a measurement on one AP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartMeasurement {
    /// Chosen by the host, unique per router: `[A-Za-z0-9._-]{1,64}`, not starting with `.`.
    /// Starting the same id again is refused.
    pub id: String,
    /// The AP whose phone is measured.
    pub ap: String,
    /// The app under test (Android package name), recorded with the results.
    pub app: String,
    /// Capture the phone's traffic (pcapng) and extract its flows.
    pub capture: bool,
    /// Trace the paths to the app's service endpoints (and to `trace_peer`) afterwards.
    pub traces: bool,
    /// Safety limit: the capture stops after this many seconds even without a stop request.
    pub duration_s: u32,
    /// How close to a message a flow must start to count as messaging.
    #[serde(default)]
    pub windows: Windows,
    /// The other router's vantage node, traced with TCP on a random high port (the network path).
    #[serde(default)]
    pub trace_peer: Option<IpAddr>,
    /// The app's endpoint rules, YAML (`matador_probe::flows::Rules`): deny/allow lists and the
    /// noise baseline. Default: only DNS to the resolver is dropped.
    #[serde(default)]
    pub rules: Option<String>,
    /// The device measured, on an AP that serves several (a WireGuard ingress): only its
    /// traffic is captured and its results are attributed to it. Absent: the AP's only
    /// phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Decrypt this device's TLS (port 443) through the router's interception proxy for the
    /// measurement; only for lab test phones whose policy says `tls_interception: true`.
    /// Absent means false, so older hosts and routers still understand each other.
    #[serde(default, skip_serializing_if = "is_false")]
    pub intercept_tls: bool,
}

/// Whether a flag is off (such flags are left out of the JSON).
fn is_false(flag: &bool) -> bool {
    !*flag
}

/// Longest rules text accepted.
pub const MAX_RULES_LEN: usize = 256 * 1024;

/// Windows around each message time, in seconds (as `matador_probe::flows::Timers`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// Seconds before a message that still count as messaging.
    pub before_s: f64,
    /// Seconds after a message that still count as messaging.
    pub after_s: f64,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            before_s: 1.0,
            after_s: 5.0,
        }
    }
}

/// `POST /v1/measurements/{id}/stop`: end the capture; the router then extracts flows with
/// these times and traces. The body may be empty (`{}`): flows are then not split by timing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopMeasurement {
    /// When the host launched the app, Unix seconds (router and host clocks are NTP-synced).
    #[serde(default)]
    pub launched: Option<f64>,
    /// When the host sent each message, Unix seconds.
    #[serde(default)]
    pub messages: Vec<f64>,
}

/// A time in Unix seconds that can be one: finite and not negative.
fn check_time(field: &str, t: f64) -> Result<(), Invalid> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            "must be Unix seconds (finite, not negative)",
        ))
    }
}

impl StopMeasurement {
    /// Checks every field; the router refuses a request that fails this.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(t) = self.launched {
            check_time("launched", t)?;
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(Invalid::new(
                "messages",
                format!("{} times, at most {MAX_MESSAGES}", self.messages.len()),
            ));
        }
        for (i, &t) in self.messages.iter().enumerate() {
            check_time(&format!("messages[{i}]"), t)?;
        }
        Ok(())
    }
}

impl StartMeasurement {
    /// Checks every field; the router refuses a request that fails this.
    pub fn validate(&self) -> Result<(), Invalid> {
        check_id("id", &self.id)?;
        check_id("ap", &self.ap)?;
        if let Some(d) = &self.device {
            crate::ingress::check_device("device", d)?;
        }
        if self.app.is_empty() || self.app.len() > MAX_APP_LEN {
            return Err(Invalid::new(
                "app",
                format!("must be 1 to {MAX_APP_LEN} characters"),
            ));
        }
        if let Some(c) = self
            .app
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Invalid::new("app", format!("{c:?} is not allowed")));
        }
        if self.duration_s == 0 || self.duration_s > MAX_DURATION_S {
            return Err(Invalid::new(
                "duration_s",
                format!("must be 1 to {MAX_DURATION_S}"),
            ));
        }
        if self.rules.as_ref().is_some_and(|r| r.len() > MAX_RULES_LEN) {
            return Err(Invalid::new(
                "rules",
                format!("longer than {MAX_RULES_LEN} bytes"),
            ));
        }
        for (field, w) in [
            ("windows.before_s", self.windows.before_s),
            ("windows.after_s", self.windows.after_s),
        ] {
            if !(0.0..=MAX_WINDOW_S).contains(&w) {
                return Err(Invalid::new(
                    field,
                    format!("must be 0 to {MAX_WINDOW_S} seconds"),
                ));
            }
        }
        Ok(())
    }
}

/// Where a measurement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementState {
    /// Capturing.
    Running,
    /// Capture stopped; extracting flows and tracing paths.
    Processing,
    /// All results stored.
    Done,
    /// Ended without all its results (see `detail`); the results it has are kept.
    Failed,
}

/// A measurement as the router sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasurementStatus {
    /// The id the host chose.
    pub id: String,
    /// The AP measured.
    pub ap: String,
    /// The app under test.
    pub app: String,
    /// Where it is.
    pub state: MeasurementState,
    /// When it started, Unix seconds (the router's clock).
    pub started: u64,
    /// When it reached `done` or `failed`.
    pub ended: Option<u64>,
    /// Ids of the results stored so far.
    pub results: Vec<String>,
    /// Why it failed, or other notes for a person.
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> StartMeasurement {
        StartMeasurement {
            id: "m1".into(),
            ap: "ap0".into(),
            app: "org.example.chat".into(),
            capture: true,
            traces: true,
            duration_s: 120,
            windows: Windows::default(),
            trace_peer: Some("198.51.100.7".parse().unwrap()),
            rules: None,
            device: None,
            intercept_tls: false,
        }
    }

    #[test]
    fn a_sound_request_validates() {
        assert_eq!(start().validate(), Ok(()));
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |m: StartMeasurement| m.validate().unwrap_err().field;
        assert_eq!(
            field(StartMeasurement {
                id: "../x".into(),
                ..start()
            }),
            "id"
        );
        assert_eq!(
            field(StartMeasurement {
                ap: String::new(),
                ..start()
            }),
            "ap"
        );
        assert_eq!(
            field(StartMeasurement {
                app: "a b".into(),
                ..start()
            }),
            "app"
        );
        assert_eq!(
            field(StartMeasurement {
                duration_s: 0,
                ..start()
            }),
            "duration_s"
        );
        let windows = Windows {
            before_s: f64::NAN,
            after_s: 1.0,
        };
        assert_eq!(
            field(StartMeasurement { windows, ..start() }),
            "windows.before_s"
        );
        let windows = Windows {
            before_s: 1.0,
            after_s: -1.0,
        };
        assert_eq!(
            field(StartMeasurement { windows, ..start() }),
            "windows.after_s"
        );
    }

    #[test]
    fn stop_times_are_checked() {
        assert_eq!(StopMeasurement::default().validate(), Ok(()));
        let stop = StopMeasurement {
            launched: Some(1.7e9),
            messages: vec![1.7e9 + 10.0],
        };
        assert_eq!(stop.validate(), Ok(()));
        let stop = StopMeasurement {
            launched: None,
            messages: vec![1.0, f64::INFINITY],
        };
        assert_eq!(stop.validate().unwrap_err().field, "messages[1]");
        let stop = StopMeasurement {
            launched: Some(-1.0),
            messages: vec![],
        };
        assert_eq!(stop.validate().unwrap_err().field, "launched");
        let stop = StopMeasurement {
            launched: None,
            messages: vec![1.0; MAX_MESSAGES + 1],
        };
        assert_eq!(stop.validate().unwrap_err().field, "messages");
    }

    #[test]
    fn unknown_fields_are_refused_and_optional_ones_default() {
        let json = r#"{"id":"m","ap":"a","app":"x","capture":true,"traces":false,"duration_s":5}"#;
        let m: StartMeasurement = serde_json::from_str(json).unwrap();
        assert_eq!(m.windows, Windows::default());
        assert_eq!(m.trace_peer, None);
        let typo = json.replace("\"traces\"", "\"trace\"");
        let err = serde_json::from_str::<StartMeasurement>(&typo).unwrap_err();
        assert!(err.to_string().contains("unknown field `trace`"), "{err}");
        let stop: StopMeasurement = serde_json::from_str("{}").unwrap();
        assert_eq!(stop, StopMeasurement::default());
    }

    #[test]
    fn intercept_tls_is_off_unless_asked_and_left_out_when_off() {
        let json = r#"{"id":"m","ap":"a","app":"x","capture":true,"traces":false,"duration_s":5}"#;
        let m: StartMeasurement = serde_json::from_str(json).unwrap();
        assert!(!m.intercept_tls);
        let text = serde_json::to_string(&start()).unwrap();
        assert!(!text.contains("intercept_tls"), "{text}");
        let on = StartMeasurement {
            intercept_tls: true,
            ..start()
        };
        let text = serde_json::to_string(&on).unwrap();
        assert!(text.contains(r#""intercept_tls":true"#), "{text}");
        assert_eq!(serde_json::from_str::<StartMeasurement>(&text).unwrap(), on);
        assert_eq!(on.validate(), Ok(()));
    }
}
