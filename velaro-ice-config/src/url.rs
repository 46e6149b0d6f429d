//! STUN and TURN server URLs (RFC 7064, RFC 7065), validated the way browsers validate the
//! `urls` of an `RTCIceServer` (W3C WebRTC, "validate an ICE server URL").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::host::{self, Host, HostFault, excerpt};

/// The longest URL text we parse; real ones are well under 300 characters.
pub const MAX_URL_LEN: usize = 1024;

/// The default port of `stun:` and `turn:` (RFC 8489 §18.6).
pub const DEFAULT_PORT: u16 = 3478;

/// The default port of `stuns:` and `turns:` (RFC 8489 §18.6).
pub const DEFAULT_TLS_PORT: u16 = 5349;

/// The scheme of an ICE server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `stun:` over UDP (or TCP).
    Stun,
    /// `stuns:` over TLS.
    Stuns,
    /// `turn:` over UDP or TCP.
    Turn,
    /// `turns:` over TLS.
    Turns,
}

impl Scheme {
    /// The scheme as written in a URL, without the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Stun => "stun",
            Scheme::Stuns => "stuns",
            Scheme::Turn => "turn",
            Scheme::Turns => "turns",
        }
    }

    /// Whether this is a TURN scheme, which needs a username and a credential.
    pub fn is_turn(self) -> bool {
        matches!(self, Scheme::Turn | Scheme::Turns)
    }

    /// Whether the scheme runs over TLS.
    pub fn is_secure(self) -> bool {
        matches!(self, Scheme::Stuns | Scheme::Turns)
    }

    fn default_port(self) -> u16 {
        if self.is_secure() { DEFAULT_TLS_PORT } else { DEFAULT_PORT }
    }
}

/// The transport between a client and a TURN server (`?transport=` of RFC 7065).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnTransport {
    /// UDP (the default for `turn:`).
    Udp,
    /// TCP (always for `turns:`, whose TLS runs over TCP).
    Tcp,
}

impl TurnTransport {
    /// The transport as written after `?transport=`.
    pub fn as_str(self) -> &'static str {
        match self {
            TurnTransport::Udp => "udp",
            TurnTransport::Tcp => "tcp",
        }
    }
}

/// A bad ICE server URL. Each variant names what was wrong; none is recoverable by retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL was empty.
    #[error("ice server url is empty")]
    Empty,
    /// The URL was longer than [`MAX_URL_LEN`].
    #[error("ice server url is {len} bytes long, more than {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The scheme is not `stun`, `stuns`, `turn` or `turns` (or there is no `scheme:`).
    #[error("unknown ice server url scheme `{0}` (expected stun, stuns, turn or turns)")]
    UnknownScheme(String),
    /// `//` after the scheme: ICE URLs are not hierarchical (`turn:host`, not `turn://host`).
    #[error("ice server url must not contain `//` after the scheme")]
    Hierarchical,
    /// A `user@` part; credentials belong in `username`/`credential`, never in the URL.
    #[error("ice server url must not contain userinfo (`user@host`)")]
    Userinfo,
    /// A `/path` after the host.
    #[error("ice server url must not contain a path: `{0}`")]
    Path(String),
    /// A `#fragment`.
    #[error("ice server url must not contain a fragment")]
    Fragment,
    /// A `?query` on a `stun:` or `stuns:` URL.
    #[error("stun and stuns urls take no query, found `?{0}`")]
    QueryOnStun(String),
    /// A query other than `transport=udp` or `transport=tcp` on a TURN URL (`?proto=` is a
    /// common mistake).
    #[error("turn url query must be `transport=udp` or `transport=tcp`, found `?{0}`")]
    InvalidQuery(String),
    /// `turns:` with `?transport=udp`: TURN over DTLS is not deployed by browsers.
    #[error("turns urls run over tls/tcp; `transport=udp` (turn over dtls) is not supported")]
    TurnsOverUdp,
    /// The host is missing or not a DNS name or IPv4 address.
    #[error("invalid host `{0}` in ice server url")]
    InvalidHost(String),
    /// Unbalanced brackets, an IPv6 address without brackets, or an invalid IPv6 address.
    #[error("invalid ipv6 host `{0}` in ice server url (write it as `[2001:db8::1]`)")]
    InvalidIpv6(String),
    /// The port is empty, not decimal, 0, or above 65535.
    #[error("invalid port `{0}` in ice server url (expected 1 to 65535)")]
    InvalidPort(String),
}

/// A validated STUN or TURN server URL.
///
/// Parsing is strict (what browsers refuse, we refuse, with a reason) and case-insensitive in
/// the scheme, host and transport. `Display` writes the canonical form: lowercase, IPv6 in
/// brackets, the port and `?transport=` only when they were given, so
/// `parse(display(url)) == url`.
///
/// ```
/// use velaro_ice_config::{IceUrl, Scheme, TurnTransport};
///
/// let url: IceUrl = "TURN:Turn.Example.com?transport=TCP".parse()?;
/// assert_eq!(url.scheme(), Scheme::Turn);
/// assert_eq!(url.port(), 3478);
/// assert_eq!(url.transport(), TurnTransport::Tcp);
/// assert_eq!(url.to_string(), "turn:turn.example.com?transport=tcp");
/// assert!("turn:turn.example.com?proto=tcp".parse::<IceUrl>().is_err());
/// # Ok::<(), velaro_ice_config::UrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IceUrl {
    scheme: Scheme,
    host: Host,
    port: Option<u16>,
    transport: Option<TurnTransport>,
}

impl IceUrl {
    /// Builds a URL from parts, with the default port and transport.
    pub fn new(scheme: Scheme, host: Host) -> Self {
        IceUrl { scheme, host, port: None, transport: None }
    }

    /// Sets an explicit port. Port 0 means "the default port".
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = (port != 0).then_some(port);
        self
    }

    /// Sets the TURN transport. Refused on `stun(s):`, and `udp` on `turns:`.
    pub fn with_transport(mut self, transport: TurnTransport) -> Result<Self, UrlError> {
        match (self.scheme, transport) {
            (Scheme::Stun | Scheme::Stuns, _) => {
                return Err(UrlError::QueryOnStun(format!("transport={}", transport.as_str())));
            }
            (Scheme::Turns, TurnTransport::Udp) => return Err(UrlError::TurnsOverUdp),
            _ => {}
        }
        self.transport = Some(transport);
        Ok(self)
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port: the explicit one, or 3478 (`stun`, `turn`) / 5349 (`stuns`, `turns`).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The port only if the URL names one.
    pub fn explicit_port(&self) -> Option<u16> {
        self.port
    }

    /// The transport to the server: the explicit `?transport=`, else UDP for `stun`/`turn` and
    /// TCP for the TLS schemes.
    pub fn transport(&self) -> TurnTransport {
        self.transport.unwrap_or(if self.scheme.is_secure() {
            TurnTransport::Tcp
        } else {
            TurnTransport::Udp
        })
    }

    /// The transport only if the URL names one.
    pub fn explicit_transport(&self) -> Option<TurnTransport> {
        self.transport
    }
}

impl FromStr for IceUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, UrlError> {
        if text.is_empty() {
            return Err(UrlError::Empty);
        }
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong { len: text.len(), max: MAX_URL_LEN });
        }
        let (scheme_text, rest) =
            text.split_once(':').ok_or_else(|| UrlError::UnknownScheme(excerpt(text)))?;
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "stun" => Scheme::Stun,
            "stuns" => Scheme::Stuns,
            "turn" => Scheme::Turn,
            "turns" => Scheme::Turns,
            _ => return Err(UrlError::UnknownScheme(excerpt(scheme_text))),
        };
        if rest.starts_with("//") {
            return Err(UrlError::Hierarchical);
        }
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let (authority, query) = match rest.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (rest, None),
        };
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        if let Some(slash) = authority.find('/') {
            return Err(UrlError::Path(excerpt(authority.get(slash..).unwrap_or_default())));
        }
        let host_error = |fault| match fault {
            HostFault::BadIpv6 => UrlError::InvalidIpv6(excerpt(authority)),
            HostFault::BadName => UrlError::InvalidHost(excerpt(authority)),
        };
        let (host_text, port_text) = host::split_host_port(authority).map_err(host_error)?;
        let host = host::parse_host(host_text).map_err(host_error)?;
        let port = match port_text {
            None => None,
            Some(port) => Some(
                host::parse_nonzero_port(port)
                    .ok_or_else(|| UrlError::InvalidPort(excerpt(port)))?,
            ),
        };
        let transport = match query {
            None => None,
            Some(query) if !scheme.is_turn() => return Err(UrlError::QueryOnStun(excerpt(query))),
            Some(query) => Some(parse_transport_query(query)?),
        };
        if scheme == Scheme::Turns && transport == Some(TurnTransport::Udp) {
            return Err(UrlError::TurnsOverUdp);
        }
        Ok(IceUrl { scheme, host, port, transport })
    }
}

fn parse_transport_query(query: &str) -> Result<TurnTransport, UrlError> {
    let invalid = || UrlError::InvalidQuery(excerpt(query));
    let (key, value) = query.split_once('=').ok_or_else(invalid)?;
    if !key.eq_ignore_ascii_case("transport") {
        return Err(invalid());
    }
    if value.eq_ignore_ascii_case("udp") {
        Ok(TurnTransport::Udp)
    } else if value.eq_ignore_ascii_case("tcp") {
        Ok(TurnTransport::Tcp)
    } else {
        Err(invalid())
    }
}

impl fmt::Display for IceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme.as_str(), self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(transport) = self.transport {
            write!(f, "?transport={}", transport.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for IceUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IceUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize_from_str(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IceUrl, UrlError> {
        text.parse()
    }

    #[test]
    fn parses_every_scheme_with_defaults() {
        let cases = [
            ("stun:stun.example.com", Scheme::Stun, 3478, TurnTransport::Udp),
            ("stuns:stun.example.com", Scheme::Stuns, 5349, TurnTransport::Tcp),
            ("turn:turn.example.com", Scheme::Turn, 3478, TurnTransport::Udp),
            ("turns:turn.example.com", Scheme::Turns, 5349, TurnTransport::Tcp),
            ("turn:192.0.2.1:80?transport=tcp", Scheme::Turn, 80, TurnTransport::Tcp),
            ("turns:[2001:db8::1]:443?transport=tcp", Scheme::Turns, 443, TurnTransport::Tcp),
        ];
        for (text, scheme, port, transport) in cases {
            let url = parse(text).unwrap();
            assert_eq!((url.scheme(), url.port(), url.transport()), (scheme, port, transport));
            assert_eq!(url.to_string(), text);
        }
    }

    #[test]
    fn display_is_canonical_lowercase() {
        let url = parse("STUNS:[2001:DB8:0:0::1]:5349").unwrap();
        assert_eq!(url.to_string(), "stuns:[2001:db8::1]:5349");
        assert_eq!(url.explicit_port(), Some(5349));
        assert_eq!(parse(&url.to_string()), Ok(url));
    }

    #[test]
    fn each_error_is_specific() {
        let cases: &[(&str, UrlError)] = &[
            ("", UrlError::Empty),
            ("http:example.com", UrlError::UnknownScheme("http".into())),
            ("example.com", UrlError::UnknownScheme("example.com".into())),
            ("turn://example.com", UrlError::Hierarchical),
            ("turn:user@example.com", UrlError::Userinfo),
            ("stun:example.com/path", UrlError::Path("/path".into())),
            ("stun:example.com#frag", UrlError::Fragment),
            ("stun:example.com?transport=udp", UrlError::QueryOnStun("transport=udp".into())),
            ("stuns:example.com?", UrlError::QueryOnStun(String::new())),
            ("turn:example.com?proto=udp", UrlError::InvalidQuery("proto=udp".into())),
            ("turn:example.com?transport=sctp", UrlError::InvalidQuery("transport=sctp".into())),
            (
                "turn:example.com?transport=udp&x=1",
                UrlError::InvalidQuery("transport=udp&x=1".into()),
            ),
            ("turns:example.com?transport=udp", UrlError::TurnsOverUdp),
            ("turn:example.com:0", UrlError::InvalidPort("0".into())),
            ("turn:example.com:65536", UrlError::InvalidPort("65536".into())),
            ("turn:example.com:", UrlError::InvalidPort(String::new())),
            ("turn:example.com:12a", UrlError::InvalidPort("12a".into())),
            ("turn:[2001:db8::1", UrlError::InvalidIpv6("[2001:db8::1".into())),
            ("turn:2001:db8::1", UrlError::InvalidIpv6("2001:db8::1".into())),
            ("turn:[2001:db8::1]x", UrlError::InvalidIpv6("[2001:db8::1]x".into())),
            ("turn:[192.0.2.1]", UrlError::InvalidIpv6("[192.0.2.1]".into())),
            ("turn:", UrlError::InvalidHost(String::new())),
            ("turn:bad_host.example", UrlError::InvalidHost("bad_host.example".into())),
            ("turn:999.1.1.1", UrlError::InvalidHost("999.1.1.1".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).as_ref(), Err(expected), "{text}");
        }
        let long = format!("stun:{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(parse(&long), Err(UrlError::TooLong { len: long.len(), max: MAX_URL_LEN }));
    }

    #[test]
    fn builder_enforces_the_same_rules() {
        let host = Host::Domain("turn.example.com".into());
        let stun = IceUrl::new(Scheme::Stun, host.clone());
        assert!(matches!(stun.with_transport(TurnTransport::Tcp), Err(UrlError::QueryOnStun(_))));
        let turns = IceUrl::new(Scheme::Turns, host.clone());
        assert_eq!(turns.with_transport(TurnTransport::Udp), Err(UrlError::TurnsOverUdp));
        let turn = IceUrl::new(Scheme::Turn, host)
            .with_port(443)
            .with_transport(TurnTransport::Tcp)
            .unwrap();
        assert_eq!(turn.to_string(), "turn:turn.example.com:443?transport=tcp");
    }

    #[test]
    fn serde_uses_the_string_form() {
        let url: IceUrl = serde_json::from_str("\"turn:h.example:3479\"").unwrap();
        assert_eq!(serde_json::to_string(&url).unwrap(), "\"turn:h.example:3479\"");
        let err = serde_json::from_str::<IceUrl>("\"turn://h\"").unwrap_err();
        assert!(err.to_string().contains("`//`"), "{err}");
    }
}
