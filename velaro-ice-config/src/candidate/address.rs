//! [`CandidateAddress`]: the connection (and related) address of a candidate, an IP address
//! or a name, and how `<uuid>.local` mDNS names are told from other names.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use super::AddressClass;
use crate::host::{is_dns_name, is_localhost};

/// The connection address of a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateAddress {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A multicast DNS name `<uuid>.local` that hides a host address (browsers' default for
    /// host candidates when the page has no camera permission).
    Mdns(String),
    /// Another fully qualified domain name.
    Fqdn(String),
}

impl CandidateAddress {
    pub(super) fn parse(text: &str) -> Option<Self> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(CandidateAddress::Ip(ip));
        }
        if is_mdns_name(text) {
            return Some(CandidateAddress::Mdns(text.to_ascii_lowercase()));
        }
        is_dns_name(text).then(|| CandidateAddress::Fqdn(text.to_ascii_lowercase()))
    }

    /// Whether `text`, which this address was parsed from, is how it prints: IPv4 always is
    /// (the parser refuses leading zeros); IPv6 when compressed as RFC 5952 writes it; a name
    /// when in lowercase.
    pub(super) fn prints_as(&self, text: &str) -> bool {
        match self {
            CandidateAddress::Ip(IpAddr::V4(_)) => true,
            CandidateAddress::Ip(ip) => {
                let mut printed = Printed::default();
                write!(printed, "{ip}").is_ok() && printed.as_bytes() == text.as_bytes()
            }
            CandidateAddress::Mdns(name) | CandidateAddress::Fqdn(name) => name == text,
        }
    }

    /// The IP address, unless this is a name.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            CandidateAddress::Ip(ip) => Some(*ip),
            _ => None,
        }
    }

    /// What kind of address this is, for privacy and routability decisions.
    pub fn class(&self) -> AddressClass {
        match self {
            CandidateAddress::Ip(ip) => AddressClass::of(*ip),
            CandidateAddress::Mdns(_) => AddressClass::Mdns,
            CandidateAddress::Fqdn(name) if is_localhost(name) => AddressClass::Loopback,
            CandidateAddress::Fqdn(_) => AddressClass::Fqdn,
        }
    }
}

impl fmt::Display for CandidateAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateAddress::Ip(ip) => write!(f, "{ip}"),
            CandidateAddress::Mdns(name) | CandidateAddress::Fqdn(name) => f.write_str(name),
        }
    }
}

/// `<uuid>.local` with a canonical 8-4-4-4-12 hex UUID, as browsers generate (RFC 8828 draft
/// "mdns-ice-candidates").
fn is_mdns_name(text: &str) -> bool {
    let Some(uuid) = text.get(..text.len().saturating_sub(6)) else {
        return false;
    };
    let suffix_ok = text.get(uuid.len()..).is_some_and(|s| s.eq_ignore_ascii_case(".local"));
    let mut groups = uuid.split('-');
    suffix_ok
        && [8, 4, 4, 4, 12].iter().all(|len| {
            groups
                .next()
                .is_some_and(|g| g.len() == *len && g.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        && groups.next().is_none()
}

/// An IPv6 address printed on the stack (at most 45 bytes), to compare with its text without
/// allocating.
struct Printed {
    bytes: [u8; 48],
    len: usize,
}

impl Default for Printed {
    fn default() -> Self {
        Printed { bytes: [0; 48], len: 0 }
    }
}

impl Printed {
    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl fmt::Write for Printed {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdns_needs_a_uuid() {
        assert!(is_mdns_name("9C2BCFC6-d912-448b-bb12-741511d3000c.LOCAL"));
        assert!(!is_mdns_name("printer.local"));
        assert!(!is_mdns_name("9c2bcfc6-d912-448b-bb12-741511d3000c.example"));
        assert!(!is_mdns_name(".local"));
        assert!(!is_mdns_name(""));
    }
}
