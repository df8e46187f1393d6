//! `matador-routerd`: the service that runs on each lab router.
//!
//! Only `version` exists yet; `run`, `trace` and `flows` arrive with the router, traceroute
//! and flow-extraction issues.

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("version") | Some("--version") | Some("-V") => {
            println!(
                "matador-routerd {} (api {})",
                env!("CARGO_PKG_VERSION"),
                matador_api::API_VERSION
            );
        }
        Some(other) => {
            eprintln!("matador-routerd: unknown subcommand `{other}` (available: version)");
            std::process::exit(2);
        }
        None => {
            eprintln!("usage: matador-routerd version");
            std::process::exit(2);
        }
    }
}
