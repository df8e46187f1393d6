//! The bearer token: every request must carry it; refusals are logged and closed.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::routes::Failure;

/// Shortest token the daemon accepts in its config.
pub const MIN_TOKEN_LEN: usize = 16;

/// The router's token, kept only as its SHA-256.
///
/// Both sides of a comparison are hashed first, so the comparison always runs over 32 bytes
/// and its time says nothing about the token's length or content; the 32 bytes are then
/// compared with `subtle` (already compiled in through rustls, so it costs nothing), whose
/// optimisation barriers keep the compiler from turning the loop into an early exit.
#[derive(Clone, Copy)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

impl Token {
    /// The token as configured.
    pub fn new(token: &str) -> Self {
        Self {
            digest: sha256(token.as_bytes()),
        }
    }

    /// Whether `presented` is the token, in time independent of both.
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(sha256(presented).ct_eq(&self.digest))
    }
}

/// Why a request was refused.
fn check(token: &Token, request: &Request) -> Result<(), &'static str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or("no Authorization header")?;
    let value = value.as_bytes();
    // The scheme is case-insensitive (RFC 9110); one space, then the token.
    let (scheme, presented) = value.split_at(value.len().min(7));
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return Err("not a Bearer credential");
    }
    if token.matches(presented) {
        Ok(())
    } else {
        Err("wrong token")
    }
}

/// Middleware: lets a request through only with `Authorization: Bearer <token>`. A refusal is
/// a 401 with an [`matador_api::ApiError`], a warning in the log (peer, method, path; never
/// what was presented) and the end of the connection.
pub async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    match check(&token, &request) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string())
                .unwrap_or_else(|| "unknown".into());
            tracing::warn!(
                %peer,
                method = %request.method(),
                path = %request.uri().path(),
                reason,
                "API request refused"
            );
            let mut response = Failure::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this request needs the router's token: Authorization: Bearer <token>",
            )
            .into_response();
            let headers = response.headers_mut();
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let token = Token::new("correct horse battery staple");
        assert!(token.matches(b"correct horse battery staple"));
        assert!(!token.matches(b"correct horse battery stapl"));
        assert!(!token.matches(b"correct horse battery staplee"));
        assert!(!token.matches(b""));
        assert!(!format!("{token:?}").contains("horse"));
    }

    #[test]
    fn the_header_must_be_a_bearer_credential() {
        let token = Token::new("s3cret-s3cret-s3cret");
        let request = |value: Option<&str>| {
            let mut b = axum::http::Request::builder().uri("/v1/status");
            if let Some(v) = value {
                b = b.header(header::AUTHORIZATION, v);
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        assert_eq!(
            check(&token, &request(None)),
            Err("no Authorization header")
        );
        assert_eq!(
            check(&token, &request(Some("Basic czNjcmV0"))),
            Err("not a Bearer credential")
        );
        assert_eq!(
            check(&token, &request(Some("Bearer wrong"))),
            Err("wrong token")
        );
        assert_eq!(
            check(&token, &request(Some("Bearer s3cret-s3cret-s3cret "))),
            Err("wrong token")
        );
        assert_eq!(
            check(&token, &request(Some("bearer s3cret-s3cret-s3cret"))),
            Ok(())
        );
        assert_eq!(
            check(&token, &request(Some("Bearer s3cret-s3cret-s3cret"))),
            Ok(())
        );
    }
}
