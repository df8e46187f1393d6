//! `matador-host router status`: each inventory router's own report (uptime, spool,
//! uploads, and the health warnings a field router must not keep to itself: crash loop,
//! full disk, wrong clock, failing uploads), through its API.

use crate::spec::RouterEntry;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use matador_api::client::RouterClient;
use matador_api::RouterStatus;
use std::path::PathBuf;

/// Arguments of `matador-host router status`.
#[derive(Args)]
pub struct StatusArgs {
    /// The inventory naming the routers (docs/campaigns.md).
    #[arg(long)]
    inventory: PathBuf,
    /// Only these routers (default: all of the inventory's).
    routers: Vec<String>,
    /// One JSON array: `{router, status}` or `{router, error}` per router.
    #[arg(long)]
    json: bool,
}

/// What one router said, or why it said nothing.
type Answer = (String, Result<RouterStatus, String>);

/// Asks every router; exit code 0 when all answered without warnings, 3 when one has
/// warnings, 1 when one did not answer.
pub fn run(args: &StatusArgs) -> Result<i32> {
    let inventory = crate::spec::load_inventory(&args.inventory).map_err(|e| anyhow!("{e}"))?;
    for name in &args.routers {
        if inventory.router(name).is_none() {
            anyhow::bail!("{name} is not a router of {}", args.inventory.display());
        }
    }
    let lab = crate::campaign::runner::lab_status();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let mut answers: Vec<Answer> = Vec::new();
    for entry in inventory
        .routers
        .iter()
        .filter(|r| args.routers.is_empty() || args.routers.contains(&r.name))
    {
        let asked = api_client(entry, lab.as_deref())
            .and_then(|client| {
                runtime
                    .block_on(client.status())
                    .map_err(|e| anyhow!("{e}"))
            })
            .map_err(|e| format!("{e:#}"));
        answers.push((entry.name.clone(), asked));
    }
    if args.json {
        let list: Vec<serde_json::Value> = answers
            .iter()
            .map(|(router, a)| match a {
                Ok(s) => serde_json::json!({ "router": router, "status": s }),
                Err(e) => serde_json::json!({ "router": router, "error": e }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", render(&answers));
    }
    Ok(exit_code(&answers))
}

/// The API client of an inventory router: its address, token and pinned fingerprint as the
/// inventory gives them, or for a lab router as the running lab's status (`lab`) says.
pub fn api_client(entry: &RouterEntry, lab: Option<&str>) -> Result<RouterClient> {
    let c = entry.connection(lab).map_err(|e| anyhow!("{e}"))?;
    let token = std::fs::read_to_string(&c.token_file)
        .with_context(|| format!("token file {}", c.token_file.display()))?;
    let fingerprint = c.fingerprint.resolve().map_err(|e| anyhow!("{e}"))?;
    Ok(RouterClient::new(&c.api, token, fingerprint)?)
}

/// 1 if a router did not answer, else 3 if one has warnings, else 0.
pub fn exit_code(answers: &[Answer]) -> i32 {
    if answers.iter().any(|(_, a)| a.is_err()) {
        1
    } else if answers
        .iter()
        .any(|(_, a)| a.as_ref().is_ok_and(|s| !s.health.warnings.is_empty()))
    {
        3
    } else {
        0
    }
}

/// The table, a line per router, then its warnings indented.
pub fn render(answers: &[Answer]) -> String {
    let mut out = format!(
        "{:<12} {:>9} {:>8} {:>10} {:>9} {:>8}  at rest\n",
        "router", "uptime s", "spooled", "spool MiB", "uploaded", "failing"
    );
    for (router, answer) in answers {
        match answer {
            Ok(s) => {
                let h = &s.health;
                let (uploaded, failing) = h.upload.as_ref().map_or(("-".into(), "-".into()), |u| {
                    (u.uploaded.to_string(), u.failures.to_string())
                });
                out += &format!(
                    "{:<12} {:>9} {:>8} {:>10.1} {:>9} {:>8}  {}\n",
                    router,
                    s.uptime_s,
                    h.spooled_results,
                    h.spooled_bytes as f64 / 1048576.0,
                    uploaded,
                    failing,
                    if s.encrypted_at_rest { "age" } else { "plain" }
                );
                for w in &h.warnings {
                    out += &format!("  warning: {w}\n");
                }
            }
            Err(e) => out += &format!("{router:<12} unreachable: {e}\n"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_api::{RouterHealth, UploadHealth};

    fn status(warnings: &[&str]) -> RouterStatus {
        RouterStatus {
            router: "zrh".into(),
            version: "0.1.0".into(),
            uptime_s: 3600,
            aps: vec![],
            measurement: None,
            encrypted_at_rest: true,
            health: RouterHealth {
                warnings: warnings.iter().map(|w| w.to_string()).collect(),
                spooled_results: 4,
                spooled_bytes: 3 << 20,
                upload: Some(UploadHealth {
                    uploaded: 17,
                    failures: 5,
                    ..UploadHealth::default()
                }),
                ..RouterHealth::default()
            },
        }
    }

    #[test]
    fn warnings_and_unreachable_routers_are_shown_and_set_the_exit_code() {
        let healthy = vec![("zrh".to_string(), Ok(status(&[])))];
        assert_eq!(exit_code(&healthy), 0);
        let warned = vec![(
            "zrh".to_string(),
            Ok(status(&["crash loop: 6 starts in the last 10 minutes"])),
        )];
        assert_eq!(exit_code(&warned), 3);
        let text = render(&warned);
        assert!(text.contains("  warning: crash loop: 6 starts"), "{text}");
        assert!(
            text.lines()
                .nth(1)
                .is_some_and(|l| l.split_whitespace().collect::<Vec<_>>()
                    == ["zrh", "3600", "4", "3.0", "17", "5", "age"]),
            "{text}"
        );
        let gone = vec![
            ("zrh".to_string(), Ok(status(&["x"]))),
            ("ber".to_string(), Err("connection refused".to_string())),
        ];
        assert_eq!(exit_code(&gone), 1);
        assert!(render(&gone).contains("ber          unreachable: connection refused"));
    }
}
