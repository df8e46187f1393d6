//! The TLS interception call: the router's interception CA, for the host to install on lab
//! test phones whose policy allows interception.

use hyper::Method;

use super::{ClientError, RouterClient};

/// Largest CA certificate taken (one PEM certificate is about 1 KiB).
const MAX_CA_BYTES: u64 = 64 * 1024;

/// What starts a PEM certificate.
const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";

impl RouterClient {
    /// `GET /v1/interception/ca`: the router's interception CA certificate (PEM), made on the
    /// router at the first request. Its private key never leaves the router.
    pub async fn interception_ca(&self) -> Result<String, ClientError> {
        let path = "/v1/interception/ca";
        let answer = self.call(Method::GET, path, None, MAX_CA_BYTES).await?;
        let bad = || ClientError::BadBody {
            method: Method::GET.to_string(),
            path: path.to_owned(),
            expected: "a PEM certificate",
        };
        let text = String::from_utf8(answer.body).map_err(|_| bad())?;
        if !text.trim_start().starts_with(PEM_BEGIN) {
            return Err(bad());
        }
        Ok(text)
    }
}
