//! Emulated apps at run time. Each running app is a thread that has switched to the app's
//! own UID (per-thread credentials), so every socket it opens belongs to that UID and the
//! phone's per-app firewall rules (`iptables -m owner`) really apply. A messenger logs in
//! to its chat server when launched, sends what is typed when send is tapped, shows and
//! acknowledges what arrives, and reports everything to the phone's log.

use super::analytics;
use super::device::{Phone, ShownMessage};
use super::dns;
use super::logcat::Priority;
use super::trust::TrustStore;
use crate::services::{ChatClient, ChatEvent};
use crate::topology::App;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a connection attempt may take before the app retries.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between connection attempts.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// What the phone's UI asks of a running app.
#[derive(Debug)]
pub enum AppCommand {
    /// Send the message shown at this index of the app's screen.
    Send(usize, String),
    /// Quit (force-stop).
    Stop,
}

/// A running app: the channel to it.
#[derive(Debug)]
pub struct RunningApp {
    /// Its UI channel.
    pub commands: mpsc::UnboundedSender<AppCommand>,
}

/// Switches the calling thread (only it) to `uid`: raw system calls, because glibc's
/// wrappers would switch every thread of the phone.
pub(super) fn become_uid(uid: u32) -> std::io::Result<()> {
    // SAFETY: plain system calls with integer arguments and a null group list.
    let rc = unsafe {
        let mut rc = libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>());
        if rc == 0 {
            rc = libc::syscall(libc::SYS_setresgid, uid, uid, uid);
        }
        if rc == 0 {
            rc = libc::syscall(libc::SYS_setresuid, uid, uid, uid);
        }
        rc
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Starts `app` on its own thread under its UID; returns its UI channel.
pub fn launch(phone: &Arc<Phone>, app: &App) -> RunningApp {
    let (tx, rx) = mpsc::unbounded_channel();
    let phone = phone.clone();
    let app = app.clone();
    // The CAs are read while still root: the app's UID may not read the lab directory.
    let trust = TrustStore::read(&phone);
    let spawned = std::thread::Builder::new()
        .name(app.package.chars().take(15).collect())
        .spawn(move || {
            // SAFETY: gettid has no preconditions.
            let pid = unsafe { libc::gettid() } as u32;
            let tag = tag_of(&app);
            if let Err(e) = become_uid(app.uid) {
                phone.log(
                    pid,
                    Priority::Error,
                    &tag,
                    &format!("cannot run as uid {}: {e}", app.uid),
                );
                return;
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(messenger(phone, app, trust, pid, rx)),
                Err(e) => phone.log(pid, Priority::Error, &tag, &format!("runtime: {e}")),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start an app thread");
    }
    RunningApp { commands: tx }
}

/// The log tag of an app: its label without spaces.
pub fn tag_of(app: &App) -> String {
    app.label.chars().filter(|c| !c.is_whitespace()).collect()
}

fn set_status(phone: &Phone, app: &App, status: &str) {
    phone
        .state()
        .screens
        .entry(app.name.clone())
        .or_default()
        .status = status.to_string();
}

fn set_detail(phone: &Phone, app: &App, index: usize, detail: &str) {
    if let Some(m) = phone
        .state()
        .screens
        .get_mut(&app.name)
        .and_then(|s| s.messages.get_mut(index))
    {
        m.detail = detail.to_string();
    }
}

/// Where the app's chat server is: HTTP-DNS first if the app uses it, else the resolver.
async fn locate(phone: &Phone, app: &App) -> Result<IpAddr, String> {
    let resolver = phone.resolver().ok_or("no network")?;
    if let Some(host) = &app.httpdns {
        let server = dns::resolve(resolver, host).await?;
        return dns::http_dns(IpAddr::V4(server), host, &app.server).await;
    }
    dns::resolve(resolver, &app.server).await.map(IpAddr::V4)
}

async fn connect(
    phone: &Phone,
    app: &App,
    trust: &TrustStore,
) -> Result<(ChatClient, IpAddr), String> {
    let addr = locate(phone, app).await?;
    let attempt = async {
        let mut client = if app.tls {
            let config = trust.client_config()?;
            ChatClient::connect_tls(SocketAddr::new(addr, 443), &app.server, config).await
        } else {
            ChatClient::connect(SocketAddr::new(addr, 5222)).await
        }
        .map_err(|e| format!("connect to {addr}: {e}"))?;
        client
            .login(&phone.name)
            .await
            .map_err(|e| format!("login: {e}"))?;
        Ok::<_, String>(client)
    };
    let client = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("connect to {addr}: timed out"))??;
    Ok((client, addr))
}

/// The messenger's life: connect and log in, then send and receive until stopped.
async fn messenger(
    phone: Arc<Phone>,
    app: App,
    trust: TrustStore,
    pid: u32,
    mut ui: mpsc::UnboundedReceiver<AppCommand>,
) {
    let tag = tag_of(&app);
    let log = |p: Priority, m: &str| phone.log(pid, p, &tag, m);
    log(
        Priority::Info,
        &format!("started {} as uid {}", app.component(), app.uid),
    );
    if trust.user_cas() > 0 {
        let dir = super::trust::USER_CA_DIR;
        log(
            Priority::Info,
            &format!("trusting {} user CA file(s) from {dir}", trust.user_cas()),
        );
    }
    for skipped in trust.skipped() {
        log(Priority::Warn, &format!("not trusted: {skipped}"));
    }
    let contact = phone.role.contact.clone();
    let mut reported = false;
    let mut outbox: VecDeque<(usize, String)> = VecDeque::new();
    'life: loop {
        set_status(&phone, &app, "connecting");
        let (mut client, addr) = match connect(&phone, &app, &trust).await {
            Ok(c) => c,
            Err(e) => {
                log(Priority::Warn, &format!("offline: {e}"));
                set_status(&phone, &app, &format!("offline: {e}"));
                for (i, _) in &outbox {
                    set_detail(&phone, &app, *i, "waiting for network");
                }
                let pause = tokio::time::sleep(RETRY_PAUSE);
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        _ = &mut pause => continue 'life,
                        cmd = ui.recv() => match cmd {
                            Some(AppCommand::Send(i, text)) => outbox.push_back((i, text)),
                            Some(AppCommand::Stop) | None => break 'life,
                        },
                    }
                }
            }
        };
        log(
            Priority::Info,
            &format!(
                "login ok as {} at {} ({}:{})",
                phone.name,
                app.server,
                addr,
                if app.tls { 443 } else { 5222 }
            ),
        );
        set_status(&phone, &app, "online");
        if !reported {
            reported = true;
            analytics::spawn_report(&phone, &app, &trust, pid);
        }
        let result: Result<(), String> = async {
            loop {
                if let Some((i, text)) = outbox.pop_front() {
                    let Some(to) = &contact else {
                        set_detail(&phone, &app, i, "no contact");
                        continue;
                    };
                    match client.send(to, &text).await {
                        Ok(id) => {
                            log(Priority::Info, &format!("sent id={id} to={to} text={text:?}"));
                            set_detail(&phone, &app, i, &format!("sent #{id}"));
                        }
                        Err(e) => {
                            outbox.push_front((i, text));
                            return Err(format!("send: {e}"));
                        }
                    }
                    continue;
                }
                tokio::select! {
                    cmd = ui.recv() => match cmd {
                        Some(AppCommand::Send(i, text)) => outbox.push_back((i, text)),
                        Some(AppCommand::Stop) | None => return Ok(()),
                    },
                    event = client.next_event() => match event.map_err(|e| format!("connection lost: {e}"))? {
                        ChatEvent::Msg { id, from, text } => {
                            log(Priority::Info, &format!("received id={id} from={from} text={text:?}"));
                            phone.state().screens.entry(app.name.clone()).or_default().messages.push(ShownMessage {
                                outgoing: false,
                                text: text.clone(),
                                detail: from.clone(),
                            });
                            client.ack(id).await.map_err(|e| format!("ack: {e}"))?;
                        }
                        ChatEvent::Delivered { id } => {
                            log(Priority::Info, &format!("delivered id={id}"));
                            let mut s = phone.state();
                            if let Some(m) = s.screens.get_mut(&app.name).and_then(|s| {
                                s.messages.iter_mut().find(|m| m.detail == format!("sent #{id}"))
                            }) {
                                m.detail = format!("delivered #{id}");
                            }
                        }
                    },
                }
            }
        }
        .await;
        match result {
            Ok(()) => {
                let _ = client.close().await;
                break 'life;
            }
            Err(e) => {
                log(Priority::Warn, &e);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    log(Priority::Info, "stopped");
    set_status(&phone, &app, "stopped");
}
