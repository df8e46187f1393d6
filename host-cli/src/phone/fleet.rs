//! The routers a phone command talks to: the inventory's (or the one named), each with its
//! API client as `router status` builds it, and how each one answered.

use crate::router::api_client;
use crate::spec::RouterAccess;
use anyhow::{anyhow, bail, Context, Result};
use matador_api::client::{ClientError, RouterClient};
use std::future::Future;
use std::path::Path;

/// The routers asked, and a runtime to ask them on.
pub struct Fleet {
    runtime: tokio::runtime::Runtime,
    /// Each router's name and client, or why there is no client (bad token file, lab down).
    pub routers: Vec<(String, Result<RouterClient, String>)>,
    /// The names of those that are lab routers.
    pub lab_routers: Vec<String>,
    /// The running lab's status (`lab status --json`), if it is up.
    pub lab_status: Option<String>,
}

/// What one router said about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<T> {
    /// The router knows the device; its answer.
    Known(T),
    /// The router answered 404: it does not know the device.
    Unknown,
    /// No answer, or another error: whether the device is there is not known.
    Failed(String),
}

impl<T> Found<T> {
    /// A router's answer: 404 is "not known here", any other error a failure.
    pub fn of(answer: Result<T, ClientError>) -> Self {
        match answer {
            Ok(t) => Found::Known(t),
            Err(e) if e.status() == Some(404) => Found::Unknown,
            Err(e) => Found::Failed(e.to_string()),
        }
    }
}

/// The routers of `inventory`, or only `router` (which must be one of them).
pub fn fleet(inventory: &Path, router: Option<&str>) -> Result<Fleet> {
    let inv = crate::spec::load_inventory(inventory).map_err(|e| anyhow!("{e}"))?;
    if let Some(name) = router {
        if inv.router(name).is_none() {
            bail!("{name} is not a router of {}", inventory.display());
        }
    }
    let lab = crate::campaign::runner::lab_status();
    let chosen = || {
        inv.routers
            .iter()
            .filter(|r| router.is_none_or(|name| r.name == name))
    };
    let lab_routers = chosen()
        .filter(|r| matches!(r.access, RouterAccess::Lab))
        .map(|r| r.name.clone())
        .collect();
    let routers = chosen()
        .map(|entry| {
            let client = api_client(entry, lab.as_deref()).map_err(|e| format!("{e:#}"));
            (entry.name.clone(), client)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    Ok(Fleet {
        runtime,
        routers,
        lab_routers,
        lab_status: lab,
    })
}

impl Fleet {
    /// Runs one call on the runtime.
    pub fn block_on<F: Future>(&self, call: F) -> F::Output {
        self.runtime.block_on(call)
    }

    /// Asks every router the same question; a router without a client is a failure.
    pub fn ask<'a, T, F, Fut>(&'a self, mut call: F) -> Vec<(String, Found<T>)>
    where
        F: FnMut(&'a RouterClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        self.routers
            .iter()
            .map(|(name, client)| {
                let found = match client {
                    Ok(c) => Found::of(self.block_on(call(c))),
                    Err(e) => Found::Failed(e.clone()),
                };
                (name.clone(), found)
            })
            .collect()
    }

    /// The only router's client (the fleet of one named router).
    pub fn only(&self) -> Result<&RouterClient> {
        match self.routers.as_slice() {
            [(name, client)] => client.as_ref().map_err(|e| anyhow!("router {name}: {e}")),
            _ => bail!("expected one router, have {}", self.routers.len()),
        }
    }
}

/// Where phones reach a lab router's ingress on `ap`, as the running lab's status says
/// (`lab_routers[].ingress.endpoint`).
pub fn lab_endpoint(lab_status: &str, router: &str, ap: &str) -> Option<String> {
    let status: serde_json::Value = serde_json::from_str(lab_status).ok()?;
    let ingress = status["lab_routers"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == router)?
        .get("ingress")?;
    if ingress["ap"] != ap {
        return None;
    }
    ingress["endpoint"].as_str().map(str::to_owned)
}

/// The routers that failed, as `router: error` lines for stderr.
pub fn failures<T>(answers: &[(String, Found<T>)]) -> Vec<String> {
    answers
        .iter()
        .filter_map(|(router, f)| match f {
            Found::Failed(e) => Some(format!("router {router}: {e}")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_api::ApiError;

    fn api(status: u16) -> ClientError {
        ClientError::Api {
            method: "GET".into(),
            path: "/v1/devices/x/results".into(),
            status,
            error: ApiError::new("e", "d"),
        }
    }

    #[test]
    fn not_found_means_unknown_and_other_errors_fail() {
        assert_eq!(Found::of(Ok::<_, ClientError>(3)), Found::Known(3));
        assert_eq!(Found::<()>::of(Err(api(404))), Found::Unknown);
        let Found::Failed(e) = Found::<()>::of(Err(api(500))) else {
            panic!("500 is a failure");
        };
        assert!(e.contains("answered 500"), "{e}");
        let answers = vec![
            ("a".to_string(), Found::Known(1)),
            ("b".to_string(), Found::Failed("down".into())),
        ];
        assert_eq!(failures(&answers), ["router b: down"]);
    }

    #[test]
    fn a_lab_routers_endpoint_comes_from_the_lab_status() {
        let status = r#"{"lab_routers": [
            {"name": "lr-a", "api": "127.0.0.1:28440"},
            {"name": "lr-f", "ingress": {"ap": "lr-f-vpn", "subnet": "10.78.9.0/24",
                                          "endpoint": "192.0.2.77:51821"}}]}"#;
        assert_eq!(
            lab_endpoint(status, "lr-f", "lr-f-vpn").as_deref(),
            Some("192.0.2.77:51821")
        );
        assert_eq!(lab_endpoint(status, "lr-f", "other-ap"), None);
        assert_eq!(lab_endpoint(status, "lr-a", "lr-f-vpn"), None);
        assert_eq!(lab_endpoint("not json", "lr-f", "lr-f-vpn"), None);
    }
}

/// The device a participant command acts on, and where: `--inventory`, `--device` and
/// `--router`, shared by `phone data`, `phone forget` and `phone stop`.
#[derive(clap::Args)]
pub struct DeviceTarget {
    /// The inventory naming the routers (docs/campaigns.md).
    #[arg(long)]
    pub inventory: std::path::PathBuf,
    /// The device's name, as enrolled.
    #[arg(long)]
    pub device: String,
    /// Only this router (default: every router of the inventory).
    #[arg(long)]
    pub router: Option<String>,
}

impl DeviceTarget {
    /// The routers to ask, once the device name is checked.
    pub fn fleet(&self) -> Result<Fleet> {
        matador_api::check_device_name(&self.device).map_err(|e| anyhow!("--device: {e}"))?;
        fleet(&self.inventory, self.router.as_deref())
    }
}
