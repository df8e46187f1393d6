//! A minimal NTP server (RFC 5905): answers client requests with the host's current time.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;

/// Size of an NTP header without extension fields or MAC.
const HEADER_LEN: usize = 48;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
const MODE_CLIENT: u8 = 3;
const MODE_SERVER: u8 = 4;
const STRATUM: u8 = 2;
/// Precision of the clock, log2 seconds (about a microsecond).
const PRECISION: i8 = -20;
/// Reference id of a stratum-2 server: its upstream's IPv4 address (an arbitrary lab value).
const REFERENCE_ID: [u8; 4] = [127, 127, 1, 0];

/// Answers NTP client requests (mode 3) with a server reply (mode 4, stratum 2, current time); ignores anything else.
pub async fn serve_ntp(socket: UdpSocket) -> io::Result<()> {
    // Requests may carry extension fields; anything beyond this is truncated, which is fine
    // since only the header is read.
    let mut buf = [0u8; 1024];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) if is_transient(&e) => {
                tracing::debug!(error = %e, "ntp receive failed, continuing");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "ntp socket failed");
                return Err(e);
            }
        };
        let received_at = SystemTime::now();
        let Some(request) = buf.get(..len) else {
            continue;
        };
        let Some(reply) = reply_to(request, received_at, SystemTime::now) else {
            tracing::debug!(%peer, len, "ignored non-client NTP packet");
            continue;
        };
        match socket.send_to(&reply, peer).await {
            Ok(_) => tracing::info!(%peer, "ntp request answered"),
            Err(e) if is_transient(&e) || e.kind() == io::ErrorKind::NetworkUnreachable => {
                tracing::debug!(%peer, error = %e, "ntp reply failed");
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "ntp reply failed");
            }
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The server reply to `request`, or `None` if it is not an NTP client request. `now` gives the
/// transmit time, read as late as possible.
fn reply_to(
    request: &[u8],
    received_at: SystemTime,
    now: impl FnOnce() -> SystemTime,
) -> Option<[u8; HEADER_LEN]> {
    let first = *request.first()?;
    if request.len() < HEADER_LEN || first & 0x07 != MODE_CLIENT {
        return None;
    }
    let version = (first >> 3) & 0x07;
    if !(1..=4).contains(&version) {
        return None;
    }
    let poll = *request.get(2)?;
    let origin = request.get(40..48)?;

    let mut reply = [0u8; HEADER_LEN];
    reply[0] = (version << 3) | MODE_SERVER; // leap indicator 0: no warning
    reply[1] = STRATUM;
    reply[2] = poll;
    reply[3] = PRECISION.to_be_bytes()[0];
    // Root delay and dispersion: 1/64 s each, in NTP short format (16.16).
    reply[4..8].copy_from_slice(&0x0000_0400u32.to_be_bytes());
    reply[8..12].copy_from_slice(&0x0000_0400u32.to_be_bytes());
    reply[12..16].copy_from_slice(&REFERENCE_ID);
    // Reference time: the last "synchronisation", a little while ago.
    let reference = received_at
        .checked_sub(Duration::from_secs(16))
        .unwrap_or(received_at);
    reply[16..24].copy_from_slice(&ntp_timestamp(reference));
    reply[24..32].copy_from_slice(origin);
    reply[32..40].copy_from_slice(&ntp_timestamp(received_at));
    reply[40..48].copy_from_slice(&ntp_timestamp(now()));
    Some(reply)
}

/// `time` as an NTP timestamp: 32 bits of seconds since 1900 (modulo the era) and 32 bits of
/// fraction.
fn ntp_timestamp(time: SystemTime) -> [u8; 8] {
    let since_unix = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    // Truncation to 32 bits is the NTP era wrap-around (2036), which clients resolve.
    let seconds = (since_unix.as_secs().wrapping_add(NTP_UNIX_OFFSET) & 0xFFFF_FFFF) as u32;
    let fraction = ((u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&seconds.to_be_bytes());
    out[4..].copy_from_slice(&fraction.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes an NTP timestamp, assuming era 0 (1900-2036) or era 1 shortly after.
    fn decode(bytes: &[u8]) -> SystemTime {
        let seconds = u32::from_be_bytes(bytes[..4].try_into().unwrap());
        let fraction = u32::from_be_bytes(bytes[4..8].try_into().unwrap());
        let mut unix = i64::from(seconds) - NTP_UNIX_OFFSET as i64;
        if unix < 0 {
            unix += 1 << 32; // era 1
        }
        let nanos = (u64::from(fraction) * 1_000_000_000) >> 32;
        UNIX_EPOCH + Duration::from_secs(unix as u64) + Duration::from_nanos(nanos)
    }

    fn distance(a: SystemTime, b: SystemTime) -> Duration {
        a.duration_since(b)
            .or_else(|_| b.duration_since(a))
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn answers_a_client_request_with_the_current_time() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let task = tokio::spawn(serve_ntp(server));

        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        // First a packet that is not a client request: it must be ignored, not answered.
        let mut bogus = [0u8; HEADER_LEN];
        bogus[0] = (4 << 3) | MODE_SERVER;
        bogus[2] = 9; // a reply to this would echo poll 9
        client.send(&bogus).await.unwrap();

        let mut request = [0u8; HEADER_LEN];
        request[0] = (4 << 3) | MODE_CLIENT; // LI 0, version 4, mode 3
        request[2] = 6;
        let origin = ntp_timestamp(SystemTime::now());
        request[40..48].copy_from_slice(&origin);
        client.send(&request).await.unwrap();

        let mut reply = [0u8; 512];
        let len = tokio::time::timeout(Duration::from_secs(10), client.recv(&mut reply))
            .await
            .expect("no NTP reply within 10 s")
            .unwrap();
        let now = SystemTime::now();
        assert_eq!(len, HEADER_LEN);
        assert_eq!(reply[0] & 0x07, MODE_SERVER, "mode");
        assert_eq!((reply[0] >> 3) & 0x07, 4, "version");
        assert_eq!(reply[0] >> 6, 0, "leap indicator");
        assert_eq!(reply[1], STRATUM);
        assert_eq!(reply[2], 6, "poll is echoed");
        assert_eq!(
            &reply[24..32],
            &origin,
            "origin timestamp is the request's transmit"
        );
        let transmit = decode(&reply[40..48]);
        assert!(
            distance(transmit, now) < Duration::from_secs(5),
            "transmit {transmit:?} vs {now:?}"
        );
        let receive = decode(&reply[32..40]);
        assert!(receive <= transmit);
        task.abort();
    }

    #[test]
    fn ignores_short_and_non_client_packets() {
        let now = SystemTime::now();
        assert!(reply_to(&[], now, SystemTime::now).is_none());
        assert!(reply_to(&[(4 << 3) | MODE_CLIENT; 47], now, SystemTime::now).is_none());
        let mut symmetric = [0u8; HEADER_LEN];
        symmetric[0] = (4 << 3) | 1;
        assert!(reply_to(&symmetric, now, SystemTime::now).is_none());
        let mut version0 = [0u8; HEADER_LEN];
        version0[0] = MODE_CLIENT;
        assert!(reply_to(&version0, now, SystemTime::now).is_none());
    }

    #[test]
    fn timestamps_use_the_ntp_epoch() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        let ts = ntp_timestamp(t);
        assert_eq!(
            u32::from_be_bytes(ts[..4].try_into().unwrap()),
            2_208_988_801
        );
        assert_eq!(u32::from_be_bytes(ts[4..].try_into().unwrap()), 1 << 31);
        assert_eq!(decode(&ts), t);
    }
}
