//! Real browsers' candidates and SDP (captured from headless Chromium and Firefox), parsed by us
//! and cross-checked against webrtc-ice's parser.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::net::IpAddr;

use velaro_ice_config::{
    AddressClass, Candidate, CandidateAddress, CandidateFilter, CandidateKind, CandidatePolicy,
    CandidateTransport, IceUrl, TcpType,
};
use webrtc_ice::candidate::Candidate as _;

/// The `candidate` strings of a captured `event.candidate.toJSON()` array, skipping `null` (end
/// of gathering) and Firefox's empty end-of-candidates strings.
fn fixture_candidates(name: &str) -> Vec<String> {
    let path = format!("{}/../tests/fixtures/browser/{name}", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .filter_map(|init| init.get("candidate")?.as_str())
        .filter(|candidate| !candidate.is_empty())
        .map(str::to_owned)
        .collect()
}

fn fixture_sdp(name: &str) -> String {
    let path = format!("{}/../tests/fixtures/browser/{name}", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["sdp"].as_str().unwrap().to_owned()
}

/// Chrome's candidates on a real network (public documentation addresses substituted).
const CHROME_NETWORK: [&str; 4] = [
    "candidate:2399422196 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 ufrag EsAw network-id 1 network-cost 10",
    "candidate:842163049 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0 ufrag EsAw network-id 1 network-cost 10",
    "candidate:3741928132 1 udp 41885695 198.51.100.9 61234 typ relay raddr 203.0.113.7 rport 54321 generation 0 ufrag EsAw network-id 1 network-cost 10",
    "candidate:1 1 udp 2122262783 2001:db8:85a3::8a2e:370:7334 50000 typ host generation 0 ufrag EsAw network-id 2 network-cost 10",
];

#[test]
fn chromium_loopback_candidates() {
    let candidates = fixture_candidates("chromium-candidates.json");
    assert_eq!(candidates.len(), 4);
    let parsed: Vec<Candidate> = candidates.iter().map(|c| c.parse().unwrap()).collect();
    assert!(parsed.iter().all(|c| c.ufrag() == Some("lZ7j") && c.generation() == Some(0)));
    assert!(parsed.iter().all(|c| c.address().class() == AddressClass::Loopback));
    let tcp = &parsed[2];
    assert_eq!(
        (tcp.transport(), tcp.tcp_type(), tcp.port()),
        (&CandidateTransport::Tcp, Some(TcpType::Active), 9)
    );
    for (text, candidate) in candidates.iter().zip(&parsed) {
        assert_eq!(&candidate.to_string(), text, "chromium's lines display unchanged");
    }
}

#[test]
fn chromium_mdns_candidates() {
    for text in fixture_candidates("chromium-candidates-mdns.json") {
        let candidate: Candidate = text.parse().unwrap();
        assert!(candidate.is_mdns(), "{text}");
        assert_eq!(candidate.ip_family(), None);
        assert_eq!(candidate.network_cost(), Some(999));
    }
}

#[test]
fn firefox_candidates_with_uppercase_transport_and_rtcp_component() {
    let parsed: Vec<Candidate> =
        fixture_candidates("firefox-candidates.json").iter().map(|c| c.parse().unwrap()).collect();
    assert_eq!(parsed.len(), 16);
    assert_eq!(parsed.iter().filter(|c| c.component() == 2).count(), 8);
    assert_eq!(
        parsed
            .iter()
            .filter(|c| c.address().ip() == Some(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])))
            .count(),
        8
    );
    assert!(parsed.iter().all(|c| c.kind() == CandidateKind::Host && c.ufrag().is_none()));
}

#[test]
fn candidates_inside_sdp_parse_as_sdp_lines() {
    let sdp = fixture_sdp("chromium-answer-screen-renegotiation.json");
    let lines: Vec<&str> = sdp.lines().filter(|l| l.starts_with("a=candidate:")).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let candidate: Candidate = line.parse().unwrap();
        assert_eq!(format!("a={candidate}"), line);
    }
}

#[test]
fn network_candidates_classify() {
    let parsed: Vec<Candidate> = CHROME_NETWORK.iter().map(|c| c.parse().unwrap()).collect();
    let classes: Vec<_> = parsed.iter().map(|c| (c.kind(), c.address().class())).collect();
    assert_eq!(
        classes,
        [
            (CandidateKind::Host, AddressClass::Private),
            (CandidateKind::Srflx, AddressClass::Public),
            (CandidateKind::Relay, AddressClass::Public),
            (CandidateKind::Host, AddressClass::Public),
        ]
    );
    assert_eq!(
        parsed[1].related_address(),
        Some(&CandidateAddress::Ip("192.168.1.20".parse().unwrap()))
    );
}

#[test]
fn relay_only_filter_over_browser_candidates() {
    let filter = CandidateFilter::new(CandidatePolicy::RelayOnly).dangerous_allow_unroutable();
    let kept: Vec<Candidate> = CHROME_NETWORK
        .iter()
        .chain(
            fixture_candidates("firefox-candidates.json")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .iter(),
        )
        .filter_map(|c| filter.apply(c.parse().unwrap()).ok())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].to_string().contains("typ relay raddr 0.0.0.0 rport 0"), "{}", kept[0]);
}

#[test]
fn filtering_a_real_offer_keeps_everything_but_candidates() {
    let sdp = fixture_sdp("chromium-answer-screen-renegotiation.json");
    let candidate_lines = sdp.lines().filter(|l| l.starts_with("a=candidate:")).count();
    let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&sdp);
    assert_eq!(relay_only.dropped, candidate_lines);
    // Every address is gone, the `o=` line's too (Chromium's is a dummy 127.0.0.1).
    let leaks: Vec<&str> = relay_only.sdp.lines().filter(|l| l.contains("127.0.0.1")).collect();
    assert!(leaks.is_empty(), "{leaks:?}");
    assert_eq!(relay_only.sdp.lines().count(), sdp.lines().count() - candidate_lines);
    let loopback_ok =
        CandidateFilter::new(CandidatePolicy::All).dangerous_allow_unroutable().filter_sdp(&sdp);
    assert_eq!(loopback_ok.dropped, 0);
    assert_eq!(loopback_ok.sdp, sdp, "nothing to change: byte-identical");
}

/// A visitor's LAN address as a browser on a real network may write it where the captured
/// (loopback-only) offers have `127.0.0.1` or `0.0.0.0`: the origin and the connection data.
const LAN: &str = "192.168.1.20";

/// `sdp` with the origin's address and every `c=` address replaced by [`LAN`].
fn with_lan_addresses(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.split_inclusive("\r\n") {
        let addressed = ["o=", "c=", "a=rtcp:"].iter().any(|prefix| line.starts_with(prefix));
        match line.rsplit_once(" IP4 ") {
            Some((kept, _)) if addressed => {
                out.extend([kept, " IP4 ", LAN, "\r\n"]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[test]
fn relay_only_hides_the_lan_address_in_origin_and_connection_lines() {
    for name in ["chromium-offer-av.json", "firefox-offer-av.json", "chromium-answer-av.json"] {
        let captured = fixture_sdp(name);
        let sdp = with_lan_addresses(&captured);
        assert!(sdp.lines().any(|l| l.starts_with("o=") && l.ends_with(LAN)), "{name}");
        assert!(sdp.lines().any(|l| l.starts_with("c=") && l.ends_with(LAN)), "{name}");
        let filtered = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&sdp);
        assert!(!filtered.sdp.contains(LAN), "{name}: {}", filtered.sdp);
        let origin = filtered.sdp.lines().find(|l| l.starts_with("o=")).unwrap();
        assert!(origin.ends_with(" IN IP4 0.0.0.0"), "{name}: {origin}");
        // The same SDP as the captured one filtered: only addresses differ.
        let from_captured = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&captured);
        assert_eq!(filtered, from_captured, "{name}");
    }
}

/// `localhost` names the loopback interface (RFC 6761 §6.3): the filter treats a candidate
/// named so exactly like the same candidate with its loopback address.
#[test]
fn localhost_names_are_filtered_like_the_loopback_addresses_they_stand_for() {
    let strict = CandidateFilter::new(CandidatePolicy::All);
    let filters = [
        strict,
        strict.dangerous_allow_unroutable(),
        CandidateFilter::new(CandidatePolicy::RelayOnly),
    ];
    let captured = fixture_candidates("chromium-candidates.json")
        .into_iter()
        .chain(fixture_candidates("firefox-candidates.json"));
    let mut checked = 0;
    for text in captured {
        let by_ip: Candidate = text.parse().unwrap();
        let address = by_ip.address().to_string();
        for name in ["localhost", "visitor.localhost"] {
            let by_name: Candidate =
                text.replace(&format!(" {address} "), &format!(" {name} ")).parse().unwrap();
            assert_eq!(by_name.address(), &CandidateAddress::Fqdn(name.into()));
            for filter in filters {
                assert_eq!(
                    filter.apply(by_name.clone()).map(|_| ()),
                    filter.apply(by_ip.clone()).map(|_| ()),
                    "{filter:?} {text} as {name}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * (4 + 16));
}

/// Our parse and webrtc-ice's agree on every field both parsers read.
#[test]
fn cross_check_with_webrtc_ice() {
    let mut checked = 0;
    let all = fixture_candidates("chromium-candidates.json")
        .into_iter()
        .chain(fixture_candidates("firefox-candidates.json"))
        .chain(fixture_candidates("chromium-candidates-mdns.json"))
        .chain(CHROME_NETWORK.map(str::to_owned));
    for text in all {
        let ours: Candidate = text.parse().unwrap();
        let theirs = webrtc_ice::candidate::candidate_base::unmarshal_candidate(
            text.strip_prefix("candidate:").unwrap(),
        )
        .unwrap_or_else(|e| panic!("webrtc-ice refused {text}: {e}"));
        assert_eq!(ours.foundation(), theirs.foundation(), "{text}");
        assert_eq!(ours.component(), theirs.component(), "{text}");
        assert_eq!(ours.priority(), theirs.priority(), "{text}");
        assert_eq!(ours.port(), theirs.port(), "{text}");
        assert_eq!(ours.kind().as_str(), theirs.candidate_type().to_string(), "{text}");
        assert_eq!(ours.address().to_string(), theirs.address().to_ascii_lowercase(), "{text}");
        if let Some(related) = theirs.related_address() {
            assert_eq!(
                ours.related_address().map(ToString::to_string),
                Some(related.address),
                "{text}"
            );
            assert_eq!(ours.related_port(), Some(related.port), "{text}");
        }
        checked += 1;
    }
    assert_eq!(checked, 4 + 16 + 2 + 4);
}

/// URLs both parsers accept come out the same; ones webrtc-ice lets through loosely we refuse.
#[test]
fn url_cross_check_with_webrtc_ice() {
    use webrtc_ice::url::Url;
    for text in [
        "stun:stun.l.google.com:19302",
        "stuns:stun.example.com",
        "turn:turn.example.com?transport=tcp",
        "turn:192.0.2.1:3479",
        "turns:turn.example.com:443?transport=tcp",
        "turn:[2001:db8::1]:3478",
    ] {
        let ours: IceUrl = text.parse().unwrap();
        let theirs = Url::parse_url(text).unwrap();
        assert_eq!(ours.scheme().as_str(), theirs.scheme.to_string(), "{text}");
        assert_eq!(ours.port(), theirs.port, "{text}");
        assert_eq!(ours.transport().as_str(), theirs.proto.to_string(), "{text}");
        assert_eq!(ours.host().to_string().trim_matches(['[', ']']), theirs.host, "{text}");
    }
    // Both refuse hierarchical URLs and queries on stun; only we also refuse these.
    for text in ["turn://h", "stun:h?transport=udp"] {
        assert!(text.parse::<IceUrl>().is_err() && Url::parse_url(text).is_err(), "{text}");
    }
    for text in ["turns:h?transport=udp", "turn:u@h"] {
        assert!(text.parse::<IceUrl>().is_err(), "{text}");
    }
}
