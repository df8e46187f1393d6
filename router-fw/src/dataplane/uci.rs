//! OpenWrt's UCI files (`/etc/config/matador`): the file syntax as libuci reads it (the
//! mapping onto `RouterConfig` and back is `uci_map`'s).
//!
//! Syntax: `package <name>`, `config <type> [<name>]`, `option <key> [<value>]`,
//! `list <key> <value>` (or `p`, `c`, `o`, `l`); words split at blanks; `'…'` is literal,
//! in `"…"` and bare words `\x` is `x`; quoted parts may span lines and join adjacent
//! parts (`'it'\''s'`); `\` at a line's end continues it; `#` starts a comment and `;`
//! ends a command, outside quotes.

use std::iter::Peekable;
use std::path::Path;
use std::str::Chars;

pub use super::uci_map::{to_config, to_uci};

/// A UCI file that cannot be read, or cannot be the daemon's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct UciError {
    /// 1-based line of the command at fault (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One `option` or `list` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UciOption {
    /// The option's name.
    pub key: String,
    /// Its value (`option key` alone gives "").
    pub value: String,
    /// `list` rather than `option`.
    pub list: bool,
    /// Where it is.
    pub line: usize,
}

/// One `config <type> [<name>]` section with its options, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UciSection {
    /// The section type.
    pub kind: String,
    /// Its name; `None` for an anonymous section.
    pub name: Option<String>,
    /// Where it starts.
    pub line: usize,
    /// Its options and list items.
    pub options: Vec<UciOption>,
}

/// A parsed file: the optional `package` name and the sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UciFile {
    /// The `package` line's name and line, if any (`uci export` writes one).
    pub package: Option<(String, usize)>,
    /// The sections, in file order.
    pub sections: Vec<UciSection>,
}

/// An error at `line`, as a `Result`.
pub(super) fn err<T>(line: usize, message: impl Into<String>) -> Result<T, UciError> {
    Err(UciError {
        line,
        message: message.into(),
    })
}

/// What C's `isspace` says, as libuci splits words with it (no Unicode blanks); the
/// newline is handled apart, as it ends a command.
fn blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

/// Reads one word from its first character; `line` follows the newlines it crosses.
/// `None` when there was only a line continuation, which is no word at all.
fn word(chars: &mut Peekable<Chars>, line: &mut usize) -> Result<Option<String>, UciError> {
    let (mut out, mut quoted) = (String::new(), false);
    while let Some(&c) = chars.peek() {
        match c {
            '\'' | '"' => {
                quoted = true;
                let opened = *line;
                chars.next();
                loop {
                    match chars.next() {
                        None => return err(opened, format!("the {c} opened here is never closed")),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => escaped(chars, line, &mut out)?,
                        Some(other) => {
                            *line += usize::from(other == '\n');
                            out.push(other);
                        }
                    }
                }
            }
            '\\' => {
                chars.next();
                escaped(chars, line, &mut out)?;
            }
            // A comment or the end of the command ends the word; the caller sees them.
            '#' | ';' | '\n' => break,
            c if blank(c) => break,
            c => {
                chars.next();
                out.push(c);
            }
        }
    }
    Ok((quoted || !out.is_empty()).then_some(out))
}

/// After a backslash: the next character as it is, or nothing for a line continuation.
fn escaped(
    chars: &mut Peekable<Chars>,
    line: &mut usize,
    out: &mut String,
) -> Result<(), UciError> {
    match chars.next() {
        None => err(*line, "backslash at the end of the file"),
        Some('\n') => {
            *line += 1;
            Ok(())
        }
        Some('\r') if chars.peek() == Some(&'\n') => {
            chars.next();
            *line += 1;
            Ok(())
        }
        Some(c) => {
            out.push(c);
            Ok(())
        }
    }
}

/// Splits text into commands: (line of the first word, words).
fn commands(text: &str) -> Result<Vec<(usize, Vec<String>)>, UciError> {
    let mut chars = text.chars().peekable();
    let (mut line, mut out) = (1, Vec::new());
    let mut current: (usize, Vec<String>) = (1, Vec::new());
    let end = |current: &mut (usize, Vec<String>), out: &mut Vec<_>| {
        if !current.1.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    while let Some(&c) = chars.peek() {
        match c {
            '\n' | ';' => {
                chars.next();
                end(&mut current, &mut out);
                line += usize::from(c == '\n');
            }
            '#' => while chars.next_if(|&c| c != '\n').is_some() {},
            c if blank(c) => {
                chars.next();
            }
            _ => {
                let start = line;
                if let Some(w) = word(&mut chars, &mut line)? {
                    if current.1.is_empty() {
                        current.0 = start;
                    }
                    current.1.push(w);
                }
            }
        }
    }
    end(&mut current, &mut out);
    Ok(out)
}

/// Whether libuci takes `s` as a section or option name (a-z, A-Z, 0-9, `_`).
pub fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses UCI text, with libuci's rules for names and stricter ones for extra words.
pub fn parse(text: &str) -> Result<UciFile, UciError> {
    let mut file = UciFile::default();
    for (line, words) in commands(text)? {
        let Some((command, args)) = words.split_first() else {
            continue;
        };
        let command = command.as_str();
        let max = match command {
            "p" | "package" => 1,
            "c" | "config" | "o" | "option" | "l" | "list" => 2,
            _ => {
                let known = "config, option, list or package";
                return err(line, format!("`{command}` is not a UCI command ({known})"));
            }
        };
        let first = args.first().map(String::as_str).unwrap_or_default();
        if first.is_empty() || args.len() > max {
            let what = if first.is_empty() {
                "nothing"
            } else {
                "too much"
            };
            let hint = "(quote a value with spaces)";
            return err(line, format!("`{command}` with {what} after it {hint}"));
        }
        let second = args.get(1).cloned().unwrap_or_default();
        match command {
            "p" | "package" => {
                let ok = first
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !ok || !file.sections.is_empty() || file.package.is_some() {
                    let m = format!("`package {first}`: one package name, before any section");
                    return err(line, m);
                }
                file.package = Some((first.to_string(), line));
            }
            "c" | "config" => {
                if !first.bytes().all(|b| (33..127).contains(&b)) {
                    return err(line, format!("`{first}` cannot be a section type"));
                }
                if !second.is_empty() && !is_name(&second) {
                    let m = format!("`{second}` cannot be a section name (a-z, A-Z, 0-9, _)");
                    return err(line, m);
                }
                file.sections.push(UciSection {
                    kind: first.to_string(),
                    name: (!second.is_empty()).then_some(second),
                    line,
                    options: vec![],
                });
            }
            _ => {
                let Some(section) = file.sections.last_mut() else {
                    return err(
                        line,
                        format!("`{command} {first}` before any `config` line"),
                    );
                };
                if !is_name(first) {
                    let m = format!("`{first}` cannot be an option name (a-z, A-Z, 0-9, _)");
                    return err(line, m);
                }
                section.options.push(UciOption {
                    key: first.to_string(),
                    value: second,
                    list: command.starts_with('l'),
                    line,
                });
            }
        }
    }
    Ok(file)
}

/// Whether `path`/`text` is UCI rather than YAML: a file under `/etc/config/`, or one whose
/// first line that is neither blank nor a comment starts with `config ` or `package `.
pub fn is_uci(path: &Path, text: &str) -> bool {
    if path.starts_with("/etc/config") {
        return true;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    first.is_some_and(|l| {
        ["config", "package"].iter().any(|c| {
            l.strip_prefix(c)
                .is_some_and(|r| r.starts_with([' ', '\t']))
        })
    })
}

/// A value as `uci export` quotes it: in single quotes, each `'` written `'\''`.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}
