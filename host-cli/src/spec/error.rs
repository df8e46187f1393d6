//! Errors of experiment, inventory and campaign files: the file, the line and column when the
//! problem has a place, and what to fix.

use serde_saphyr::Spanned;
use std::fmt;

/// A spec file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// File the problem is in.
    pub file: String,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(u64, u64)>,
    /// What is wrong, and what to fix.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl SpecError {
    /// An error at a place in `file`.
    pub fn at(file: &str, position: (u64, u64), message: impl Into<String>) -> SpecError {
        SpecError {
            file: file.to_string(),
            position: Some(position),
            message: message.into(),
        }
    }

    /// An error about `file` as a whole.
    pub fn whole(file: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            file: file.to_string(),
            position: None,
            message: message.into(),
        }
    }

    /// A YAML syntax, type or unknown-key error from serde-saphyr.
    pub fn yaml(file: &str, e: &serde_saphyr::Error) -> SpecError {
        SpecError {
            file: file.to_string(),
            position: e.location().map(|l| (l.line(), l.column())),
            message: yaml_message(&e.to_string()),
        }
    }
}

/// Where a spanned value was written.
pub fn pos<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

/// serde-saphyr's first line without its own `error: line N column M:` prefix, which
/// would repeat the position we print as `file:line:col`.
fn yaml_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or(text).trim();
    let rest = first.strip_prefix("error:").map(str::trim).unwrap_or(first);
    if let Some(after) = rest.strip_prefix("line ") {
        let mut words = after.splitn(4, ' ');
        let (line, col_word, col) = (words.next(), words.next(), words.next());
        let digits = |w: Option<&str>| {
            w.is_some_and(|w| w.trim_end_matches(':').bytes().all(|b| b.is_ascii_digit()))
        };
        if digits(line) && col_word == Some("column") && digits(col) {
            if let Some(message) = words.next() {
                return message.trim().to_string();
            }
        }
    }
    rest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_yaml_position_prefix_is_dropped_once() {
        assert_eq!(
            yaml_message("error: line 2 column 8: unknown variant `some`, expected all\nmore"),
            "unknown variant `some`, expected all"
        );
        assert_eq!(yaml_message("something else"), "something else");
        let e = SpecError::at("a.yaml", (3, 4), "bad");
        assert_eq!(e.to_string(), "a.yaml:3:4: bad");
        assert_eq!(SpecError::whole("a.yaml", "bad").to_string(), "a.yaml: bad");
    }
}
