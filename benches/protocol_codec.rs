//! Call signaling codecs side by side: our `decode`/`encode` against ruma-events' Matrix VoIP
//! (`"version": "1"`) `m.call.invite` and `m.call.candidates` contents, and our SDP check
//! against a bare `sdp_types::Session::parse`.
//!
//! `cargo bench -p velaro-benches --bench protocol_codec`; compare the medians within each group.
//!
//! Both sides carry the same real Chromium data (`tests/fixtures/browser/`): the 5400-byte
//! audio+video offer (Matrix puts it in the invite, we in `call.description`) and the first
//! trickled candidate. Our decode validates every id and parses the candidate line; ruma keeps
//! the candidate as a string. Our envelope carries more than Matrix's (conversation, role,
//! seq), so the candidates groups also decode and encode our very frame as bare serde structs
//! (`serde_bare_same_frame`): the cost of the same bytes with nothing checked. Matrix carries
//! that envelope in the room event around the content, so `candidates_decode` also times ruma
//! reading the whole event (`ruma_event_same_envelope`: room, sender and event ids checked, the
//! candidate still not). Fixtures are embedded at compile time.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use ruma_events::OriginalMessageLikeEvent;
use ruma_events::call::candidates::CallCandidatesEventContent;
use ruma_events::call::invite::CallInviteEventContent;
use serde_json::Value;
use velaro_call_protocol::message::description::SessionDescription;
use velaro_call_protocol::{Envelope, Message};

/// `m.call.invite` content, version `"1"`, carrying Chromium's audio+video offer (5400-byte SDP).
const INVITE_JSON: &[u8] = include_bytes!("fixtures/matrix-invite.json");
/// `m.call.candidates` content, version `"1"`, carrying Chromium's first trickled candidate.
const CANDIDATES_JSON: &[u8] = include_bytes!("fixtures/matrix-candidates.json");
/// The same content in its whole room event, as a Matrix client reads it: what our envelope
/// carries (type, conversation, sender, sequence) is there too, as `type`, `room_id`,
/// `sender`, `event_id` and `origin_server_ts`.
const CANDIDATES_EVENT_JSON: &[u8] = include_bytes!("fixtures/matrix-candidates-event.json");

/// Our `call.description` carrying the same Chromium offer.
const VELARO_OFFER: &[u8] = include_bytes!("../tests/fixtures/v1/description-offer-chromium.json");
/// Our `call.candidates`, from which the bench keeps the first candidate.
const VELARO_CANDIDATES: &[u8] = include_bytes!("../tests/fixtures/v1/candidates-chromium.json");

/// The candidates content in its room event (ids checked, as ruma checks them).
type CandidatesEvent = OriginalMessageLikeEvent<CallCandidatesEventContent>;

fn velaro_frame(frame: &[u8]) -> Envelope {
    velaro_call_protocol::decode(frame).unwrap_or_else(|e| panic!("velaro fixture: {e}"))
}

/// Our candidates frame with only the first candidate, like the Matrix fixture.
fn velaro_candidates() -> Vec<u8> {
    let mut envelope = velaro_frame(VELARO_CANDIDATES);
    let Message::Candidates(body) = &mut envelope.message else { panic!("not candidates") };
    body.candidates.truncate(1);
    velaro_call_protocol::encode(&envelope)
}

fn offer_description() -> SessionDescription {
    match velaro_frame(VELARO_OFFER).message {
        Message::Description(body) => body.description,
        other => panic!("not a description: {other}"),
    }
}

/// Opens `name` and reports throughput in bytes of the fixture, so decoders and encoders of
/// different formats stay comparable.
fn group<'a>(c: &'a mut Criterion, name: &str, bytes: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    group
}

fn invite_decode(c: &mut Criterion) {
    let mut group = group(c, "invite_decode", INVITE_JSON.len());
    group.bench_function("ruma", |b| {
        b.iter(|| serde_json::from_slice::<CallInviteEventContent>(black_box(INVITE_JSON)));
    });
    group.bench_function("velaro", |b| {
        b.iter(|| velaro_call_protocol::decode(black_box(VELARO_OFFER)))
    });
    group.finish();
}

fn invite_encode(c: &mut Criterion) {
    let mut group = group(c, "invite_encode", INVITE_JSON.len());
    let ruma: CallInviteEventContent = decode(INVITE_JSON);
    group.bench_function("ruma", |b| b.iter(|| serde_json::to_vec(black_box(&ruma))));
    let velaro = velaro_frame(VELARO_OFFER);
    group.bench_function("velaro", |b| b.iter(|| velaro_call_protocol::encode(black_box(&velaro))));
    group.finish();
}

/// Our candidates frame as bare serde structs (plain strings, nothing checked): what
/// deserializing the very same bytes costs without validation.
mod bare {
    #[derive(serde::Deserialize, serde::Serialize)]
    pub(super) struct Frame {
        #[serde(rename = "type")]
        kind: String,
        version: u32,
        conversation_id: String,
        call_id: String,
        party_id: String,
        role: String,
        seq: u64,
        body: Body,
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    struct Body {
        candidates: Vec<Candidate>,
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Candidate {
        candidate: String,
        sdp_mid: Option<String>,
        #[serde(rename = "sdpMLineIndex")]
        sdp_m_line_index: Option<u16>,
        username_fragment: Option<String>,
    }
}

fn candidates_decode(c: &mut Criterion) {
    let mut group = group(c, "candidates_decode", CANDIDATES_JSON.len());
    group.bench_function("ruma", |b| {
        b.iter(|| serde_json::from_slice::<CallCandidatesEventContent>(black_box(CANDIDATES_JSON)));
    });
    group.bench_function("ruma_event_same_envelope", |b| {
        b.iter(|| serde_json::from_slice::<CandidatesEvent>(black_box(CANDIDATES_EVENT_JSON)));
    });
    let velaro = velaro_candidates();
    group.bench_function("serde_bare_same_frame", |b| {
        b.iter(|| serde_json::from_slice::<bare::Frame>(black_box(&velaro)));
    });
    group.bench_function("velaro", |b| b.iter(|| velaro_call_protocol::decode(black_box(&velaro))));
    group.finish();
}

fn candidates_encode(c: &mut Criterion) {
    let mut group = group(c, "candidates_encode", CANDIDATES_JSON.len());
    let ruma: CallCandidatesEventContent = decode(CANDIDATES_JSON);
    group.bench_function("ruma", |b| b.iter(|| serde_json::to_vec(black_box(&ruma))));
    let bare: bare::Frame = decode(&velaro_candidates());
    group.bench_function("serde_bare_same_frame", |b| {
        b.iter(|| serde_json::to_vec(black_box(&bare)))
    });
    let velaro = velaro_frame(&velaro_candidates());
    group.bench_function("velaro", |b| b.iter(|| velaro_call_protocol::encode(black_box(&velaro))));
    group.finish();
}

fn sdp_parse(c: &mut Criterion) {
    let sdp = offer_sdp();
    let mut group = group(c, "sdp_parse", sdp.len());
    group.bench_function("sdp_types_session_parse", |b| {
        b.iter(|| sdp_types::Session::parse(black_box(sdp.as_bytes())));
    });
    let description = offer_description();
    group.bench_function("velaro_sdp_check", |b| {
        b.iter(|| velaro_call_protocol::sdp::check(black_box(&description)));
    });
    group.bench_function("velaro_sdp_summarize", |b| {
        b.iter(|| velaro_call_protocol::sdp::summarize(black_box(&description)));
    });
    group.finish();
}

fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> T {
    match serde_json::from_slice(json) {
        Ok(value) => value,
        Err(error) => panic!("fixture does not decode as {}: {error}", std::any::type_name::<T>()),
    }
}

/// The offer SDP, read with plain `serde_json` so this group does not depend on ruma.
fn offer_sdp() -> String {
    let invite: Value = decode(INVITE_JSON);
    match &invite["offer"]["sdp"] {
        Value::String(sdp) => sdp.clone(),
        other => panic!("invite fixture has no offer.sdp string: {other}"),
    }
}

/// Every fixture must decode (and mean what it should), or the comparison would time error
/// paths.
fn check_inputs() {
    let invite: CallInviteEventContent = decode(INVITE_JSON);
    assert_eq!(invite.version.as_ref(), "1");
    assert!(invite.party_id.is_some() && invite.invitee.is_some());
    assert_eq!(invite.offer.session_type, "offer");
    assert_eq!(invite.offer.sdp, offer_sdp());
    // Lossless round trip (key order differs, so compare as values).
    let reencoded: Value = decode(&serde_json::to_vec(&invite).unwrap());
    assert_eq!(reencoded, decode::<Value>(INVITE_JSON));

    let candidates: CallCandidatesEventContent = decode(CANDIDATES_JSON);
    assert_eq!(candidates.version.as_ref(), "1");
    assert!(candidates.party_id.is_some());
    assert_eq!(candidates.candidates.len(), 1);
    // Browsers' `RTCIceCandidate.toJSON()` includes `usernameFragment`, which Matrix's
    // `Candidate` has no field for: ruma ignores it on decode and so drops it on encode.
    let mut expected: Value = decode(CANDIDATES_JSON);
    for candidate in expected["candidates"].as_array_mut().unwrap() {
        candidate.as_object_mut().unwrap().remove("usernameFragment");
    }
    let reencoded: Value = decode(&serde_json::to_vec(&candidates).unwrap());
    assert_eq!(reencoded, expected);
    let event: CandidatesEvent = decode(CANDIDATES_EVENT_JSON);
    assert_eq!(serde_json::to_value(&event.content).unwrap(), expected);
    assert_eq!(event.room_id.as_str(), "!conv-8f14e45f:example.org");

    let sdp = offer_sdp();
    if let Err(error) = sdp_types::Session::parse(sdp.as_bytes()) {
        panic!("offer SDP does not parse: {error:?}");
    }

    // Our side carries the same data.
    assert_eq!(offer_description().sdp, sdp);
    assert!(velaro_call_protocol::sdp::check(&offer_description()).is_ok());
    let candidates = velaro_frame(&velaro_candidates());
    let Message::Candidates(body) = &candidates.message else { panic!() };
    assert_eq!(body.candidates.len(), 1);
    assert_eq!(
        body.candidates[0].candidate.as_ref().map(ToString::to_string),
        decode::<Value>(CANDIDATES_JSON)["candidates"][0]["candidate"].as_str().map(str::to_owned)
    );
    eprintln!(
        "frame sizes: ruma invite {} B, velaro description {} B; ruma candidates {} B, velaro candidates {} B",
        INVITE_JSON.len(),
        VELARO_OFFER.len(),
        CANDIDATES_JSON.len(),
        velaro_candidates().len()
    );
}

fn benches(c: &mut Criterion) {
    check_inputs();
    invite_decode(c);
    invite_encode(c);
    candidates_decode(c);
    candidates_encode(c);
    sdp_parse(c);
}

criterion_group!(protocol_codec, benches);
criterion_main!(protocol_codec);
