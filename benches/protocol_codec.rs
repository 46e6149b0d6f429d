//! Call signaling codecs: JSON decode/encode of Matrix (`"version": "1"`) `m.call.invite` and
//! `m.call.candidates` contents with ruma-events (the Matrix side of the comparison), plus SDP
//! parsing of the offer inside the invite with sdp-types.
//!
//! `cargo bench -p velaro-benches --bench protocol_codec`; compare the medians within each group.
//!
//! The fixtures are compact wire JSON built from real Chromium output
//! (`/work/shared/fixtures/browser/chromium-offer-av.json` and the first candidate of
//! `chromium-candidates.json`), embedded at compile time so the bench needs no runtime paths.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use ruma_events::call::candidates::CallCandidatesEventContent;
use ruma_events::call::invite::CallInviteEventContent;
use serde_json::Value;

/// `m.call.invite` content, version `"1"`, carrying Chromium's audio+video offer (5400-byte SDP).
const INVITE_JSON: &[u8] = include_bytes!("fixtures/matrix-invite.json");
/// `m.call.candidates` content, version `"1"`, carrying Chromium's first trickled candidate.
const CANDIDATES_JSON: &[u8] = include_bytes!("fixtures/matrix-candidates.json");

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
    // velaro: added with the protocol crate
    group.finish();
}

fn invite_encode(c: &mut Criterion) {
    let mut group = group(c, "invite_encode", INVITE_JSON.len());
    let ruma: CallInviteEventContent = decode(INVITE_JSON);
    group.bench_function("ruma", |b| b.iter(|| serde_json::to_vec(black_box(&ruma))));
    // velaro: added with the protocol crate
    group.finish();
}

fn candidates_decode(c: &mut Criterion) {
    let mut group = group(c, "candidates_decode", CANDIDATES_JSON.len());
    group.bench_function("ruma", |b| {
        b.iter(|| serde_json::from_slice::<CallCandidatesEventContent>(black_box(CANDIDATES_JSON)));
    });
    // velaro: added with the protocol crate
    group.finish();
}

fn candidates_encode(c: &mut Criterion) {
    let mut group = group(c, "candidates_encode", CANDIDATES_JSON.len());
    let ruma: CallCandidatesEventContent = decode(CANDIDATES_JSON);
    group.bench_function("ruma", |b| b.iter(|| serde_json::to_vec(black_box(&ruma))));
    // velaro: added with the protocol crate
    group.finish();
}

fn sdp_parse(c: &mut Criterion) {
    let sdp = offer_sdp();
    let mut group = group(c, "sdp_parse", sdp.len());
    group.bench_function("sdp_types_session_parse", |b| {
        b.iter(|| sdp_types::Session::parse(black_box(sdp.as_bytes())));
    });
    group.finish();
}

fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> T {
    match serde_json::from_slice(json) {
        Ok(value) => value,
        Err(error) => panic!(
            "fixture does not decode as {}: {error}",
            std::any::type_name::<T>()
        ),
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
        candidate
            .as_object_mut()
            .unwrap()
            .remove("usernameFragment");
    }
    let reencoded: Value = decode(&serde_json::to_vec(&candidates).unwrap());
    assert_eq!(reencoded, expected);

    let sdp = offer_sdp();
    if let Err(error) = sdp_types::Session::parse(sdp.as_bytes()) {
        panic!("offer SDP does not parse: {error:?}");
    }
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
