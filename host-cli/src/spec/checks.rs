//! Checks of single values that spec files share: names, Android identifiers, seconds,
//! certificate fingerprints. Each returns what is wrong, for a person; the caller adds the place.

/// Longest name of an app, router or vantage node: names go into measurement ids, which
/// the router API limits to 64 characters.
pub const MAX_NAME_LEN: usize = 32;
/// Longest timer in seconds: an hour between two messages is already unusual.
pub const MAX_TIMER_S: f64 = 3600.0;

/// A name: 1 to [`MAX_NAME_LEN`] characters of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} `{name}` must be 1 to {MAX_NAME_LEN} characters"
        ));
    }
    if !name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!("{what} `{name}` must start with a letter or digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(format!(
            "{what} `{name}` contains {c:?}; use letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// An Android package name (`com.example.app`): it goes into shell commands, so only the
/// characters Android allows.
pub fn check_package(package: &str) -> Result<(), String> {
    let ok = !package.is_empty()
        && package.len() <= 255
        && package.split('.').count() >= 2
        && package.split('.').all(|part| {
            part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "package `{package}` is not an Android package name (like com.example.app)"
        ))
    }
}

/// An activity class, full (`com.example.app.Main`) or relative to the package (`.Main`).
pub fn check_activity(activity: &str) -> Result<(), String> {
    let body = activity.strip_prefix('.').unwrap_or(activity);
    let ok = !body.is_empty()
        && activity.len() <= 255
        && body.split('.').all(|part| {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "activity `{activity}` is not a class name (like .MainActivity or com.example.app.Main)"
        ))
    }
}

/// A timer in seconds: finite, 0 to [`MAX_TIMER_S`].
pub fn check_seconds(what: &str, s: f64) -> Result<(), String> {
    if s.is_finite() && (0.0..=MAX_TIMER_S).contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be 0 to {MAX_TIMER_S} seconds, not {s}"
        ))
    }
}

/// A SHA-256 fingerprint as 64 hex digits, optionally in `AB:CD:…` pairs; lower case
/// without colons, as the lab and the router publish it.
pub fn normalise_fingerprint(text: &str) -> Result<String, String> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err("fingerprint must be a SHA-256 as 64 hex digits (colons allowed)".to_string())
    }
}

/// Text the phone can type with `input text`: printable ASCII (the tool cannot type other
/// characters) and no `%s`, which `input text` turns into a space.
pub fn check_typable(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > 1000 {
        return Err(format!("{what} must be 1 to 1000 characters"));
    }
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err(format!(
            "{what} contains {c:?}; `input text` types printable ASCII only"
        ));
    }
    if text.contains("%s") {
        return Err(format!(
            "{what} contains `%s`, which `input text` types as a space"
        ));
    }
    Ok(())
}

/// A file-name-safe label (screenshot names): `[A-Za-z0-9._-]`, not starting with `.`.
pub fn check_label(what: &str, label: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && !label.starts_with('.')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} `{label}` must be 1 to 64 characters of letters, digits, `.`, `_`, `-`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_android_identifiers() {
        assert!(check_name("app", "global-messenger").is_ok());
        assert!(check_name("app", "-x").is_err());
        assert!(check_name("app", "a b").is_err());
        assert!(check_name("app", &"a".repeat(33)).is_err());
        assert!(check_package("com.globalmessenger.android").is_ok());
        assert!(check_package("nodots").is_err());
        assert!(check_package("com.x;rm -rf").is_err());
        assert!(check_activity(".HomeActivity").is_ok());
        assert!(check_activity(".ui.LauncherUI").is_ok());
        assert!(check_activity("com.x.Main$Inner").is_ok());
        assert!(check_activity(".").is_err());
        assert!(check_activity(".Main Activity").is_err());
    }

    #[test]
    fn fingerprints_timers_and_typable_text() {
        let hex = "AB".repeat(32);
        assert_eq!(normalise_fingerprint(&hex), Ok("ab".repeat(32)));
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(normalise_fingerprint(&colons), Ok("ab".repeat(32)));
        assert!(normalise_fingerprint("abc").is_err());
        assert!(check_seconds("t", 0.0).is_ok());
        assert!(check_seconds("t", f64::NAN).is_err());
        assert!(check_seconds("t", -1.0).is_err());
        assert!(check_typable("m", "hello 'world' #1").is_ok());
        assert!(check_typable("m", "grüezi").is_err());
        assert!(check_typable("m", "50%s off").is_err());
        assert!(check_typable("m", "").is_err());
        assert!(check_label("s", "after-login.1").is_ok());
        assert!(check_label("s", "../x").is_err());
    }
}
