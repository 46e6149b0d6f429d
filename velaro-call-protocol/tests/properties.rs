//! Properties of the codec: no input panics it, and whatever it accepts survives a round trip.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use proptest::prelude::*;
use velaro_call_protocol::message::answer::{AcceptBody, DeclineBody};
use velaro_call_protocol::message::hangup::HangupBody;
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{QualityBody, QualityLevel};
use velaro_call_protocol::{
    CallId, ConversationId, Envelope, Message, PartyId, Reason, Role, decode, encode,
};

fn fixture_frames() -> Vec<Vec<u8>> {
    let dir = format!("{}/../tests/fixtures/v1", env!("CARGO_MANIFEST_DIR"));
    let mut frames = Vec::new();
    for sub in ["", "compat"] {
        for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                frames.push(std::fs::read(path).unwrap());
            }
        }
    }
    assert!(frames.len() >= 20, "fixtures found: {}", frames.len());
    frames
}

/// Accepted frames re-encode to frames that decode to the same value, and encoding is stable.
fn assert_round_trip(frame: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(envelope) = decode(frame) {
        let encoded = encode(&envelope);
        let again = decode(&encoded);
        prop_assert_eq!(again.as_ref(), Ok(&envelope), "{}", String::from_utf8_lossy(&encoded));
        prop_assert_eq!(encode(&again.unwrap()), encoded);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Truncate(usize),
    Splice(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just("\""),
        Just("{"),
        Just("}"),
        Just("["),
        Just(","),
        Just(":"),
        Just("null"),
        Just("-1"),
        Just("1e999"),
        Just("\\u0000"),
        Just("\\ud800"),
        Just("\"seq\":2,"),
        Just("\"body\":{},"),
        Just("18446744073709551616"),
        Just(" "),
        Just("\u{feff}"),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), interesting).prop_map(|(at, s)| Mutation::Splice(at, s)),
    ]
}

fn apply(frame: &mut Vec<u8>, mutation: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *mutation {
        Mutation::Insert(i, b) => frame.insert(at(i, frame.len() + 1), b),
        Mutation::Delete(i) if !frame.is_empty() => {
            frame.remove(at(i, frame.len()));
        }
        Mutation::Replace(i, b) if !frame.is_empty() => {
            let i = at(i, frame.len());
            frame[i] = b;
        }
        Mutation::Truncate(i) => frame.truncate(at(i, frame.len() + 1)),
        Mutation::Splice(i, text) => {
            let i = at(i, frame.len() + 1);
            frame.splice(i..i, text.bytes());
        }
        _ => {}
    }
}

fn envelope() -> impl Strategy<Value = Envelope> {
    let id = "[0-9A-Za-z._~-]{1,40}";
    let message = prop_oneof![
        ("\\PC{1,200}", any::<bool>(), any::<bool>(), 10_000u64..=600_000).prop_map(
            |(text, audio, video, ms)| {
                let mut invite = InviteBody::new(
                    Prompt::new(format!("?{text}")).unwrap(),
                    MediaKinds::new(audio, video),
                );
                invite.lifetime_ms = ms;
                Message::from(invite)
            }
        ),
        (any::<bool>(), any::<bool>())
            .prop_map(|(a, v)| Message::from(AcceptBody::new(MediaKinds::new(a, v)))),
        "[a-z_]{1,20}"
            .prop_map(|code| Message::from(DeclineBody::new(Reason::Other(format!("x_{code}"))))),
        Just(Message::from(HangupBody::new(Reason::IceTimeout))),
        (any::<u32>(), 0.0f64..=100.0).prop_map(|(rtt, loss)| {
            Message::from(
                QualityBody::new(QualityLevel::Good).with_measurements(rtt, loss).unwrap(),
            )
        }),
    ];
    (id, id, id, any::<bool>(), 1u64..(1 << 53), message).prop_map(
        |(conversation, call, party, agent, seq, message)| {
            let role = if agent { Role::Agent } else { Role::Visitor };
            Envelope::new(
                ConversationId::new(conversation).unwrap(),
                CallId::new(call).unwrap(),
                PartyId::new(party).unwrap(),
                role,
                seq,
                message,
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        assert_round_trip(&bytes)?;
    }

    #[test]
    fn mutated_fixtures_never_panic_and_round_trip_if_accepted(
        pick in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let frames = fixture_frames();
        let mut frame = pick.get(&frames).clone();
        for m in &mutations {
            apply(&mut frame, m);
        }
        assert_round_trip(&frame)?;
    }

    #[test]
    fn generated_envelopes_round_trip(envelope in envelope()) {
        let frame = encode(&envelope);
        prop_assert_eq!(decode(&frame), Ok(envelope));
    }
}

#[test]
fn every_fixture_round_trips() {
    for frame in fixture_frames() {
        let envelope = decode(&frame).unwrap();
        assert_eq!(decode(&encode(&envelope)).unwrap(), envelope);
    }
}
