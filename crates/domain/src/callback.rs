//! Callback URLs and the patterns a client registers for them.
//!
//! The callback is where the owner's browser is sent with the verifier, so a lax match
//! is an open redirect that hands verifiers to someone else. The parser here is
//! deliberately strict — stricter than browsers — and refuses anything whose meaning a
//! browser might read differently from us, rather than trying to interpret it:
//! user information (`http://good@evil`), backslashes, spaces and control characters,
//! non-ASCII hosts (register the punycode form), percent-encoded or malformed hosts,
//! dot segments in the path (`/cb/../evil`, also as `%2e`), and fragments (a fragment
//! would sit before the `oauth_token`/`oauth_verifier` we append to the query; OAuth 2
//! forbids them in redirect URIs for the same reason). Refusing a strange but harmless
//! URL costs a client developer a minute; accepting a dangerous one costs an owner's
//! photos.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::ValueError;

/// URLs longer than this are refused: browsers and proxies start truncating around 2 KB.
const MAX_URL_LEN: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    /// None written: the scheme's default.
    Default,
    Number(u16),
    /// `*` — patterns only.
    Any,
}

/// An absolute http(s) URL taken apart. Host lowercased; path and query as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpUrl {
    scheme: Scheme,
    host: String,
    port: Port,
    path: String,
    query: Option<String>,
}

impl HttpUrl {
    fn effective_port(&self) -> Option<u16> {
        match self.port {
            Port::Default => Some(self.scheme.default_port()),
            Port::Number(port) => Some(port),
            Port::Any => None,
        }
    }
}

struct Rules {
    what: &'static str,
    any_port: bool,
    query: bool,
    fragment: bool,
}

fn parse_http_url(text: &str, rules: &Rules) -> Result<HttpUrl, ValueError> {
    let invalid = |why| ValueError::new(rules.what, why);
    if text.is_empty() || text.len() > MAX_URL_LEN {
        return Err(invalid("must be 1 to 2000 bytes"));
    }
    if !text.bytes().all(|b| (0x21..=0x7E).contains(&b) && b != b'\\') {
        return Err(invalid("must be printable ASCII without spaces or backslashes"));
    }
    let (scheme, rest) = text.split_once("://").ok_or(invalid("must be an absolute http or https URL"))?;
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return Err(invalid("must be an absolute http or https URL"));
    };

    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(invalid("must not contain user information ('@')"));
    }
    let (host, port) = split_host_port(authority).ok_or(invalid("has a malformed host"))?;
    let port = match port {
        None => Port::Default,
        Some("*") if rules.any_port => Port::Any,
        Some(digits) => Port::Number(parse_port(digits).ok_or(invalid("has a malformed port"))?),
    };

    let (tail, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    if fragment.is_some() && !rules.fragment {
        return Err(invalid("must not have a fragment ('#')"));
    }
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if query.is_some() && !rules.query {
        return Err(invalid("must not have a query ('?')"));
    }
    check_path(path).map_err(invalid)?;

    Ok(HttpUrl {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path: path.to_owned(),
        query: query.map(str::to_owned),
    })
}

/// `host[:port]` or `[v6]` / `[v6]:port`. `None` if malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (inner, after) = bracketed.split_once(']')?;
        let valid_v6 = inner.contains(':') && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid_v6 {
            return None;
        }
        let host = &authority[..inner.len() + 2];
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let valid_name = !host.is_empty()
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    valid_name.then_some((host, port))
}

fn parse_port(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u16>().ok().filter(|port| *port != 0)
}

fn check_path(path: &str) -> Result<(), &'static str> {
    let bytes = path.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex_pair = bytes.get(i + 1..i + 3);
            if !hex_pair.is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit)) {
                return Err("has a malformed percent-escape in its path");
            }
        }
    }
    let is_dot_segment = |segment: &str| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    };
    if path.split('/').any(is_dot_segment) {
        return Err("must not have '.' or '..' path segments");
    }
    Ok(())
}

/// Where to send the owner's browser after the decision (`oauth_callback`): `oob` for
/// clients that cannot receive a redirect (the verifier is shown to the owner instead),
/// or an absolute http/https URL. Serialized as the text the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// `oob` (exactly, lowercase): "out of band", RFC 5849 section 2.1.
    Oob,
    /// An absolute http or https URL.
    Url(CallbackUrl),
}

/// A parsed callback URL (see the module docs for what it refuses). May carry a query;
/// the server appends `oauth_token` and `oauth_verifier` to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl {
    text: String,
    url: HttpUrl,
}

impl CallbackUrl {
    /// The URL exactly as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the URL already has a query (so the server appends with `&`, not `?`).
    pub fn has_query(&self) -> bool {
        self.url.query.is_some()
    }
}

impl Callback {
    /// Parses an `oauth_callback` value: `oob`, or an absolute http/https URL without
    /// user information, fragment or dot segments.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text == "oob" {
            return Ok(Self::Oob);
        }
        let url = parse_http_url(text, &Rules { what: "callback", any_port: false, query: true, fragment: false })?;
        Ok(Self::Url(CallbackUrl { text: text.to_owned(), url }))
    }

    /// The callback as the client sent it (`oob` or the URL).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Oob => "oob",
            Self::Url(url) => url.as_str(),
        }
    }
}

/// A callback a client registered: an absolute http/https URL, without query or
/// fragment, whose port may be `*` (the demo client registers `http://127.0.0.1:*`,
/// because a command-line client listens on whatever port it was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPattern {
    text: String,
    url: HttpUrl,
}

impl CallbackPattern {
    /// Parses a registered callback pattern.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let url =
            parse_http_url(text, &Rules { what: "callback pattern", any_port: true, query: false, fragment: false })?;
        Ok(Self { text: text.to_owned(), url })
    }

    /// The pattern as registered.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `callback` is one this pattern allows: `oob` always; a URL when the
    /// scheme is the same, the host is the same (ignoring case), the port is the same
    /// (an absent port being the scheme's default; `*` allowing any), and the path is
    /// the pattern's path or below it (`/cb` allows `/cb` and `/cb/done`, not `/cbx`; an
    /// empty or `/` path allows any). The callback may add a query.
    pub fn allows(&self, callback: &Callback) -> bool {
        let Callback::Url(callback) = callback else {
            return true;
        };
        let (pattern, url) = (&self.url, &callback.url);
        let port_allowed = match pattern.port {
            Port::Any => true,
            _ => pattern.effective_port() == url.effective_port(),
        };
        pattern.scheme == url.scheme
            && pattern.host.eq_ignore_ascii_case(&url.host)
            && port_allowed
            && path_allowed(&pattern.path, &url.path)
    }
}

fn path_allowed(pattern: &str, path: &str) -> bool {
    let base = pattern.trim_end_matches('/');
    if base.is_empty() {
        return true;
    }
    path == pattern || path == base || path.strip_prefix(base).is_some_and(|below| below.starts_with('/'))
}

/// A client's homepage, shown as a link on the consent page: an absolute http/https URL
/// (never `javascript:` or `data:`), by the same strict rules as a callback except that
/// a query and a fragment are fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homepage {
    text: String,
}

impl Homepage {
    /// Parses a homepage URL.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        parse_http_url(text, &Rules { what: "homepage", any_port: false, query: true, fragment: true })?;
        Ok(Self { text: text.to_owned() })
    }

    /// The URL as registered.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Where a client receives revocation notices: an absolute http/https URL by the
/// callbacks' strict rules, a query allowed, no fragment (it would not be sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyUrl {
    text: String,
}

impl NotifyUrl {
    /// Parses a notification URL.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        parse_http_url(text, &Rules { what: "notify_url", any_port: false, query: true, fragment: false })?;
        Ok(Self { text: text.to_owned() })
    }

    /// The URL as registered.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

macro_rules! text_serde {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
text_serde!(Callback);
text_serde!(CallbackPattern);
text_serde!(Homepage);
text_serde!(NotifyUrl);

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> CallbackPattern {
        CallbackPattern::parse(text).unwrap()
    }

    fn callback(text: &str) -> Callback {
        Callback::parse(text).unwrap()
    }

    #[test]
    fn oob_is_exactly_lowercase_oob() {
        assert_eq!(callback("oob"), Callback::Oob);
        assert!(Callback::parse("OOB").is_err());
        assert!(Callback::parse("oob ").is_err());
    }

    #[test]
    fn oob_is_always_allowed() {
        assert!(pattern("https://beppa.example/cb").allows(&Callback::Oob));
    }

    #[test]
    fn the_demo_pattern_allows_any_loopback_port() {
        let demo = pattern("http://127.0.0.1:*");
        assert!(demo.allows(&callback("http://127.0.0.1:49152/callback?order=7")));
        assert!(demo.allows(&callback("http://127.0.0.1/")));
        assert!(demo.allows(&callback("http://127.0.0.1:8000")));
        assert!(!demo.allows(&callback("https://127.0.0.1:49152/callback")));
        assert!(!demo.allows(&callback("http://127.0.0.2:49152/callback")));
        assert!(!demo.allows(&callback("http://localhost:49152/callback")));
    }

    #[test]
    fn host_compares_without_case_and_ports_with_defaults() {
        let registered = pattern("https://Beppa.example/cb");
        assert!(registered.allows(&callback("https://beppa.EXAMPLE/cb")));
        assert!(registered.allows(&callback("https://beppa.example:443/cb")));
        assert!(!registered.allows(&callback("https://beppa.example:8443/cb")));
        assert!(!registered.allows(&callback("https://beppa.example.evil/cb")));
        assert!(!registered.allows(&callback("https://evil.beppa.example/cb")));
        assert!(pattern("http://beppa.example:80/").allows(&callback("http://beppa.example/x")));
    }

    #[test]
    fn path_must_be_the_pattern_or_below_it() {
        let registered = pattern("https://beppa.example/oauth/cb");
        assert!(registered.allows(&callback("https://beppa.example/oauth/cb")));
        assert!(registered.allows(&callback("https://beppa.example/oauth/cb/done")));
        assert!(registered.allows(&callback("https://beppa.example/oauth/cb?order=1")));
        assert!(!registered.allows(&callback("https://beppa.example/oauth/cbx")));
        assert!(!registered.allows(&callback("https://beppa.example/oauth")));
        assert!(!registered.allows(&callback("https://beppa.example/oauth/cb%2Fx")));
        let trailing = pattern("https://beppa.example/oauth/cb/");
        assert!(trailing.allows(&callback("https://beppa.example/oauth/cb/done")));
        assert!(!trailing.allows(&callback("https://beppa.example/oauth/cbx")));
    }

    #[test]
    fn an_empty_or_root_pattern_path_allows_any_path() {
        for registered in ["https://beppa.example", "https://beppa.example/"] {
            assert!(pattern(registered).allows(&callback("https://beppa.example/any/where")));
            assert!(pattern(registered).allows(&callback("https://beppa.example")));
        }
    }

    #[test]
    fn refuses_urls_a_browser_might_read_differently() {
        for text in [
            "http://beppa.example@evil.example/cb",
            "http://beppa.example\\@evil.example/cb",
            "http://beppa.example/cb/../../evil",
            "http://beppa.example/cb/%2e%2E/evil",
            "http://beppa.example/cb#frag",
            "http://beppa.example/cb%zz",
            "http://beppa.example:/cb",
            "http://beppa.example:99999/cb",
            "http://beppa.example:0/cb",
            "http://beppa.example:+80/cb",
            "http://beppa..example/cb",
            "http://beppa.example./cb",
            "http://b%65ppa.example/cb",
            "http://bépa.example/cb",
            "http:// beppa.example/cb",
            "http://",
            "javascript://beppa.example/%0aalert(1)",
            "ftp://beppa.example/cb",
            "//beppa.example/cb",
            "/cb",
            "http://beppa.example:*/cb",
        ] {
            assert!(Callback::parse(text).is_err(), "accepted {text}");
        }
        assert!(Callback::parse(&format!("http://b.example/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn accepts_ipv6_literals() {
        let registered = pattern("http://[::1]:*/cb");
        assert!(registered.allows(&callback("http://[::1]:5000/cb")));
        assert!(!registered.allows(&callback("http://[::2]:5000/cb")));
        assert!(Callback::parse("http://[::1/cb").is_err());
        assert!(Callback::parse("http://[evil]/cb").is_err());
    }

    #[test]
    fn patterns_have_no_query_or_fragment() {
        assert!(CallbackPattern::parse("https://beppa.example/cb?x=1").is_err());
        assert!(CallbackPattern::parse("https://beppa.example/cb#x").is_err());
        assert!(CallbackPattern::parse("oob").is_err());
    }

    #[test]
    fn keeps_the_text_as_sent_and_notes_a_query() {
        let Callback::Url(url) = callback("HTTP://Beppa.Example/cb?order=7") else {
            panic!("not a URL");
        };
        assert_eq!(url.as_str(), "HTTP://Beppa.Example/cb?order=7");
        assert!(url.has_query());
        assert_eq!(serde_json::to_string(&Callback::Url(url)).unwrap(), r#""HTTP://Beppa.Example/cb?order=7""#);
        assert_eq!(serde_json::to_string(&Callback::Oob).unwrap(), r#""oob""#);
    }

    #[test]
    fn homepages_are_http_only() {
        assert!(Homepage::parse("https://beppa.example/about#team").is_ok());
        assert!(Homepage::parse("javascript:alert(1)").is_err());
        assert!(Homepage::parse("data:text/html,hi").is_err());
    }
}
