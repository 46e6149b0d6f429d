//! ICE candidates as browsers send them in `RTCIceCandidateInit.candidate` (RFC 8839 §5.1),
//! parsed strictly and classified for the privacy filter.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::host::{excerpt, is_dns_name, is_localhost};

/// The longest candidate, in bytes, both as given to the parser and as printed (`candidate:…`,
/// what `Display` writes). Bounding the printed form too is what makes every candidate that
/// parses print as text that parses again: printing adds the `candidate:` prefix to a bare
/// value and writes an IPv4-mapped address dotted (`::ffff:0:0` is `::ffff:0.0.0.0`).
/// Browsers' candidates are under 250 bytes.
pub const MAX_CANDIDATE_LEN: usize = 1024;

/// How much longer than its text (without `a=`, `candidate:` and line ending) a candidate can
/// print: the `candidate:` prefix, and two addresses (connection and `raddr`) each given in as
/// few as 2 bytes (`::`) and printed in at most 39 (`ffff:…:ffff`). Numbers print without
/// leading zeros and every other field as given (up to case), so nothing else grows. Text
/// shorter than the limit by this much needs no measuring after the parse.
const MAX_PRINT_GROWTH: usize = "candidate:".len() + 2 * (39 - "::".len());

/// The most extensions (`name value` pairs after `typ`) one candidate may carry.
pub const MAX_EXTENSIONS: usize = 32;

/// Why a candidate line failed to parse. Names the field and shows (a bounded excerpt of) the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandidateError {
    /// The line is empty. (An empty `candidate` in `RTCIceCandidateInit` means end of
    /// candidates and is not a candidate at all.)
    #[error("candidate is empty")]
    Empty,
    /// The text is longer than [`MAX_CANDIDATE_LEN`]; checked before anything else.
    #[error("candidate is {len} bytes long, more than {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text fits, but the candidate prints (`candidate:…`) longer than
    /// [`MAX_CANDIDATE_LEN`], so its printed form would not parse again.
    #[error("candidate prints as {len} bytes, more than {max}")]
    PrintedTooLong {
        /// The length of its printed form in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A required field is missing.
    #[error("candidate has no {field}")]
    Missing {
        /// The field's name in RFC 8839: `foundation`, `component-id`, `typ`, …
        field: &'static str,
    },
    /// A field is present but its value is invalid.
    #[error("candidate {field} `{value}` is invalid")]
    Invalid {
        /// The field's name in RFC 8839.
        field: &'static str,
        /// The value, cut to a bounded length.
        value: String,
    },
    /// `typ` is not `host`, `srflx`, `prflx` or `relay`.
    #[error("unknown candidate type `{0}`")]
    UnknownType(String),
    /// A known extension (`tcptype`, `generation`, `ufrag`, `network-id`, `network-cost`,
    /// `raddr`, `rport`) appears twice.
    #[error("candidate extension `{0}` appears twice")]
    DuplicateExtension(String),
    /// More than [`MAX_EXTENSIONS`] extensions.
    #[error("candidate has more than {max} extensions")]
    TooManyExtensions {
        /// The limit.
        max: usize,
    },
}

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

/// The role of a TCP candidate (RFC 6544 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpType {
    /// Opens connections, never accepts them (browsers use port 9).
    Active,
    /// Accepts connections.
    Passive,
    /// Simultaneous open.
    So,
}

impl TcpType {
    /// The value as written after `tcptype`.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpType::Active => "active",
            TcpType::Passive => "passive",
            TcpType::So => "so",
        }
    }
}

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
    fn parse(text: &str) -> Option<Self> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(CandidateAddress::Ip(ip));
        }
        if is_mdns_name(text) {
            return Some(CandidateAddress::Mdns(text.to_ascii_lowercase()));
        }
        is_dns_name(text).then(|| CandidateAddress::Fqdn(text.to_ascii_lowercase()))
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

/// One `name value` pair after `typ`, in the order it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Extension {
    /// `tcptype` (RFC 6544).
    TcpType(TcpType),
    /// `generation`: which ICE restart the candidate belongs to (browsers' extension).
    Generation(u32),
    /// `ufrag`: the ICE username fragment the candidate belongs to.
    Ufrag(String),
    /// `network-id` (browsers' extension).
    NetworkId(u32),
    /// `network-cost` (browsers' extension).
    NetworkCost(u32),
    /// Any other extension, kept as written.
    Other {
        /// The attribute name.
        name: String,
        /// The attribute value.
        value: String,
    },
}

impl Extension {
    fn name(&self) -> &str {
        match self {
            Extension::TcpType(_) => "tcptype",
            Extension::Generation(_) => "generation",
            Extension::Ufrag(_) => "ufrag",
            Extension::NetworkId(_) => "network-id",
            Extension::NetworkCost(_) => "network-cost",
            Extension::Other { name, .. } => name,
        }
    }

    fn parse(name: &str, value: &str) -> Result<Self, CandidateError> {
        let invalid = |field| CandidateError::Invalid { field, value: excerpt(value) };
        let number = |field| value_u32(value).ok_or_else(|| invalid(field));
        Ok(match name {
            "tcptype" => Extension::TcpType(match value {
                "active" => TcpType::Active,
                "passive" => TcpType::Passive,
                "so" => TcpType::So,
                _ => return Err(invalid("tcptype")),
            }),
            "generation" => Extension::Generation(number("generation")?),
            "network-id" => Extension::NetworkId(number("network-id")?),
            "network-cost" => Extension::NetworkCost(number("network-cost")?),
            "ufrag" if is_ice_token(value, 1, 256) => Extension::Ufrag(value.to_owned()),
            "ufrag" => return Err(invalid("ufrag")),
            _ if !is_token(name) => {
                return Err(CandidateError::Invalid {
                    field: "extension name",
                    value: excerpt(name),
                });
            }
            _ if !value.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(invalid("extension value"));
            }
            _ => Extension::Other { name: name.to_owned(), value: value.to_owned() },
        })
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Extension::TcpType(tcp) => write!(f, "{name} {}", tcp.as_str()),
            Extension::Generation(n) | Extension::NetworkId(n) | Extension::NetworkCost(n) => {
                write!(f, "{name} {n}")
            }
            Extension::Ufrag(ufrag) => write!(f, "{name} {ufrag}"),
            Extension::Other { value, .. } => write!(f, "{name} {value}"),
        }
    }
}

/// A parsed ICE candidate (RFC 8839 §5.1).
///
/// [`FromStr`] accepts the `candidate` string of `RTCIceCandidateInit` (`candidate:…`), the bare
/// attribute value, or a whole `a=candidate:…` SDP line. `Display` writes `candidate:…` (what
/// browsers put in `RTCIceCandidateInit`), and parsing it gives the same candidate back: a
/// candidate is at most [`MAX_CANDIDATE_LEN`] bytes both as given and as printed.
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
    foundation: String,
    component: u16,
    transport: CandidateTransport,
    priority: u32,
    address: CandidateAddress,
    port: u16,
    kind: CandidateKind,
    related_address: Option<CandidateAddress>,
    related_port: Option<u16>,
    extensions: Vec<Extension>,
}

impl Candidate {
    /// The foundation: 1 to 32 ice-chars (`[A-Za-z0-9+/]`).
    pub fn foundation(&self) -> &str {
        &self.foundation
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

    /// All extensions in the order they were written.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// `tcptype`, for TCP candidates.
    pub fn tcp_type(&self) -> Option<TcpType> {
        self.extensions.iter().find_map(|e| match e {
            Extension::TcpType(t) => Some(*t),
            _ => None,
        })
    }

    /// `generation`.
    pub fn generation(&self) -> Option<u32> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Generation(n) => Some(*n),
            _ => None,
        })
    }

    /// `ufrag`: tells which ICE generation the candidate belongs to.
    pub fn ufrag(&self) -> Option<&str> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Ufrag(u) => Some(u.as_str()),
            _ => None,
        })
    }

    /// `network-id`.
    pub fn network_id(&self) -> Option<u32> {
        self.extensions.iter().find_map(|e| match e {
            Extension::NetworkId(n) => Some(*n),
            _ => None,
        })
    }

    /// `network-cost`.
    pub fn network_cost(&self) -> Option<u32> {
        self.extensions.iter().find_map(|e| match e {
            Extension::NetworkCost(n) => Some(*n),
            _ => None,
        })
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
        (self.printed_len() <= MAX_CANDIDATE_LEN).then_some(self)
    }

    /// The length of the printed form, counted without allocating.
    fn printed_len(&self) -> usize {
        /// Counts the bytes written to it.
        struct Counter(usize);
        impl fmt::Write for Counter {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                self.0 += text.len();
                Ok(())
            }
        }
        let mut counter = Counter(0);
        // Counting cannot fail, and `Display` for `Candidate` returns only the writer's errors.
        let _ = fmt::Write::write_fmt(&mut counter, format_args!("{self}"));
        counter.0
    }
}

impl FromStr for Candidate {
    type Err = CandidateError;

    fn from_str(text: &str) -> Result<Self, CandidateError> {
        if text.len() > MAX_CANDIDATE_LEN {
            return Err(CandidateError::TooLong { len: text.len(), max: MAX_CANDIDATE_LEN });
        }
        let line = text.strip_suffix('\n').unwrap_or(text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.strip_prefix("a=").unwrap_or(line);
        let line = line.strip_prefix("candidate:").unwrap_or(line);
        if line.is_empty() {
            return Err(CandidateError::Empty);
        }
        let mut fields = line.split(' ');
        let mut next = |field| match fields.next() {
            Some("") => Err(CandidateError::Invalid { field, value: String::new() }),
            Some(value) => Ok(value),
            None => Err(CandidateError::Missing { field }),
        };
        let invalid = |field, value: &str| CandidateError::Invalid { field, value: excerpt(value) };

        let foundation = next("foundation")?;
        if !is_ice_token(foundation, 1, 32) {
            return Err(invalid("foundation", foundation));
        }
        let component_text = next("component-id")?;
        let component = value_u32(component_text)
            .filter(|c| (1..=256).contains(c))
            .and_then(|c| u16::try_from(c).ok())
            .ok_or_else(|| invalid("component-id", component_text))?;
        let transport_text = next("transport")?;
        let transport = if transport_text.eq_ignore_ascii_case("udp") {
            CandidateTransport::Udp
        } else if transport_text.eq_ignore_ascii_case("tcp") {
            CandidateTransport::Tcp
        } else if is_token(transport_text) {
            CandidateTransport::Other(transport_text.to_owned())
        } else {
            return Err(invalid("transport", transport_text));
        };
        let priority_text = next("priority")?;
        let priority = value_u32(priority_text)
            .filter(|p| (1..=0x7fff_ffff).contains(p))
            .ok_or_else(|| invalid("priority", priority_text))?;
        let address_text = next("connection-address")?;
        let address = CandidateAddress::parse(address_text)
            .ok_or_else(|| invalid("connection-address", address_text))?;
        let port_text = next("port")?;
        let port = value_u16(port_text).ok_or_else(|| invalid("port", port_text))?;
        let typ = next("typ")?;
        if typ != "typ" {
            return Err(invalid("typ", typ));
        }
        let kind_text = next("cand-type")?;
        let kind = match kind_text {
            "host" => CandidateKind::Host,
            "srflx" => CandidateKind::Srflx,
            "prflx" => CandidateKind::Prflx,
            "relay" => CandidateKind::Relay,
            other => return Err(CandidateError::UnknownType(excerpt(other))),
        };

        let mut candidate = Candidate {
            foundation: foundation.to_owned(),
            component,
            transport,
            priority,
            address,
            port,
            kind,
            related_address: None,
            related_port: None,
            extensions: Vec::new(),
        };
        while let Some(name) = fields.next() {
            let value = match fields.next() {
                Some(value) if !value.is_empty() => value,
                _ => return Err(invalid("extension value", name)),
            };
            candidate.push_extension(name, value)?;
        }
        if line.len() + MAX_PRINT_GROWTH > MAX_CANDIDATE_LEN {
            let len = candidate.printed_len();
            if len > MAX_CANDIDATE_LEN {
                return Err(CandidateError::PrintedTooLong { len, max: MAX_CANDIDATE_LEN });
            }
        }
        Ok(candidate)
    }
}

impl Candidate {
    fn push_extension(&mut self, name: &str, value: &str) -> Result<(), CandidateError> {
        let duplicate = || CandidateError::DuplicateExtension(excerpt(name));
        match name {
            "raddr" => {
                if self.related_address.is_some() {
                    return Err(duplicate());
                }
                let address = CandidateAddress::parse(value).ok_or_else(|| {
                    CandidateError::Invalid { field: "raddr", value: excerpt(value) }
                })?;
                self.related_address = Some(address);
            }
            "rport" => {
                if self.related_port.is_some() {
                    return Err(duplicate());
                }
                let port = value_u16(value).ok_or_else(|| CandidateError::Invalid {
                    field: "rport",
                    value: excerpt(value),
                })?;
                self.related_port = Some(port);
            }
            _ => {
                let extension = Extension::parse(name, value)?;
                let known = !matches!(extension, Extension::Other { .. });
                if known && self.extensions.iter().any(|e| e.name() == name) {
                    return Err(duplicate());
                }
                if self.extensions.len() == MAX_EXTENSIONS {
                    return Err(CandidateError::TooManyExtensions { max: MAX_EXTENSIONS });
                }
                self.extensions.push(extension);
            }
        }
        Ok(())
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "candidate:{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport.as_str(),
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(address) = &self.related_address {
            write!(f, " raddr {address}")?;
        }
        if let Some(port) = self.related_port {
            write!(f, " rport {port}")?;
        }
        for extension in &self.extensions {
            write!(f, " {extension}")?;
        }
        Ok(())
    }
}

/// Serializes as the `candidate:…` string of `RTCIceCandidateInit`.
impl Serialize for Candidate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Deserializes from a candidate string, with the parser's error message.
impl<'de> Deserialize<'de> for Candidate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize_from_str(deserializer)
    }
}

/// 1 to 10 decimal digits fitting in a `u32`.
fn value_u32(text: &str) -> Option<u32> {
    (!text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// 1 to 5 decimal digits fitting in a `u16`.
fn value_u16(text: &str) -> Option<u16> {
    value_u32(text).and_then(|n| u16::try_from(n).ok())
}

/// `min..=max` ice-chars: ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.1).
fn is_ice_token(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// An RFC 4566 token: visible ASCII except the separators it excludes.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Candidate, CandidateError> {
        text.parse()
    }

    #[test]
    fn parses_chromium_host_with_browser_extensions() {
        let c = parse("candidate:275346429 1 udp 2122260223 127.0.0.1 43974 typ host generation 0 ufrag lZ7j network-id 1 network-cost 50").unwrap();
        assert_eq!(c.foundation(), "275346429");
        assert_eq!(c.component(), 1);
        assert_eq!(c.transport(), &CandidateTransport::Udp);
        assert_eq!(c.priority(), 2_122_260_223);
        assert_eq!(c.address(), &CandidateAddress::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(c.port(), 43974);
        assert_eq!(c.kind(), CandidateKind::Host);
        assert_eq!(
            (c.generation(), c.ufrag(), c.network_id(), c.network_cost()),
            (Some(0), Some("lZ7j"), Some(1), Some(50))
        );
        assert_eq!(c.address().class(), AddressClass::Loopback);
        assert_eq!(c.ip_family(), Some(IpFamily::V4));
    }

    #[test]
    fn parses_firefox_tcp_ipv6_uppercase_transport() {
        let c = parse("candidate:3 2 TCP 2105524478 ::1 9 typ host tcptype active").unwrap();
        assert_eq!(c.transport(), &CandidateTransport::Tcp);
        assert_eq!(c.component(), 2);
        assert_eq!(c.tcp_type(), Some(TcpType::Active));
        assert_eq!(c.ip_family(), Some(IpFamily::V6));
        assert_eq!(c.to_string(), "candidate:3 2 tcp 2105524478 ::1 9 typ host tcptype active");
    }

    #[test]
    fn parses_mdns_relay_and_sdp_line_forms() {
        let mdns = parse("candidate:3835363761 1 udp 2113937151 9c2bcfc6-d912-448b-bb12-741511d3000c.local 34148 typ host generation 0 ufrag geFA network-cost 999").unwrap();
        assert!(mdns.is_mdns());
        assert_eq!(mdns.address().class(), AddressClass::Mdns);
        assert_eq!(mdns.ip_family(), None);

        let relay = parse("a=candidate:1 1 udp 41885439 198.51.100.9 61234 typ relay raddr 203.0.113.7 rport 50000 generation 0\r\n").unwrap();
        assert_eq!(relay.kind(), CandidateKind::Relay);
        assert_eq!(
            relay.related_address(),
            Some(&CandidateAddress::Ip("203.0.113.7".parse().unwrap()))
        );
        assert_eq!(relay.related_port(), Some(50000));

        let bare = parse("1 1 udp 1 turn.example.com 3478 typ relay").unwrap();
        assert_eq!(bare.address(), &CandidateAddress::Fqdn("turn.example.com".into()));
    }

    #[test]
    fn keeps_unknown_extensions_in_order() {
        let text = "candidate:1 1 udp 100 192.0.2.1 5000 typ host x-a 1 generation 2 x-b two";
        let c = parse(text).unwrap();
        let names: Vec<&str> = c.extensions().iter().map(Extension::name).collect();
        assert_eq!(names, ["x-a", "generation", "x-b"]);
        assert_eq!(c.to_string(), text);
    }

    #[test]
    #[allow(clippy::too_many_lines)] // one table of cases
    fn each_error_names_its_field() {
        let base = "candidate:1 1 udp 100 192.0.2.1 5000 typ host";
        assert_eq!(parse(base).map(|c| c.to_string()).as_deref(), Ok(base));
        let invalid = |field: &'static str, value: &str| CandidateError::Invalid {
            field,
            value: value.into(),
        };
        let cases: Vec<(String, CandidateError)> = vec![
            (String::new(), CandidateError::Empty),
            ("candidate:".into(), CandidateError::Empty),
            ("candidate:1".into(), CandidateError::Missing { field: "component-id" }),
            (
                "candidate:1 1 udp 100 192.0.2.1 5000".into(),
                CandidateError::Missing { field: "typ" },
            ),
            (
                "candidate:1 1 udp 100 192.0.2.1 5000 typ".into(),
                CandidateError::Missing { field: "cand-type" },
            ),
            ("candidate:1  1 udp 100 192.0.2.1 5000 typ host".into(), invalid("component-id", "")),
            (base.replace(":1 1", ":bad!f 1"), invalid("foundation", "bad!f")),
            (
                base.replace(":1 1", &format!(":{} 1", "f".repeat(33))),
                invalid("foundation", &"f".repeat(33)),
            ),
            (base.replace(" 1 udp", " 0 udp"), invalid("component-id", "0")),
            (base.replace(" 1 udp", " 257 udp"), invalid("component-id", "257")),
            (base.replace(" udp ", " u/dp "), invalid("transport", "u/dp")),
            (base.replace(" 100 ", " 0 "), invalid("priority", "0")),
            (base.replace(" 100 ", " 2147483648 "), invalid("priority", "2147483648")),
            (base.replace("192.0.2.1", "999.0.0.1"), invalid("connection-address", "999.0.0.1")),
            (base.replace("192.0.2.1", "[::1]"), invalid("connection-address", "[::1]")),
            (base.replace("5000", "65536"), invalid("port", "65536")),
            (base.replace(" typ ", " type "), invalid("typ", "type")),
            (base.replace("host", "local"), CandidateError::UnknownType("local".into())),
            (format!("{base} tcptype sideways"), invalid("tcptype", "sideways")),
            (format!("{base} generation x"), invalid("generation", "x")),
            (format!("{base} raddr nowhere_"), invalid("raddr", "nowhere_")),
            (format!("{base} rport -1"), invalid("rport", "-1")),
            (format!("{base} ufrag a!b"), invalid("ufrag", "a!b")),
            (format!("{base} generation"), invalid("extension value", "generation")),
            (
                format!("{base} generation 0 generation 1"),
                CandidateError::DuplicateExtension("generation".into()),
            ),
            (format!("{base} rport 1 rport 2"), CandidateError::DuplicateExtension("rport".into())),
            (format!("{base} na(me v"), invalid("extension name", "na(me")),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(&text), Err(expected), "{text}");
        }
        let long = format!("{base} {}", "x y ".repeat(300));
        assert_eq!(
            parse(&long),
            Err(CandidateError::TooLong { len: long.len(), max: MAX_CANDIDATE_LEN })
        );
        let many = format!("{base}{}", " x 1".repeat(33));
        assert_eq!(parse(&many), Err(CandidateError::TooManyExtensions { max: MAX_EXTENSIONS }));
        // The hardening issue's case: 1,024 bytes without the prefix print as 1,034.
        let bare_at_limit = padded("", "192.0.2.1", MAX_CANDIDATE_LEN);
        assert_eq!(
            parse(&bare_at_limit),
            Err(CandidateError::PrintedTooLong { len: 1034, max: MAX_CANDIDATE_LEN })
        );
        let mapped = padded("candidate:", "::ffff:64:64", MAX_CANDIDATE_LEN);
        assert_eq!(
            parse(&mapped),
            Err(CandidateError::PrintedTooLong { len: 1030, max: MAX_CANDIDATE_LEN })
        );
    }

    /// `{prefix}1 1 udp 100 {address} 5000 typ host x-pad xx…`, padded to `len` bytes.
    fn padded(prefix: &str, address: &str, len: usize) -> String {
        let text = format!("{prefix}1 1 udp 100 {address} 5000 typ host x-pad ");
        format!("{text}{}", "x".repeat(len.saturating_sub(text.len()).max(1)))
    }

    #[test]
    fn a_parsed_candidate_prints_within_the_limit() {
        // Printing adds the `candidate:` prefix and writes an IPv4-mapped address dotted, so a
        // candidate that fits as given may print longer; whatever parses must print as text
        // that parses again, at every length near the limit.
        let mut parsed = 0;
        for len in MAX_CANDIDATE_LEN - 24..=MAX_CANDIDATE_LEN + 4 {
            for prefix in ["", "candidate:", "a=candidate:"] {
                for address in ["192.0.2.1", "::ffff:0:0", "::ffff:64:64"] {
                    let text = padded(prefix, address, len);
                    let Ok(candidate) = parse(&text) else { continue };
                    parsed += 1;
                    let printed = candidate.to_string();
                    assert!(printed.len() <= MAX_CANDIDATE_LEN, "{len} {prefix:?} {address}");
                    assert_eq!(parse(&printed), Ok(candidate), "{len} {prefix:?} {address}");
                }
            }
        }
        assert!(parsed > 0);
    }

    #[test]
    fn serde_uses_the_candidate_string() {
        let text = "candidate:1 1 udp 100 192.0.2.1 5000 typ host generation 0";
        let c: Candidate = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{text}\""));
        let err =
            serde_json::from_str::<Candidate>("\"candidate:1 1 udp 0 h 1 typ host\"").unwrap_err();
        assert!(err.to_string().contains("priority `0`"), "{err}");
    }

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

    #[test]
    fn mdns_needs_a_uuid() {
        assert!(is_mdns_name("9C2BCFC6-d912-448b-bb12-741511d3000c.LOCAL"));
        assert!(!is_mdns_name("printer.local"));
        assert!(!is_mdns_name("9c2bcfc6-d912-448b-bb12-741511d3000c.example"));
        assert!(!is_mdns_name(".local"));
        assert!(!is_mdns_name(""));
    }
}
