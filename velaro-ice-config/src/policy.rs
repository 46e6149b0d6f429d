//! The privacy filter for ICE candidates, applied to trickled candidates and to SDP.

use std::fmt::Write as _;

use crate::candidate::{AddressClass, Candidate, CandidateKind};
use crate::server::IceTransportPolicy;

/// Which candidates may reach the other party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CandidatePolicy {
    /// Every candidate with a routable address (and mDNS names, which hide host addresses).
    #[default]
    All,
    /// Only relay candidates, with their related address blanked: the other party learns the
    /// TURN server's address and nothing about the user's network.
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
    /// The SDP with the dropped candidate lines removed and, for relay-only, the `c=` and
    /// `a=rtcp:` addresses blanked. Line endings are kept as they were.
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

    /// Keeps, rewrites or drops one candidate.
    pub fn apply(&self, mut candidate: Candidate) -> Result<Candidate, DropReason> {
        let class = candidate.address().class();
        if self.policy == CandidatePolicy::RelayOnly {
            if candidate.kind() != CandidateKind::Relay {
                return Err(DropReason::NotRelay);
            }
            if matches!(class, AddressClass::Mdns | AddressClass::Fqdn) {
                return Err(DropReason::NamedAddress);
            }
        }
        if class.is_unroutable() && !self.allow_unroutable {
            return Err(DropReason::Unroutable);
        }
        if self.policy == CandidatePolicy::RelayOnly {
            candidate.blank_related();
        }
        Ok(candidate)
    }

    /// Filters the `a=candidate:` lines of an SDP and, for relay-only, blanks the addresses of
    /// `c=` and `a=rtcp:` lines (which may hold a host address as the default candidate). Other
    /// lines pass through byte for byte; both CRLF and LF endings are kept.
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

/// `c=IN IP4 x` → `c=IN IP4 0.0.0.0`, `a=rtcp:9 IN IP6 x` → `a=rtcp:9 IN IP6 ::`; other
/// lines unchanged.
fn blank_address(line: &str) -> std::borrow::Cow<'_, str> {
    let prefix_end = if line.starts_with("c=") {
        line.find("IN IP")
    } else if line.starts_with("a=rtcp:") {
        line.find(" IN IP").map(|at| at + 1)
    } else {
        None
    };
    let Some(at) = prefix_end else {
        return line.into();
    };
    let kept = line.get(..at + "IN IP4".len()).unwrap_or(line);
    if kept.ends_with("IP4") {
        format!("{kept} 0.0.0.0").into()
    } else if kept.ends_with("IP6") {
        format!("{kept} ::").into()
    } else {
        line.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
