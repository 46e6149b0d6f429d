//! The v1 fixtures in `tests/fixtures/v1/`, both ways: each file decodes to the value built here,
//! and that value encodes to exactly the file. `VELARO_BLESS=1 cargo test -p velaro-tests --test
//! protocol_fixtures` rewrites the files from the values (review the diff before committing).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use velaro_call_protocol::message::ack::AckBody;
use velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody,
};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode, RejectedBody};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{
    AudioOnlyReason, DisplaySurface, MediaBody, QualityBody, QualityLevel, StreamId, StreamState,
};
use velaro_call_protocol::velaro_ice_config::{
    Credential, IceServer, IceTransportPolicy, RtcConfiguration,
};
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, Message, NegotiationId, PartyId, Reason,
    Role, decode, encode,
};
use velaro_tests::fixtures::{browser_sdp, fixtures_dir};

/// The captured `RTCIceCandidateInit`s of a browser, `null` (end of gathering) skipped.
fn browser_candidates(name: &str) -> Vec<IceCandidate> {
    let text = std::fs::read_to_string(fixtures_dir().join("browser").join(name)).unwrap();
    let inits: Vec<Option<IceCandidate>> = serde_json::from_str(&text).unwrap();
    inits.into_iter().flatten().collect()
}

fn envelope(role: Role, party: &str, seq: u64, message: impl Into<Message>) -> Envelope {
    Envelope::new(
        ConversationId::new("conv-8f14e45f").unwrap(),
        CallId::new("call-2024-05-01.a1b2c3").unwrap(),
        PartyId::new(party).unwrap(),
        role,
        seq,
        message,
    )
}

fn agent(seq: u64, message: impl Into<Message>) -> Envelope {
    envelope(Role::Agent, "agent-tab-1", seq, message)
}

fn visitor(seq: u64, message: impl Into<Message>) -> Envelope {
    envelope(Role::Visitor, "visitor-tab-2", seq, message)
}

fn negotiation(id: &str) -> NegotiationId {
    NegotiationId::new(id).unwrap()
}

/// One canonical fixture per message kind (and per browser where they differ).
fn canonical() -> Vec<(&'static str, Envelope)> {
    let ice = RtcConfiguration::new(
        vec![
            IceServer::new(
                vec![
                    "turns:turn.example.com:443?transport=tcp".parse().unwrap(),
                    "turn:turn.example.com".parse().unwrap(),
                ],
                Some("1714557600:visitor-tab-2".into()),
                Some(Credential::new("wXgn2bYb9RvHqJ3F1n7Fh0nXoXQ=")),
            )
            .unwrap(),
        ],
        IceTransportPolicy::Relay,
    )
    .unwrap();
    let prompt = Prompt::new("Your agent would like to start a video call. Accept?")
        .unwrap()
        .with_locale("en")
        .unwrap();
    let mut camera_and_screen = BTreeMap::new();
    camera_and_screen.insert(
        StreamId::new("165f7925-080e-49d7-873f-b58872ee6326").unwrap(),
        StreamState::camera(false, true),
    );
    camera_and_screen.insert(
        StreamId::new("8a6f3512-8f6b-4986-addf-8d0800b0df80").unwrap(),
        StreamState::screen(DisplaySurface::Window),
    );
    let mut camera = BTreeMap::new();
    camera.insert(
        StreamId::new("{6c9fe6a9-5c2b-4d4b-9d1a-4f3f5b0d2a11}").unwrap(),
        StreamState::camera(false, true),
    );
    let mut firefox_candidates = browser_candidates("firefox-candidates.json");
    firefox_candidates.truncate(9);
    let mut chromium_candidates = browser_candidates("chromium-candidates.json");
    chromium_candidates.push(IceCandidate::end_of_candidates(Some("lZ7j".into())));
    vec![
        ("invite.json", agent(1, InviteBody::new(prompt, MediaKinds::AUDIO_VIDEO).with_ice(ice))),
        ("ringing.json", visitor(1, RingingBody::new())),
        ("accept.json", visitor(2, AcceptBody::new(MediaKinds::AUDIO_VIDEO))),
        (
            "select_answer.json",
            agent(2, SelectAnswerBody::new(PartyId::new("visitor-tab-2").unwrap())),
        ),
        (
            "decline.json",
            visitor(
                2,
                DeclineBody::new(Reason::MediaPermissionDenied {
                    device: Device::Camera,
                    error: MediaError::NotAllowed,
                }),
            ),
        ),
        ("cancel.json", agent(2, CancelBody::new(Reason::Cancelled))),
        (
            "description-offer-chromium.json",
            agent(
                3,
                DescriptionBody::new(
                    SessionDescription::new(SdpType::Offer, browser_sdp("chromium-offer-av.json")),
                    negotiation("n1"),
                ),
            ),
        ),
        (
            "description-answer-chromium.json",
            visitor(
                3,
                DescriptionBody::new(
                    SessionDescription::new(
                        SdpType::Answer,
                        browser_sdp("chromium-answer-av.json"),
                    ),
                    negotiation("n1"),
                ),
            ),
        ),
        (
            "description-offer-firefox.json",
            visitor(
                4,
                DescriptionBody::new(
                    SessionDescription::new(SdpType::Offer, browser_sdp("firefox-offer-av.json")),
                    negotiation("v-2"),
                ),
            ),
        ),
        ("candidates-chromium.json", agent(4, CandidatesBody::new(chromium_candidates))),
        ("candidates-firefox.json", visitor(5, CandidatesBody::new(firefox_candidates))),
        ("media.json", agent(5, MediaBody::new(camera_and_screen))),
        (
            "media-audio-only.json",
            visitor(6, MediaBody::new(camera).with_audio_only(AudioOnlyReason::Quality)),
        ),
        (
            "quality.json",
            visitor(7, QualityBody::new(QualityLevel::Poor).with_measurements(420, 8.5).unwrap()),
        ),
        ("hangup.json", agent(6, HangupBody::new(Reason::UserHangup))),
        (
            "rejected.json",
            envelope(
                Role::Visitor,
                "relay",
                1,
                RejectedBody::new(RejectCode::Forbidden, "only an agent may invite", Some(3)),
            ),
        ),
        ("ack.json", visitor(9, AckBody::new(vec![(PartyId::new("agent-tab-1").unwrap(), 7)]))),
    ]
}

#[test]
fn every_message_kind_has_a_fixture() {
    let canonical = canonical();
    for message_type in Message::TYPES {
        assert!(
            canonical.iter().any(|(_, envelope)| envelope.message_type() == *message_type),
            "no fixture for {message_type}"
        );
    }
}

#[test]
fn fixtures_both_ways() {
    let bless = std::env::var_os("VELARO_BLESS").is_some();
    for (name, expected) in canonical() {
        let path = fixtures_dir().join("v1").join(name);
        let mut encoded = encode(&expected);
        encoded.push(b'\n');
        if bless {
            std::fs::write(&path, &encoded).unwrap();
        }
        let file = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{name}: {e} (VELARO_BLESS=1 writes it)"));
        assert_eq!(
            decode(&file).unwrap_or_else(|e| panic!("{name}: {e}")),
            expected,
            "{name} decodes"
        );
        assert_eq!(
            String::from_utf8(encoded).unwrap(),
            String::from_utf8(file).unwrap(),
            "{name} encodes"
        );
    }
}

fn compat(name: &str) -> Envelope {
    let file = std::fs::read(fixtures_dir().join("v1/compat").join(name)).unwrap();
    decode(&file).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    let envelope = compat("unknown-fields.json");
    let Message::Hangup(hangup) = &envelope.message else { panic!("{envelope:?}") };
    assert_eq!(hangup.reason, Reason::IceTimeout);
    assert_eq!(envelope.seq, 9);
}

#[test]
fn unknown_type_is_kept_with_its_body() {
    let envelope = compat("unknown-type.json");
    let Message::Unknown(unknown) = &envelope.message else { panic!("{envelope:?}") };
    assert_eq!(unknown.message_type, "call.reaction");
    assert_eq!(unknown.body.get(), r#"{"emoji":"👍","future":[1,2,3]}"#);
    // Peers keep what they do not understand, byte for byte.
    assert!(
        String::from_utf8(encode(&envelope))
            .unwrap()
            .contains(r#""body":{"emoji":"👍","future":[1,2,3]}"#)
    );
}

#[test]
fn unknown_reason_round_trips() {
    let envelope = compat("unknown-reason.json");
    let Message::Decline(decline) = &envelope.message else { panic!("{envelope:?}") };
    assert_eq!(decline.reason, Reason::Other("visitor_on_phone".into()));
    assert!(
        String::from_utf8(encode(&envelope))
            .unwrap()
            .contains(r#""reason":{"code":"visitor_on_phone"}"#)
    );
}

#[test]
fn missing_optional_fields_take_their_defaults() {
    let envelope = compat("missing-optional.json");
    let Message::Invite(invite) = &envelope.message else { panic!("{envelope:?}") };
    assert_eq!(
        (invite.prompt.locale.as_ref(), invite.capabilities.len(), invite.ice.as_ref()),
        (None, 0, None)
    );
    let Message::Hangup(hangup) = compat("hangup-without-body.json").message else { panic!() };
    assert_eq!(hangup.reason, Reason::UserHangup);
}

#[test]
fn any_key_order_decodes_the_same() {
    let canonical = canonical();
    let offer =
        &canonical.iter().find(|(name, _)| *name == "description-offer-firefox.json").unwrap().1;
    assert_eq!(&compat("body-first-firefox-order.json"), offer);
}
