//! `phone stop`: a device's ingress peer removed from every router that has it, so its
//! monitoring stops at once; its results stay until `phone forget`.

use super::fleet::{DeviceTarget, Found};
use anyhow::{anyhow, Result};
use clap::Args;
use matador_api::{check_device_name, Ingress, IngressPeer};
use std::path::PathBuf;

/// Arguments of `matador-host phone stop`.
#[derive(Args)]
pub struct StopArgs {
    #[command(flatten)]
    target: DeviceTarget,
}

/// Removes the device's peers. Exit code 0; 1 when a router did not answer or a removal
/// failed, or no router has the device as a peer.
pub fn run(args: &StopArgs) -> Result<i32> {
    let device = args.target.device.as_str();
    let fleet = args.target.fleet()?;
    let mut code = 0;
    let mut stopped = 0;
    for (router, found) in fleet.ask(|c| c.ingress()) {
        let list = match found {
            Found::Known(list) => list,
            Found::Unknown => {
                // 404 on /v1/ingress: a router older than the ingress, so no phone is on it.
                continue;
            }
            Found::Failed(e) => {
                eprintln!("matador-host: router {router}: {e}");
                code = 1;
                continue;
            }
        };
        let Some((_, Ok(client))) = fleet.routers.iter().find(|(name, _)| *name == router) else {
            continue;
        };
        for (ap, peer) in peers_of(device, &list) {
            match fleet.block_on(client.remove_ingress_peer(ap, device)) {
                Ok(()) => {
                    stopped += 1;
                    println!(
                        "Stopped monitoring {device} on router {router} (AP {ap}, address {}): \
                         its peer is removed.",
                        peer.address
                    );
                }
                Err(e) => {
                    eprintln!("matador-host: router {router}: {e}");
                    code = 1;
                }
            }
        }
    }
    if stopped == 0 && code == 0 {
        eprintln!("matador-host: device {device} is not enrolled on any router");
        return Ok(1);
    }
    if stopped > 0 {
        println!(
            "Its results stay on the router until `matador-host phone forget --device {device}`."
        );
    }
    Ok(code)
}

/// The device's peers: each ingress's AP with the peer.
pub fn peers_of<'a>(device: &str, list: &'a [Ingress]) -> Vec<(&'a str, &'a IngressPeer)> {
    list.iter()
        .flat_map(|i| i.peers.iter().map(move |p| (i.ap.as_str(), p)))
        .filter(|(_, p)| p.device == device)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_devices_peers_are_found_on_every_ingress() {
        let peer = |device: &str, last| IngressPeer {
            device: device.into(),
            public_key: "k".into(),
            address: Ipv4Addr::new(10, 99, 0, last),
        };
        let ingress = |ap: &str, peers| Ingress {
            ap: ap.into(),
            interface: format!("in-{ap}"),
            listen_port: 51820,
            public_key: "k".into(),
            subnet: "10.99.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 99, 0, 1),
            peers,
        };
        let list = vec![
            ingress("ap0", vec![peer("ipad", 2), peer("pixel", 3)]),
            ingress("ap1", vec![peer("pixel", 2)]),
        ];
        let found = peers_of("pixel", &list);
        assert_eq!(
            found
                .iter()
                .map(|(ap, p)| (*ap, p.address))
                .collect::<Vec<_>>(),
            [
                ("ap0", Ipv4Addr::new(10, 99, 0, 3)),
                ("ap1", Ipv4Addr::new(10, 99, 0, 2))
            ]
        );
        assert!(peers_of("pix", &list).is_empty());
    }
}
