//! [`CandidateAddress`]: the connection (and related) address of a candidate, an IP address
//! or a name, and how `<uuid>.local` mDNS names are told from other names.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};

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
        if let Some(ip) = dotted_quad(text.as_bytes()) {
            return Some(CandidateAddress::Ip(IpAddr::V4(ip)));
        }
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

/// An IPv4 address as browsers write it (four octets of 1 to 3 digits, no leading zeros), read
/// in one pass; `None` for anything else, which `IpAddr`'s parser then reads (it accepts exactly
/// these and no other IPv4 text, so the two agree). Every host candidate has one.
#[inline]
fn dotted_quad(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut octet = 0;
    // The current octet's value and digit count.
    let (mut value, mut digits) = (0u16, 0u8);
    for &byte in text {
        match byte {
            b'0'..=b'9' if digits < 3 && !(digits == 1 && value == 0) => {
                value = value * 10 + u16::from(byte - b'0');
                digits += 1;
            }
            b'.' if digits > 0 => {
                *octets.get_mut(octet)? = u8::try_from(value).ok()?;
                octet += 1;
                (value, digits) = (0, 0);
            }
            _ => return None,
        }
    }
    if octet != 3 || digits == 0 {
        return None;
    }
    *octets.get_mut(octet)? = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
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

    proptest::proptest! {
        /// The fast reading of IPv4 text accepts only what `Ipv4Addr`'s parser accepts, as
        /// the same address, and every address it prints.
        #[test]
        fn dotted_quads_read_as_the_standard_parser_reads_them(
            text in "[0-9.]{0,16}|0*[0-9]{1,4}(\\.0*[0-9]{1,4}){2,4}[. a]?",
            ip in proptest::prelude::any::<[u8; 4]>(),
        ) {
            let fast = dotted_quad(text.as_bytes());
            if let Some(fast) = fast {
                proptest::prop_assert_eq!(Ok(fast), text.parse::<Ipv4Addr>());
            }
            let printed = Ipv4Addr::from(ip).to_string();
            proptest::prop_assert_eq!(dotted_quad(printed.as_bytes()), Some(Ipv4Addr::from(ip)));
        }
    }

    #[test]
    fn dotted_quads_refuse_what_the_standard_parser_refuses() {
        for text in ["01.2.3.4", "1.2.3", "1.2.3.4.", "1.2.3.256", "1..3.4", "+1.2.3.4", "1.2.3.4 "]
        {
            assert_eq!(dotted_quad(text.as_bytes()), None, "{text}");
            assert!(text.parse::<Ipv4Addr>().is_err(), "{text}");
        }
        assert_eq!(dotted_quad(b"0.0.0.0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(dotted_quad(b"255.255.255.255"), Some(Ipv4Addr::BROADCAST));
    }
}
