//! The first HTTP/1.x request of a connection: its Host and User-Agent headers.

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
];

/// Why no request was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The header section has not ended yet.
    #[error("HTTP request incomplete")]
    Incomplete,
    /// Not an HTTP/1.x request.
    #[error("not an HTTP/1.x request")]
    NotHttp,
}

/// The request line's method and the headers that name the server and the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// The method token.
    pub method: &'a [u8],
    /// The first Host header's value, surrounding whitespace removed.
    pub host: Option<&'a [u8]>,
    /// The first User-Agent header's value, surrounding whitespace removed.
    pub user_agent: Option<&'a [u8]>,
}

/// Whether a client's first bytes start with an HTTP method and a space.
pub fn looks_like_http(first: &[u8]) -> bool {
    METHODS.iter().any(|m| first.starts_with(m))
}

/// Parses the request line and header section at the start of `bytes`.
pub fn parse_request(bytes: &[u8]) -> Result<HttpRequest<'_>, HttpError> {
    let mut lines = Lines { rest: bytes };
    let line = lines.next().ok_or_else(|| incomplete_or_not(bytes))?;
    let method = METHODS
        .iter()
        .find(|m| line.starts_with(m))
        .map(|m| &line[..m.len() - 1])
        .ok_or(HttpError::NotHttp)?;
    let version = line.rsplit(|b| *b == b' ').next().unwrap_or_default();
    if !version.starts_with(b"HTTP/1.") {
        return Err(HttpError::NotHttp);
    }
    let mut request = HttpRequest {
        method,
        host: None,
        user_agent: None,
    };
    loop {
        let line = lines.next().ok_or(HttpError::Incomplete)?;
        if line.is_empty() {
            return Ok(request);
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            // Folded continuation lines and junk carry nothing we want.
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"host") {
            request.host.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            request.user_agent.get_or_insert(value);
        }
    }
}

/// A request line that has not ended yet may still be HTTP if it starts like it.
fn incomplete_or_not(bytes: &[u8]) -> HttpError {
    if looks_like_http(bytes) {
        HttpError::Incomplete
    } else {
        HttpError::NotHttp
    }
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Complete lines ending in CRLF (or a bare LF, which servers accept); the unfinished tail is
/// not yielded.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = self.rest.iter().position(|b| *b == b'\n')?;
        let line = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::messages::http_request;
    use proptest::prelude::*;

    #[test]
    fn host_and_user_agent_of_a_request() {
        let req = http_request(
            "api.app.example:8080",
            "Messenger/1.0 (Android)",
            "/v1/sync",
        );
        let r = parse_request(&req).unwrap();
        assert_eq!(r.method, b"GET");
        assert_eq!(r.host, Some(&b"api.app.example:8080"[..]));
        assert_eq!(r.user_agent, Some(&b"Messenger/1.0 (Android)"[..]));
    }

    #[test]
    fn partial_and_foreign_bytes() {
        let req = http_request("a.example", "ua", "/");
        for cut in 0..req.len() {
            let got = parse_request(&req[..cut]);
            assert!(
                matches!(got, Err(HttpError::Incomplete) | Err(HttpError::NotHttp)),
                "{cut}"
            );
        }
        assert_eq!(
            parse_request(b"SSH-2.0-OpenSSH\r\n"),
            Err(HttpError::NotHttp)
        );
        assert_eq!(
            parse_request(b"GET / SPDY/3\r\n\r\n"),
            Err(HttpError::NotHttp)
        );
        let r = parse_request(b"POST /x HTTP/1.0\nhost:\t b.example \n\n").unwrap();
        assert_eq!(r.host, Some(&b"b.example"[..]));
        assert_eq!(r.user_agent, None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_request(&data);
            let mut get = b"GET / HTTP/1.1\r\n".to_vec();
            get.extend(&data);
            let _ = parse_request(&get);
        }

        #[test]
        fn request_round_trips(host in "[a-z0-9.-]{1,40}", ua in "[ -~]{0,60}") {
            let req = http_request(&host, &ua, "/");
            let r = parse_request(&req).unwrap();
            prop_assert_eq!(r.host, Some(host.as_bytes()));
            prop_assert_eq!(r.user_agent, Some(ua.trim_matches(|c| c == ' ' || c == '\t').as_bytes()));
        }
    }
}
