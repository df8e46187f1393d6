//! Splitting a shell command line the way `sh` does for the simple lines the host sends:
//! words with single and double quotes and backslashes, joined by `;`, `&&` and `||`.

/// How a command is joined to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// First command, or after `;`: always runs.
    Always,
    /// After `&&`: runs if the previous one succeeded.
    IfOk,
    /// After `||`: runs if the previous one failed.
    IfFailed,
}

/// The commands of a line, each with how it joins the previous one; `Err` on an
/// unterminated quote (what `sh` reports as a syntax error).
pub fn split(line: &str) -> Result<Vec<(Join, Vec<String>)>, String> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut join = Join::Always;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            ';' | '&' | '|' => {
                let next = match (c, chars.peek()) {
                    (';', _) => Join::Always,
                    ('&', Some('&')) => Join::IfOk,
                    ('|', Some('|')) => Join::IfFailed,
                    _ => {
                        // A lone `&` or `|`: background jobs and pipes are not emulated.
                        return Err(format!("`{c}` is not supported by the emulated shell"));
                    }
                };
                if next != Join::Always {
                    chars.next();
                }
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !words.is_empty() {
                    commands.push((join, std::mem::take(&mut words)));
                }
                join = next;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push((join, words));
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotes_and_joins() {
        assert_eq!(
            split(r#"input text 'hello world' && echo "a \"b\"" ; false || x\ y"#),
            Ok(vec![
                (Join::Always, w(&["input", "text", "hello world"])),
                (Join::IfOk, w(&["echo", "a \"b\""])),
                (Join::Always, w(&["false"])),
                (Join::IfFailed, w(&["x y"])),
            ])
        );
        assert_eq!(split("echo ''"), Ok(vec![(Join::Always, w(&["echo", ""]))]));
        assert!(split("echo 'open").is_err());
        assert!(split("ls | grep x").is_err());
        assert_eq!(split("   "), Ok(vec![]));
    }
}
