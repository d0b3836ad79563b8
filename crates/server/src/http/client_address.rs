//! The address a request comes from, for throttling logins: the TCP peer's, unless the
//! peer is a proxy named by `--trusted-proxy`; then the nearest address in the chain it
//! forwarded that is not itself a trusted proxy. Only the one header the proxy is
//! configured to write is read (`--forwarded-header`: `X-Forwarded-For`, as nginx,
//! HAProxy and cloud load balancers write it, or RFC 7239's `Forwarded`): proxies pass
//! the other through as the client wrote it. From any other peer neither is believed.

use std::net::IpAddr;

use ipnet::IpNet;

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239: `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name.
    pub fn name(self) -> actix_web::http::header::HeaderName {
        match self {
            Self::XForwardedFor => actix_web::http::header::X_FORWARDED_FOR,
            Self::Forwarded => actix_web::http::header::FORWARDED,
        }
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Trusts the given networks' `header`.
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { networks, header }
    }

    /// The header it reads.
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }

    /// Parses `--trusted-proxy`'s value: a network in CIDR notation, or one address.
    pub fn parse_network(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("{text:?} is neither an address nor a network like 10.0.0.0/8"))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(&address))
    }

    /// The client's address: `peer`, or, when `peer` is trusted, the nearest untrusted
    /// address in the forwarded chain; `forwarded` is every value of the configured
    /// header, in order. An entry that is no address (`unknown`, an obfuscated name,
    /// garbage) ends the walk at the last address trusted so far. IPv4 addresses seen
    /// through IPv6 come back as IPv4.
    pub fn client_address(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let entries = forwarded.iter().flat_map(|value| value.split(','));
        let chain: Vec<Option<IpAddr>> = match self.header {
            ForwardedHeader::XForwardedFor => entries.map(parse_address).collect(),
            ForwardedHeader::Forwarded => entries.map(forwarded_for).collect(),
        };
        let mut nearest = peer;
        for hop in chain.into_iter().rev() {
            let Some(address) = hop.map(|address| address.to_canonical()) else { return nearest };
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

    fn proxies(networks: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|n| TrustedProxies::parse_network(n).unwrap()).collect(), header)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_address(ip("198.51.100.7"), &["203.0.113.2"]), ip("198.51.100.7"));
        let some = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(some.client_address(ip("198.51.100.7"), &["203.0.113.2"]), ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1"], ForwardedHeader::XForwardedFor);
        let peer = ip("127.0.0.1");
        assert_eq!(trusted.client_address(peer, &["203.0.113.9"]), ip("203.0.113.9"));
        // The client wrote the first entry itself: only what our proxies appended counts.
        assert_eq!(trusted.client_address(peer, &["1.2.3.4, 203.0.113.9, 10.1.2.3"]), ip("203.0.113.9"));
        assert_eq!(trusted.client_address(peer, &["1.2.3.4", "203.0.113.9:4711"]), ip("203.0.113.9"));
        assert_eq!(trusted.client_address(peer, &["10.0.0.2"]), ip("10.0.0.2"), "all trusted: the farthest");
        assert_eq!(trusted.client_address(peer, &[]), peer, "nothing forwarded");
        assert_eq!(trusted.client_address(peer, &["1.2.3.4, unknown"]), peer, "an entry that is no address");
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_configured() {
        let trusted = proxies(&["127.0.0.1/32"], ForwardedHeader::Forwarded);
        let peer = ip("127.0.0.1");
        let forwarded = [r#"for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https"#];
        assert_eq!(trusted.client_address(peer, &forwarded), ip("2001:db8:cafe::17"));
        assert_eq!(trusted.client_address(peer, &["For=192.0.2.60;proto=http;by=203.0.113.43"]), ip("192.0.2.60"));
        assert_eq!(trusted.client_address(peer, &["for=_hidden"]), peer);
        assert_eq!(ForwardedHeader::default().name(), actix_web::http::header::X_FORWARDED_FOR);
    }

    #[test]
    fn an_ipv4_address_seen_through_ipv6_is_ipv4() {
        let trusted = proxies(&["127.0.0.1"], ForwardedHeader::XForwardedFor);
        assert_eq!(trusted.client_address(ip("::ffff:127.0.0.1"), &["203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(trusted.client_address(ip("::ffff:198.51.100.1"), &[]), ip("198.51.100.1"));
        assert_eq!(trusted.client_address(ip("127.0.0.1"), &["::ffff:203.0.113.9"]), ip("203.0.113.9"));
    }

    #[test]
    fn networks_parse_as_cidr_or_one_address() {
        assert!(TrustedProxies::parse_network("10.0.0.0/8").is_ok());
        assert!(TrustedProxies::parse_network("::1").is_ok());
        assert!(TrustedProxies::parse_network("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse_network("proxy.example").is_err());
    }
}
