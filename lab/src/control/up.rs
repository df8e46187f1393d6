//! Bringing the lab up: namespaces, the daemon (links and services), addresses and routes,
//! silent routers, vantage nodes, the geolocation database. Any failure tears down what was
//! built, so nothing is left half-built.

use super::configure::{ip_batch, silent_ruleset};
use super::down::teardown;
use super::state::{alive, LabLock, LabState, ProcessRecord, VantageRecord};
use super::LabError;
use super::{lab_router, phones, vantage};
use crate::daemon::READY_LINE;
use crate::mmdb::{CountryRecord, MmdbBuilder};
use crate::netns::{self, Netns};
use crate::plan::{Plan, RADIO_IFNAME};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How `lab up` starts the lab daemon: a program and its arguments, to which
/// `--plan FILE --dir DIR` are appended.
#[derive(Debug, Clone)]
pub struct DaemonCommand {
    /// Executable.
    pub program: PathBuf,
    /// Arguments before `--plan`.
    pub args: Vec<String>,
    /// Arguments that start an emulated phone, before `--plan`, `--name` and `--dir`.
    pub phone_args: Vec<String>,
    /// The router daemon the lab routers run (`matador-routerd`).
    pub routerd: PathBuf,
}

/// What `lab up` did.
#[derive(Debug)]
pub struct UpReport {
    /// False when a lab with this topology was already up and nothing was done.
    pub built: bool,
    /// Seconds bring-up took.
    pub seconds: f64,
    /// Namespaces in the lab.
    pub namespaces: usize,
    /// Leftovers of an earlier run that were removed first.
    pub cleaned: usize,
}

/// Builds the lab described by `plan`, unless the same lab is already up.
pub fn up(plan: &Plan, daemon: &DaemonCommand, dir: &Path) -> Result<UpReport, LabError> {
    netns::require_root()?;
    let start = Instant::now();
    let _lock = LabLock::take(dir).map_err(|e| LabError::io("lab lock", e))?;
    if let Some(state) = LabState::load(dir) {
        if state.complete && state.plan.name == plan.name && is_running(&state) {
            return Ok(UpReport {
                built: false,
                seconds: 0.0,
                namespaces: state.namespaces.len(),
                cleaned: 0,
            });
        }
    }
    let cleaned = teardown(dir)?.namespaces;
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| LabError::io("lab directory", e))?;
    let mut state = LabState {
        namespaces: plan.nodes.iter().map(|n| n.namespace.clone()).collect(),
        processes: Vec::new(),
        wg_sockets: Vec::new(),
        vantage: Vec::new(),
        plan: plan.clone(),
        mmdb: dir.join("geo.mmdb"),
        ca_pem: dir.join("ca.pem"),
        complete: false,
        up_seconds: 0.0,
    };
    match build(plan, daemon, dir, &mut state) {
        Ok(()) => {
            state.complete = true;
            state.up_seconds = start.elapsed().as_secs_f64();
            state.save(dir).map_err(|e| LabError::io("state file", e))?;
            Ok(UpReport {
                built: true,
                seconds: state.up_seconds,
                namespaces: state.namespaces.len(),
                cleaned,
            })
        }
        Err(e) => {
            let _ = state.save(dir);
            let _ = teardown(dir);
            Err(e)
        }
    }
}

/// Whether every part of a recorded lab is still there.
pub fn is_running(state: &LabState) -> bool {
    state.processes.iter().all(|p| alive(p.pid))
        && state.namespaces.iter().all(|n| netns::path(n).exists())
}

fn build(
    plan: &Plan,
    daemon: &DaemonCommand,
    dir: &Path,
    state: &mut LabState,
) -> Result<(), LabError> {
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    netns::create_all(&state.namespaces)?;

    let plan_path = dir.join("plan.json");
    let json =
        serde_json::to_vec(plan).map_err(|e| LabError::io("plan", std::io::Error::other(e)))?;
    std::fs::write(&plan_path, json).map_err(|e| LabError::io("plan", e))?;
    let pid = start_daemon(daemon, &plan_path, dir, state)?;
    tracing::debug!(pid, "lab daemon ready");
    // Veth pairs only now: the daemon has set every namespace's sysctls (no DAD) first.
    let veths: String = plan
        .links
        .iter()
        .filter(|l| !l.is_delayed())
        .map(|l| {
            let (a, b) = (&plan.nodes[l.a.node], &plan.nodes[l.b.node]);
            format!(
                "link add {} netns {} type veth peer name {} netns {}\n",
                l.a.ifname, a.namespace, l.b.ifname, b.namespace
            )
        })
        .collect();
    // The simulated radios: a veth from each lab router to its phone; without a phone, a
    // veth whose other end stays in the router's namespace, down (kernels without the
    // dummy module, such as this lab's CI, have veth).
    let radios: String = plan
        .nodes
        .iter()
        .filter_map(|n| n.lab_router.as_ref().map(|r| (n, r)))
        .map(|(n, r)| match r.phone.as_ref().and_then(|p| plan.node(p)) {
            Some(phone) => format!(
                "link add {} netns {} type veth peer name {} netns {}\n",
                r.radio_ifname, n.namespace, RADIO_IFNAME, phone.namespace
            ),
            None => format!(
                "link add {} netns {} type veth peer name {}-x netns {}\n",
                r.radio_ifname, n.namespace, r.radio_ifname, n.namespace
            ),
        })
        .collect();
    let veths = veths + &radios;
    if !veths.is_empty() {
        netns::run_batch(None, &veths)?;
    }

    for (i, node) in plan.nodes.iter().enumerate() {
        netns::run_batch(Some(&node.namespace), &ip_batch(plan, i))?;
        if let Some(rules) = silent_ruleset(plan, i) {
            vantage::nft(&Netns::open(&node.namespace)?, &rules)?;
        }
    }

    // All wireguard-go processes first, so their start-ups overlap.
    let logs = dir.join("logs");
    let mut keys = Vec::new();
    for node in &plan.nodes {
        let Some(v) = &node.vantage else { continue };
        let (record, sock) = vantage::start_wireguard(node, v, &logs)?;
        state.processes.push(record);
        state.wg_sockets.push(sock);
        keys.push((node, v, vantage::keypair()?));
    }
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    for (node, v, (private, public)) in keys {
        let record = vantage::configure(plan, node, v, &private, dir)?;
        state.processes.push(record);
        state.vantage.push(VantageRecord {
            node: node.name.clone(),
            public_key: public,
            peers: Vec::new(),
        });
    }

    for node in &plan.nodes {
        let Some(r) = &node.lab_router else { continue };
        lab_router::start(node, r, &daemon.routerd, dir, state)?;
    }
    state.save(dir).map_err(|e| LabError::io("state file", e))?;
    phones::start_all(plan, daemon, dir, state)?;

    geo_database(plan)
        .map_err(|e| LabError::Geo(e.to_string()))?
        .write_to(&state.mmdb)
        .map_err(|e| LabError::Geo(e.to_string()))?;
    Ok(())
}

fn start_daemon(
    daemon: &DaemonCommand,
    plan_path: &Path,
    dir: &Path,
    state: &mut LabState,
) -> Result<i32, LabError> {
    let log_path = dir.join("logs").join("daemon.log");
    let log = std::fs::File::create(&log_path).map_err(|e| LabError::io("daemon log", e))?;
    let mut cmd = Command::new(&daemon.program);
    cmd.args(&daemon.args)
        .arg("--plan")
        .arg(plan_path)
        .arg("--dir")
        .arg(dir);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
    // SAFETY: setsid is async-signal-safe; the daemon must outlive this command's session.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| LabError::io("start the lab daemon", e))?;
    let pid = i32::try_from(child.id())
        .map_err(|e| LabError::io("daemon pid", std::io::Error::other(e)))?;
    state.processes.push(ProcessRecord {
        pid,
        what: "daemon".into(),
    });
    let _ = std::fs::write(dir.join("daemon.pid"), pid.to_string());
    state.save(dir).map_err(|e| LabError::io("state file", e))?;

    let Some(stdout) = child.stdout.take() else {
        return Err(LabError::Daemon("no stdout".into()));
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    if line.trim() == READY_LINE {
        Ok(pid)
    } else {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        Err(LabError::Daemon(format!(
            "the lab daemon did not become ready: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )))
    }
}

/// The lab's geolocation database: every address of every node, mapped to the country the
/// plan says the database claims (the truth, except for deliberate mistakes).
pub fn geo_database(plan: &Plan) -> Result<MmdbBuilder, crate::mmdb::MmdbError> {
    let mut db = MmdbBuilder::new(
        "MATAdOR-Lab-Country",
        &format!(
            "MATAdOR virtual lab `{}`: countries of the lab's address plan",
            plan.name
        ),
    );
    for (i, node) in plan.nodes.iter().enumerate() {
        for addr in plan.addresses_of(i) {
            db.insert(
                addr.into(),
                CountryRecord {
                    iso_code: node.geo_country.clone(),
                    name_en: None,
                },
            )?;
        }
    }
    Ok(db)
}
