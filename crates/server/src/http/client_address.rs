//! The address a request comes from, for throttling logins: the TCP peer's, unless the
//! peer is a proxy named by `--trusted-proxy`; then the nearest address in the chain it
//! forwarded (`Forwarded`, else `X-Forwarded-For`) that is not itself a trusted proxy.
//! From anyone else those headers are ignored: a client could write anything there.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts the given networks.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    /// Parses `--trusted-proxy`'s value: a network in CIDR notation, or one address.
    pub fn parse_network(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{text:?} is neither an address nor a network like 10.0.0.0/8"))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client's address: `peer`, or, when `peer` is trusted, the nearest untrusted
    /// address in the forwarded chain. `forwarded` and `x_forwarded_for` are every value
    /// of those headers, in order. An entry that is no address (`unknown`, an obfuscated
    /// name, garbage) ends the walk at the last address trusted so far.
    pub fn client_address(&self, peer: IpAddr, forwarded: &[&str], x_forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain: Vec<Option<IpAddr>> = if forwarded.is_empty() {
            x_forwarded_for.iter().flat_map(|value| value.split(',')).map(parse_address).collect()
        } else {
            forwarded.iter().flat_map(|value| value.split(',')).map(forwarded_for).collect()
        };
        let mut nearest = peer;
        for hop in chain.into_iter().rev() {
            let Some(address) = hop else { return nearest };
            nearest = address;
            if !self.trusts(address) {
                return address;
            }
        }
        nearest
    }
}

/// The `for=` of one `Forwarded` element (RFC 7239): `for=192.0.2.60;proto=http`,
/// `for="[2001:db8::17]:4711"`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value.trim())
    })?;
    parse_address(value.trim_matches('"'))
}

/// An address as proxies write it: bare, with a port, or bracketed IPv6 with or
/// without a port.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    text.parse().ok().or_else(|| {
        let (host, port) = text.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|n| TrustedProxies::parse_network(n).unwrap()).collect())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_address(ip("198.51.100.7"), &["for=203.0.113.1"], &["203.0.113.2"]), ip("198.51.100.7"));
        let some = proxies(&["10.0.0.0/8"]);
        assert_eq!(some.client_address(ip("198.51.100.7"), &[], &["203.0.113.2"]), ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        let peer = ip("127.0.0.1");
        assert_eq!(trusted.client_address(peer, &[], &["203.0.113.9"]), ip("203.0.113.9"));
        // The client wrote the first entry itself: only what our proxies appended counts.
        assert_eq!(trusted.client_address(peer, &[], &["1.2.3.4, 203.0.113.9, 10.1.2.3"]), ip("203.0.113.9"));
        assert_eq!(trusted.client_address(peer, &[], &["1.2.3.4", "203.0.113.9:4711"]), ip("203.0.113.9"));
        assert_eq!(trusted.client_address(peer, &[], &["10.0.0.2"]), ip("10.0.0.2"), "all trusted: the farthest");
        assert_eq!(trusted.client_address(peer, &[], &[]), peer, "nothing forwarded");
        assert_eq!(trusted.client_address(peer, &[], &["1.2.3.4, unknown"]), peer, "an entry that is no address");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        let forwarded = [r#"for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https"#];
        assert_eq!(trusted.client_address(peer, &forwarded, &["203.0.113.9"]), ip("2001:db8:cafe::17"));
        assert_eq!(trusted.client_address(peer, &["For=192.0.2.60;proto=http;by=203.0.113.43"], &[]), ip("192.0.2.60"));
        assert_eq!(trusted.client_address(peer, &["for=_hidden"], &[]), peer);
    }

    #[test]
    fn an_ipv4_peer_seen_through_ipv6_is_matched_as_ipv4() {
        let trusted = proxies(&["127.0.0.1"]);
        assert_eq!(trusted.client_address(ip("::ffff:127.0.0.1"), &[], &["203.0.113.9"]), ip("203.0.113.9"));
    }

    #[test]
    fn networks_parse_as_cidr_or_one_address() {
        assert!(TrustedProxies::parse_network("10.0.0.0/8").is_ok());
        assert!(TrustedProxies::parse_network("::1").is_ok());
        assert!(TrustedProxies::parse_network("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse_network("proxy.example").is_err());
    }
}
