//! SDP checks on real browser offers and answers, and on each way they can be broken.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;

use proptest::prelude::*;
use velaro_call_protocol::limits::MAX_SDP_LEN;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::sdp::{self, Direction, MediaKind, SdpError};
use velaro_ice_config::{CandidateFilter, CandidatePolicy, MAX_SDP_LINE_GROWTH};

fn browser(name: &str) -> SessionDescription {
    let path = format!("{}/../tests/fixtures/browser/{name}", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sdp_type = if json["type"] == "offer" { SdpType::Offer } else { SdpType::Answer };
    SessionDescription::new(sdp_type, json["sdp"].as_str().unwrap())
}

fn edited(name: &str, edit: impl Fn(&str) -> String) -> SessionDescription {
    let mut description = browser(name);
    description.sdp = edit(&description.sdp);
    description
}

/// Removes every line starting with `prefix`.
fn drop_lines(sdp: &str, prefix: &str) -> String {
    sdp.split_inclusive("\r\n").filter(|line| !line.starts_with(prefix)).collect()
}

#[test]
fn chromium_offer_and_answer() {
    let offer = sdp::check(&browser("chromium-offer-av.json")).unwrap();
    assert_eq!(offer.sdp_type, SdpType::Offer);
    let kinds: Vec<_> =
        offer.media.iter().map(|m| (m.kind.clone(), m.direction, m.mid.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            (MediaKind::Audio, Direction::SendRecv, Some("0")),
            (MediaKind::Video, Direction::SendRecv, Some("1"))
        ]
    );
    assert_eq!(offer.ice_ufrag, "lZ7j");
    assert_eq!(offer.candidate_count, 0, "pure trickle");
    assert_eq!(offer.bundle, ["0", "1"]);
    assert!(offer.sends(&MediaKind::Video));

    let answer = sdp::check(&browser("chromium-answer-av.json")).unwrap();
    assert_eq!(answer.sdp_type, SdpType::Answer);
    assert_eq!(answer.check_answers(&offer), Ok(()));
}

#[test]
fn firefox_offer_with_session_level_fingerprint() {
    let description = browser("firefox-offer-av.json");
    let first_section = description.sdp.find("\r\nm=").unwrap();
    assert!(description.sdp.find("a=fingerprint").unwrap() < first_section, "session-level");
    assert_eq!(description.sdp.matches("a=fingerprint").count(), 1);
    let offer = sdp::check(&description).unwrap();
    assert_eq!(offer.media.len(), 2);
    assert_eq!(offer.ice_ufrag.len(), 8);
}

#[test]
fn recvonly_offer_of_a_page_without_permission() {
    let offer = sdp::check(&browser("chromium-offer-recvonly.json")).unwrap();
    assert!(offer.media.iter().all(|m| m.direction == Direction::RecvOnly), "{offer:?}");
    assert!(!offer.sends(&MediaKind::Video));
}

#[test]
fn screen_renegotiation_adds_a_section_with_candidates() {
    let first = sdp::check(&browser("chromium-offer-av.json")).unwrap();
    let renegotiation = sdp::check(&browser("chromium-offer-screen-renegotiation.json")).unwrap();
    assert_eq!(renegotiation.media.len(), 3);
    assert!(renegotiation.candidate_count > 0);
    let answer = sdp::check(&browser("chromium-answer-screen-renegotiation.json")).unwrap();
    assert_eq!(answer.check_answers(&renegotiation), Ok(()));
    // An answer to the two-section offer cannot have three sections.
    assert_eq!(
        answer.check_answers(&first),
        Err(SdpError::MSectionCountMismatch { offer: 2, answer: 3 })
    );
}

#[test]
fn lf_only_line_endings_are_accepted() {
    let crlf = sdp::check(&browser("chromium-offer-av.json")).unwrap();
    let lf =
        sdp::check(&edited("chromium-offer-av.json", |sdp| sdp.replace("\r\n", "\n"))).unwrap();
    assert_eq!(lf, crlf);
}

#[test]
fn each_broken_offer_names_its_fault() {
    let offer = "chromium-offer-av.json";
    let cases: Vec<(SessionDescription, SdpError)> = vec![
        (edited(offer, |s| drop_lines(s, "a=ice-ufrag")), SdpError::MissingIceUfrag { index: 0 }),
        (
            edited(offer, |s| s.replace("a=ice-ufrag:lZ7j", "a=ice-ufrag:lZ7")),
            SdpError::InvalidIceUfrag { index: 0 },
        ),
        (
            edited(offer, |s| s.replace("a=ice-ufrag:lZ7j", "a=ice-ufrag:lZ7j!")),
            SdpError::InvalidIceUfrag { index: 0 },
        ),
        (edited(offer, |s| drop_lines(s, "a=ice-pwd")), SdpError::MissingIcePwd { index: 0 }),
        (
            edited(offer, |s| s.replace("a=ice-pwd:b+WLxiT5vetv2VIsBiJu8fUS", "a=ice-pwd:short")),
            SdpError::InvalidIcePwd { index: 0 },
        ),
        (
            edited(offer, |s| drop_lines(s, "a=fingerprint")),
            SdpError::MissingFingerprint { index: 0 },
        ),
        (
            edited(offer, |s| s.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 7")),
            SdpError::UnknownBundleMid { mid: "7".into() },
        ),
        (
            edited(offer, |s| {
                s.replace("m=audio", "m=application").replace("m=video", "m=application")
            }),
            SdpError::NoAudioOrVideo,
        ),
        (edited(offer, |s| s.repeat(7)), SdpError::TooLarge { len: 7 * 5400, max: 32 * 1024 }),
    ];
    for (description, expected) in cases {
        assert_eq!(sdp::check(&description), Err(expected.clone()), "{expected}");
    }
    // The offer's two m-sections, then more up to `count`, then `tail`.
    let sections = |count: usize, tail: &str| {
        edited(offer, |s| {
            let extra = (2..count).fold(String::new(), |mut extra, i| {
                write!(extra, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:{i}\r\n").unwrap();
                extra
            });
            format!("{s}{extra}{tail}")
        })
    };
    assert_eq!(
        sdp::check(&sections(17, "")),
        Err(SdpError::TooManyMSections { count: 17, max: 16 })
    );
    // Refused at the 17th m-line, whatever follows it, and with the whole count.
    assert_eq!(
        sdp::check(&sections(20, "not a line\r\n")),
        Err(SdpError::TooManyMSections { count: 20, max: 16 })
    );
    for garbage in ["", "hello", "v=0\r\nm=audio x\r\n"] {
        let error = sdp::check(&SessionDescription::new(SdpType::Offer, garbage)).unwrap_err();
        assert!(matches!(error, SdpError::Parse(_)), "{garbage:?}: {error:?}");
    }
}

#[test]
fn the_line_scan_summary_agrees_with_the_checked_one() {
    for name in [
        "chromium-offer-av.json",
        "chromium-answer-av.json",
        "firefox-offer-av.json",
        "chromium-offer-recvonly.json",
        "chromium-offer-screen-renegotiation.json",
        "chromium-answer-screen-renegotiation.json",
    ] {
        let description = browser(name);
        assert_eq!(sdp::summarize(&description), sdp::check(&description).unwrap(), "{name}");
        let lf = edited(name, |sdp| sdp.replace("\r\n", "\n"));
        assert_eq!(sdp::summarize(&lf), sdp::check(&lf).unwrap(), "{name} with LF");
    }
}

/// The captured descriptions the summary properties start from.
const FIXTURES: [&str; 6] = [
    "chromium-offer-av.json",
    "chromium-answer-av.json",
    "firefox-offer-av.json",
    "chromium-offer-recvonly.json",
    "chromium-offer-screen-renegotiation.json",
    "chromium-answer-screen-renegotiation.json",
];

/// `sdp` with the port field of its `index`-th `m=` line (counted modulo their number) replaced.
fn with_port(sdp: &str, index: usize, port: &str) -> String {
    let count = sdp.matches("\r\nm=").count();
    let mut out = String::with_capacity(sdp.len() + port.len());
    for line in sdp.split_inclusive("\r\n") {
        match line.strip_prefix("m=") {
            Some(rest) if out.matches("\r\nm=").count() == index % count => {
                let (kind, after_kind) = rest.split_once(' ').unwrap();
                let (_, after_port) = after_kind.split_once(' ').unwrap();
                write!(out, "m={kind} {port} {after_port}").unwrap();
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Check and summarize agree that the first m-section, with its port written `port`, is
/// rejected, and on everything else.
fn assert_rejected_by_both(port: &str) {
    let description = edited("chromium-offer-av.json", |sdp| with_port(sdp, 0, port));
    assert!(description.sdp.contains(&format!("m=audio {port} ")), "{port}");
    let checked = sdp::check(&description).unwrap();
    assert!(checked.media[0].rejected, "check: m=audio {port}");
    assert!(!checked.media[1].rejected);
    assert_eq!(sdp::summarize(&description), checked, "m=audio {port}");
}

#[test]
fn a_port_with_leading_zeros_is_rejected_by_check_and_summarize() {
    assert_rejected_by_both("00");
    assert_rejected_by_both("00000");
}

#[test]
fn a_port_with_a_count_is_rejected_by_check_and_summarize() {
    assert_rejected_by_both("0/2");
}

#[test]
fn a_port_with_a_plus_sign_is_rejected_by_check_and_summarize() {
    assert_rejected_by_both("+0");
    assert_rejected_by_both("+00/1");
}

/// What the relay does to a visitor's description under relay-only (blank the origin and
/// connection addresses, drop non-relay candidates) leaves an SDP that still passes the checks
/// and summarizes the same apart from its candidates.
#[test]
fn relay_only_filtering_keeps_browser_sdp_valid() {
    let filter = CandidateFilter::new(CandidatePolicy::RelayOnly);
    for name in FIXTURES {
        let description =
            edited(name, |sdp| sdp.replace(" IN IP4 127.0.0.1", " IN IP4 192.168.1.20"));
        let filtered = edited(name, |_| filter.filter_sdp(&description.sdp).sdp);
        assert!(!filtered.sdp.contains("192.168.1.20"), "{name}");
        let (before, after) = (sdp::check(&description).unwrap(), sdp::check(&filtered).unwrap());
        assert_eq!(after.candidate_count, 0, "{name}: loopback host candidates only");
        assert_eq!(after, sdp::SdpSummary { candidate_count: 0, ..before }, "{name}");
        assert_eq!(sdp::summarize(&filtered), after, "{name}");
    }
}

/// Filtering may grow an SDP, by at most `MAX_SDP_LINE_GROWTH` bytes per line: one at the size
/// limit can come out over it, so whoever forwards it must check its size again.
#[test]
fn relay_only_filtering_grows_an_sdp_by_a_bounded_amount() {
    // Relay candidates without `raddr`/`rport` gain 22 bytes each when blanked.
    let relay = "a=candidate:1 1 udp 41885439 198.51.100.9 61234 typ relay\r\n";
    let description = edited("chromium-offer-av.json", |sdp| {
        let room = MAX_SDP_LEN - sdp.len();
        format!("{sdp}{}", relay.repeat(room / relay.len()))
    });
    assert!(description.sdp.len() > MAX_SDP_LEN - relay.len());
    sdp::check(&description).unwrap();
    let filtered = CandidateFilter::new(CandidatePolicy::RelayOnly).filter_sdp(&description.sdp);
    let lines = description.sdp.lines().count();
    assert!(filtered.sdp.len() > MAX_SDP_LEN, "over the limit: {}", filtered.sdp.len());
    assert!(filtered.sdp.len() <= description.sdp.len() + MAX_SDP_LINE_GROWTH * lines);
}

/// Port texts around what `u16::from_str` (sdp-types' reading of the port) accepts.
fn port_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+]?0{1,6}(/[0-9]{1,3})?",
        "[+-]?[0-9]{1,6}(/[+]?[0-9]{0,6})?",
        "[0-9+/a-z-]{0,8}",
        "\\PC{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whenever `check` accepts an SDP, the line scan gives the same summary: the same
    /// m-sections (kind, direction, mid, rejected) in particular.
    #[test]
    fn the_line_scan_summary_agrees_with_check_for_any_port(
        fixture in 0..FIXTURES.len(),
        ports in proptest::collection::vec((any::<usize>(), port_text()), 1..4),
        lf in any::<bool>(),
    ) {
        let description = edited(FIXTURES[fixture], |sdp| {
            let sdp = ports.iter().fold(sdp.to_owned(), |sdp, (index, port)| with_port(&sdp, *index, port));
            if lf { sdp.replace("\r\n", "\n") } else { sdp }
        });
        if let Ok(checked) = sdp::check(&description) {
            let scanned = sdp::summarize(&description);
            prop_assert_eq!(&scanned.media, &checked.media);
            prop_assert_eq!(scanned, checked);
        }
    }
}
