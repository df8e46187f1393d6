//! Logging of the router's programs (the daemon and the interception proxy) for OpenWrt's
//! `logread`: stderr, no colours, no timestamps (procd adds them), the level from `-v`
//! unless `RUST_LOG` gives a `target=level,...` list. Without `env-filter`: its regex
//! engine is heavy for a router, and `filter::Targets` reads the same lists.

use tracing_subscriber::filter::{ParseError, Targets};

/// The filter: `rust_log` if it parses, else `level` for everything (with the parse error).
pub fn filter(rust_log: Option<&str>, level: &str) -> (Targets, Option<ParseError>) {
    let fallback = || level.parse().unwrap_or_default();
    match rust_log.map(str::parse::<Targets>) {
        Some(Ok(targets)) => (targets, None),
        Some(Err(e)) => (fallback(), Some(e)),
        None => (fallback(), None),
    }
}

/// Installs the global subscriber: info, debug or trace for `verbose` 0, 1, 2+, unless
/// `RUST_LOG` says otherwise; a `RUST_LOG` that does not parse is warned about, naming
/// `example` (`matador_router=debug`) as what it should look like.
pub fn init(verbose: u8, example: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = ["info", "debug", "trace"][usize::from(verbose.min(2))];
    let (filter, bad) = filter(std::env::var("RUST_LOG").ok().as_deref(), level);
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .finish()
        .with(filter)
        .init();
    if let Some(e) = bad {
        tracing::warn!(error = %e, "RUST_LOG ignored: expected target=level,... (e.g. {example})");
    }
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn rust_log_lists_override_the_verbosity_and_bad_ones_fall_back_with_an_error() {
        let (f, bad) = filter(Some("matador_router::capture=trace,warn"), "info");
        assert!(bad.is_none());
        assert!(f.would_enable("matador_router::capture", &Level::TRACE));
        assert!(!f.would_enable("matador_router::api", &Level::INFO));
        assert!(f.would_enable("matador_router::api", &Level::WARN));

        let (f, bad) = filter(Some("matador_router=loud"), "debug");
        assert!(bad.is_some());
        assert!(f.would_enable("matador_router::api", &Level::DEBUG));
        assert!(!f.would_enable("matador_router::api", &Level::TRACE));

        let (f, bad) = filter(None, "info");
        assert!(bad.is_none());
        assert!(!f.would_enable("anything", &Level::DEBUG));
    }
}
