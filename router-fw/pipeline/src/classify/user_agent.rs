//! The client software a User-Agent names: its first product token (`okhttp/4.9.3` →
//! `okhttp` 4.9.3, `WhatsApp/2.23.20.76 A` → `WhatsApp`), and for `Mozilla/5.0 (…)`
//! browser strings the browser or WebView behind it.

/// Product tokens that name the browser inside a `Mozilla/5.0 (…)` string, most specific
/// first (Chrome's string also says Safari; Edge's and Opera's also say Chrome).
const BROWSERS: [(&str, &str); 7] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "SamsungBrowser"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Longest product name or version kept; longer ones are cut.
const MAX_TOKEN: usize = 64;

/// The product a User-Agent names, and its version if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The product's name.
    pub name: String,
    /// Its version.
    pub version: Option<String>,
}

/// The product of a User-Agent header value, if it has one.
pub fn product(user_agent: &str) -> Option<Product> {
    let ua = user_agent.trim();
    let first = ua.split([' ', '(', ';']).next()?.trim();
    let (name, version) = split_token(first);
    if name.is_empty() {
        return None;
    }
    if name.eq_ignore_ascii_case("Mozilla") {
        return Some(browser(ua).unwrap_or(Product {
            name: "Mozilla".to_string(),
            version,
        }));
    }
    Some(Product {
        name: clean(name),
        version,
    })
}

/// `name/version` into its parts.
fn split_token(token: &str) -> (&str, Option<String>) {
    match token.split_once('/') {
        Some((name, version)) => {
            let version = version.trim();
            (name.trim(), (!version.is_empty()).then(|| clean(version)))
        }
        None => (token, None),
    }
}

/// The browser or WebView behind a `Mozilla/…` string.
fn browser(ua: &str) -> Option<Product> {
    if ua.contains("; wv)") {
        let version = token_after(ua, "Chrome/");
        return Some(Product {
            name: "Android WebView".to_string(),
            version,
        });
    }
    BROWSERS.iter().find_map(|(marker, name)| {
        ua.contains(marker).then(|| Product {
            name: (*name).to_string(),
            version: token_after(ua, marker),
        })
    })
}

/// The version that follows `marker` up to the next space.
fn token_after(ua: &str, marker: &str) -> Option<String> {
    let start = ua.find(marker)? + marker.len();
    let version = ua.get(start..)?.split([' ', ';', ')']).next()?;
    (!version.is_empty()).then(|| clean(version))
}

/// A token from traffic, bounded in length and without control characters.
fn clean(token: &str) -> String {
    token
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TOKEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn named(ua: &str) -> Option<(String, Option<String>)> {
        product(ua).map(|p| (p.name, p.version))
    }

    fn some(name: &str, version: Option<&str>) -> Option<(String, Option<String>)> {
        Some((name.to_string(), version.map(str::to_string)))
    }

    #[test]
    fn apps_and_libraries_are_named_by_their_first_token() {
        assert_eq!(named("okhttp/4.9.3"), some("okhttp", Some("4.9.3")));
        assert_eq!(
            named("WhatsApp/2.23.20.76 A"),
            some("WhatsApp", Some("2.23.20.76"))
        );
        assert_eq!(
            named("Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A)"),
            some("Dalvik", Some("2.1.0"))
        );
        assert_eq!(named("curl"), some("curl", None));
        assert_eq!(
            named("Signal-Android/6.30.2 Android/33"),
            some("Signal-Android", Some("6.30.2"))
        );
    }

    #[test]
    fn browsers_and_webviews_are_told_apart() {
        let chrome = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
        assert_eq!(named(chrome), some("Chrome", Some("120.0.0.0")));
        let wv = "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36";
        assert_eq!(named(wv), some("Android WebView", Some("119.0.6045.193")));
        let firefox = "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0";
        assert_eq!(named(firefox), some("Firefox", Some("121.0")));
        assert_eq!(named("Mozilla/5.0"), some("Mozilla", Some("5.0")));
    }

    #[test]
    fn empty_agents_name_nothing() {
        assert_eq!(named(""), None);
        assert_eq!(named("   "), None);
        assert_eq!(named("/1.0"), None);
    }

    proptest! {
        #[test]
        fn any_agent_is_parsed_without_panic(ua in any::<String>()) {
            if let Some(p) = product(&ua) {
                prop_assert!(p.name.chars().count() <= MAX_TOKEN);
                prop_assert!(!p.name.chars().any(char::is_control));
            }
        }

        #[test]
        fn product_slash_version_round_trips(
            name in "[A-Za-z][A-Za-z0-9._-]{0,20}",
            version in "[0-9][0-9.]{0,10}",
            rest in "( [ -~]{0,30})?",
        ) {
            prop_assume!(!name.eq_ignore_ascii_case("mozilla"));
            let p = product(&format!("{name}/{version}{rest}"));
            prop_assert_eq!(p, Some(Product { name, version: Some(version) }));
        }
    }
}
