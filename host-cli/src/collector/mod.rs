//! `matador-host collector`: the controller's end of store-and-forward. Field routers push
//! their results here through the management tunnel (`PUT /v1/uploads/<router>/<id>`, the
//! router's token as bearer, the SHA-256 in `x-matador-sha256`); each is streamed to disk,
//! checked, synced and only then acknowledged with its hash, so that a router deletes only
//! what is safely here. Plain HTTP: the management tunnel's WireGuard keys already
//! authenticate both ends and encrypt.

mod server;
mod spool;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `matador-host collector ...`.
#[derive(Args)]
pub struct CollectorArgs {
    #[command(subcommand)]
    command: CollectorCommand,
}

#[derive(Subcommand)]
enum CollectorCommand {
    /// Receive routers' uploads until SIGINT/SIGTERM.
    Serve {
        /// Address to listen on: the controller's management-tunnel address.
        #[arg(long)]
        listen: SocketAddr,
        /// Where results go (`DIR/<router>/<result>` and `<result>.json`).
        #[arg(long)]
        dir: PathBuf,
        /// A router allowed to upload, and the file holding its API token (repeat).
        #[arg(long = "router", value_name = "NAME=TOKEN_FILE", required = true)]
        routers: Vec<String>,
        /// Largest upload accepted, MiB.
        #[arg(long, default_value_t = 1024)]
        max_mib: u64,
    },
    /// What has been received, per router.
    List {
        /// The collector's directory.
        #[arg(long)]
        dir: PathBuf,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a collector command; the exit code.
pub fn run(args: CollectorArgs) -> Result<i32> {
    match args.command {
        CollectorCommand::Serve {
            listen,
            dir,
            routers,
            max_mib,
        } => {
            let tokens = read_tokens(&routers)?;
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let config = server::Config {
                dir,
                tokens,
                max_bytes: max_mib.saturating_mul(1 << 20),
            };
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("tokio runtime")?
                .block_on(server::serve(listen, config))?;
            Ok(0)
        }
        CollectorCommand::List { dir, json } => {
            let all = spool::list(&dir).with_context(|| format!("reading {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<12} {:<40} {:>12} {:>10}",
                    "router", "result", "bytes", "skew s"
                );
                for r in &all {
                    println!(
                        "{:<12} {:<40} {:>12} {:>10}",
                        r.router, r.id, r.size, r.clock_skew_s
                    );
                }
            }
            Ok(0)
        }
    }
}

/// `NAME=TOKEN_FILE` pairs to a map of router → token.
fn read_tokens(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut tokens = BTreeMap::new();
    for pair in pairs {
        let Some((name, file)) = pair.split_once('=') else {
            bail!("--router {pair:?}: expected NAME=TOKEN_FILE");
        };
        matador_api::check_id("router", name)
            .map_err(|e| anyhow::anyhow!("--router {pair:?}: {e}"))?;
        let token = std::fs::read_to_string(file)
            .with_context(|| format!("--router {name}: token file {file}"))?
            .trim()
            .to_string();
        if token.len() < 16 {
            bail!("--router {name}: the token in {file} is shorter than 16 characters");
        }
        if tokens.insert(name.to_string(), token).is_some() {
            bail!("--router {name} is given twice");
        }
    }
    Ok(tokens)
}
