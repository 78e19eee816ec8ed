//! The real client address behind a trusted reverse proxy, from the
//! `X-Forwarded-For` header of the web door.
//!
//! Only when the immediate peer is a trusted proxy (`--trusted-proxy CIDR`;
//! a Unix-socket peer is a process on this machine and counts as
//! 127.0.0.1) is the header read at all; then the client is the rightmost
//! address that is not itself a trusted proxy (each proxy appends the
//! address it got the request from, so everything left of the first
//! untrusted hop may be forged by the client). A header that does not
//! parse leaves the last trusted hop as the client: a broken chain is
//! never believed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::acl::Cidr;

/// Most `X-Forwarded-For` entries looked at: far more proxies than any
/// real chain has, so a huge header costs a bounded walk.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// The client address of a request that came from `peer` (`None` for a
/// Unix-socket peer) with the `X-Forwarded-For` values `xff` (in header
/// order), given the trusted proxies. `None` means "no address": a Unix
/// peer with no trusted forwarding, which then shares no per-IP bucket.
pub fn client_ip<'a>(
    peer: Option<IpAddr>,
    xff: impl IntoIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> Option<IpAddr> {
    let immediate = peer.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !is_trusted(immediate, trusted) {
        return peer;
    }
    let hops: Vec<&str> = xff
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = Some(ip);
        if !is_trusted(ip, trusted) {
            return client;
        }
    }
    client
}

fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|c| c.contains(ip))
}

/// One hop: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = cidrs(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.5"), ["198.51.100.1"], &t),
            ip("203.0.113.5")
        );
        assert_eq!(client_ip(ip("203.0.113.5"), [], &[]), ip("203.0.113.5"));
    }

    #[test]
    fn a_trusted_chain_yields_the_rightmost_untrusted_hop() {
        let t = cidrs(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxies appended the rest.
        let xff = ["6.6.6.6, 198.51.100.7", "10.1.1.1"];
        assert_eq!(client_ip(ip("10.0.0.2"), xff, &t), ip("198.51.100.7"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), ["[2001:db8::1]:443"], &t),
            ip("2001:db8::1")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.2"), [], &t), ip("10.0.0.2"));
        // A broken entry stops the walk at the last trusted hop.
        assert_eq!(
            client_ip(ip("10.0.0.2"), ["1.2.3.4, junk, 10.9.9.9"], &t),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn a_unix_peer_has_no_address_unless_localhost_is_trusted() {
        assert_eq!(client_ip(None, ["198.51.100.7"], &[]), None);
        let t = cidrs(&["127.0.0.1/32"]);
        assert_eq!(client_ip(None, ["198.51.100.7"], &t), ip("198.51.100.7"));
    }
}
