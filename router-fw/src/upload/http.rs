//! The few bytes of HTTP/1.1 the uploader speaks: one PUT per connection (`Connection:
//! close`), and the collector's answer read whole, bounded. Hand-written because the
//! router's only HTTP client would otherwise bring hyper's client half into a binary that
//! must stay under 4 MiB.

use serde::Deserialize;

/// The most of an answer the uploader reads: a status line, a few headers and a small JSON.
pub const MAX_ANSWER: usize = 16 * 1024;

/// What the collector answered, as far as the uploader cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body, as text (lossy).
    pub body: String,
}

/// The collector's acknowledgement: the hash of what it stored.
#[derive(Debug, Deserialize)]
pub struct Ack {
    /// SHA-256 of the stored bytes, lowercase hex.
    pub sha256: String,
}

/// An answer that is not HTTP.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    /// No complete header within [`MAX_ANSWER`] bytes, or the connection closed early.
    #[error("the collector's answer has no complete header")]
    Incomplete,
    /// The status line is not `HTTP/1.x NNN ...`.
    #[error("the collector's answer does not start with an HTTP status line")]
    StatusLine,
}

/// The request head of an upload.
pub fn request_head(
    host: &str,
    path: &str,
    token: &str,
    length: u64,
    headers: &[(&str, &str)],
) -> String {
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/octet-stream\r\ncontent-length: {length}\r\nconnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// Parses a whole answer (what arrived until the collector closed the connection).
pub fn parse_answer(bytes: &[u8]) -> Result<Answer, AnswerError> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(AnswerError::Incomplete)?;
    let head = &bytes[..end];
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let line = &head[..line_end];
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or(AnswerError::StatusLine)?;
    let code = rest.get(..3).ok_or(AnswerError::StatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
        return Err(AnswerError::StatusLine);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&bytes[end + 4..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_answer_gives_its_status_and_body() {
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"sha256\":\"ab\"}",
        )
        .expect("answer");
        assert_eq!(a.status, 200);
        let ack: Ack = serde_json::from_str(&a.body).expect("ack");
        assert_eq!(ack.sha256, "ab");
        assert_eq!(
            parse_answer(b"HTTP/1.0 409\r\n\r\n")
                .expect("short reason")
                .status,
            409
        );
    }

    #[test]
    fn what_is_not_an_http_answer_is_refused() {
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\n"),
            Err(AnswerError::Incomplete)
        );
        assert_eq!(
            parse_answer(b"SSH-2.0-x\r\n\r\n"),
            Err(AnswerError::StatusLine)
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(AnswerError::StatusLine)
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 2000 OK\r\n\r\n"),
            Err(AnswerError::StatusLine)
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 20\r\n\r\n"),
            Err(AnswerError::StatusLine)
        );
    }

    #[test]
    fn the_request_head_carries_length_token_and_extra_headers() {
        let h = request_head(
            "10.0.0.1:8444",
            "/v1/uploads/r/m.flows",
            "tok",
            12,
            &[("x-a", "1")],
        );
        assert!(h.starts_with("PUT /v1/uploads/r/m.flows HTTP/1.1\r\n"));
        assert!(h.contains("authorization: Bearer tok\r\n"));
        assert!(h.contains("content-length: 12\r\n"));
        assert!(h.ends_with("x-a: 1\r\n\r\n"));
    }

    proptest! {
        #[test]
        fn any_bytes_give_an_answer_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_answer(&bytes);
        }

        #[test]
        fn every_three_digit_status_is_read_back(status in 100u16..1000, body in "[ -~]{0,40}") {
            let text = format!("HTTP/1.1 {status} Whatever\r\nx: y\r\n\r\n{body}");
            let a = parse_answer(text.as_bytes()).expect("answer");
            prop_assert_eq!(a.status, status);
            prop_assert_eq!(a.body, body);
        }
    }
}
