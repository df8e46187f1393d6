//! The phone's stub resolver: an A query over UDP to the DNS server of the Wi-Fi lease, as
//! Android's resolver does, and an HTTP-DNS lookup for apps that bypass it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one DNS or HTTP-DNS try may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest name we query (RFC 1035: 255 bytes on the wire).
const MAX_NAME: usize = 253;

/// A DNS query for the A record of `name`, or `None` if the name cannot be encoded.
pub fn a_query(id: u16, name: &str) -> Option<Vec<u8>> {
    if name.is_empty() || name.len() > MAX_NAME {
        return None;
    }
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    Some(q)
}

/// Skips a (possibly compressed) name at `at`; the offset after it, or `None` if truncated.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return msg.get(at + 1).map(|_| at + 2),
            l if l & 0xc0 == 0 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// The A records in a response to query `id`; `None` if it is not a usable answer.
pub fn a_answers(msg: &[u8], id: u16) -> Option<Vec<Ipv4Addr>> {
    let header = msg.get(..12)?;
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    if word(0) != id || header[2] & 0x80 == 0 || header[3] & 0x0f != 0 {
        return None;
    }
    let (questions, answers) = (word(4), word(6));
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let fixed = msg.get(at..at + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = msg.get(at + 10..at + 10 + rdlen)?;
        if rtype == 1 && rdlen == 4 {
            out.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + rdlen;
    }
    Some(out)
}

/// Resolves `name` to its first A record through `server` (two tries).
pub async fn resolve(server: Ipv4Addr, name: &str) -> Result<Ipv4Addr, String> {
    let id = (std::process::id() as u16) ^ (name.len() as u16).rotate_left(7);
    let query = a_query(id, name).ok_or_else(|| format!("cannot query {name:?}"))?;
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0")
        .await
        .map_err(|e| format!("DNS socket: {e}"))?;
    let target = SocketAddr::from((server, 53));
    let mut buf = [0u8; 1500];
    for _ in 0..2 {
        socket
            .send_to(&query, target)
            .await
            .map_err(|e| format!("DNS to {server}: {e}"))?;
        let reply = tokio::time::timeout(TRY_TIMEOUT, socket.recv_from(&mut buf)).await;
        let Ok(Ok((n, from))) = reply else { continue };
        if from != target {
            continue;
        }
        return match buf.get(..n).and_then(|m| a_answers(m, id)) {
            Some(addrs) => addrs
                .first()
                .copied()
                .ok_or_else(|| format!("{name}: no A record")),
            None => Err(format!("{name}: bad DNS answer")),
        };
    }
    Err(format!("{name}: DNS server {server} did not answer"))
}

/// Asks an HTTP-DNS server (`GET /d?dn=NAME`) for the address of `name`.
pub async fn http_dns(server: IpAddr, host: &str, name: &str) -> Result<IpAddr, String> {
    let io = |e: std::io::Error| format!("HTTP-DNS {host}: {e}");
    let request = format!(
        "GET /d?dn={name} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: MATAdOR-lab-app/1\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect((server, 80))
            .await
            .map_err(io)?;
        s.write_all(request.as_bytes()).await.map_err(io)?;
        let mut body = Vec::new();
        s.take(4096).read_to_end(&mut body).await.map_err(io)?;
        Ok::<_, String>(body)
    };
    let reply = tokio::time::timeout(TRY_TIMEOUT * 2, exchange)
        .await
        .map_err(|_| format!("HTTP-DNS {host}: timed out"))??;
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "HTTP-DNS {host}: {}",
            head.lines().next().unwrap_or("no answer")
        ));
    }
    body.trim()
        .parse()
        .map_err(|_| format!("HTTP-DNS {host}: not an address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn response(id: u16, name: &str, answers: &[[u8; 4]]) -> Vec<u8> {
        let mut m = a_query(id, name).expect("query");
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = answers.len() as u8;
        // A CNAME first, then the A records, all pointing back at the question's name.
        for a in answers {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            m.extend_from_slice(a);
        }
        m
    }

    #[test]
    fn queries_and_answers_round_trip() {
        let m = response(7, "chat.example", &[[192, 0, 2, 25], [192, 0, 2, 26]]);
        assert_eq!(
            a_answers(&m, 7),
            Some(vec![
                Ipv4Addr::new(192, 0, 2, 25),
                Ipv4Addr::new(192, 0, 2, 26)
            ])
        );
        assert_eq!(a_answers(&m, 8), None, "another query's answer");
        assert_eq!(a_answers(&m[..m.len() - 1], 7), None, "truncated");
        assert_eq!(a_query(1, &"a".repeat(64)), None, "label too long");
        assert_eq!(a_query(1, "a..b"), None, "empty label");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = a_answers(&bytes, 0);
        }
    }
}
