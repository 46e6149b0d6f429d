//! Properties of the parsers, the privacy filter and the redaction of secrets.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use velaro_ice_config::{
    Candidate, CandidateAddress, CandidateFilter, CandidateKind, CandidatePolicy, EmbedPolicy,
    IceServer, IceTransportPolicy, IceUrl, Origin, RtcConfiguration, TurnCredentials, TurnSecret,
};

fn dns_name() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4)
        .prop_map(|labels| format!("{}.example", labels.join(".")))
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
    ]
}

/// Valid ICE server URLs in every shape: scheme, host form, port and transport.
fn ice_url_text() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        dns_name(),
        ip().prop_map(|ip| match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        }),
    ];
    let scheme = prop_oneof![Just("stun"), Just("stuns"), Just("turn"), Just("turns")];
    (
        scheme,
        host,
        proptest::option::of(1u16..),
        proptest::option::of(prop_oneof![Just("udp"), Just("tcp")]),
    )
        .prop_map(|(scheme, host, port, transport)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = match (scheme, transport) {
                ("turn", Some(t)) => format!("?transport={t}"),
                ("turns", Some(_)) => "?transport=tcp".to_owned(),
                _ => String::new(),
            };
            format!("{scheme}:{host}{port}{query}")
        })
}

/// Valid candidate lines as browsers write them, with optional related address and extensions.
fn candidate_text() -> impl Strategy<Value = String> {
    let address = prop_oneof![
        3 => ip().prop_map(|ip| ip.to_string()),
        1 => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.local",
        1 => dns_name(),
    ];
    let kind = prop_oneof![Just("host"), Just("srflx"), Just("prflx"), Just("relay")];
    let related = proptest::option::of((ip(), any::<u16>()));
    let extensions = proptest::collection::vec(
        prop_oneof![
            any::<u32>().prop_map(|n| format!("generation {n}")),
            "[A-Za-z0-9+/]{4,8}".prop_map(|u| format!("ufrag {u}")),
            any::<u32>().prop_map(|n| format!("network-cost {n}")),
            "x-[a-z]{1,6} [!-~]{1,8}",
        ],
        0..4,
    );
    (
        "[A-Za-z0-9+/]{1,32}",
        1u16..=256,
        prop_oneof![Just("udp"), Just("UDP"), Just("tcp"), Just("TCP")],
        1u32..=0x7fff_ffff,
        address,
        any::<u16>(),
        kind,
        related,
        extensions,
    )
        .prop_map(|(foundation, component, transport, priority, address, port, kind, related, extensions)| {
            let mut text = format!(
                "candidate:{foundation} {component} {transport} {priority} {address} {port} typ {kind}"
            );
            if let Some((raddr, rport)) = related {
                write!(text, " raddr {raddr} rport {rport}").unwrap();
            }
            // Known extensions may appear once each; keep the first of each name.
            let mut seen = Vec::new();
            for extension in extensions {
                let name = extension.split(' ').next().unwrap_or_default().to_owned();
                if name.starts_with("x-") || !seen.contains(&name) {
                    text.push(' ');
                    text.push_str(&extension);
                    seen.push(name);
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_string_panics_any_parser(text in "\\PC{0,200}") {
        let _ = text.parse::<IceUrl>();
        let _ = text.parse::<Candidate>();
        let _ = text.parse::<Origin>();
        let _ = serde_json::from_str::<RtcConfiguration>(&text);
        let secret = TurnSecret::new("property-test-secret-0123456789").unwrap();
        let _ = TurnCredentials::verify(&text, &text, UNIX_EPOCH, &secret, None);
        let policy = EmbedPolicy::new(["https://api.example.com".parse::<Origin>().unwrap()]);
        let _ = policy.merge_csp(&text);
        let _ = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&text);
    }

    #[test]
    fn near_valid_input_never_panics(text in candidate_text(), url in ice_url_text(), cut in 0usize..300, byte in any::<u8>()) {
        for original in [text, url] {
            let mut bytes = original.into_bytes();
            let at = cut.min(bytes.len());
            bytes.insert(at, byte);
            let mutated = String::from_utf8_lossy(&bytes);
            let _ = mutated.parse::<Candidate>();
            let _ = mutated.parse::<IceUrl>();
            let _ = mutated.get(..at).map(str::parse::<Candidate>);
        }
    }

    #[test]
    fn urls_round_trip_through_display(text in ice_url_text()) {
        let url: IceUrl = text.parse().unwrap();
        prop_assert_eq!(url.to_string().parse::<IceUrl>(), Ok(url));
    }

    #[test]
    fn candidates_round_trip_through_display(text in candidate_text()) {
        let candidate: Candidate = text.parse().unwrap();
        let shown = candidate.to_string();
        prop_assert_eq!(shown.parse::<Candidate>(), Ok(candidate.clone()));
        prop_assert_eq!(format!("a={shown}").parse::<Candidate>(), Ok(candidate));
    }

    #[test]
    fn relay_only_never_leaks(texts in proptest::collection::vec(candidate_text(), 1..12), loose in any::<bool>()) {
        let mut filter = CandidateFilter::new(CandidatePolicy::RelayOnly);
        if loose {
            filter = filter.dangerous_allow_unroutable();
        }
        let blank = |address: Option<&CandidateAddress>| {
            matches!(address.and_then(CandidateAddress::ip), Some(ip) if ip.is_unspecified())
        };
        for text in &texts {
            if let Ok(kept) = filter.apply(text.parse().unwrap()) {
                prop_assert_eq!(kept.kind(), CandidateKind::Relay);
                prop_assert!(kept.address().ip().is_some());
                prop_assert!(blank(kept.related_address()), "{}", kept);
                prop_assert_eq!(kept.related_port(), Some(0));
            }
        }
        let sdp = texts.iter().fold(String::new(), |mut sdp, t| {
            write!(sdp, "a={t}\r\nc=IN IP4 192.0.2.1\r\n").unwrap();
            sdp
        });
        let filtered = filter.filter_sdp(&sdp);
        for line in filtered.sdp.lines() {
            if let Some(candidate) = line.strip_prefix("a=") {
                let kept: Candidate = candidate.parse().unwrap();
                prop_assert_eq!(kept.kind(), CandidateKind::Relay);
                prop_assert!(blank(kept.related_address()));
            } else {
                prop_assert_eq!(line, "c=IN IP4 0.0.0.0");
            }
        }
    }

    #[test]
    fn debug_never_shows_secret_or_password(
        secret in "[A-Za-z0-9]{16,40}",
        user in "[a-z0-9:-]{1,20}",
        ttl in 1u64..=86_400,
        now in 0u64..4_000_000_000,
    ) {
        let turn_secret = TurnSecret::new(secret.clone()).unwrap();
        let creds = TurnCredentials::mint(&turn_secret, &user, Duration::from_secs(ttl), UNIX_EPOCH + Duration::from_secs(now)).unwrap();
        let config = RtcConfiguration::new(
            vec![IceServer::turn(vec!["turn:turn.example.com".parse().unwrap()], &creds).unwrap()],
            IceTransportPolicy::Relay,
        ).unwrap();
        let shown = format!("{config:?} {config:#?} {creds:?} {turn_secret:?} {turn_secret}");
        prop_assert!(!shown.contains(&secret));
        prop_assert!(!shown.contains(creds.password().expose()));
        prop_assert_eq!(
            TurnCredentials::verify(creds.username(), creds.password().expose(), UNIX_EPOCH + Duration::from_secs(now), &turn_secret, None),
            Ok(creds.expires_at())
        );
    }
}
