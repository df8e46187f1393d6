//! The emulated phone's shell: the commands the host runs over `adb shell`, with Android's
//! output formats and exit codes, acting on this phone's state and namespace.

mod activity;
mod broadcast;
mod connectivity;
mod system;
mod words;

use super::device::Phone;
use std::sync::Arc;
pub use words::{split, Join};

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Standard output (may be binary, e.g. `screencap -p`).
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit code.
    pub code: u8,
}

impl Output {
    /// Success with this text on stdout.
    pub fn ok(text: impl Into<String>) -> Output {
        Output {
            stdout: text.into().into_bytes(),
            ..Output::default()
        }
    }

    /// Failure with this text on stderr.
    pub fn fail(code: u8, text: impl Into<String>) -> Output {
        Output {
            stderr: text.into().into_bytes(),
            code,
            ..Output::default()
        }
    }

    /// Success printing nothing.
    pub fn quiet() -> Output {
        Output::default()
    }
}

/// Runs a command line (`;`, `&&`, `||` joined commands); output of all, code of the last.
pub fn run_line(phone: &Arc<Phone>, line: &str) -> Output {
    let commands = match split(line) {
        Ok(c) => c,
        Err(e) => return Output::fail(2, format!("/system/bin/sh: syntax error: {e}\n")),
    };
    let mut all = Output::default();
    for (join, argv) in commands {
        let wanted = match join {
            Join::Always => true,
            Join::IfOk => all.code == 0,
            Join::IfFailed => all.code != 0,
        };
        if !wanted {
            continue;
        }
        let out = run(phone, &argv);
        all.stdout.extend_from_slice(&out.stdout);
        all.stderr.extend_from_slice(&out.stderr);
        all.code = out.code;
    }
    all
}

/// Runs one command.
pub fn run(phone: &Arc<Phone>, argv: &[String]) -> Output {
    let Some((name, rest)) = argv.split_first() else {
        return Output::quiet();
    };
    let args: Vec<&str> = rest.iter().map(String::as_str).collect();
    // `/system/bin/x` and `x` are the same command.
    let name = name.rsplit('/').next().unwrap_or(name);
    match name {
        "getprop" => system::getprop(phone, &args),
        "settings" => system::settings(phone, &args),
        "svc" => connectivity::svc(phone, &args),
        "cmd" => match args.split_first() {
            Some((&"wifi", a)) => connectivity::cmd_wifi(phone, a),
            Some((&"location", a)) => system::cmd_location(phone, a),
            Some((service, _)) => Output::fail(20, format!("Can't find service: {service}\n")),
            None => Output::fail(20, "cmd: no service specified\n"),
        },
        "ip" | "ping" | "iptables" | "ip6tables" => connectivity::passthrough(name, &args),
        "pm" => activity::pm(phone, &args),
        "am" => activity::am(phone, &args),
        "monkey" => activity::monkey(phone, &args),
        "input" => activity::input(phone, &args),
        "dumpsys" => activity::dumpsys(phone, &args),
        "screencap" => activity::screencap(phone, &args),
        "logcat" => system::logcat(phone, &args),
        "reboot" => system::reboot(phone),
        "appops" => Output::quiet(),
        "echo" => Output::ok(format!("{}\n", args.join(" "))),
        "true" => Output::quiet(),
        "false" => Output::fail(1, ""),
        "id" => Output::ok(
            "uid=2000(shell) gid=2000(shell) groups=2000(shell),3003(inet) context=u:r:shell:s0\n",
        ),
        "sleep" => system::sleep(&args),
        "cat" => system::cat(phone, &args),
        "ls" => system::ls(phone, &args),
        other => Output::fail(127, format!("/system/bin/sh: {other}: not found\n")),
    }
}

#[cfg(test)]
mod tests;
