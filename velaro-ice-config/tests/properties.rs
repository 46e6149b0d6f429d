//! Properties of the parsers, the privacy filter and the redaction of secrets.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use velaro_ice_config::{
    Candidate, CandidateAddress, CandidateFilter, CandidateKind, CandidatePolicy, EmbedPolicy,
    IceServer, IceTransportPolicy, IceUrl, MAX_CANDIDATE_LEN, MAX_SDP_LINE_GROWTH, Origin,
    RtcConfiguration, TurnCredentials, TurnSecret,
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

/// How a candidate is handed to the parser: bare, `candidate:…`, or an SDP line with or without
/// its CRLF.
const FRAMINGS: [(&str, &str); 4] =
    [("", ""), ("candidate:", ""), ("a=candidate:", ""), ("a=candidate:", "\r\n")];

/// A candidate from [`candidate_text`] in one of [`FRAMINGS`], padded with an `x-pad` extension
/// to `target` bytes when it is shorter. `mapped` writes the connection address as an
/// IPv4-mapped IPv6 address in hex (printed dotted, so longer), `zeros` pads the port with
/// leading zeros (printed without, so shorter). Returns the text and whether it is already in
/// the printed form (so its length is its printed length).
fn near_limit_candidate() -> impl Strategy<Value = (String, bool)> {
    (
        candidate_text(),
        0..FRAMINGS.len(),
        MAX_CANDIDATE_LEN - 120..=MAX_CANDIDATE_LEN + 16,
        proptest::option::of(any::<(u16, u16)>()),
        any::<bool>(),
    )
        .prop_map(|(text, framing, target, mapped, zeros)| {
            let body = text.strip_prefix("candidate:").unwrap();
            let mut fields: Vec<String> = body.split(' ').map(str::to_owned).collect();
            if let Some((high, low)) = mapped {
                fields[4] = format!("::ffff:{high:x}:{low:x}");
            }
            if zeros {
                fields[5] = format!("{:0>10}", fields[5]);
            }
            let mut body = fields.join(" ");
            let (prefix, suffix) = FRAMINGS[framing];
            let framed_len = prefix.len() + body.len() + suffix.len();
            let pad = target.saturating_sub(framed_len + " x-pad ".len());
            if pad > 0 {
                write!(body, " x-pad {}", "y".repeat(pad)).unwrap();
            }
            let printed_form = framing == 1 && mapped.is_none() && !zeros;
            (format!("{prefix}{body}{suffix}"), printed_form)
        })
}

/// SDP lines of every kind the filter rewrites, short ones especially (they grow the most), and
/// lines it keeps.
fn sdp_line() -> impl Strategy<Value = String> {
    let mapped = any::<(u16, u16)>().prop_map(|(high, low)| format!("::ffff:{high:x}:{low:x}"));
    let address = prop_oneof![ip().prop_map(|ip| ip.to_string()), mapped, "[a-z]{1,3}"];
    prop_oneof![
        near_limit_candidate().prop_map(|(text, _)| {
            let body = text.trim_start_matches("a=").trim_start_matches("candidate:");
            format!("a=candidate:{}", body.trim_end())
        }),
        candidate_text().prop_map(|text| format!("a={text}")),
        (address.clone(), any::<u16>(), prop_oneof![Just("host"), Just("relay"), Just("srflx")])
            .prop_map(|(address, port, kind)| format!(
                "a=candidate:1 1 udp 1 {address} {port} typ {kind}"
            )),
        (address.clone(), proptest::option::of(address.clone())).prop_map(|(address, raddr)| {
            match raddr {
                Some(raddr) => {
                    format!("a=candidate:1 1 udp 1 {address} 1 typ relay raddr {raddr} rport 1")
                }
                None => format!("a=candidate:1 1 udp 1 {address} 1 typ relay"),
            }
        }),
        "c=[ A-Z0-9a-z.:]{0,20}",
        "o=[ -~]{0,30}",
        "a=rtcp:[ 0-9A-Za-z.:]{0,20}",
        "[a-z]=[ -~]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsed_candidates_print_as_text_that_parses_near_the_limit(
        (text, printed_form) in near_limit_candidate(),
    ) {
        match text.parse::<Candidate>() {
            Ok(candidate) => {
                let printed = candidate.to_string();
                prop_assert!(printed.len() <= MAX_CANDIDATE_LEN, "{} from {}", printed.len(), text.len());
                let again = printed.parse::<Candidate>();
                prop_assert_eq!(again.as_ref(), Ok(&candidate));
                prop_assert_eq!(again.unwrap().to_string(), printed);
                // What the filter keeps prints as text that parses too.
                let loose = |policy| CandidateFilter::new(policy).dangerous_allow_unroutable();
                for filter in [loose(CandidatePolicy::All), loose(CandidatePolicy::RelayOnly)] {
                    if let Ok(kept) = filter.apply(candidate.clone()) {
                        prop_assert_eq!(kept.to_string().parse::<Candidate>(), Ok(kept));
                    }
                }
            }
            // The limit is on the printed form: text already in it parses up to the limit.
            Err(error) => prop_assert!(
                !(printed_form && text.len() <= MAX_CANDIDATE_LEN),
                "{} bytes: {}", text.len(), error
            ),
        }
    }

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

    /// Relay-only leaves no host address in an `o=`, `c=` or `a=rtcp:` line, however its
    /// fields are spaced.
    #[test]
    fn relay_only_blanks_every_origin_and_connection_address(
        host in ip(),
        spaces in proptest::collection::vec(1usize..3, 8),
        ending in prop_oneof![Just("\r\n"), Just("\n")],
    ) {
        let gap = |i: usize| " ".repeat(spaces[i]);
        let family = if host.is_ipv4() { "IP4" } else { "IP6" };
        let sdp = format!(
            "v=0{ending}o=-{}1{}2{}IN{}{family}{}{host}{ending}c=IN{}{family}{}{host}{ending}\
             a=rtcp:9{}IN IP4 {host}{ending}",
            gap(0), gap(1), gap(2), gap(3), gap(4), gap(5), gap(6), gap(7)
        );
        let filtered = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&sdp).sdp;
        let lines: Vec<&str> = filtered.lines().collect();
        let blank = if host.is_ipv4() { "IN IP4 0.0.0.0" } else { "IN IP6 ::" };
        prop_assert_eq!(
            lines,
            ["v=0", "o=- 1 2 IN IP4 0.0.0.0", &format!("c={blank}"), "a=rtcp:9 IN IP4 0.0.0.0"]
        );
    }

    /// `filter_sdp` adds at most `MAX_SDP_LINE_GROWTH` bytes to a line it rewrites, so at most
    /// that much per line to a whole SDP.
    #[test]
    fn filter_sdp_growth_is_bounded_per_line(
        lines in proptest::collection::vec(sdp_line(), 1..24),
        relay_only in any::<bool>(),
        loose in any::<bool>(),
    ) {
        let policy = if relay_only { CandidatePolicy::RelayOnly } else { CandidatePolicy::All };
        let mut filter = CandidateFilter::new(policy);
        if loose {
            filter = filter.dangerous_allow_unroutable();
        }
        for line in &lines {
            let filtered = filter.filter_sdp(line).sdp;
            prop_assert!(filtered.len() <= line.len() + MAX_SDP_LINE_GROWTH, "{} → {}", line, filtered);
        }
        let sdp: String = lines.iter().flat_map(|line| [line.as_str(), "\r\n"]).collect();
        let filtered = filter.filter_sdp(&sdp).sdp;
        prop_assert!(filtered.len() <= sdp.len() + MAX_SDP_LINE_GROWTH * lines.len());
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
