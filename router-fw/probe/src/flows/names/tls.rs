//! The TLS ClientHello and its server name (SNI), from the first bytes a client sends over TCP
//! (record layer, possibly several records) or from QUIC CRYPTO data (no record layer).

/// Largest ClientHello we gather; real ones are below 2 KiB, post-quantum key shares included.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;
const RECORD_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const NAME_TYPE_HOST: u8 = 0;

/// Why no ClientHello was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// More bytes are needed.
    #[error("ClientHello incomplete")]
    Incomplete,
    /// The bytes are not a TLS handshake record.
    #[error("not a TLS handshake")]
    NotHandshake,
    /// A handshake message other than ClientHello.
    #[error("not a ClientHello")]
    NotClientHello,
    /// The ClientHello is larger than `MAX_CLIENT_HELLO`.
    #[error("ClientHello too large")]
    TooLarge,
    /// A field runs past its container.
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
}

/// What a ClientHello says that names the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientHello<'a> {
    /// The first `host_name` of the server_name extension.
    pub server_name: Option<&'a [u8]>,
    /// The ALPN protocol list, as on the wire.
    pub alpn: Option<&'a [u8]>,
}

/// Whether a client's first bytes look like a TLS handshake record.
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [RECORD_HANDSHAKE, 3, ..] | [RECORD_HANDSHAKE])
}

/// Reads the ClientHello from the start of a client's TLS stream; a hello split over several
/// records is joined in `scratch` (reused across calls; bounded by `MAX_CLIENT_HELLO`).
pub fn client_hello_in_records<'a>(
    stream: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<ClientHello<'a>, TlsError> {
    let first = record(stream)?;
    if first.len() >= 4 {
        let total = 4 + hello_len(first)?;
        if first.len() >= total {
            return parse_client_hello(&first[..total]);
        }
    }
    scratch.clear();
    let mut rest = stream;
    let total = loop {
        let fragment = record(rest)?;
        let take = fragment.len().min(MAX_CLIENT_HELLO + 4 - scratch.len());
        scratch.extend_from_slice(&fragment[..take]);
        if scratch.len() >= 4 {
            let total = 4 + hello_len(scratch)?;
            if scratch.len() >= total {
                break total;
            }
        }
        let used = 5 + fragment.len();
        if used >= rest.len() {
            return Err(TlsError::Incomplete);
        }
        rest = &rest[used..];
    };
    parse_client_hello(&scratch[..total])
}

/// The (possibly partial) fragment of the record at the start of `stream`.
fn record(stream: &[u8]) -> Result<&[u8], TlsError> {
    match stream {
        [RECORD_HANDSHAKE, 3, _, hi, lo, rest @ ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if len == 0 {
                return Err(TlsError::Malformed("empty record"));
            }
            Ok(&rest[..len.min(rest.len())])
        }
        [] | [RECORD_HANDSHAKE] | [RECORD_HANDSHAKE, 3] | [RECORD_HANDSHAKE, 3, _] => {
            Err(TlsError::Incomplete)
        }
        [RECORD_HANDSHAKE, 3, _, _] => Err(TlsError::Incomplete),
        _ => Err(TlsError::NotHandshake),
    }
}

/// The body length a handshake header announces, if it is a ClientHello we would gather.
fn hello_len(header: &[u8]) -> Result<usize, TlsError> {
    match header {
        [HANDSHAKE_CLIENT_HELLO, a, b, c, ..] => {
            let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
            if len > MAX_CLIENT_HELLO {
                return Err(TlsError::TooLarge);
            }
            Ok(len)
        }
        [_, _, _, _, ..] => Err(TlsError::NotClientHello),
        _ => Err(TlsError::Incomplete),
    }
}

/// Parses a ClientHello handshake message (type, 24-bit length, body), as QUIC CRYPTO frames
/// carry it; `Incomplete` if `handshake` is shorter than its length says.
pub fn parse_client_hello(handshake: &[u8]) -> Result<ClientHello<'_>, TlsError> {
    let len = hello_len(handshake)?;
    let body = handshake.get(4..4 + len).ok_or(TlsError::Incomplete)?;
    let mut r = Cursor { b: body, at: 0 };
    r.take(2, "client version")?;
    r.take(32, "random")?;
    let n = r.u8("session id")?;
    r.take(usize::from(n), "session id")?;
    let n = r.u16("cipher suites")?;
    r.take(usize::from(n), "cipher suites")?;
    let n = r.u8("compression methods")?;
    r.take(usize::from(n), "compression methods")?;
    let mut hello = ClientHello::default();
    if r.at == body.len() {
        // A hello without extensions (TLS 1.0 style) names no server.
        return Ok(hello);
    }
    let n = r.u16("extensions")?;
    let mut exts = Cursor {
        b: r.take(usize::from(n), "extensions")?,
        at: 0,
    };
    while exts.at < exts.b.len() {
        let kind = exts.u16("extension type")?;
        let n = exts.u16("extension length")?;
        let data = exts.take(usize::from(n), "extension")?;
        match kind {
            EXT_SERVER_NAME if hello.server_name.is_none() => {
                hello.server_name = server_name(data)?;
            }
            EXT_ALPN => hello.alpn = Some(data),
            _ => {}
        }
    }
    Ok(hello)
}

fn server_name(data: &[u8]) -> Result<Option<&[u8]>, TlsError> {
    let mut r = Cursor { b: data, at: 0 };
    let n = r.u16("server name list")?;
    let mut list = Cursor {
        b: r.take(usize::from(n), "server name list")?,
        at: 0,
    };
    while list.at < list.b.len() {
        let kind = list.u8("name type")?;
        let n = list.u16("host name")?;
        let name = list.take(usize::from(n), "host name")?;
        if kind == NAME_TYPE_HOST && !name.is_empty() {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// A length-checked reader over a complete message.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TlsError> {
        let out = self
            .b
            .get(self.at..self.at + n)
            .ok_or(TlsError::Malformed(what))?;
        self.at += n;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, TlsError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, TlsError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::messages::{client_hello, tls_records};
    use proptest::prelude::*;

    #[test]
    fn sni_from_one_record() {
        let stream = tls_records(&client_hello("chat.app.example", 300, false), 16384);
        let mut scratch = Vec::new();
        let hello = client_hello_in_records(&stream, &mut scratch).unwrap();
        assert_eq!(hello.server_name, Some(&b"chat.app.example"[..]));
        assert_eq!(hello.alpn, Some(&[0, 3, 2, b'h', b'2'][..]));
    }

    #[test]
    fn sni_from_several_records_and_partial_streams() {
        let stream = tls_records(&client_hello("split.example", 1000, false), 150);
        let mut scratch = Vec::new();
        for cut in 0..stream.len() {
            assert_eq!(
                client_hello_in_records(&stream[..cut], &mut scratch),
                Err(TlsError::Incomplete),
                "cut at {cut}"
            );
        }
        let hello = client_hello_in_records(&stream, &mut scratch).unwrap();
        assert_eq!(hello.server_name, Some(&b"split.example"[..]));
    }

    #[test]
    fn other_traffic_is_refused() {
        let mut scratch = Vec::new();
        assert_eq!(
            client_hello_in_records(b"GET / HTTP/1.1\r\n", &mut scratch),
            Err(TlsError::NotHandshake)
        );
        let server_hello = tls_records(&[2, 0, 0, 4, 3, 3, 0, 0], 100);
        assert_eq!(
            client_hello_in_records(&server_hello, &mut scratch),
            Err(TlsError::NotClientHello)
        );
        assert_eq!(
            parse_client_hello(&[1, 0xff, 0, 0]),
            Err(TlsError::TooLarge)
        );
        assert!(!looks_like_tls(b"\x17\x03\x03"));
        assert!(looks_like_tls(b"\x16\x03\x01\x02"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut scratch = Vec::new();
            let _ = client_hello_in_records(&data, &mut scratch);
            let _ = parse_client_hello(&data);
            let mut framed = vec![22, 3, 1];
            framed.extend((data.len() as u16).to_be_bytes());
            framed.extend(&data);
            let _ = client_hello_in_records(&framed, &mut scratch);
        }

        #[test]
        fn hello_round_trips(name in "[a-z0-9.-]{1,60}", pad in 0usize..3000, record in 20usize..2000) {
            let stream = tls_records(&client_hello(&name, pad, false), record);
            let mut scratch = Vec::new();
            let hello = client_hello_in_records(&stream, &mut scratch).unwrap();
            prop_assert_eq!(hello.server_name, Some(name.as_bytes()));
        }

        #[test]
        fn mutated_hellos_never_panic(at in 0usize..400, value in any::<u8>()) {
            let mut stream = tls_records(&client_hello("x.example", 300, false), 120);
            let at = at % stream.len();
            stream[at] = value;
            let mut scratch = Vec::new();
            let _ = client_hello_in_records(&stream, &mut scratch);
        }
    }
}
