//! The blocklist calls: the domains an AP's phones may not reach.

use hyper::Method;

use super::{encode, ClientError, RouterClient, MAX_JSON_BYTES};
use crate::{check_id, Blocklist};

impl RouterClient {
    /// `GET /v1/aps/{ap}/blocklist`: the AP's blocked domains.
    pub async fn blocklist(&self, ap: &str) -> Result<Vec<String>, ClientError> {
        check_id("ap", ap)?;
        let path = format!("/v1/aps/{ap}/blocklist");
        let list: Blocklist = self.json(Method::GET, &path, None).await?;
        Ok(list.domains)
    }

    /// `PUT /v1/aps/{ap}/blocklist`: block these domains (and names under them) from now on,
    /// replacing the AP's list; answers the list as the router keeps it (normalised).
    pub async fn set_blocklist(
        &self,
        ap: &str,
        domains: &[String],
    ) -> Result<Vec<String>, ClientError> {
        check_id("ap", ap)?;
        let list = Blocklist {
            domains: domains.to_vec(),
        };
        list.normalized()?;
        let path = format!("/v1/aps/{ap}/blocklist");
        let kept: Blocklist = self.json(Method::PUT, &path, Some(encode(&list)?)).await?;
        Ok(kept.domains)
    }

    /// `DELETE /v1/aps/{ap}/blocklist`: block nothing on the AP.
    pub async fn clear_blocklist(&self, ap: &str) -> Result<(), ClientError> {
        check_id("ap", ap)?;
        let path = format!("/v1/aps/{ap}/blocklist");
        self.call(Method::DELETE, &path, None, MAX_JSON_BYTES)
            .await
            .map(drop)
    }
}
