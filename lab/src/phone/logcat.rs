//! The phone's log buffer, as `logcat -d` prints it (threadtime format): apps and the
//! system write lines with a priority and a tag; the oldest go when the buffer is full.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

/// Lines kept before the oldest are dropped (Android's main buffer is 256 KiB).
pub const LOGCAT_LINES: usize = 4096;

/// Priority of a log line (`V D I W E F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Verbose.
    Verbose,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

impl Priority {
    fn letter(self) -> char {
        match self {
            Priority::Verbose => 'V',
            Priority::Debug => 'D',
            Priority::Info => 'I',
            Priority::Warn => 'W',
            Priority::Error => 'E',
        }
    }

    fn from_letter(c: char) -> Option<Priority> {
        Some(match c.to_ascii_uppercase() {
            'V' | '*' => Priority::Verbose,
            'D' => Priority::Debug,
            'I' => Priority::Info,
            'W' => Priority::Warn,
            'E' | 'F' | 'S' => Priority::Error,
            _ => return None,
        })
    }
}

/// One log line.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Process id shown.
    pub pid: u32,
    /// Priority.
    pub priority: Priority,
    /// Tag.
    pub tag: String,
    /// Message (one line).
    pub message: String,
}

/// The bounded log buffer.
#[derive(Debug, Default)]
pub struct Logcat {
    lines: VecDeque<LogLine>,
}

impl Logcat {
    /// Appends a line, dropping the oldest when full; newlines in `message` are flattened.
    pub fn log(&mut self, pid: u32, priority: Priority, tag: &str, message: &str) {
        if self.lines.len() >= LOGCAT_LINES {
            self.lines.pop_front();
        }
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.lines.push_back(LogLine {
            unix_ms,
            pid,
            priority,
            tag: tag.to_string(),
            message: message.replace(['\n', '\r'], " "),
        });
    }

    /// Empties the buffer (`logcat -c`).
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    /// The lines `logcat` arguments select, formatted; `Err` is the usage message.
    pub fn dump(&self, args: &[&str]) -> Result<String, String> {
        let filter = Filter::parse(args)?;
        let mut out = String::from("--------- beginning of main\n");
        for l in self.lines.iter().filter(|l| filter.keeps(l)) {
            out.push_str(&format_threadtime(l));
            out.push('\n');
        }
        Ok(out)
    }
}

/// `-s TAG[:P]` and `TAG:P` filter specs; without any, everything is kept.
struct Filter {
    specs: Vec<(String, Priority)>,
    silent_default: bool,
}

impl Filter {
    fn parse(args: &[&str]) -> Result<Filter, String> {
        let mut specs = Vec::new();
        let mut silent_default = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match *a {
                "-d" | "-b" | "main" | "all" | "-v" | "threadtime" | "brief" => {}
                "-s" => silent_default = true,
                "-t" | "-T" | "-e" | "--pid" => {
                    it.next();
                }
                spec if !spec.starts_with('-') => {
                    let (tag, p) = spec.split_once(':').unwrap_or((spec, "V"));
                    let p = p
                        .chars()
                        .next()
                        .and_then(Priority::from_letter)
                        .ok_or_else(|| format!("Invalid filter expression '{spec}'"))?;
                    if tag == "*" {
                        silent_default = p == Priority::Error && spec.ends_with(":S");
                    } else {
                        specs.push((tag.to_string(), p));
                    }
                }
                other => return Err(format!("logcat: unknown option -- '{other}'")),
            }
        }
        Ok(Filter {
            specs,
            silent_default,
        })
    }

    fn keeps(&self, l: &LogLine) -> bool {
        match self.specs.iter().find(|(t, _)| *t == l.tag) {
            Some((_, p)) => l.priority >= *p,
            None => !self.silent_default,
        }
    }
}

/// `MM-DD HH:MM:SS.mmm  PID  TID P TAG: message` (UTC).
pub fn format_threadtime(l: &LogLine) -> String {
    let secs = l.unix_ms / 1000;
    let (_, month, day) = crate::civil::civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{month:02}-{day:02} {:02}:{:02}:{:02}.{:03} {:5} {:5} {} {}: {}",
        t / 3600,
        t / 60 % 60,
        t % 60,
        l.unix_ms % 1000,
        l.pid,
        l.pid,
        l.priority.letter(),
        l.tag,
        l.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threadtime_has_androids_columns() {
        let l = LogLine {
            unix_ms: 1_763_726_645_123,
            pid: 4242,
            priority: Priority::Info,
            tag: "GlobalMessenger".into(),
            message: "sent".into(),
        };
        assert_eq!(
            format_threadtime(&l),
            "11-21 12:04:05.123  4242  4242 I GlobalMessenger: sent"
        );
    }

    #[test]
    fn filters_by_tag_and_priority_and_stays_bounded() {
        let mut log = Logcat::default();
        log.log(1, Priority::Info, "A", "one\ntwo");
        log.log(2, Priority::Debug, "B", "b");
        log.log(3, Priority::Warn, "B", "warned");
        let all = log.dump(&["-d"]).expect("dump");
        assert!(all.contains("A: one two") && all.contains("B: b"), "{all}");
        let only_b_warn = log.dump(&["-d", "-s", "B:W"]).expect("dump");
        assert!(!only_b_warn.contains("A: ") && !only_b_warn.contains("B: b\n"));
        assert!(only_b_warn.contains("B: warned"), "{only_b_warn}");
        assert!(log.dump(&["-d", "B:Q"]).is_err());
        for i in 0..LOGCAT_LINES + 10 {
            log.log(1, Priority::Info, "X", &i.to_string());
        }
        assert_eq!(log.lines.len(), LOGCAT_LINES);
        log.clear();
        assert_eq!(
            log.dump(&[]).expect("dump"),
            "--------- beginning of main\n"
        );
    }
}
