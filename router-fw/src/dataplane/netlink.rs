//! Links, addresses, routes and policy rules through rtnetlink: what the daemon adds, and
//! removes again on stop (also what a crashed run left, found by table and priority).

use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::rule::RuleAttribute;
use rtnetlink::{Handle, IpVersion, LinkUnspec, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr};

/// A netlink request that failed, and what it was for.
#[derive(Debug, thiserror::Error)]
#[error("netlink: {what}: {source}")]
pub struct NetlinkError {
    /// What the daemon was doing.
    pub what: String,
    /// The kernel's or the library's error.
    #[source]
    pub source: rtnetlink::Error,
}

fn err(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetlinkError {
    let what = what.into();
    move |source| NetlinkError { what, source }
}

/// Whether the error is the kernel saying the thing already exists (EEXIST).
fn exists(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -libc::EEXIST)
}

/// Whether the error is the kernel saying there is no such thing (ENOENT, ESRCH, ENODEV).
fn missing(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m)
        if [-libc::ENOENT, -libc::ESRCH, -libc::ENODEV, -libc::EADDRNOTAVAIL].contains(&m.raw_code()))
}

/// Connects to rtnetlink; the connection task runs on the current tokio runtime.
pub fn connect() -> std::io::Result<Handle> {
    let (connection, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(connection);
    Ok(handle)
}

/// Index of an interface, if it exists.
pub async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>, NetlinkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(err(format!("find interface {name}"))(e)),
    }
}

/// Sets an interface up.
pub async fn set_up(handle: &Handle, name: &str) -> Result<(), NetlinkError> {
    handle
        .link()
        .set(LinkUnspec::new_with_name(name).up().build())
        .execute()
        .await
        .map_err(err(format!("set {name} up")))
}

/// Adds an address to an interface (already there is fine).
pub async fn add_address(handle: &Handle, index: u32, net: Ipv4Net) -> Result<(), NetlinkError> {
    match handle
        .address()
        .add(index, IpAddr::V4(net.addr()), net.prefix_len())
        .execute()
        .await
    {
        Err(e) if !exists(&e) => Err(err(format!("add address {net}"))(e)),
        _ => Ok(()),
    }
}

/// Removes an address from an interface (already gone is fine).
pub async fn del_address(handle: &Handle, index: u32, addr: Ipv4Addr) -> Result<(), NetlinkError> {
    let mut found = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(msg) = found.try_next().await.map_err(err("list addresses"))? {
        let ours = msg.attributes.iter().any(|a| {
            matches!(a, rtnetlink::packet_route::address::AddressAttribute::Address(IpAddr::V4(v)) if *v == addr)
        });
        if ours {
            match handle.address().del(msg).execute().await {
                Err(e) if !missing(&e) => return Err(err(format!("delete address {addr}"))(e)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// A default route out of `index` in routing table `table` (replacing an older one).
pub async fn set_default_route(
    handle: &Handle,
    table: u32,
    index: u32,
) -> Result<(), NetlinkError> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new().table_id(table);
    replace_device_route(
        handle,
        route,
        index,
        format!("default route in table {table}"),
    )
    .await
}

/// A route to `net` out of `index` in the main table (replacing an older one): what
/// wg-quick's AllowedIPs become, for a tunnel that carries only some destinations.
pub async fn set_net_route(handle: &Handle, net: Ipv4Net, index: u32) -> Result<(), NetlinkError> {
    let route =
        RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(net.network(), net.prefix_len());
    replace_device_route(handle, route, index, format!("route to {net}")).await
}

/// Adds (or replaces) a route to `net` out of `index` in routing table `table`.
pub async fn set_table_net_route(
    handle: &Handle,
    table: u32,
    net: Ipv4Net,
    index: u32,
) -> Result<(), NetlinkError> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .table_id(table)
        .destination_prefix(net.network(), net.prefix_len());
    replace_device_route(
        handle,
        route,
        index,
        format!("route to {net} in table {table}"),
    )
    .await
}

/// Deletes the route to `net` out of `index` in table `table` (none there is fine).
pub async fn del_table_net_route(
    handle: &Handle,
    table: u32,
    net: Ipv4Net,
    index: u32,
) -> Result<(), NetlinkError> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .table_id(table)
        .destination_prefix(net.network(), net.prefix_len())
        .output_interface(index)
        .scope(rtnetlink::packet_route::route::RouteScope::Link)
        .build();
    match handle.route().del(route).execute().await {
        Err(e) if !missing(&e) => Err(err(format!("delete route to {net} in table {table}"))(e)),
        _ => Ok(()),
    }
}

/// Adds (or replaces) `route` as a device route out of `index`.
async fn replace_device_route(
    handle: &Handle,
    route: RouteMessageBuilder<Ipv4Addr>,
    index: u32,
    what: String,
) -> Result<(), NetlinkError> {
    // A device route has link scope (as `ip route add default dev X` makes it); with the
    // builder's default universe scope the kernel rejects lookups through it.
    let route = route
        .output_interface(index)
        .scope(rtnetlink::packet_route::route::RouteScope::Link)
        .build();
    handle
        .route()
        .add(route)
        .replace()
        .execute()
        .await
        .map_err(err(what))
}

/// Policy rule: traffic from `subnet` looks up `table`, at `priority` (replacing a leftover
/// of a crashed run at the same priority first).
pub async fn set_source_rule(
    handle: &Handle,
    subnet: Ipv4Net,
    table: u32,
    priority: u32,
) -> Result<(), NetlinkError> {
    del_rules_at(handle, priority).await?;
    handle
        .rule()
        .add()
        .v4()
        .source_prefix(subnet.network(), subnet.prefix_len())
        // The library leaves the action unset, which the kernel takes as "no action" and
        // then fails every lookup that reaches the rule with EINVAL.
        .action(rtnetlink::packet_route::rule::RuleAction::ToTable)
        .table_id(table)
        .priority(priority)
        .execute()
        .await
        .map_err(err(format!("rule from {subnet} lookup {table}")))
}

/// Deletes every IPv4 rule at `priority` (the daemon's own priorities only).
pub async fn del_rules_at(handle: &Handle, priority: u32) -> Result<(), NetlinkError> {
    let mut rules = handle.rule().get(IpVersion::V4).execute();
    let mut ours = Vec::new();
    while let Some(rule) = rules.try_next().await.map_err(err("list rules"))? {
        if rule
            .attributes
            .iter()
            .any(|a| matches!(a, RuleAttribute::Priority(p) if *p == priority))
        {
            ours.push(rule);
        }
    }
    for rule in ours {
        match handle.rule().del(rule).execute().await {
            Err(e) if !missing(&e) => return Err(err(format!("delete rule {priority}"))(e)),
            _ => {}
        }
    }
    Ok(())
}

/// Deletes an interface (already gone is fine).
pub async fn del_link(handle: &Handle, name: &str) -> Result<(), NetlinkError> {
    if let Some(index) = link_index(handle, name).await? {
        match handle.link().del(index).execute().await {
            Err(e) if !missing(&e) => return Err(err(format!("delete {name}"))(e)),
            _ => {}
        }
    }
    Ok(())
}
