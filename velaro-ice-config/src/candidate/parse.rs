//! The grammar: [`FromStr`] for [`Candidate`] (RFC 8839 §5.1), with the checks that keep
//! every candidate that parses printable as text that parses again, and the token rules the
//! fields share.
//!
//! One pass over the text checks every field and notes whether the text is already in the
//! printed form (browsers write it so); then the candidate is that text, copied once, or
//! printed anew from its fields. Nothing else is allocated on that path.

use std::fmt::Write as _;
use std::str::FromStr;

use super::print::Parts;
use super::{
    Candidate, CandidateAddress, CandidateError, CandidateKind, CandidateTransport, Extension,
    KnownExtensions, MAX_CANDIDATE_LEN, MAX_EXTENSIONS, PREFIX,
};
use crate::SharedStr;
use crate::host::excerpt;

/// The fields of a candidate line, split at single spaces (two spaces make an empty field),
/// each with where it starts.
struct Fields<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Fields<'a> {
    #[inline]
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let start = self.at;
        let rest = self.line.get(start..)?;
        let len = space_in(rest.as_bytes());
        self.at = start + len + 1;
        Some((start, rest.get(..len)?))
    }
}

/// Where the first space is in `bytes`, or its length: eight bytes at a time, as a candidate
/// (some twenty short fields) is split in every `call.candidates` a relay reads.
#[inline]
fn space_in(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const TOP: u64 = ONES << 7;
    let (words, tail) = bytes.as_chunks::<8>();
    let mut at = 0;
    for &chunk in words {
        let word = u64::from_le_bytes(chunk);
        // A zero byte of `word ^ spaces`, found by the borrow through its top bit (only bytes
        // above the first space can be flagged wrongly).
        let spaces = word ^ (ONES * u64::from(b' '));
        let found = spaces.wrapping_sub(ONES) & !spaces & TOP;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + tail.iter().position(|&b| b == b' ').unwrap_or(tail.len())
}

/// A number as it prints: no leading zeros.
fn prints_as_number(text: &str) -> bool {
    text == "0" || !text.starts_with('0')
}

impl FromStr for Candidate {
    type Err = CandidateError;

    fn from_str(text: &str) -> Result<Self, CandidateError> {
        parse(text, None)
    }
}

impl Candidate {
    /// Parses `text` as [`FromStr`] does, but keeps `text` itself as the candidate's printed
    /// form when it already is that form (as browsers write it), sharing its source instead of
    /// copying it: a decoder that read many candidates out of one frame allocates nothing per
    /// candidate.
    ///
    /// # Errors
    /// As [`FromStr`]: what is wrong with the candidate.
    pub fn parse_shared(text: &SharedStr) -> Result<Self, CandidateError> {
        parse(text.as_str(), Some(text))
    }
}

/// The grammar; `shared` is `text` as a [`SharedStr`] when the caller has one to share.
#[allow(clippy::too_many_lines)] // the grammar, field by field
fn parse(text: &str, shared: Option<&SharedStr>) -> Result<Candidate, CandidateError> {
    if text.len() > MAX_CANDIDATE_LEN {
        return Err(CandidateError::TooLong { len: text.len(), max: MAX_CANDIDATE_LEN });
    }
    let line = text.strip_suffix('\n').unwrap_or(text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.strip_prefix("a=").unwrap_or(line);
    let line = line.strip_prefix(PREFIX).unwrap_or(line);
    if line.is_empty() {
        return Err(CandidateError::Empty);
    }
    let mut fields = Fields { line, at: 0 };
    let mut next = |field| match fields.next() {
        Some((_, "")) => Err(CandidateError::Invalid { field, value: String::new() }),
        Some((_, value)) => Ok(value),
        None => Err(CandidateError::Missing { field }),
    };
    let invalid = |field, value: &str| CandidateError::Invalid { field, value: excerpt(value) };
    // Whether `line` is already the printed form (after the prefix).
    let mut printed = true;

    let foundation = next("foundation")?;
    if !is_ice_token(foundation, 1, 32) {
        return Err(invalid("foundation", foundation));
    }
    let component_text = next("component-id")?;
    let component = value_u32(component_text)
        .filter(|c| (1..=256).contains(c))
        .and_then(|c| u16::try_from(c).ok())
        .ok_or_else(|| invalid("component-id", component_text))?;
    printed &= prints_as_number(component_text);
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
    printed &= transport.as_str() == transport_text;
    let priority_text = next("priority")?;
    let priority = value_u32(priority_text)
        .filter(|p| (1..=0x7fff_ffff).contains(p))
        .ok_or_else(|| invalid("priority", priority_text))?;
    printed &= prints_as_number(priority_text);
    let address_text = next("connection-address")?;
    let address = CandidateAddress::parse(address_text)
        .ok_or_else(|| invalid("connection-address", address_text))?;
    printed &= address.prints_as(address_text);
    let port_text = next("port")?;
    let port = value_u16(port_text).ok_or_else(|| invalid("port", port_text))?;
    printed &= prints_as_number(port_text);
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

    // `raddr` and `rport` print first, then the other extensions as they came.
    let mut related_address = None;
    let mut related_port = None;
    let mut known = KnownExtensions::default();
    let mut ufrag = None;
    let mut extensions = 0;
    let mut extensions_at = None;
    while let Some((at, name)) = fields.next() {
        let (value_at, value) = match fields.next() {
            Some((value_at, value)) if !value.is_empty() => (value_at, value),
            _ => return Err(invalid("extension value", name)),
        };
        let duplicate = || CandidateError::DuplicateExtension(excerpt(name));
        match name {
            "raddr" => {
                if related_address.is_some() {
                    return Err(duplicate());
                }
                let address =
                    CandidateAddress::parse(value).ok_or_else(|| invalid("raddr", value))?;
                printed &=
                    extensions_at.is_none() && related_port.is_none() && address.prints_as(value);
                related_address = Some(address);
            }
            "rport" => {
                if related_port.is_some() {
                    return Err(duplicate());
                }
                related_port = Some(value_u16(value).ok_or_else(|| invalid("rport", value))?);
                printed &= extensions_at.is_none() && prints_as_number(value);
            }
            _ => {
                let seen = match Extension::parse(name, value)? {
                    Extension::TcpType(t) => known.tcp_type.replace(t).is_some(),
                    Extension::Generation(n) => known.generation.replace(n).is_some(),
                    Extension::NetworkId(n) => known.network_id.replace(n).is_some(),
                    Extension::NetworkCost(n) => known.network_cost.replace(n).is_some(),
                    Extension::Ufrag(v) => ufrag.replace((value_at, v.len())).is_some(),
                    Extension::Other { .. } => false,
                };
                if seen {
                    return Err(duplicate());
                }
                if extensions == MAX_EXTENSIONS {
                    return Err(CandidateError::TooManyExtensions { max: MAX_EXTENSIONS });
                }
                extensions += 1;
                printed &= !matches!(name, "generation" | "network-id" | "network-cost")
                    || prints_as_number(value);
                extensions_at.get_or_insert(at);
            }
        }
    }

    let parts = Parts {
        foundation,
        component,
        transport: &transport,
        priority,
        address: &address,
        port,
        kind,
        related_address: related_address.as_ref(),
        related_port,
    };
    let (text, extensions_at, ufrag_at) = if printed {
        // `text` is the printed form when nothing but the prefix was before `line`: shared, or
        // copied once. Otherwise the prefix goes in front of `line`.
        let text = if text.len() == PREFIX.len() + line.len() && text.starts_with(PREFIX) {
            shared.cloned().unwrap_or_else(|| SharedStr::from(text))
        } else {
            SharedStr::from([PREFIX, line].concat())
        };
        let start = extensions_at.unwrap_or(line.len());
        let ufrag_at = ufrag.map(|(at, _)| at.saturating_sub(start));
        (text, PREFIX.len() + start, ufrag_at)
    } else {
        let tail = line.get(extensions_at.unwrap_or(line.len())..).unwrap_or_default();
        let (tail, ufrag_at) = print_extensions(tail);
        let text = parts.print(&tail);
        let start = text.len().saturating_sub(tail.len());
        (SharedStr::from(text), start, ufrag_at)
    };
    if text.len() > MAX_CANDIDATE_LEN {
        return Err(CandidateError::PrintedTooLong { len: text.len(), max: MAX_CANDIDATE_LEN });
    }
    // Offsets fit in `u16`: the text is at most `MAX_CANDIDATE_LEN` bytes.
    let short = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    known.ufrag = ufrag_at.zip(ufrag).map(|(at, (_, len))| (short(at), short(len)));
    Ok(Candidate {
        foundation_end: short(PREFIX.len() + foundation.len()),
        component,
        transport,
        priority,
        address,
        port,
        kind,
        related_address,
        related_port,
        extensions_at: short(extensions_at),
        known,
        text,
    })
}

/// The extensions after `typ`, without `raddr` and `rport`, as they print (numbers without
/// leading zeros), and where the `ufrag` value is in them. Only for text not already printed.
fn print_extensions(tail: &str) -> (String, Option<usize>) {
    let mut printed = String::with_capacity(tail.len());
    let mut ufrag = None;
    let mut fields = tail.split(' ');
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if matches!(name, "raddr" | "rport") {
            continue;
        }
        let Ok(extension) = Extension::parse(name, value) else { continue };
        if !printed.is_empty() {
            printed.push(' ');
        }
        if let Extension::Ufrag(_) = extension {
            ufrag = Some(printed.len() + name.len() + 1);
        }
        // Writing to a String cannot fail.
        let _ = write!(printed, "{extension}");
    }
    (printed, ufrag)
}

/// 1 to 10 decimal digits fitting in a `u32`.
pub(super) fn value_u32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 {
        return None;
    }
    text.bytes()
        .try_fold(0u64, |n, b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
        .and_then(|n| u32::try_from(n).ok())
}

/// 1 to 5 decimal digits fitting in a `u16`.
fn value_u16(text: &str) -> Option<u16> {
    value_u32(text).and_then(|n| u16::try_from(n).ok())
}

/// `min..=max` ice-chars: ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.1).
pub(super) fn is_ice_token(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// An RFC 4566 token: visible ASCII except the separators it excludes.
pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::{AddressClass, IpFamily, TcpType};

    fn parse(text: &str) -> Result<Candidate, CandidateError> {
        text.parse()
    }

    #[test]
    fn spaces_are_found_at_every_offset() {
        for len in 0..20 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b' ';
                assert_eq!(space_in(&bytes), at);
                bytes[at] = 0xa0;
                assert_eq!(space_in(&bytes), len, "no-break space and high bytes pass");
            }
            assert_eq!(space_in(&vec![b'!'; len]), len);
        }
    }

    #[test]
    fn a_shared_text_is_kept_only_when_already_printed() {
        use std::sync::Arc;
        let frame: Arc<str> = Arc::from(
            "[candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host ufrag EsAw|\
             a=candidate:1 1 UDP 2122260223 192.0.2.1 5000 typ host ufrag EsAw]",
        );
        let split = frame.find('|').unwrap();
        let printed = SharedStr::slice(&frame, 1..split).unwrap();
        let other = SharedStr::slice(&frame, split + 1..frame.len() - 1).unwrap();
        let shared = Candidate::parse_shared(&printed).unwrap();
        assert_eq!(shared, parse(&printed).unwrap());
        assert_eq!(shared.retained_len(), frame.len(), "the frame's text is the candidate's");
        assert_eq!(shared.ufrag(), Some("EsAw"));
        let copied = Candidate::parse_shared(&other).unwrap();
        assert_eq!(copied, shared, "`a=` and `UDP` print differently");
        assert_eq!(copied.retained_len(), copied.as_str().len());
        assert!(matches!(
            Candidate::parse_shared(&SharedStr::from("candidate:1 1 udp 0 h 1 typ host")),
            Err(CandidateError::Invalid { field: "priority", .. })
        ));
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
    fn text_in_the_printed_form_is_kept_and_any_other_is_printed_anew() {
        let chromium = "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 999";
        let c = parse(chromium).unwrap();
        assert_eq!(c.as_str(), chromium);
        // The same candidate written every other way a peer may write it.
        let others = [
            "a=candidate:842163049 1 UDP 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 999\r\n",
            "842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 999",
            "candidate:842163049 01 udp 1677729535 203.0.113.7 046154 typ srflx raddr 192.168.1.20 rport 46154 generation 00 ufrag EsAw network-id 1 network-cost 0999",
            "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx rport 46154 raddr 192.168.1.20 generation 0 ufrag EsAw network-id 1 network-cost 999",
            "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx generation 0 raddr 192.168.1.20 ufrag EsAw rport 46154 network-id 1 network-cost 999",
        ];
        for text in others {
            let other = parse(text).unwrap();
            assert_eq!(other, c, "{text}");
            assert_eq!((other.foundation(), other.ufrag()), ("842163049", Some("EsAw")), "{text}");
            let names: Vec<&str> = other.extensions().map(|e| e.name()).collect();
            assert_eq!(names, ["generation", "ufrag", "network-id", "network-cost"], "{text}");
        }
        let v6 =
            parse("candidate:1 1 udp 100 2001:DB8:0:0:0:0:0:1 5000 typ host ufrag ab+/").unwrap();
        assert_eq!(v6.as_str(), "candidate:1 1 udp 100 2001:db8::1 5000 typ host ufrag ab+/");
        assert_eq!(v6.ufrag(), Some("ab+/"));
        let mdns =
            parse("candidate:1 1 udp 100 9C2BCFC6-D912-448B-BB12-741511D3000C.local 5000 typ host")
                .unwrap();
        assert_eq!(
            mdns.as_str(),
            "candidate:1 1 udp 100 9c2bcfc6-d912-448b-bb12-741511d3000c.local 5000 typ host"
        );
        assert!(mdns.is_mdns());
    }

    #[test]
    fn keeps_unknown_extensions_in_order() {
        let text = "candidate:1 1 udp 100 192.0.2.1 5000 typ host x-a 1 generation 2 x-b two";
        let c = parse(text).unwrap();
        let names: Vec<&str> = c.extensions().map(|e| e.name()).collect();
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
}
