//! `matador-host keys new` and `matador-host decrypt`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Arguments of `matador-host keys`.
#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make the researcher's age key pair: writes the identity (secret key) to FILE, mode
    /// 0600, and prints the public key (age1…) to give routers. Keep FILE secret and backed
    /// up: without it nothing encrypted to the key can be read.
    New {
        /// The identity file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing FILE (files encrypted to its key become unreadable).
        #[arg(long)]
        force: bool,
        /// Print {"public_key": …, "identity": …} instead of the bare public key.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `matador-host decrypt`.
#[derive(Args)]
pub struct DecryptArgs {
    /// The identity file (`keys new --out`, or one `age-keygen` wrote).
    #[arg(long, value_name = "FILE")]
    identity: PathBuf,
    /// Write the decrypted files here instead of next to the `.age` files.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// The `.age` files; X.age is decrypted to X (replacing it if present).
    #[arg(value_name = "IN", required = true)]
    inputs: Vec<PathBuf>,
}

/// Runs `matador-host keys`; the exit code.
pub fn keys(args: KeysArgs) -> Result<i32> {
    match args.command {
        KeysCommand::New { out, force, json } => {
            let key = super::new_identity(&out, force)?;
            if json {
                let v = serde_json::json!({
                    "public_key": key.public_key,
                    "identity": key.identity,
                });
                println!("{v:#}");
            } else {
                eprintln!(
                    "matador-host: identity written to {} (mode 0600); keep it secret and \
                     backed up. Public key:",
                    key.identity.display()
                );
                println!("{}", key.public_key);
            }
            Ok(0)
        }
    }
}

/// Runs `matador-host decrypt`: every input is tried, failures are reported by name, and
/// the command fails if any did.
pub fn decrypt(args: DecryptArgs) -> Result<i32> {
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--out-dir {}", dir.display()))?;
    }
    // A missing or malformed identity is one error, not one per input.
    super::load_identities(&args.identity)?;
    let mut failed = 0;
    for src in &args.inputs {
        let done = super::decrypted_path(src, args.out_dir.as_deref())
            .and_then(|dst| super::decrypt_to(&args.identity, src, &dst).map(|n| (dst, n)));
        match done {
            Ok((dst, n)) => println!("{} -> {} ({n} bytes)", src.display(), dst.display()),
            Err(e) => {
                eprintln!("matador-host: error: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files not decrypted", args.inputs.len());
    }
    Ok(0)
}
