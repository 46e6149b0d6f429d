//! Hosts as they appear in ICE server URLs and web origins: a DNS name, an IPv4 address or a
//! bracketed IPv6 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest DNS name we accept (RFC 1035 §2.3.4, without the root dot).
pub const MAX_DNS_NAME_LEN: usize = 253;

/// The longest single DNS label (RFC 1035 §2.3.4).
const MAX_DNS_LABEL_LEN: usize = 63;

/// A host: a DNS name (kept in lowercase), an IPv4 address or an IPv6 address.
///
/// `Display` writes IPv6 addresses in brackets, as URLs and origins need them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name such as `turn.example.com`, lowercased.
    Domain(String),
    /// An IPv4 address such as `192.0.2.1`.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written as `[2001:db8::1]`.
    Ipv6(Ipv6Addr),
}

impl Host {
    /// The IP address, if this host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(v4) => Some(IpAddr::V4(*v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(*v6)),
        }
    }

    /// Whether the host names this machine: `localhost`, a loopback IPv4 or `[::1]`.
    ///
    /// Browsers treat such origins as secure contexts even over plain HTTP.
    pub fn is_local(&self) -> bool {
        match self {
            Host::Domain(name) => is_localhost(name),
            Host::Ipv4(v4) => v4.is_loopback(),
            Host::Ipv6(v6) => v6.is_loopback(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(name) => f.write_str(name),
            Host::Ipv4(v4) => write!(f, "{v4}"),
            Host::Ipv6(v6) => write!(f, "[{v6}]"),
        }
    }
}

/// Why a host failed to parse; the caller wraps it in its own error with the offending text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostFault {
    /// `[` without `]`, `]` without `[`, or an invalid address between them.
    BadIpv6,
    /// Not a valid DNS name or IPv4 address.
    BadName,
}

/// Splits `host[:port]` into the host and the port text after the colon, if any.
///
/// A bracketed IPv6 literal may contain colons; an unbracketed one is refused as `BadIpv6`.
pub(crate) fn split_host_port(text: &str) -> Result<(&str, Option<&str>), HostFault> {
    if let Some(after_open) = text.strip_prefix('[') {
        let (_, after_close) = after_open.split_once(']').ok_or(HostFault::BadIpv6)?;
        let host_len = text.len() - after_close.len();
        let host = text.get(..host_len).ok_or(HostFault::BadIpv6)?;
        return match after_close.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after_close.is_empty() => Ok((host, None)),
            None => Err(HostFault::BadIpv6),
        };
    }
    if text.contains(']') {
        return Err(HostFault::BadIpv6);
    }
    match text.split_once(':') {
        // Two colons outside brackets can only be an IPv6 address written without them.
        Some((_, port)) if port.contains(':') => Err(HostFault::BadIpv6),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

/// Parses a host as written in a URL: `[v6]`, dotted IPv4 or a DNS name (case-insensitive).
pub(crate) fn parse_host(text: &str) -> Result<Host, HostFault> {
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostFault::BadIpv6)?;
        return inner.parse().map(Host::Ipv6).map_err(|_| HostFault::BadIpv6);
    }
    if text.contains(['[', ']']) {
        return Err(HostFault::BadIpv6);
    }
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(v4));
    }
    if is_dns_name(text) {
        Ok(Host::Domain(text.to_ascii_lowercase()))
    } else {
        Err(HostFault::BadName)
    }
}

/// Whether `text` is a DNS host name: dot-separated labels of letters, digits and inner
/// hyphens, at most 253 characters, and not all-numeric (that would be a malformed IPv4
/// address, which browsers' URL parsers refuse too). One trailing dot is not accepted.
pub(crate) fn is_dns_name(text: &str) -> bool {
    if text.is_empty() || text.len() > MAX_DNS_NAME_LEN {
        return false;
    }
    let mut all_numeric = true;
    for label in text.split('.') {
        let bytes = label.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= MAX_DNS_LABEL_LEN
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-');
        if !valid {
            return false;
        }
        all_numeric &= bytes.iter().all(u8::is_ascii_digit);
    }
    !all_numeric
}

/// Whether a lowercase DNS name is `localhost` or under `.localhost`: RFC 6761 §6.3 reserves
/// them for the loopback interface, so they name this machine as `127.0.0.1` does.
pub(crate) fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// Parses a decimal port from 1 to 65535; `None` for anything else (empty, signs, zero).
pub(crate) fn parse_nonzero_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|port| *port != 0)
}

/// Cuts `text` to a length fit for an error message, on a character boundary.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_host_form() {
        assert_eq!(parse_host("Turn.Example.COM"), Ok(Host::Domain("turn.example.com".into())));
        assert_eq!(parse_host("192.0.2.7"), Ok(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 7))));
        assert_eq!(parse_host("[2001:db8::1]"), Ok(Host::Ipv6("2001:db8::1".parse().unwrap())));
    }

    #[test]
    fn refuses_bad_hosts() {
        assert_eq!(parse_host("[2001:db8::1"), Err(HostFault::BadIpv6));
        assert_eq!(parse_host("2001:db8::1]"), Err(HostFault::BadIpv6));
        assert_eq!(parse_host("[not-v6]"), Err(HostFault::BadIpv6));
        assert_eq!(parse_host("1.2.3.256"), Err(HostFault::BadName));
        assert_eq!(parse_host("-bad.example"), Err(HostFault::BadName));
        assert_eq!(parse_host("a..b"), Err(HostFault::BadName));
        assert_eq!(parse_host("under_score.example"), Err(HostFault::BadName));
        assert_eq!(parse_host(""), Err(HostFault::BadName));
        assert_eq!(parse_host(&"a".repeat(64)), Err(HostFault::BadName));
    }

    #[test]
    fn splits_host_and_port() {
        assert_eq!(split_host_port("h:1"), Ok(("h", Some("1"))));
        assert_eq!(split_host_port("[::1]:9"), Ok(("[::1]", Some("9"))));
        assert_eq!(split_host_port("[::1]"), Ok(("[::1]", None)));
        assert_eq!(split_host_port("[::1]x"), Err(HostFault::BadIpv6));
        assert_eq!(split_host_port("::1"), Err(HostFault::BadIpv6));
    }

    #[test]
    fn ports_are_one_to_65535() {
        assert_eq!(parse_nonzero_port("3478"), Some(3478));
        assert_eq!(parse_nonzero_port("65535"), Some(65535));
        for bad in ["0", "65536", "", "+1", "-1", "1a", "99999999999999999999"] {
            assert_eq!(parse_nonzero_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn excerpt_cuts_long_text_on_char_boundary() {
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.len() <= 64 + '…'.len_utf8());
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }
}
