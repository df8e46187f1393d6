//! Targets from the command line and from files: addresses are taken as they are, names are
//! resolved (and only names), duplicates dropped so each address is traced once.

use anyhow::{bail, Context, Result};
use matador_probe::trace::Target;
use std::collections::HashSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;

/// Which addresses a name may resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The first address the resolver gives.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// Largest target file read, so a wrong path cannot eat the router's memory.
const MAX_FILE: u64 = 16 << 20;

/// The targets of the arguments and files, in order, each address once.
pub fn collect(args: &[String], files: &[PathBuf], family: Family) -> Result<Vec<Target>> {
    let mut words: Vec<String> = args.to_vec();
    for path in files {
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.len() > MAX_FILE {
            bail!("{}: larger than {} MiB", path.display(), MAX_FILE >> 20);
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        words.extend(parse_file(&text));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for w in words {
        let t = resolve(&w, family)?;
        if seen.insert(t.addr) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The target words of a file: one per line, `#` comments and blank lines skipped.
pub fn parse_file(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().filter_map(|l| {
        let l = l.split('#').next().unwrap_or_default().trim();
        (!l.is_empty()).then(|| l.to_string())
    })
}

/// An address as it is; a name through the system resolver.
pub fn resolve(word: &str, family: Family) -> Result<Target> {
    if let Ok(addr) = word.parse::<IpAddr>() {
        return Ok(Target::new(addr, word));
    }
    if word.is_empty()
        || word.len() > 253
        || word.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!("{word:?} is neither an IP address nor a host name");
    }
    let addrs = (word, 0u16)
        .to_socket_addrs()
        .with_context(|| format!("resolving {word}"))?;
    let pick = addrs.map(|a| a.ip()).find(|a| match family {
        Family::Any => true,
        Family::V4 => a.is_ipv4(),
        Family::V6 => a.is_ipv6(),
    });
    match pick {
        Some(addr) => Ok(Target::new(addr, word)),
        None => bail!(
            "{word} has no {} address",
            if family == Family::V6 { "IPv6" } else { "IPv4" }
        ),
    }
}
