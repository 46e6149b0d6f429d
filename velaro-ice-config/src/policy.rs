//! The privacy filter for ICE candidates, applied to trickled candidates and to SDP.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::candidate::{Candidate, CandidateKind};
use crate::server::IceTransportPolicy;

/// The most bytes [`CandidateFilter::filter_sdp`] adds to one line it rewrites; see there for
/// the bound of each kind of line.
pub const MAX_SDP_LINE_GROWTH: usize = 23;

/// Which candidates may reach the other party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CandidatePolicy {
    /// Every candidate with a routable address (and mDNS names, which hide host addresses).
    #[default]
    All,
    /// Only relay candidates, with their related address blanked, and an SDP's origin and
    /// connection addresses blanked: the other party learns the TURN server's address and
    /// nothing about the user's network.
    RelayOnly,
}

impl From<IceTransportPolicy> for CandidatePolicy {
    fn from(policy: IceTransportPolicy) -> Self {
        match policy {
            IceTransportPolicy::All => CandidatePolicy::All,
            IceTransportPolicy::Relay => CandidatePolicy::RelayOnly,
        }
    }
}

/// Why the filter dropped a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// The policy is relay-only and this is a host, srflx or prflx candidate.
    #[error("not a relay candidate")]
    NotRelay,
    /// The policy is relay-only and the address is a DNS or mDNS name, which cannot be checked.
    #[error("relay candidate with a name instead of an ip address")]
    NamedAddress,
    /// Unspecified, loopback, link-local or multicast: no remote peer can reach it.
    #[error("address is unreachable for a remote peer")]
    Unroutable,
    /// An `a=candidate` line in an SDP did not parse.
    #[error("candidate line does not parse")]
    Unparsable,
    /// With its related address blanked the candidate would print longer than
    /// [`MAX_CANDIDATE_LEN`](crate::MAX_CANDIDATE_LEN), so it could not be parsed again.
    #[error("candidate with its related address blanked is too long")]
    BlankedTooLong,
}

/// Applies a [`CandidatePolicy`] to candidates and to the candidate lines of an SDP.
///
/// ```
/// use velaro_ice_config::{Candidate, CandidateFilter, CandidatePolicy, DropReason};
///
/// let filter = CandidateFilter::new(CandidatePolicy::RelayOnly);
/// let host: Candidate = "candidate:1 1 udp 2122260223 192.168.1.20 5000 typ host".parse()?;
/// assert_eq!(filter.apply(host), Err(DropReason::NotRelay));
///
/// let relay: Candidate = "candidate:2 1 udp 41885439 198.51.100.9 61234 typ relay \
///                         raddr 203.0.113.7 rport 50000".parse()?;
/// let kept = filter.apply(relay).expect("relay candidates pass");
/// assert!(kept.to_string().ends_with("typ relay raddr 0.0.0.0 rport 0"));
/// # Ok::<(), velaro_ice_config::CandidateError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CandidateFilter {
    policy: CandidatePolicy,
    allow_unroutable: bool,
}

/// An SDP after filtering, and how many candidate lines were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredSdp {
    /// The SDP with the dropped candidate lines removed and, for relay-only, the `o=`, `c=`
    /// and `a=rtcp:` addresses blanked. Line endings are kept as they were.
    pub sdp: String,
    /// How many `a=candidate` lines were removed.
    pub dropped: usize,
}

impl CandidateFilter {
    /// A filter for `policy` that drops unroutable addresses.
    pub fn new(policy: CandidatePolicy) -> Self {
        CandidateFilter { policy, allow_unroutable: false }
    }

    /// Lets loopback, link-local, unspecified and multicast addresses through. Only for tests
    /// and demos on one machine: in production such a candidate can never connect and leaks
    /// details of the user's network.
    #[must_use]
    pub fn dangerous_allow_unroutable(mut self) -> Self {
        self.allow_unroutable = true;
        self
    }

    /// The policy this filter applies.
    pub fn policy(&self) -> CandidatePolicy {
        self.policy
    }

    /// Keeps, rewrites or drops one candidate. A name is judged by what it names: `localhost`
    /// like a loopback address (see [`AddressClass`](crate::AddressClass)).
    pub fn apply(&self, candidate: Candidate) -> Result<Candidate, DropReason> {
        if self.policy == CandidatePolicy::RelayOnly {
            if candidate.kind() != CandidateKind::Relay {
                return Err(DropReason::NotRelay);
            }
            if candidate.address().ip().is_none() {
                return Err(DropReason::NamedAddress);
            }
        }
        if candidate.address().class().is_unroutable() && !self.allow_unroutable {
            return Err(DropReason::Unroutable);
        }
        if self.policy == CandidatePolicy::RelayOnly {
            return candidate.with_blank_related().ok_or(DropReason::BlankedTooLong);
        }
        Ok(candidate)
    }

    /// Filters the `a=candidate:` lines of an SDP and, for relay-only, blanks the addresses of
    /// `o=`, `c=` and `a=rtcp:` lines (the origin may hold the host's address, the others a
    /// host address as the default candidate). Other lines pass through byte for byte; both
    /// CRLF and LF endings are kept. Fields are split at runs of spaces, as `sdp-types` does.
    ///
    /// The result may be longer than `sdp`, by at most [`MAX_SDP_LINE_GROWTH`] bytes per line
    /// rewritten, so a caller with a size limit must check the result again:
    /// - `a=candidate:`, at most 23 bytes: relay-only adds ` raddr :: rport 0` (17 bytes) to
    ///   an IPv6 candidate without them, or ` raddr 0.0.0.0 rport 0` (22) to an IPv4 one, and
    ///   an IPv4-mapped address given in hex prints up to 6 bytes longer dotted
    ///   (`::ffff:64:64` is `::ffff:0.100.0.100`). Under the all policy, at most 12 bytes (two
    ///   such addresses).
    /// - `c=`, at most 14 bytes: it becomes `c=IN IP4 0.0.0.0` (16 bytes) or `c=IN IP6 ::`.
    /// - `o=` and `a=rtcp:`, at most 13 bytes: their address fields become ` IN IP4 0.0.0.0`
    ///   (15 bytes) where they had at least two bytes.
    ///
    /// Browsers' lines do not grow: their `c=`, `a=rtcp:` and relay `raddr` addresses are no
    /// shorter than the blanks, and Chromium's origin `127.0.0.1` becomes `0.0.0.0`.
    pub fn filter_sdp(&self, sdp: &str) -> FilteredSdp {
        let mut out = String::with_capacity(sdp.len());
        let mut dropped = 0;
        for line in sdp.split_inclusive('\n') {
            let body = line.trim_end_matches(['\r', '\n']);
            let ending = line.get(body.len()..).unwrap_or_default();
            if let Some(value) = body.strip_prefix("a=candidate:") {
                match value.parse().map_err(|_| DropReason::Unparsable).and_then(|c| self.apply(c))
                {
                    // `Candidate` displays as `candidate:…`; writing to a String cannot fail.
                    Ok(kept) => {
                        let _ = write!(out, "a={kept}{ending}");
                    }
                    Err(_) => dropped += 1,
                }
            } else if self.policy == CandidatePolicy::RelayOnly {
                out.push_str(&blank_address(body));
                out.push_str(ending);
            } else {
                out.push_str(line);
            }
        }
        FilteredSdp { sdp: out, dropped }
    }
}

/// The blank connection address for an `addrtype` field: `IN IP6 ::` for `IP6`, else
/// `IN IP4 0.0.0.0`, the unspecified addresses browsers write themselves.
fn blank_connection(addrtype: Option<&str>) -> &'static str {
    if addrtype == Some("IP6") { "IN IP6 ::" } else { "IN IP4 0.0.0.0" }
}

/// The fields of an SDP line's value: runs of spaces separate them, as in `sdp-types`.
fn fields(value: &str) -> impl Iterator<Item = &str> {
    value.split(' ').filter(|field| !field.is_empty())
}

/// Blanks the address of an `o=`, `c=` or `a=rtcp:` line; other lines unchanged.
///
/// - `c=<nettype> <addrtype> <address>` becomes `c=IN IP4 0.0.0.0` (`c=IN IP6 ::` for IPv6),
///   whatever it held.
/// - `a=rtcp:<port> <nettype> <addrtype> <address>` keeps its port and gets the same blank.
/// - `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` keeps its
///   first three fields and gets `IN IP4 0.0.0.0` whatever the family: JSEP (RFC 9429 §5.2.1)
///   recommends exactly this placeholder so the origin leaks no local address, Firefox writes
///   it, and it hides whether the host has IPv6. (Chromium's `127.0.0.1` would do as well, but
///   one blank for every address the filter hides is simpler to check.)
fn blank_address(line: &str) -> Cow<'_, str> {
    if let Some(value) = line.strip_prefix("c=") {
        return format!("c={}", blank_connection(fields(value).nth(1))).into();
    }
    if let Some(value) = line.strip_prefix("a=rtcp:") {
        let mut fields = fields(value);
        let port = fields.next().unwrap_or_default();
        let mut rest = fields.peekable();
        if rest.peek().is_none() {
            return line.into();
        }
        return format!("a=rtcp:{port} {}", blank_connection(rest.nth(1))).into();
    }
    if let Some(value) = line.strip_prefix("o=") {
        let mut fields = fields(value);
        let kept: Vec<&str> = fields.by_ref().take(3).collect();
        if kept.len() < 3 || fields.next().is_none() {
            return line.into();
        }
        return format!("o={} IN IP4 0.0.0.0", kept.join(" ")).into();
    }
    line.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AddressClass;

    fn candidate(text: &str) -> Candidate {
        text.parse().unwrap()
    }

    const HOST_PRIVATE: &str = "candidate:1 1 udp 2122260223 192.168.1.20 5000 typ host";
    const HOST_LOOPBACK: &str = "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host";
    const MDNS: &str =
        "candidate:1 1 udp 2113937151 9c2bcfc6-d912-448b-bb12-741511d3000c.local 34148 typ host";
    const SRFLX: &str =
        "candidate:2 1 udp 1686052607 203.0.113.7 5000 typ srflx raddr 192.168.1.20 rport 5000";
    const RELAY_V6: &str =
        "candidate:3 1 udp 41885439 2001:db8::9 61234 typ relay raddr 2001:db8::7 rport 50000";
    const RELAY_FQDN: &str = "candidate:3 1 udp 41885439 turn.example.com 61234 typ relay";

    #[test]
    fn all_keeps_routable_and_mdns_and_drops_unroutable() {
        let filter = CandidateFilter::new(CandidatePolicy::All);
        for text in [HOST_PRIVATE, MDNS, SRFLX, RELAY_V6] {
            assert_eq!(filter.apply(candidate(text)), Ok(candidate(text)), "{text}");
        }
        assert_eq!(filter.apply(candidate(HOST_LOOPBACK)), Err(DropReason::Unroutable));
        let mapped = "candidate:1 1 udp 1 ::ffff:169.254.3.3 5000 typ host";
        assert_eq!(filter.apply(candidate(mapped)), Err(DropReason::Unroutable));
        let loose = filter.dangerous_allow_unroutable();
        assert_eq!(loose.apply(candidate(HOST_LOOPBACK)), Ok(candidate(HOST_LOOPBACK)));
    }

    #[test]
    fn relay_only_keeps_relays_with_blank_related_address() {
        let filter = CandidateFilter::new(CandidatePolicy::RelayOnly);
        assert_eq!(filter.apply(candidate(HOST_PRIVATE)), Err(DropReason::NotRelay));
        assert_eq!(filter.apply(candidate(MDNS)), Err(DropReason::NotRelay));
        assert_eq!(filter.apply(candidate(SRFLX)), Err(DropReason::NotRelay));
        assert_eq!(filter.apply(candidate(RELAY_FQDN)), Err(DropReason::NamedAddress));
        let kept = filter.apply(candidate(RELAY_V6)).unwrap();
        assert_eq!(
            kept.to_string(),
            "candidate:3 1 udp 41885439 2001:db8::9 61234 typ relay raddr :: rport 0"
        );
        let bare = filter.apply(candidate("candidate:4 1 udp 5 198.51.100.1 3 typ relay")).unwrap();
        assert!(bare.to_string().ends_with("typ relay raddr 0.0.0.0 rport 0"), "{bare}");
        // Blanking moves the extensions along; they still read back, and so does the text.
        let with_ufrag = "candidate:5 1 udp 5 198.51.100.1 3 typ relay generation 0 ufrag Ab12";
        let kept = filter.apply(candidate(with_ufrag)).unwrap();
        assert_eq!((kept.ufrag(), kept.generation()), (Some("Ab12"), Some(0)));
        assert_eq!(kept.extensions().count(), 2);
        assert_eq!(kept.to_string().parse(), Ok(kept));
    }

    #[test]
    fn a_blanked_relay_candidate_still_prints_as_text_that_parses() {
        // A relay candidate without `raddr`/`rport` gains ` raddr 0.0.0.0 rport 0` (22 bytes).
        let text = "candidate:4 1 udp 5 198.51.100.1 3 typ relay x-pad ";
        let text = format!("{text}{}", "x".repeat(crate::MAX_CANDIDATE_LEN - text.len()));
        let filter = CandidateFilter::new(CandidatePolicy::RelayOnly);
        if let Ok(kept) = filter.apply(candidate(&text)) {
            assert_eq!(kept.to_string().parse(), Ok(kept));
        }
        assert_eq!(filter.apply(candidate(&text)), Err(DropReason::BlankedTooLong));
        // 22 bytes shorter, it fits blanked.
        let shorter = candidate(&text[..text.len() - 22]);
        let kept = filter.apply(shorter).unwrap();
        assert_eq!(kept.to_string().len(), crate::MAX_CANDIDATE_LEN);
        let filtered = filter.filter_sdp(&format!("a={text}\r\n"));
        for line in filtered.sdp.lines() {
            assert!(line.parse::<Candidate>().is_ok(), "{line}");
        }
    }

    #[test]
    fn relay_only_blanks_the_origin_address() {
        let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
        for (origin, blanked) in [
            (
                "o=- 4611731400430051336 2 IN IP4 192.168.1.20",
                "o=- 4611731400430051336 2 IN IP4 0.0.0.0",
            ),
            ("o=- 1 2 IN IP6 fd00::20", "o=- 1 2 IN IP4 0.0.0.0"),
            ("o=jdoe  7  9  IN  IP4  10.0.0.7", "o=jdoe 7 9 IN IP4 0.0.0.0"),
            ("o=- 1 2 IN IP4 127.0.0.1", "o=- 1 2 IN IP4 0.0.0.0"),
        ] {
            let sdp = format!("v=0\r\n{origin}\r\ns=-\r\n");
            assert_eq!(relay_only.filter_sdp(&sdp).sdp, format!("v=0\r\n{blanked}\r\ns=-\r\n"));
            let all = CandidateFilter::new(CandidatePolicy::All).filter_sdp(&sdp);
            assert_eq!(all.sdp, sdp, "the all policy keeps the origin");
        }
    }

    #[test]
    fn relay_only_blanks_connection_addresses_however_spaced() {
        let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
        for (line, blanked) in [
            ("c=IN IP4 192.168.1.20", "c=IN IP4 0.0.0.0"),
            ("c=IN  IP4 192.168.1.20", "c=IN IP4 0.0.0.0"),
            ("c=IN IP4  192.168.1.20", "c=IN IP4 0.0.0.0"),
            ("c=IN IP6 fe80::1", "c=IN IP6 ::"),
            ("c=IN  IP6  fe80::1", "c=IN IP6 ::"),
            ("a=rtcp:9 IN IP4 192.168.1.20", "a=rtcp:9 IN IP4 0.0.0.0"),
            ("a=rtcp:9 IN  IP4 192.168.1.20", "a=rtcp:9 IN IP4 0.0.0.0"),
            ("a=rtcp:9  IN IP6  fe80::1", "a=rtcp:9 IN IP6 ::"),
            ("a=rtcp:9", "a=rtcp:9"),
        ] {
            assert_eq!(relay_only.filter_sdp(line).sdp, blanked, "{line}");
        }
    }

    #[test]
    fn localhost_names_are_dropped_like_loopback_addresses() {
        let host = |address: &str| candidate(&HOST_LOOPBACK.replace("127.0.0.1", address));
        let all = CandidateFilter::new(CandidatePolicy::All);
        let loose = all.dangerous_allow_unroutable();
        for name in ["localhost", "LocalHost", "printer.localhost", "a.b.localhost"] {
            assert_eq!(all.apply(host(name)), Err(DropReason::Unroutable), "{name}");
            assert_eq!(loose.apply(host(name)), Ok(host(name)), "{name}");
            assert_eq!(host(name).address().class(), AddressClass::Loopback, "{name}");
            let sdp = format!("a={}\r\n", host(name));
            assert_eq!(all.filter_sdp(&sdp).dropped, 1, "{name}");
        }
        // Only the reserved name and its subdomains: these are ordinary names.
        for name in ["localhost.example", "notlocalhost", "localhost-1.example"] {
            assert_eq!(all.apply(host(name)), Ok(host(name)), "{name}");
        }
        // Relay-only refuses every name, loopback or not, even when unroutable ones may pass.
        let relay = candidate("candidate:3 1 udp 41885439 localhost 61234 typ relay");
        let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
        assert_eq!(relay_only.apply(relay.clone()), Err(DropReason::NamedAddress));
        let loose_relay = relay_only.dangerous_allow_unroutable();
        assert_eq!(loose_relay.apply(relay), Err(DropReason::NamedAddress));
    }

    #[test]
    fn filter_sdp_grows_a_line_by_at_most_the_documented_bound() {
        let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
        let all = CandidateFilter::new(CandidatePolicy::All).dangerous_allow_unroutable();
        // The worst line of each kind, and how much it grows under each policy.
        for (line, relay_only_growth, all_growth) in [
            ("a=candidate:1 1 udp 5 ::ffff:64:64 3 typ relay", 23, 6),
            ("a=candidate:1 1 udp 5 198.51.100.1 3 typ relay", 22, 0),
            ("a=candidate:1 1 udp 5 ::ffff:64:64 3 typ srflx raddr ::ffff:64:64 rport 1", 0, 12),
            ("c=", 14, 0),
            ("c=IN IP6 a", 1, 0),
            ("a=rtcp:9 x", 13, 0),
            ("o=- 1 2 x", 13, 0),
        ] {
            for (filter, growth) in [(relay_only, relay_only_growth), (all, all_growth)] {
                let filtered = filter.filter_sdp(line).sdp;
                if filter.policy() == CandidatePolicy::RelayOnly && line.contains("srflx") {
                    assert_eq!(filtered, "", "not a relay candidate: dropped");
                    continue;
                }
                assert_eq!(filtered.len() - line.len(), growth, "{line} → {filtered}");
                assert!(growth <= MAX_SDP_LINE_GROWTH);
            }
        }
    }

    #[test]
    fn converts_from_the_transport_policy() {
        assert_eq!(CandidatePolicy::from(IceTransportPolicy::Relay), CandidatePolicy::RelayOnly);
        assert_eq!(CandidatePolicy::from(IceTransportPolicy::All), CandidatePolicy::All);
    }

    #[test]
    fn filters_sdp_lines_and_keeps_line_endings() {
        let sdp = format!(
            "v=0\r\nm=audio 5000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.168.1.20\r\n\
             a=rtcp:5001 IN IP4 192.168.1.20\r\na={HOST_PRIVATE}\r\na={RELAY_V6}\r\n\
             a=candidate:garbage\r\na=end-of-candidates\r\n"
        );
        let all = CandidateFilter::new(CandidatePolicy::All).filter_sdp(&sdp);
        assert_eq!(all.dropped, 1);
        assert_eq!(all.sdp, sdp.replace("a=candidate:garbage\r\n", ""));

        let relay = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&sdp);
        assert_eq!(relay.dropped, 2);
        assert_eq!(
            relay.sdp,
            "v=0\r\nm=audio 5000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
             a=rtcp:5001 IN IP4 0.0.0.0\r\n\
             a=candidate:3 1 udp 41885439 2001:db8::9 61234 typ relay raddr :: rport 0\r\n\
             a=end-of-candidates\r\n"
        );

        let lf = "c=IN IP6 2001:db8::1\na=candidate:x\nlast-line-without-ending";
        let filtered = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(lf);
        assert_eq!(filtered.sdp, "c=IN IP6 ::\nlast-line-without-ending");
    }
}
