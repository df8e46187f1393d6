//! `matador-mitm`: the TLS interception proxy the router daemon runs as a helper for the
//! devices a policy names (`run`), and the per-lab CA generator (`new-ca`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use matador_mitm::upstream::{self, UpstreamSocket};
use matador_mitm::{ca, proxy, InterceptionCa, Limits, Proxy, ProxyConfig, SoOriginalDst};

/// MATAdOR TLS interception proxy, for controlled experiments only: the router redirects
/// the TLS of devices that a policy names to it; nothing else is touched.
#[derive(Parser)]
#[command(name = "matador-mitm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the transparent proxy (foreground; SIGTERM stops it and flushes the records).
    Run(RunArgs),
    /// Make a per-lab interception CA: mitm-ca.pem (install on test phones) and
    /// mitm-ca-key.pem (mode 0600, for the proxy only).
    NewCa {
        /// Directory to write the two files to (created if missing; existing files are kept).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Text after "MATAdOR interception CA" in the CA's name, e.g. the lab's name
        /// (default: a tag of the key).
        #[arg(long, value_name = "TEXT", default_value = "")]
        label: String,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Address to accept redirected connections on (nftables `redirect to :PORT`); repeat
    /// for IPv4 and IPv6, e.g. 0.0.0.0:8443 and [::]:8443.
    #[arg(long, value_name = "ADDR:PORT", required = true)]
    listen: Vec<SocketAddr>,
    /// The interception CA's certificate (PEM), as `new-ca` writes it.
    #[arg(long, value_name = "FILE")]
    ca_cert: PathBuf,
    /// The interception CA's private key (PEM, PKCS#8).
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// CA certificates (PEM bundle) that real servers must chain to; in the lab, the lab's
    /// CA. Without it no server is trusted and every connection is refused (fail closed).
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Firewall mark (SO_MARK) for the proxy's connections to real servers, so policy
    /// routing sends them the device's way (its AP's tunnel); decimal or 0x hex.
    #[arg(long, value_name = "MARK", value_parser = parse_mark)]
    upstream_mark: Option<u32>,
    /// Interface the proxy's connections to real servers must leave through
    /// (SO_BINDTODEVICE), e.g. the AP's tunnel.
    #[arg(long, value_name = "IFACE")]
    upstream_device: Option<String>,
    /// NSS key log (SSLKEYLOGFILE format) to append the TLS secrets of both sides to, so
    /// Wireshark decrypts the capture.
    #[arg(long, value_name = "FILE")]
    keylog: PathBuf,
    /// JSON-lines file to append one record per connection to (decrypted excerpts).
    #[arg(long, value_name = "FILE")]
    flows: PathBuf,
    /// Connections handled at once; more wait to be accepted.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Seconds each handshake step (ClientHello, server, client) may take.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().handshake_timeout.as_secs())]
    handshake_timeout: u64,
    /// Seconds without traffic after which a relayed connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// More log lines (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_mark(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("not a 32-bit mark: {e}"))
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::NewCa { out, label } => new_ca(&out, &label),
    };
    if let Err(e) = result {
        eprintln!("matador-mitm: error: {e:#}");
        std::process::exit(1);
    }
}

fn new_ca(out: &std::path::Path, label: &str) -> anyhow::Result<()> {
    let made = ca::generate(label)?;
    let files = ca::write(out, &made)?;
    println!("{}", made.name);
    println!(
        "certificate (install on test phones): {}",
        files.cert.display()
    );
    println!(
        "private key (proxy only, mode 0600): {}",
        files.key.display()
    );
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    matador_api::logread::init(args.verbose, "matador_mitm=debug");
    // The router daemon restarts us; a half-working proxy would be worse than none.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("matador-mitm: panic: {info}");
        std::process::exit(70);
    }));
    let ca = InterceptionCa::load(&args.ca_cert, &args.ca_key).context("interception CA")?;
    let upstream_roots = match &args.upstream_ca {
        Some(path) => Some(upstream::load_roots(path).context("upstream CA")?),
        None => None,
    };
    let config = ProxyConfig {
        ca,
        upstream_roots,
        upstream_socket: UpstreamSocket {
            mark: args.upstream_mark,
            device: args.upstream_device,
        },
        keylog: args.keylog,
        flows: args.flows,
        limits: Limits {
            max_connections: args.max_connections.max(1),
            handshake_timeout: Duration::from_secs(args.handshake_timeout.max(1)),
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
            ..Limits::default()
        },
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?
        .block_on(async move {
            let proxy = Proxy::new(config, Arc::new(SoOriginalDst))?;
            let listeners = proxy::bind(&args.listen).await?;
            let shutdown = shutdown_signal().context("signal handlers")?;
            proxy.serve(listeners, shutdown).await?;
            tracing::info!("stopped");
            Ok(())
        })
}

/// Resolves on SIGTERM (procd, the router daemon) or SIGINT (a terminal).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent_and_marks_read_hex_or_decimal() {
        Cli::command().debug_assert();
        assert_eq!(parse_mark("0x4d00"), Ok(0x4d00));
        assert_eq!(parse_mark("19712"), Ok(19712));
        assert!(parse_mark("-1").is_err() && parse_mark("0xg").is_err());
        let cli = Cli::try_parse_from([
            "matador-mitm",
            "run",
            "--listen",
            "0.0.0.0:8443",
            "--listen",
            "[::]:8443",
            "--ca-cert",
            "c.pem",
            "--ca-key",
            "k.pem",
            "--keylog",
            "keys",
            "--flows",
            "flows",
            "--upstream-mark",
            "0x4d01",
        ])
        .expect("parses");
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        assert_eq!(args.listen.len(), 2);
        assert_eq!(args.upstream_mark, Some(0x4d01));
        assert_eq!(args.max_connections, 256);
        assert!(Cli::try_parse_from(["matador-mitm", "run", "--ca-cert", "c"]).is_err());
    }
}
