//! Checks shared by every request type: identifiers, and the error that names the bad field.

use std::fmt;

/// Longest measurement, AP, vantage-node or app identifier.
pub const MAX_ID_LEN: usize = 64;
/// Longest result id (`<measurement>.<kind>`).
pub const MAX_RESULT_ID_LEN: usize = 80;

/// A field of a request that does not hold: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field, as named on the wire (`peer.endpoint`, `timers.interval_s`).
    pub field: String,
    /// What is wrong with it, for a person.
    pub reason: String,
}

impl Invalid {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for Invalid {}

/// An identifier: 1 to [`MAX_ID_LEN`] characters of `[A-Za-z0-9._-]`, not starting with `.`
/// (so neither `.` nor `..` nor a hidden file name: ids become file names on the router).
pub fn check_id(field: &str, id: &str) -> Result<(), Invalid> {
    check_name(field, id, MAX_ID_LEN)
}

/// A result id: as [`check_id`], up to [`MAX_RESULT_ID_LEN`] characters.
pub fn check_result_id(field: &str, id: &str) -> Result<(), Invalid> {
    check_name(field, id, MAX_RESULT_ID_LEN)
}

fn check_name(field: &str, id: &str, max: usize) -> Result<(), Invalid> {
    if id.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if id.len() > max {
        return Err(Invalid::new(
            field,
            format!("{} characters, at most {max} allowed", id.len()),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(Invalid::new(
            field,
            format!("{c:?} is not allowed (use A-Z a-z 0-9 . _ -)"),
        ));
    }
    if id.starts_with('.') {
        return Err(Invalid::new(field, "must not start with '.'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("id", "m-2024.01_a").is_ok());
        assert!(check_id("id", &"a".repeat(64)).is_ok());
        assert!(check_id("id", &"a".repeat(65)).is_err());
        assert!(check_result_id("id", &"a".repeat(80)).is_ok());
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "é", "a\0"] {
            let e = check_id("id", bad).expect_err(bad);
            assert_eq!(e.field, "id");
        }
        assert_eq!(
            check_id("ap", "a/b").unwrap_err().to_string(),
            "ap: '/' is not allowed (use A-Z a-z 0-9 . _ -)"
        );
    }
}
