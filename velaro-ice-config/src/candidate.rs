//! ICE candidates as browsers send them in `RTCIceCandidateInit.candidate` (RFC 8839 §5.1),
//! parsed strictly and classified for the privacy filter.
//!
//! This module owns [`Candidate`] itself: its fields and accessors, the limits, the candidate
//! type and transport, and the serde form (the candidate string). Its children own the rest:
//! `error` ([`CandidateError`]), `parse` (the RFC 8839 grammar, `FromStr`), `print` (`Display`
//! and the printed length), `extension` (the `name value` pairs after `typ`), `address` (the
//! connection address and mDNS names) and `class` (what an address reveals or reaches).

mod address;
mod class;
mod error;
mod extension;
mod parse;
mod print;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
#[cfg(doc)]
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::SharedStr;

pub use address::CandidateAddress;
pub use class::{AddressClass, IpFamily};
pub use error::CandidateError;
pub use extension::{Extension, TcpType};

/// The longest candidate, in bytes, both as given to the parser and as printed (`candidate:…`,
/// what `Display` writes). Bounding the printed form too is what makes every candidate that
/// parses print as text that parses again: printing adds the `candidate:` prefix to a bare
/// value and writes an IPv4-mapped address dotted (`::ffff:0:0` is `::ffff:0.0.0.0`).
/// Browsers' candidates are under 250 bytes.
pub const MAX_CANDIDATE_LEN: usize = 1024;

/// The most extensions (`name value` pairs after `typ`) one candidate may carry.
pub const MAX_EXTENSIONS: usize = 32;

/// The candidate type (`typ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    /// An address of the local machine.
    Host,
    /// The local machine's address as a STUN server saw it (server reflexive).
    Srflx,
    /// An address learned from a peer's connectivity check (peer reflexive).
    Prflx,
    /// An address on a TURN server that relays media.
    Relay,
}

impl CandidateKind {
    /// The type as written after `typ`.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::Srflx => "srflx",
            CandidateKind::Prflx => "prflx",
            CandidateKind::Relay => "relay",
        }
    }
}

/// The transport of a candidate. Browsers write `udp`/`tcp` (Chromium) or `UDP`/`TCP`
/// (Firefox); we compare case-insensitively and write lowercase. Other tokens are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateTransport {
    /// UDP.
    Udp,
    /// TCP (RFC 6544).
    Tcp,
    /// A transport extension token, kept as written.
    Other(String),
}

impl CandidateTransport {
    /// The transport as written in the candidate line.
    pub fn as_str(&self) -> &str {
        match self {
            CandidateTransport::Udp => "udp",
            CandidateTransport::Tcp => "tcp",
            CandidateTransport::Other(token) => token,
        }
    }
}

/// What a candidate's printed form starts with.
const PREFIX: &str = "candidate:";

/// A parsed ICE candidate (RFC 8839 §5.1).
///
/// [`FromStr`] accepts the `candidate` string of `RTCIceCandidateInit` (`candidate:…`), the bare
/// attribute value, or a whole `a=candidate:…` SDP line. `Display` writes `candidate:…` (what
/// browsers put in `RTCIceCandidateInit`), and parsing it gives the same candidate back: a
/// candidate is at most [`MAX_CANDIDATE_LEN`] bytes both as given and as printed.
///
/// A candidate keeps its printed form: parsing a browser's candidate, already in that form,
/// copies it once, and printing or serializing writes it back as it is. The foundation, the
/// `ufrag` and the extensions are read from it.
///
/// ```
/// use velaro_ice_config::{AddressClass, Candidate, CandidateKind};
///
/// let c: Candidate = "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx \
///                     raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-cost 999"
///     .parse()?;
/// assert_eq!(c.kind(), CandidateKind::Srflx);
/// assert_eq!(c.address().class(), AddressClass::Public);
/// assert_eq!(c.ufrag(), Some("EsAw"));
/// assert_eq!(c.to_string().parse::<Candidate>()?, c);
/// # Ok::<(), velaro_ice_config::CandidateError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The printed form, `candidate:…`: its own text, or a slice of the frame it came in
    /// ([`Candidate::parse_shared`]).
    text: SharedStr,
    /// Where the foundation ends in `text` (it starts right after the prefix).
    foundation_end: u16,
    component: u16,
    transport: CandidateTransport,
    priority: u32,
    address: CandidateAddress,
    port: u16,
    kind: CandidateKind,
    related_address: Option<CandidateAddress>,
    related_port: Option<u16>,
    /// Where the extensions start in `text` (its length when there are none).
    extensions_at: u16,
    known: KnownExtensions,
}

/// The extensions that have accessors of their own, as the parser read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct KnownExtensions {
    tcp_type: Option<TcpType>,
    generation: Option<u32>,
    /// The `ufrag` value's place: its offset from the start of the extensions, and its length.
    ufrag: Option<(u16, u16)>,
    network_id: Option<u32>,
    network_cost: Option<u32>,
}

impl Candidate {
    /// The candidate as printed: `candidate:…`, what `Display` and serde write.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// How many bytes of text the candidate keeps alive: its printed form, or the whole frame
    /// it was read from when it shares it ([`Candidate::parse_shared`]). For memory estimates.
    pub fn retained_len(&self) -> usize {
        self.text.retained_len()
    }

    /// The foundation: 1 to 32 ice-chars (`[A-Za-z0-9+/]`).
    pub fn foundation(&self) -> &str {
        self.text.get(PREFIX.len()..usize::from(self.foundation_end)).unwrap_or_default()
    }

    /// The component: 1 (RTP) or 2 (RTCP, without rtcp-mux), at most 256.
    pub fn component(&self) -> u16 {
        self.component
    }

    /// The transport.
    pub fn transport(&self) -> &CandidateTransport {
        &self.transport
    }

    /// The priority, 1 to 2^31-1.
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// The connection address.
    pub fn address(&self) -> &CandidateAddress {
        &self.address
    }

    /// The port (9, the discard port, for active TCP candidates).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The type.
    pub fn kind(&self) -> CandidateKind {
        self.kind
    }

    /// `raddr`: the address this candidate was derived from, if given.
    pub fn related_address(&self) -> Option<&CandidateAddress> {
        self.related_address.as_ref()
    }

    /// `rport`: the port this candidate was derived from, if given.
    pub fn related_port(&self) -> Option<u16> {
        self.related_port
    }

    /// All extensions in the order they were written (`raddr` and `rport` have accessors of
    /// their own and are not among them).
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'_>> + '_ {
        let mut fields = self.extension_text().split(' ').filter(|field| !field.is_empty());
        // The text was checked when it was parsed, so every pair reads back.
        std::iter::from_fn(move || Extension::parse(fields.next()?, fields.next()?).ok())
    }

    /// The extensions as printed: `name value` pairs after one space each.
    fn extension_text(&self) -> &str {
        self.text.get(usize::from(self.extensions_at)..).unwrap_or_default()
    }

    /// `tcptype`, for TCP candidates.
    pub fn tcp_type(&self) -> Option<TcpType> {
        self.known.tcp_type
    }

    /// `generation`.
    pub fn generation(&self) -> Option<u32> {
        self.known.generation
    }

    /// `ufrag`: tells which ICE generation the candidate belongs to.
    pub fn ufrag(&self) -> Option<&str> {
        let (at, len) = self.known.ufrag?;
        let (at, len) = (usize::from(at), usize::from(len));
        self.extension_text().get(at..at + len)
    }

    /// `network-id`.
    pub fn network_id(&self) -> Option<u32> {
        self.known.network_id
    }

    /// `network-cost`.
    pub fn network_cost(&self) -> Option<u32> {
        self.known.network_cost
    }

    /// The IP family of the connection address; `None` for mDNS and other names.
    pub fn ip_family(&self) -> Option<IpFamily> {
        self.address.ip().map(|ip| match ip {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        })
    }

    /// Whether the address is an mDNS `<uuid>.local` name.
    pub fn is_mdns(&self) -> bool {
        matches!(self.address, CandidateAddress::Mdns(_))
    }

    /// Replaces the related address and port with the RFC 8839 §5.1 privacy form
    /// (`0.0.0.0`/`::` and port 0), keeping the family of the related address. `None` when the
    /// result would print longer than [`MAX_CANDIDATE_LEN`] (a candidate without `raddr` and
    /// `rport` gains up to 22 bytes), since it could not be parsed again.
    pub(crate) fn with_blank_related(mut self) -> Option<Self> {
        let v6 = matches!(
            self.related_address.as_ref().or(Some(&self.address)),
            Some(CandidateAddress::Ip(IpAddr::V6(_)))
        );
        let blank =
            if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        self.related_address = Some(CandidateAddress::Ip(blank));
        self.related_port = Some(0);
        let text = print::Parts::of(&self).print(self.extension_text());
        let extensions = self.extension_text().len();
        self.extensions_at = u16::try_from(text.len().saturating_sub(extensions)).ok()?;
        (text.len() <= MAX_CANDIDATE_LEN).then_some(())?;
        self.text = SharedStr::from(text);
        Some(self)
    }
}

/// Serializes as the `candidate:…` string of `RTCIceCandidateInit`.
impl Serialize for Candidate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text.as_str())
    }
}

/// Deserializes from a candidate string, with the parser's error message.
impl<'de> Deserialize<'de> for Candidate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize_from_str(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_uses_the_candidate_string() {
        let text = "candidate:1 1 udp 100 192.0.2.1 5000 typ host generation 0";
        let c: Candidate = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{text}\""));
        let err =
            serde_json::from_str::<Candidate>("\"candidate:1 1 udp 0 h 1 typ host\"").unwrap_err();
        assert!(err.to_string().contains("priority `0`"), "{err}");
    }
}
