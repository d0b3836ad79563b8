//! The base string URI (RFC 5849 section 3.4.1.2).
//!
//! Scheme and host are lowercased, the port is dropped when it is the scheme's default
//! (80 for http, 443 for https), the path is kept exactly as sent (an empty one becomes
//! `/`), and the query and fragment are dropped. A server behind a reverse proxy builds
//! the URL from its configured public base URL and the request path, so the base string
//! matches what the client signed.

use std::fmt;

/// Why a URL cannot give a base string URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// Not an absolute `http://` or `https://` URL.
    UnsupportedScheme,
    /// Userinfo (`user@`) in the authority: never part of a signed OAuth URL.
    Userinfo,
    /// Missing or malformed host.
    BadHost,
    /// A port that is not a number from 0 to 65535.
    BadPort,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnsupportedScheme => "URL is not absolute http or https",
            Self::Userinfo => "URL carries userinfo",
            Self::BadHost => "URL has no valid host",
            Self::BadPort => "URL has an invalid port",
        })
    }
}

impl std::error::Error for UriError {}

/// Returns the base string URI of an absolute URL.
///
/// ```
/// use grantlog_oauth1::uri::base_string_uri;
/// assert_eq!(base_string_uri("HTTP://EXAMPLE.COM:80/r%20v/X?id=123").unwrap(), "http://example.com/r%20v/X");
/// assert_eq!(base_string_uri("https://www.example.net:8080/?q=1").unwrap(), "https://www.example.net:8080/");
/// ```
pub fn base_string_uri(url: &str) -> Result<String, UriError> {
    let (scheme, rest) = url.split_once("://").ok_or(UriError::UnsupportedScheme)?;
    let default_port = if scheme.eq_ignore_ascii_case("http") {
        80
    } else if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        return Err(UriError::UnsupportedScheme);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_end);
    let path = &after[..after.find(['?', '#']).unwrap_or(after.len())];
    if authority.contains('@') {
        return Err(UriError::Userinfo);
    }
    let (host, port) = split_host_port(authority)?;

    let mut uri = String::with_capacity(url.len());
    uri.push_str(&scheme.to_ascii_lowercase());
    uri.push_str("://");
    uri.push_str(&host.to_ascii_lowercase());
    if let Some(port) = port.filter(|&port| port != default_port) {
        uri.push(':');
        uri.push_str(&port.to_string());
    }
    uri.push_str(if path.is_empty() { "/" } else { path });
    Ok(uri)
}

/// The absolute URL a client signed, rebuilt by a server from its public base URL
/// (scheme, host and port as clients reach it, plus any path prefix a reverse proxy
/// strips) and the request target it received (path and query).
///
/// ```
/// use grantlog_oauth1::uri::signed_url;
/// assert_eq!(signed_url("https://faji.example/", "/api/photos?id=1"), "https://faji.example/api/photos?id=1");
/// assert_eq!(signed_url("https://faji.example/oauth", "/initiate"), "https://faji.example/oauth/initiate");
/// ```
pub fn signed_url(public_base: &str, request_target: &str) -> String {
    let base = public_base.trim_end_matches('/');
    let target = request_target.trim_start_matches('/');
    format!("{base}/{target}")
}

/// The query component of `url` (between `?` and `#`), if any.
pub fn query(url: &str) -> Option<&str> {
    let (_, after) = url.split_once('?')?;
    Some(&after[..after.find('#').unwrap_or(after.len())])
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UriError::BadHost)?;
        let (host, rest) = authority.split_at(close + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':').ok_or(UriError::BadPort)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%' | b'[' | b']' | b':'));
    if !host_ok {
        return Err(UriError::BadHost);
    }
    // An empty port ("host:") means the default, as RFC 3986 section 3.2.3 allows.
    let port = match port {
        None | Some("") => None,
        Some(digits) if digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse().map_err(|_| UriError::BadPort)?)
        }
        Some(_) => return Err(UriError::BadPort),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_only_the_default_port_of_the_scheme() {
        assert_eq!(base_string_uri("http://a.test:443/p").unwrap(), "http://a.test:443/p");
        assert_eq!(base_string_uri("https://a.test:80/p").unwrap(), "https://a.test:80/p");
        assert_eq!(base_string_uri("https://a.test:443/p").unwrap(), "https://a.test/p");
        assert_eq!(base_string_uri("http://a.test:/p").unwrap(), "http://a.test/p");
    }

    #[test]
    fn keeps_the_path_as_sent_and_drops_query_and_fragment() {
        assert_eq!(base_string_uri("http://a.test/%2C%3Ac/9?x#f").unwrap(), "http://a.test/%2C%3Ac/9");
        assert_eq!(base_string_uri("http://a.test?x=1").unwrap(), "http://a.test/");
        assert_eq!(base_string_uri("http://a.test#frag").unwrap(), "http://a.test/");
    }

    #[test]
    fn handles_ipv6_literals() {
        assert_eq!(base_string_uri("http://[::1]:8080/x").unwrap(), "http://[::1]:8080/x");
        assert_eq!(base_string_uri("http://[::1]:80/x").unwrap(), "http://[::1]/x");
        assert_eq!(base_string_uri("http://[::1]x/"), Err(UriError::BadPort));
    }

    #[test]
    fn refuses_what_is_not_a_plain_http_url() {
        assert_eq!(base_string_uri("/relative"), Err(UriError::UnsupportedScheme));
        assert_eq!(base_string_uri("ftp://a.test/"), Err(UriError::UnsupportedScheme));
        assert_eq!(base_string_uri("http://u:p@a.test/"), Err(UriError::Userinfo));
        assert_eq!(base_string_uri("http://a.test:99999/"), Err(UriError::BadPort));
        assert_eq!(base_string_uri("http://a.test:8x/"), Err(UriError::BadPort));
        assert_eq!(base_string_uri("http:///p"), Err(UriError::BadHost));
    }

    #[test]
    fn finds_the_query() {
        assert_eq!(query("http://a.test/p?x=1&y#f"), Some("x=1&y"));
        assert_eq!(query("http://a.test/p"), None);
    }
}
