//! `phone data` and `phone forget`: a participant's results, by device, listed or deleted on
//! every router that knows the device.

use super::fleet::{failures, DeviceTarget, Found};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use matador_api::{check_device_name, DeviceData};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `matador-host phone data`.
#[derive(Args)]
pub struct DataArgs {
    #[command(flatten)]
    target: DeviceTarget,
    /// One JSON object: `{device, routers: [{router, results} or {router, error}]}`.
    #[arg(long)]
    json: bool,
}

/// Arguments of `matador-host phone forget`.
#[derive(Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    target: DeviceTarget,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
}

/// One router's answer about a device's results.
type Answer = (String, Found<DeviceData>);

/// Lists the device's results on every router. Exit code 0; 1 when a router did not answer.
pub fn data(args: &DataArgs) -> Result<i32> {
    let fleet = args.target.fleet()?;
    let answers = fleet.ask(|c| c.device_results(&args.target.device));
    if args.json {
        println!("{:#}", data_json(&args.target.device, &answers));
    } else {
        print!("{}", render(&answers));
    }
    Ok(report(&args.target.device, &answers))
}

/// Deletes the device's results on every router that holds some, after asking (unless
/// `--yes`), and prints what was deleted. Exit code 0; 1 when a router did not answer or the
/// question was answered no.
pub fn forget(args: &ForgetArgs) -> Result<i32> {
    let fleet = args.target.fleet()?;
    let listed = fleet.ask(|c| c.device_results(&args.target.device));
    let code = report(&args.target.device, &listed);
    let holders: Vec<&str> = listed
        .iter()
        .filter(|(_, f)| matches!(f, Found::Known(d) if !d.results.is_empty()))
        .map(|(r, _)| r.as_str())
        .collect();
    if holders.is_empty() {
        if code == 0 {
            println!("Nothing to delete.");
        }
        return Ok(code);
    }
    if !args.yes {
        print!("{}", render(&listed));
        if !std::io::stdin().is_terminal() {
            bail!("standard input is not a terminal to confirm on: add --yes to delete");
        }
        eprint!("{}", question(&args.target.device, &listed));
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("nothing deleted");
            return Ok(1);
        }
    }
    // Only where it has results: a router that failed the listing is not asked again.
    let deleted: Vec<Answer> = fleet
        .routers
        .iter()
        .filter(|(name, _)| holders.contains(&name.as_str()))
        .map(|(name, client)| {
            let found = match client {
                Ok(c) => Found::of(fleet.block_on(c.delete_device_results(&args.target.device))),
                Err(e) => Found::Failed(e.clone()),
            };
            (name.clone(), found)
        })
        .collect();
    println!("Deleted:");
    print!("{}", render(&deleted));
    for e in failures(&deleted) {
        eprintln!("matador-host: not deleted on {e}");
    }
    let still_monitored: Vec<&str> = holders
        .iter()
        .copied()
        .filter(|name| is_enrolled(&fleet, name, &args.target.device))
        .collect();
    if !still_monitored.is_empty() {
        eprintln!(
            "note: {} is still enrolled on {}: new results keep coming until \
             `matador-host phone stop --device {}`",
            args.target.device,
            still_monitored.join(", "),
            args.target.device
        );
    }
    Ok(if failures(&deleted).is_empty() {
        code
    } else {
        1
    })
}

/// Whether the device is a peer of one of the router's ingresses (errors count as no: this is
/// only for a note).
fn is_enrolled(fleet: &super::fleet::Fleet, router: &str, device: &str) -> bool {
    fleet.routers.iter().any(|(name, client)| {
        name == router
            && client.as_ref().is_ok_and(|c| {
                fleet.block_on(c.ingress()).is_ok_and(|list| {
                    list.iter()
                        .flat_map(|i| &i.peers)
                        .any(|p| p.device == device)
                })
            })
    })
}

/// Failures to stderr, and a note when no router holds anything of the device (a misspelt
/// name?); the exit code: 1 when a router failed.
fn report(device: &str, answers: &[Answer]) -> i32 {
    let failed = failures(answers);
    for e in &failed {
        eprintln!("matador-host: {e}");
    }
    let answered = answers.iter().any(|(_, f)| matches!(f, Found::Known(_)));
    if answered
        && !answers
            .iter()
            .any(|(_, f)| matches!(f, Found::Known(d) if !d.results.is_empty()))
    {
        eprintln!("note: no router that answered holds results of device {device}");
    }
    i32::from(!failed.is_empty())
}

/// The confirmation question: how many results, how many bytes, on which routers.
pub fn question(device: &str, answers: &[Answer]) -> String {
    let known: Vec<(&str, &DeviceData)> = answers
        .iter()
        .filter_map(|(r, f)| match f {
            Found::Known(d) if !d.results.is_empty() => Some((r.as_str(), d)),
            _ => None,
        })
        .collect();
    let count: usize = known.iter().map(|(_, d)| d.results.len()).sum();
    let bytes: u64 = known
        .iter()
        .flat_map(|(_, d)| &d.results)
        .map(|r| r.size)
        .sum();
    let routers: Vec<&str> = known.iter().map(|(r, _)| *r).collect();
    format!(
        "Delete device {device}'s {count} result(s), {bytes} bytes, on {} for good? [y/N] ",
        routers.join(", ")
    )
}

/// A table of the results, a line per result; routers that hold nothing of the device, do not
/// know the route (older routers: 404) or did not answer said as such.
pub fn render(answers: &[Answer]) -> String {
    let mut out = format!(
        "{:<12} {:<28} {:<8} {:>12} {:>12}  measurement\n",
        "router", "result", "kind", "bytes", "created"
    );
    for (router, found) in answers {
        match found {
            Found::Known(d) if d.results.is_empty() => out += &format!("{router:<12} (none)\n"),
            Found::Known(d) => {
                for r in &d.results {
                    out += &format!(
                        "{router:<12} {:<28} {:<8} {:>12} {:>12}  {}\n",
                        r.id,
                        r.kind.as_str(),
                        r.size,
                        r.created,
                        r.measurement
                    );
                }
            }
            Found::Unknown => out += &format!("{router:<12} (device not known)\n"),
            Found::Failed(_) => out += &format!("{router:<12} (no answer, see below)\n"),
        }
    }
    out
}

/// `phone data --json`: the routers that know the device with its results, and those that
/// failed with their error; routers that do not know it are left out.
pub fn data_json(device: &str, answers: &[Answer]) -> serde_json::Value {
    let routers: Vec<serde_json::Value> = answers
        .iter()
        .filter_map(|(router, found)| match found {
            Found::Known(d) => Some(serde_json::json!({"router": router, "results": d.results})),
            Found::Unknown => None,
            Found::Failed(e) => Some(serde_json::json!({"router": router, "error": e})),
        })
        .collect();
    serde_json::json!({"device": device, "routers": routers})
}

#[cfg(test)]
mod tests {
    use super::*;
    use matador_api::{ResultKind, ResultSummary};

    fn answers() -> Vec<Answer> {
        let result = |id: &str, kind, size| ResultSummary {
            id: id.into(),
            measurement: "pixel-20250101".into(),
            kind,
            size,
            created: 1_735_689_600,
            sha256: "0".repeat(64),
            device: Some("pixel".into()),
            encrypted: false,
        };
        vec![
            (
                "zrh".into(),
                Found::Known(DeviceData {
                    device: "pixel".into(),
                    results: vec![
                        result("pixel-20250101.capture", ResultKind::Capture, 4096),
                        result("pixel-20250101.flows", ResultKind::Flows, 100),
                    ],
                }),
            ),
            ("ber".into(), Found::Unknown),
            ("lis".into(), Found::Failed("connection refused".into())),
        ]
    }

    #[test]
    fn the_json_lists_known_and_failed_routers() {
        let json = data_json("pixel", &answers());
        assert_eq!(json["device"], "pixel");
        let routers = json["routers"].as_array().unwrap();
        assert_eq!(routers.len(), 2, "{json:#}");
        assert_eq!(routers[0]["router"], "zrh");
        let results = routers[0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["id"], "pixel-20250101.capture");
        assert_eq!(results[0]["kind"], "capture");
        assert_eq!(results[0]["device"], "pixel");
        assert_eq!(routers[1]["router"], "lis");
        assert_eq!(routers[1]["error"], "connection refused");
        assert!(routers[1].get("results").is_none());
    }

    #[test]
    fn the_table_and_the_question_say_what_is_there() {
        let text = render(&answers());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "zrh",
                "pixel-20250101.capture",
                "capture",
                "4096",
                "1735689600",
                "pixel-20250101"
            ]
        );
        assert_eq!(lines[3], "ber          (device not known)");
        assert_eq!(lines[4], "lis          (no answer, see below)");
        assert_eq!(
            question("pixel", &answers()),
            "Delete device pixel's 2 result(s), 4196 bytes, on zrh for good? [y/N] "
        );
    }

    #[test]
    fn the_exit_code_says_whether_all_answered() {
        let all = answers();
        assert_eq!(report("pixel", &all), 1, "lis failed");
        assert_eq!(report("pixel", &all[..2]), 0);
        assert_eq!(report("pixel", &all[1..2]), 0, "nothing held is no error");
    }
}
