//! Classification: [`AddressClass`], what an address is as far as a remote peer is concerned
//! (what the privacy filter decides by), and [`IpFamily`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP family of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// What an address is, as far as a remote peer is concerned. IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) are classified by their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// A globally routable address (reveals where the user is).
    Public,
    /// A private-network address: RFC 1918, shared (100.64/10) or unique-local (`fc00::/7`).
    Private,
    /// `127.0.0.0/8`, `::1`, or the name `localhost` or one under `.localhost` (RFC 6761 §6.3
    /// reserves them for loopback, so they are no more reachable than `127.0.0.1`).
    Loopback,
    /// `169.254/16` or `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0` or `::`.
    Unspecified,
    /// Multicast or the IPv4 broadcast address.
    Multicast,
    /// An mDNS `<uuid>.local` name.
    Mdns,
    /// Another DNS name (not `localhost`).
    Fqdn,
}

impl AddressClass {
    /// Classifies an IP address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::of_v4(v4),
                None => Self::of_v6(v6),
            },
        }
    }

    fn of_v4(v4: Ipv4Addr) -> Self {
        let [a, b, ..] = v4.octets();
        if v4.is_unspecified() {
            AddressClass::Unspecified
        } else if v4.is_loopback() {
            AddressClass::Loopback
        } else if v4.is_link_local() {
            AddressClass::LinkLocal
        } else if v4.is_multicast() || v4.is_broadcast() {
            AddressClass::Multicast
        } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
            AddressClass::Private
        } else {
            AddressClass::Public
        }
    }

    fn of_v6(v6: Ipv6Addr) -> Self {
        let first = v6.segments().first().copied().unwrap_or_default();
        if v6.is_unspecified() {
            AddressClass::Unspecified
        } else if v6.is_loopback() {
            AddressClass::Loopback
        } else if first & 0xffc0 == 0xfe80 {
            AddressClass::LinkLocal
        } else if v6.is_multicast() {
            AddressClass::Multicast
        } else if first & 0xfe00 == 0xfc00 {
            AddressClass::Private
        } else {
            AddressClass::Public
        }
    }

    /// Whether no remote peer could ever reach this address: unspecified, loopback,
    /// link-local or multicast.
    pub fn is_unroutable(self) -> bool {
        matches!(
            self,
            AddressClass::Unspecified
                | AddressClass::Loopback
                | AddressClass::LinkLocal
                | AddressClass::Multicast
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        let class = |ip: &str| AddressClass::of(ip.parse().unwrap());
        assert_eq!(class("8.8.8.8"), AddressClass::Public);
        assert_eq!(class("2001:4860::8888"), AddressClass::Public);
        assert_eq!(class("10.1.2.3"), AddressClass::Private);
        assert_eq!(class("100.64.0.1"), AddressClass::Private);
        assert_eq!(class("fd00::1"), AddressClass::Private);
        assert_eq!(class("127.0.0.2"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("169.254.1.1"), AddressClass::LinkLocal);
        assert_eq!(class("fe80::1"), AddressClass::LinkLocal);
        assert_eq!(class("::ffff:169.254.1.1"), AddressClass::LinkLocal);
        assert_eq!(class("0.0.0.0"), AddressClass::Unspecified);
        assert_eq!(class("::"), AddressClass::Unspecified);
        assert_eq!(class("224.0.0.1"), AddressClass::Multicast);
        assert_eq!(class("255.255.255.255"), AddressClass::Multicast);
        assert_eq!(class("ff02::1"), AddressClass::Multicast);
        assert!(class("::ffff:0.0.0.0").is_unroutable());
        assert!(!class("192.168.1.1").is_unroutable());
    }
}
