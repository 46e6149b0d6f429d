//! Properties of the codec: no input panics it, whatever it accepts survives a round trip, and
//! its hand-written fast path decodes what it decodes exactly as the `serde_json` path does.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;

use proptest::prelude::*;
use velaro_call_protocol::limits::MAX_FRAME_LEN;
use velaro_call_protocol::message::answer::{AcceptBody, DeclineBody};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::message::hangup::HangupBody;
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{QualityBody, QualityLevel};
use velaro_call_protocol::{
    CallId, ConversationId, Envelope, Forwardable, Message, NegotiationId, PartyId, Reason, Role,
    decode, decode_forwardable, differential, encode,
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

/// Whenever the fast path decodes a frame, the `serde_json` path decodes it to the same envelope
/// and `body_last`, and the body is found at the same place; returns whether the fast path took
/// it.
fn assert_paths_agree(frame: &[u8]) -> Result<bool, TestCaseError> {
    let Some(fast) = differential::fast(frame) else {
        return Ok(false);
    };
    let text = String::from_utf8_lossy(frame);
    prop_assert_eq!(differential::serde(frame), Ok(fast), "fast path on {}", text);
    Ok(true)
}

/// Accepted frames re-encode to frames that decode to the same value, and encoding is stable.
/// Decoded for forwarding, a frame gives the same envelope or the same error, and written
/// again around its body as received (restamped, as a relay does) it decodes to the same
/// message with the stamped identity.
fn assert_round_trip(frame: &[u8]) -> Result<(), TestCaseError> {
    assert_paths_agree(frame)?;
    let envelope = match (decode(frame), decode_forwardable(frame)) {
        (Err(error), Err(forwarding_error)) => {
            prop_assert_eq!(error, forwarding_error);
            return Ok(());
        }
        (Ok(envelope), Ok(mut forwardable)) => {
            prop_assert_eq!(forwardable.envelope(), &envelope);
            let stamp = (PartyId::new("relay-stamped-party").unwrap(), envelope.role.peer());
            forwardable.stamp(stamp.0.clone(), stamp.1, envelope.seq);
            let forwarded = forwardable.encode();
            let mut expected = envelope.clone();
            expected.stamp(stamp.0, stamp.1, envelope.seq);
            if forwarded.len() <= MAX_FRAME_LEN {
                let text = String::from_utf8_lossy(&forwarded);
                prop_assert_eq!(decode(&forwarded), Ok(expected), "forwarded as {}", text);
            }
            envelope
        }
        (decoded, forwardable) => {
            let forwardable = forwardable.map(Forwardable::into_envelope);
            return Err(TestCaseError::fail(format!(
                "decode gave {decoded:?}, decode_forwardable {forwardable:?}"
            )));
        }
    };
    let encoded = encode(&envelope);
    let again = decode(&encoded);
    prop_assert_eq!(again.as_ref(), Ok(&envelope), "{}", String::from_utf8_lossy(&encoded));
    prop_assert_eq!(encode(&again.unwrap()), encoded);
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
        // What the fast path reads or must give up on.
        Just("\\r\\n"),
        Just("\\\""),
        Just("\\/"),
        Just("\\u00e9"),
        Just("\\ud83d\\udc4d"),
        Just("\\udc4d"),
        Just("null"),
        Just("true"),
        Just("0"),
        Just("65536"),
        Just("1.5"),
        Just("\"sdpMid\":null,"),
        Just("\"x\":[1,{\"y\":-0.5e3,\"z\":\"\\u0041\"}],"),
        Just("\"type\":\"call.media\","),
        Just("\"version\":1,"),
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
        // Candidates with every optional field present or not, quotes and backslashes in mids.
        proptest::collection::vec(
            (
                proptest::option::of(0usize..3),
                proptest::option::of("[!-~]{0,12}"),
                proptest::option::of(0u16..16),
                proptest::option::of("[A-Za-z0-9+/]{4,12}"),
            ),
            0..6,
        )
        .prop_map(|inits| {
            let lines = [
                "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0",
                "candidate:842163049 1 udp 1677729535 203.0.113.7 61000 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag lZ7j network-cost 999",
                "candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
            ];
            let candidates = inits
                .into_iter()
                .map(|(line, mid, index, ufrag)| {
                    let mut init = match line {
                        Some(line) => IceCandidate::new(lines[line].parse().unwrap(), mid, index),
                        None => IceCandidate::end_of_candidates(None),
                    };
                    init.username_fragment = ufrag.map(Into::into);
                    init
                })
                .collect();
            Message::from(CandidatesBody::new(candidates))
        }),
        // Any text: the codec only size-checks an SDP, and writes it with its own escaper.
        (any::<String>(), any::<bool>(), "[0-9A-Za-z._~-]{1,40}").prop_map(|(sdp, offer, id)| {
            let sdp_type = if offer { SdpType::Offer } else { SdpType::Answer };
            let description = SessionDescription::new(sdp_type, sdp);
            Message::from(DescriptionBody::new(description, NegotiationId::new(id).unwrap()))
        }),
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
        prop_assert_eq!(&frame, &serde_json::to_vec(&envelope).unwrap(), "encode is `Serialize`");
        prop_assert!(assert_paths_agree(&frame)?, "the fast path gave up on {}", String::from_utf8_lossy(&frame));
        assert_round_trip(&frame)?;
        prop_assert_eq!(decode(&frame), Ok(envelope));
    }

    /// The same fixtures written as other JSON writers may: keys in another order, whitespace
    /// anywhere, characters escaped as `\uXXXX` or `\/`. They decode to what the fixture
    /// decodes to, and forward to it.
    #[test]
    fn rewritten_fixtures_decode_and_forward_alike(
        pick in any::<prop::sample::Index>(),
        choices in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let frames = fixture_frames();
        let frame = pick.get(&frames);
        let value: serde_json::Value = serde_json::from_slice(frame).unwrap();
        let mut writer = Rewriter { choices: &choices, at: 0, out: String::new() };
        writer.value(&value);
        let rewritten = writer.out.into_bytes();
        let text = String::from_utf8_lossy(&rewritten).into_owned();
        // An unknown message keeps its body's text: compare what the two encode to as JSON.
        let as_json = |frame: &[u8]| {
            decode(frame).map(|e| serde_json::from_slice::<serde_json::Value>(&encode(&e)).unwrap())
        };
        prop_assert_eq!(as_json(&rewritten), as_json(frame), "rewritten as {}", text);
        assert_round_trip(&rewritten)?;
    }
}

/// Writes a JSON value the way another writer might, each choice drawn from `choices`.
struct Rewriter<'a> {
    choices: &'a [u8],
    at: usize,
    out: String,
}

impl Rewriter<'_> {
    fn choice(&mut self) -> u8 {
        self.at += 1;
        self.choices[self.at % self.choices.len()]
    }

    fn space(&mut self) {
        let spaces = [" ", "\n", "\t", "\r\n  ", ""];
        let pick = self.choice() as usize;
        self.out.push_str(spaces[pick % spaces.len()]);
    }

    fn string(&mut self, text: &str) {
        self.out.push('"');
        for c in text.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '/' if self.choice().is_multiple_of(2) => self.out.push_str("\\/"),
                c if (c as u32) < 0x20 || self.choice().is_multiple_of(8) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write!(self.out, "\\u{unit:04x}").unwrap();
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn value(&mut self, value: &serde_json::Value) {
        self.space();
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                if self.choice().is_multiple_of(2) {
                    entries.reverse();
                }
                self.out.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.space();
                    self.string(key);
                    self.space();
                    self.out.push(':');
                    self.value(value);
                }
                self.space();
                self.out.push('}');
            }
            serde_json::Value::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.out.push(']');
            }
            serde_json::Value::String(text) => self.string(text),
            other => self.out.push_str(&other.to_string()),
        }
        self.space();
    }
}

#[test]
fn every_fixture_round_trips() {
    for frame in fixture_frames() {
        let text = String::from_utf8_lossy(&frame).into_owned();
        assert!(assert_paths_agree(&frame).unwrap(), "the fast path gave up on {text}");
        let envelope = decode(&frame).unwrap();
        assert_eq!(decode(&encode(&envelope)).unwrap(), envelope);
        assert_round_trip(&frame).unwrap();
        assert_eq!(
            encode(&envelope),
            serde_json::to_vec(&envelope).unwrap(),
            "encode is `Serialize`"
        );
    }
}

/// Frames at the edges of what the fast path reads, made from the fixtures: each decodes alike
/// on both paths, and the fast path takes exactly the ones marked.
#[test]
fn edge_frames_decode_alike_and_the_fast_path_takes_what_it_reads() {
    let dir = format!("{}/../tests/fixtures/v1", env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
    let (offer, candidates, media) = (
        read("description-offer-chromium.json"),
        read("candidates-chromium.json"),
        read("media.json"),
    );
    let edit = |frame: &str, from: &str, to: &str| {
        assert!(frame.contains(from), "{from}");
        frame.replacen(from, to, 1)
    };
    let sdp = r"v=0\r\n";
    let mid = r#""sdpMid":"0""#;
    let index = r#""sdpMLineIndex":0"#;
    let cases: Vec<(String, bool)> = vec![
        (edit(&offer, sdp, r#"v=0\r\n\u00e9\/\"\\\t\b\f\n\r\ud83d\udc4d\u0041\r\n"#), true),
        (edit(&offer, sdp, r"v=0\r\\n\r"), true),
        (edit(&offer, sdp, r"v=0\udc4d\r\n"), false),
        (edit(&offer, sdp, r"v=0\ud83d\r\n"), false),
        (edit(&offer, sdp, r"v=0\ud83d\u0041\r\n"), false),
        (edit(&offer, sdp, r"v=0\u00\r\n"), false),
        (edit(&offer, sdp, r"v=0\x\r\n"), false),
        (edit(&offer, sdp, "v=0\t"), false),
        (edit(&offer, r#""type":"offer""#, r#""type":"pranswer""#), false),
        (edit(&offer, r#""type":"offer""#, r#""type":"\u006fffer""#), true),
        (edit(&candidates, mid, r#""sdpMid":null"#), true),
        (edit(&candidates, mid, r#""sdpMid":"0","sdpMid":"0""#), false),
        (edit(&candidates, index, r#""sdpMLineIndex":null"#), true),
        (edit(&candidates, index, r#""sdpMLineIndex":15"#), true),
        (edit(&candidates, index, r#""sdpMLineIndex":16"#), false),
        (edit(&candidates, index, r#""sdpMLineIndex":65536"#), false),
        (edit(&candidates, index, r#""sdpMLineIndex":-1"#), false),
        (edit(&candidates, index, r#""sdpMLineIndex":0.0"#), false),
        (edit(&candidates, index, r#""sdpMLineIndex":00"#), false),
        (
            edit(&candidates, mid, r#""x":{"y":[1,-0.5e3,true,null,{"z":"\udc4d"}]},"sdpMid":"0""#),
            true,
        ),
        (edit(&candidates, mid, r#""x":[1,]"#), false),
        (edit(&candidates, r#"{"candidates":["#, r#"{"candidates":[{"candidate":""},"#), true),
        (edit(&candidates, r#""seq":4"#, r#""seq":04"#), false),
        (edit(&candidates, r#""seq":4"#, r#""seq":9007199254740991"#), true),
        (edit(&candidates, r#""seq":4"#, r#""seq":9007199254740992"#), false),
        (edit(&candidates, r#""seq":4"#, r#""seq":0"#), false),
        (edit(&candidates, r#""seq":4"#, r#""seq":4,"seq":4"#), false),
        (edit(&candidates, r#""version":1"#, r#""version":2"#), false),
        (edit(&candidates, r#""version":1"#, r#""version":1.0"#), false),
        (edit(&candidates, r#""role":"agent""#, r#""role":"ag\u0065nt""#), true),
        (edit(&candidates, r#""role":"agent""#, r#""r\u006fle":"agent""#), false),
        (edit(&candidates, r#""call_id":"#, r#""call_id" : "#), true),
        (format!(" \r\n{candidates}\n\t"), true),
        (format!("{candidates}x"), false),
        (edit(&media, r#""display_surface":"window""#, r#""display_surface":null"#), true),
        (edit(&media, r#""display_surface":"window""#, r#""display_surface":"tab""#), true),
        (edit(&media, r#""display_surface":"window""#, r#""display_surface":"t b""#), false),
        (edit(&media, r#"{"streams":"#, r#"{"audio_only":null,"streams":"#), true),
        (
            edit(
                &media,
                r#""8a6f3512"#,
                r#""165f7925-080e-49d7-873f-b58872ee6326":{"purpose":"camera"},"8a6f3512"#,
            ),
            false,
        ),
    ];
    for (frame, taken) in cases {
        let fast_taken = assert_paths_agree(frame.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fast_taken, taken, "{frame}");
    }
}

/// A small candidates frame is copied once: every candidate's line, `sdpMid` and
/// `usernameFragment` is a slice of that copy (no allocation per candidate). A string with an
/// escape, or any string of a frame over 4 KiB, is a copy of its own, so that no candidate
/// keeps a large frame alive.
#[test]
fn candidates_of_a_small_frame_share_one_copy_of_it() {
    let text = std::fs::read_to_string(format!(
        "{}/../tests/fixtures/v1/candidates-chromium.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let strings = |frame: &str| {
        let Message::Candidates(body) = decode(frame.as_bytes()).unwrap().message else {
            panic!("not candidates")
        };
        assert!(body.candidates.len() >= 3, "{}", body.candidates.len());
        body.candidates
            .iter()
            .flat_map(|c| {
                let line = c.candidate.as_ref().map(|c| (c.as_str().len(), c.retained_len()));
                let mid = c.sdp_mid.as_ref().map(|m| (m.len(), m.retained_len()));
                let ufrag = c.username_fragment.as_ref().map(|u| (u.len(), u.retained_len()));
                [line, mid, ufrag]
            })
            .flatten()
            .collect::<Vec<_>>()
    };
    assert!(text.len() <= 4096, "{}", text.len());
    let shared = strings(&text);
    assert!(shared.iter().all(|&(_, retained)| retained == text.len()), "{shared:?}");

    let escaped = text.replacen("lZ7j", r"lZ\u00377j", 1);
    let first_line = strings(&escaped)[0];
    assert_eq!(first_line.0, first_line.1, "the escaped line is a copy of its own");

    let padded = text.replacen(
        r#"{"candidates""#,
        &format!(r#"{{"pad":"{}","candidates""#, "x".repeat(4096)),
        1,
    );
    let own = strings(&padded);
    assert!(own.iter().all(|&(len, retained)| len == retained), "{own:?}");
}
