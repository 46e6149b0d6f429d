//! SDP checks on real browser offers and answers, and on each way they can be broken.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;

use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::sdp::{self, Direction, MediaKind, SdpError};

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
    let many = edited(offer, |s| {
        let extra = (2..17).fold(String::new(), |mut extra, i| {
            write!(extra, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:{i}\r\n").unwrap();
            extra
        });
        format!("{s}{extra}")
    });
    assert_eq!(sdp::check(&many), Err(SdpError::TooManyMSections { count: 17, max: 16 }));
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
