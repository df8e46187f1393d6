//! Certificate pinning: telling "the client refused our certificate" from other handshake
//! failures, and remembering which client and name to let through untouched afterwards, so
//! an app that pins is reported as such instead of being broken silently.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use rustls::AlertDescription;

use crate::leaf::LeafName;

/// How many (client, name) pairs are remembered; past it the oldest is forgotten.
pub const PINNED_CAPACITY: usize = 4096;

/// A client that closes a completed handshake this soon, having sent nothing, checked our
/// certificate after the handshake (OkHttp's `CertificatePinner` does) and refused it.
pub const SILENT_CLOSE_WINDOW: Duration = Duration::from_secs(2);

/// How a client refused our certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The alert it sent (snake_case, as RFC 8446 names it), if any.
    pub alert: Option<String>,
    /// What happened, for the record and the log.
    pub detail: &'static str,
}

/// The alerts with which clients refuse a certificate chain.
fn refuses_certificate(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied
    )
}

/// RFC 8446's name of an alert (`unknown_ca`), for records that people read.
pub fn alert_name(alert: AlertDescription) -> String {
    let debug = format!("{alert:?}");
    if debug == "UnknownCA" {
        return "unknown_ca".into();
    }
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether a failed client handshake means the client refused our certificate: a
/// certificate alert, or the connection closed once it had our certificate (we only start
/// the handshake after the ClientHello, so the client has our flight when it goes).
pub fn client_rejection(err: &io::Error) -> Option<Rejection> {
    if let Some(rustls::Error::AlertReceived(alert)) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return refuses_certificate(*alert).then(|| Rejection {
            alert: Some(alert_name(*alert)),
            detail: "the client refused the interception certificate with an alert",
        });
    }
    matches!(
        err.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
    .then_some(Rejection {
        alert: None,
        detail: "the client closed the connection after our certificate, without an alert",
    })
}

/// Whether a connection whose handshake completed was refused afterwards: the client sent
/// nothing and closed within [`SILENT_CLOSE_WINDOW`].
pub fn silent_rejection(
    bytes_to_server: u64,
    client_closed_after: Option<Duration>,
) -> Option<Rejection> {
    match client_closed_after {
        Some(after) if bytes_to_server == 0 && after <= SILENT_CLOSE_WINDOW => Some(Rejection {
            alert: None,
            detail: "the client closed right after the handshake without sending anything \
                     (a pin check after the handshake)",
        }),
        _ => None,
    }
}

/// Who to let through: a client address and the name (SNI, else destination address).
pub type PinKey = (IpAddr, LeafName);

/// The clients and names that pinned, bounded.
#[derive(Debug, Default)]
pub struct PinnedSet {
    inner: Mutex<(HashSet<PinKey>, VecDeque<PinKey>)>,
}

impl PinnedSet {
    /// Remembers that `key` pinned; returns whether it is new.
    pub fn insert(&self, key: PinKey) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if set.contains(&key) {
            return false;
        }
        while order.len() >= PINNED_CAPACITY {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        order.push_back(key.clone());
        set.insert(key)
    }

    /// Whether `key` pinned before.
    pub fn contains(&self, key: &PinKey) -> bool {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_error(e: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn certificate_alerts_and_early_closes_are_rejections_other_failures_are_not() {
        let r = client_rejection(&tls_error(rustls::Error::AlertReceived(
            AlertDescription::UnknownCA,
        )));
        assert_eq!(r.and_then(|r| r.alert).as_deref(), Some("unknown_ca"));
        let r = client_rejection(&tls_error(rustls::Error::AlertReceived(
            AlertDescription::CertificateUnknown,
        )));
        assert_eq!(
            r.and_then(|r| r.alert).as_deref(),
            Some("certificate_unknown")
        );
        let eof = client_rejection(&io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(eof.is_some_and(|r| r.alert.is_none()));

        for other in [
            tls_error(rustls::Error::AlertReceived(
                AlertDescription::ProtocolVersion,
            )),
            tls_error(rustls::Error::DecryptError),
            io::Error::from(io::ErrorKind::TimedOut),
        ] {
            assert_eq!(client_rejection(&other), None, "{other}");
        }
    }

    #[test]
    fn a_quick_silent_close_after_the_handshake_is_a_rejection() {
        assert!(silent_rejection(0, Some(Duration::from_millis(30))).is_some());
        assert!(silent_rejection(10, Some(Duration::from_millis(30))).is_none());
        assert!(silent_rejection(0, Some(Duration::from_secs(30))).is_none());
        assert!(silent_rejection(0, None).is_none());
    }

    #[test]
    fn the_pinned_set_remembers_and_is_bounded() {
        let set = PinnedSet::default();
        let key =
            |i: usize| -> PinKey { ([10, 0, 0, 2].into(), LeafName::Dns(format!("h{i}.example"))) };
        assert!(set.insert(key(0)));
        assert!(!set.insert(key(0)));
        assert!(set.contains(&key(0)));
        assert!(!set.contains(&key(1)));
        for i in 1..=PINNED_CAPACITY {
            set.insert(key(i));
        }
        assert!(!set.contains(&key(0)), "the oldest is forgotten");
        assert!(set.contains(&key(PINNED_CAPACITY)));
    }
}
