//! Apps and the screen: `pm list packages`, `am start|force-stop`, `monkey`, `input`,
//! `dumpsys window`, `dumpsys iphonesubinfo` and `screencap -p`.

use super::Output;
use crate::phone::apps::AppCommand;
use crate::phone::device::{Phone, ShownMessage, LAUNCHER, SYSTEM_PACKAGES};
use crate::phone::lifecycle::{self, device_path};
use crate::phone::screen::{self, Screen, ScreenMessage};
use crate::phone::vpn;
use crate::topology::{App, SCREEN_SIZE};
use std::sync::Arc;

/// `pm list packages [-U] [FILTER]`: `package:NAME[ uid:UID]` lines.
pub fn pm(phone: &Phone, args: &[&str]) -> Output {
    let ["list", "packages", rest @ ..] = args else {
        return Output::fail(255, "usage: pm list packages [-U] [FILTER]\n");
    };
    let with_uid = rest.contains(&"-U");
    let filter = rest
        .iter()
        .find(|a| !a.starts_with('-'))
        .copied()
        .unwrap_or("");
    let mut packages: Vec<(&str, u32)> = SYSTEM_PACKAGES.to_vec();
    packages.extend(phone.apps.iter().map(|a| (a.package.as_str(), a.uid)));
    if phone.role.is_cellular() {
        packages.push((vpn::WIREGUARD_PACKAGE, vpn::WIREGUARD_UID));
    }
    packages.sort();
    Output::ok(
        packages
            .into_iter()
            .filter(|(p, _)| p.contains(filter))
            .map(|(p, uid)| match with_uid {
                true => format!("package:{p} uid:{uid}\n"),
                false => format!("package:{p}\n"),
            })
            .collect::<String>(),
    )
}

/// The app a component (`pkg/.Activity` or `pkg/pkg.Activity`) names, if installed.
fn app_of_component<'a>(phone: &'a Phone, component: &str) -> Option<&'a App> {
    let (package, activity) = component.split_once('/')?;
    let app = phone.app_by_package(package)?;
    let full = |a: &str| match a.strip_prefix('.') {
        Some(rest) => format!("{package}.{rest}"),
        None => a.to_string(),
    };
    (full(activity) == full(&app.activity)).then_some(app)
}

/// `am start [-W] -n COMPONENT` and `am force-stop PACKAGE`.
pub fn am(phone: &Arc<Phone>, args: &[&str]) -> Output {
    match args {
        ["broadcast", rest @ ..] => super::broadcast::broadcast(phone, rest),
        ["start" | "start-activity", rest @ ..] => {
            let Some(component) = rest.windows(2).find(|w| w[0] == "-n").map(|w| w[1]) else {
                return Output::fail(
                    255,
                    "Error: am start needs -n COMPONENT in the emulated phone\n",
                );
            };
            let mut out = format!("Starting: Intent {{ cmp={component} }}\n");
            match app_of_component(phone, component) {
                Some(app) => {
                    lifecycle::start_app(phone, app);
                    if rest.contains(&"-W") {
                        out.push_str(&format!("Status: ok\nLaunchState: COLD\nActivity: {}\nTotalTime: 120\nWaitTime: 125\nComplete\n", app.component()));
                    }
                    Output::ok(out)
                }
                None => {
                    let cls = component.replacen(
                        "/.",
                        &format!("/{}.", component.split('/').next().unwrap_or("")),
                        1,
                    );
                    out.push_str(&format!(
                        "Error type 3\nError: Activity class {{{cls}}} does not exist.\n"
                    ));
                    Output {
                        stdout: out.into_bytes(),
                        stderr: Vec::new(),
                        code: 255,
                    }
                }
            }
        }
        ["force-stop", package, ..] => {
            if let Some(app) = phone.app_by_package(package) {
                lifecycle::stop_app(phone, app);
            }
            Output::quiet()
        }
        _ => Output::fail(
            255,
            "usage: am start -n COMPONENT | am force-stop PACKAGE | am broadcast -a ACTION [-e KEY VALUE]\n",
        ),
    }
}

/// `monkey -p PACKAGE N`: launches the package (how scripts start an app by package name).
pub fn monkey(phone: &Arc<Phone>, args: &[&str]) -> Output {
    let package = args.windows(2).find(|w| w[0] == "-p").map(|w| w[1]);
    let mut out: String = args.iter().map(|a| format!("  bash arg: {a}\n")).collect();
    match package.and_then(|p| phone.app_by_package(p)) {
        Some(app) => {
            lifecycle::start_app(phone, app);
            out.push_str("Events injected: 1\n## Network stats: elapsed time=12ms (0ms mobile, 12ms wifi, 0ms not connected)\n");
            Output::ok(out)
        }
        None => {
            out.push_str("** No activities found to run, monkey aborted.\n");
            Output {
                stdout: out.into_bytes(),
                stderr: Vec::new(),
                code: 251,
            }
        }
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u32)
}

/// `input tap X Y | text TEXT | keyevent KEY | swipe X1 Y1 X2 Y2 [MS]` on the app in front.
pub fn input(phone: &Phone, args: &[&str]) -> Output {
    let usage = || {
        Output::fail(1, "Usage: input [<source>] <command> [<arg>...]\n  tap <x> <y>\n  text <string>\n  keyevent <key code number or name>\n  swipe <x1> <y1> <x2> <y2> [duration(ms)]\n")
    };
    let args = match args.first() {
        Some(&("touchscreen" | "keyboard")) => &args[1..],
        _ => args,
    };
    let focused = phone.state().focused.clone();
    let app = focused
        .as_deref()
        .and_then(|n| phone.apps.iter().find(|a| a.name == n));
    match args {
        ["tap", x, y] => {
            let (Some(x), Some(y)) = (parse_u32(x), parse_u32(y)) else {
                return usage();
            };
            let Some(app) = app else {
                phone.state().last_action = format!("tap {x},{y} on the launcher");
                return Output::quiet();
            };
            if app.text_field.contains(x, y) {
                let mut s = phone.state();
                s.screens.entry(app.name.clone()).or_default().field_focused = true;
                s.last_action = format!("tap {x},{y} -> text field");
            } else if app.send_button.contains(x, y) {
                send_draft(phone, app, x, y);
            } else {
                phone.state().last_action = format!("tap {x},{y}");
            }
            Output::quiet()
        }
        ["text", text @ ..] if !text.is_empty() => {
            let text = text.join(" ").replace("%s", " ");
            let mut s = phone.state();
            s.last_action = format!("text {text:?}");
            if let Some(app) = app {
                let screen = s.screens.entry(app.name.clone()).or_default();
                if screen.field_focused {
                    screen.draft.push_str(&text);
                }
            }
            Output::quiet()
        }
        ["keyevent", keys @ ..] if !keys.is_empty() => {
            let mut s = phone.state();
            for key in keys {
                match *key {
                    "3" | "KEYCODE_HOME" | "4" | "KEYCODE_BACK" => s.focused = None,
                    "67" | "KEYCODE_DEL" => {
                        if let Some(app) = app {
                            s.screens.entry(app.name.clone()).or_default().draft.pop();
                        }
                    }
                    _ => {}
                }
                s.last_action = format!("key {key}");
            }
            Output::quiet()
        }
        ["swipe", a, b, c, d, ..] => {
            if [a, b, c, d].iter().any(|v| parse_u32(v).is_none()) {
                return usage();
            }
            phone.state().last_action = format!("swipe {a},{b} -> {c},{d}");
            Output::quiet()
        }
        _ => usage(),
    }
}

fn send_draft(phone: &Phone, app: &App, x: u32, y: u32) {
    let mut s = phone.state();
    s.last_action = format!("tap {x},{y} -> send");
    let screen = s.screens.entry(app.name.clone()).or_default();
    let text = std::mem::take(&mut screen.draft);
    if text.trim().is_empty() {
        return;
    }
    screen.messages.push(ShownMessage {
        outgoing: true,
        text: text.clone(),
        detail: "sending".into(),
    });
    let index = screen.messages.len() - 1;
    drop(s);
    if let Some(r) = phone.running().get(&app.name) {
        let _ = r.commands.send(AppCommand::Send(index, text));
    }
}

/// `dumpsys window [windows]`: the focused window, as the host reads it; `dumpsys
/// iphonesubinfo`: the IMEI.
pub fn dumpsys(phone: &Phone, args: &[&str]) -> Output {
    match args.first() {
        Some(&"iphonesubinfo") => Output::ok(format!(
            "Phone Subscriber Info:\n  Device ID={}\n",
            phone.role.imei
        )),
        Some(&"connectivity") => super::connectivity::dumpsys(phone),
        Some(&"window") => {
            let focused = phone.state().focused.clone();
            let component = focused
                .and_then(|n| phone.apps.iter().find(|a| a.name == n))
                .map(|a| a.component())
                .unwrap_or_else(|| LAUNCHER.to_string());
            Output::ok(format!(
                "WINDOW MANAGER WINDOWS (dumpsys window windows)\n  Window #0 Window{{7e1a2b u0 {component}}}:\n    mDisplayId=0 rootTaskId=1\n\n  mCurrentFocus=Window{{7e1a2b u0 {component}}}\n  mFocusedApp=ActivityRecord{{4d5e6f u0 {component} t12}}\n"
            ))
        }
        Some(service) => Output::ok(format!("Can't find service: {service}\n")),
        None => Output::fail(
            1,
            "dumpsys: the emulated phone dumps only `window` and `iphonesubinfo`\n",
        ),
    }
}

/// What the phone shows now.
pub fn current_screen(phone: &Phone) -> Screen {
    let s = phone.state();
    let (width, height) = SCREEN_SIZE;
    let vpn = s.vpn.as_ref().map_or("", |_| "  VPN");
    let wifi = match &s.wifi.connected {
        _ if phone.role.is_cellular() => format!("LTE{vpn}"),
        Some((ssid, lease)) => format!("Wi-Fi {ssid}  {}{vpn}", lease.ip),
        None if s.wifi.enabled => "Wi-Fi: not connected".to_string(),
        None => "Wi-Fi off".to_string(),
    };
    let mut screen = Screen {
        width,
        height,
        status_bar: format!("{}  {wifi}", phone.name),
        title: "Home".into(),
        last_action: s.last_action.clone(),
        ..Screen::default()
    };
    let app = s
        .focused
        .as_deref()
        .and_then(|n| phone.apps.iter().find(|a| a.name == n));
    if let Some(app) = app {
        let shown = s.screens.get(&app.name).cloned().unwrap_or_default();
        screen.title = app.label.clone();
        screen.status_bar = format!("{}  {wifi}  {}", phone.name, shown.status);
        screen.messages = shown
            .messages
            .iter()
            .map(|m| ScreenMessage {
                outgoing: m.outgoing,
                text: m.text.clone(),
                detail: m.detail.clone(),
            })
            .collect();
        screen.draft = shown.draft;
        screen.focused_field = shown.field_focused;
        let r = |r: crate::topology::Rect| screen::Rect {
            x: r.x,
            y: r.y,
            w: r.w,
            h: r.h,
        };
        screen.text_field = Some(r(app.text_field));
        screen.send_button = Some(r(app.send_button));
    }
    screen
}

/// `screencap -p [FILE]`: a PNG of the screen, on stdout or into a file.
pub fn screencap(phone: &Phone, args: &[&str]) -> Output {
    if !args.contains(&"-p") {
        return Output::fail(
            1,
            "screencap: the emulated phone writes PNG only (use -p)\n",
        );
    }
    let png = match screen::render_png(&current_screen(phone)) {
        Ok(png) => png,
        Err(e) => return Output::fail(1, format!("screencap: {e}\n")),
    };
    match args.iter().find(|a| !a.starts_with('-')) {
        None => Output {
            stdout: png,
            ..Output::default()
        },
        Some(file) => match device_path(phone, file).map(|p| std::fs::write(p, &png)) {
            Some(Ok(())) => Output::quiet(),
            _ => Output::fail(
                1,
                format!("Error opening file: {file} (No such file or directory)\n"),
            ),
        },
    }
}
