//! What can go wrong driving a phone: ADB itself, a command that failed or printed the
//! unexpected, a state that did not read back as set, a wait that ran out.

use std::path::PathBuf;

/// A phone operation that did not work.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// The ADB connection or protocol failed.
    #[error("adb: {0}")]
    Adb(String),
    /// The adb server does not list the device, or not as ready.
    #[error("phone `{serial}` is {state} (see `matador-host phone list`)")]
    NotReady {
        /// The serial asked for.
        serial: String,
        /// What the server says about it, or "not on the adb server".
        state: String,
    },
    /// A command ended with a non-zero exit code (when the transport reports one).
    #[error("`{command}` failed with exit code {code}: {output}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit code.
        code: u8,
        /// The start of what it printed.
        output: String,
    },
    /// A command printed more than we read.
    #[error("`{command}` printed more than {limit} bytes")]
    TooMuchOutput {
        /// The command line.
        command: String,
        /// The limit.
        limit: usize,
    },
    /// A command printed an error or output that does not parse.
    #[error("`{command}`: {problem}")]
    Unexpected {
        /// The command line.
        command: String,
        /// What is wrong with its output.
        problem: String,
    },
    /// A step's state, read back, is not what the step set.
    #[error("{step}: {problem}")]
    NotVerified {
        /// Which preparation step.
        step: &'static str,
        /// What was read back.
        problem: String,
    },
    /// A state did not come about in time.
    #[error("{step}: not done after {waited_s:.0} s; last seen: {last}")]
    Timeout {
        /// Which step.
        step: &'static str,
        /// Seconds waited.
        waited_s: f64,
        /// The last state read.
        last: String,
    },
    /// A local file (screenshot) could not be written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being written.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The blocking task running the ADB calls died.
    #[error("the blocking ADB task failed: {0}")]
    Task(String),
}

impl PhoneError {
    /// The same error with `secret` (a Wi-Fi passphrase) blanked out of every text in it.
    pub fn redact(self, secret: &str) -> PhoneError {
        if secret.is_empty() {
            return self;
        }
        let r = |s: String| s.replace(secret, "<passphrase>");
        match self {
            PhoneError::Adb(s) => PhoneError::Adb(r(s)),
            PhoneError::Failed {
                command,
                code,
                output,
            } => PhoneError::Failed {
                command: r(command),
                code,
                output: r(output),
            },
            PhoneError::TooMuchOutput { command, limit } => PhoneError::TooMuchOutput {
                command: r(command),
                limit,
            },
            PhoneError::Unexpected { command, problem } => PhoneError::Unexpected {
                command: r(command),
                problem: r(problem),
            },
            PhoneError::NotVerified { step, problem } => PhoneError::NotVerified {
                step,
                problem: r(problem),
            },
            PhoneError::Timeout {
                step,
                waited_s,
                last,
            } => PhoneError::Timeout {
                step,
                waited_s,
                last: r(last),
            },
            other => other,
        }
    }
}
