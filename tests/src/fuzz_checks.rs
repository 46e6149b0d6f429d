//! The properties the fuzz targets in `fuzz/` check, as plain functions of the fuzz input.
//!
//! Each function panics (through `assert!`) when its property is violated, so libFuzzer reports
//! a crash; otherwise it returns. The targets in `fuzz/fuzz_targets/` only call these, and
//! `tests/tests/fuzz_corpus.rs` replays every committed corpus and regression input through
//! the same functions on stable, so CI keeps every bug the fuzzers found fixed.
//!
//! | target | property |
//! |---|---|
//! | `decode` | [`decode`] never panics; what decodes re-encodes to a frame that decodes to an equal envelope (or that canonical writing took over the frame limit by a bounded amount) |
//! | `sdp` | [`sdp::check`] and [`sdp::summarize`] never panic; when `check` passes, both agree on the m-sections |
//! | `candidate` | parsing a [`Candidate`] never panics; what parses prints as text that parses to an equal candidate, also after the privacy filter |
//! | `ice_url` | parsing an [`IceUrl`] never panics; what parses prints as text that parses to an equal URL |
//! | `relay` | a script against a [`Relay`](velaro_signaling::Relay) never panics, and every frame the relay writes decodes |
//! | `call` | a script against a [`Call`](velaro_call_state::Call) never panics and keeps the call's promises |

mod call;
mod frames;
mod input;
mod relay;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use velaro_call_protocol::limits::MAX_FRAME_LEN;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::velaro_ice_config::{
    Candidate, CandidateFilter, CandidatePolicy, IceUrl, SharedStr,
};
use velaro_call_protocol::{
    Forwardable, PartyId, decode, decode_forwardable, differential, encode, sdp,
};

pub use call::call_script;
pub use relay::relay_script;

/// A check: returns when the property holds for the input, panics when it does not.
pub type Check = fn(&[u8]);

/// Every target: its name (the file in `fuzz/fuzz_targets/` and the folder in `fuzz/corpus/`
/// and `fuzz/regressions/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("decode", decode_round_trip),
    ("sdp", sdp_check),
    ("candidate", candidate_round_trip),
    ("ice_url", ice_url_round_trip),
    ("relay", relay_script),
    ("call", call_script),
];

/// How much larger than what it read the canonical writer may make a frame: a candidate given
/// without its `candidate:` prefix gets it (10 bytes, 64 candidates at most), a number its
/// shortest form, an absent field its default. A frame the writer takes over the limit is
/// refused `too_large` by the relay rather than forwarded (see its tests).
pub const MAX_CANONICAL_GROWTH: usize = 1024;

/// A frame decodes without panicking; when it decodes, its envelope re-encodes to a frame that
/// decodes to an equal envelope (the bytes may differ: field order, whitespace, escapes), or,
/// when writing it canonically takes it over [`MAX_FRAME_LEN`], by no more than
/// [`MAX_CANONICAL_GROWTH`]. Decoded for forwarding, it gives the same envelope (or the same
/// error), and the frame a relay would forward (restamped around the body as received) decodes
/// to the envelope with the stamped identity.
pub fn decode_round_trip(data: &[u8]) {
    // The hand-written fast path answers exactly as the serde path wherever it answers.
    if let Some(fast) = differential::fast(data) {
        assert_eq!(Ok(fast), differential::serde(data), "the fast path decodes differently");
    }
    let envelope = match (decode(data), decode_forwardable(data)) {
        (Ok(envelope), Ok(mut forwardable)) => {
            assert_eq!(forwardable.envelope(), &envelope, "decode_forwardable decodes differently");
            let (party, role) = (PartyId::new("forwarded-by-relay").expect("id"), envelope.role);
            forwardable.stamp(party.clone(), role, envelope.seq);
            let forwarded = forwardable.encode();
            let mut stamped = envelope.clone();
            stamped.stamp(party, role, envelope.seq);
            if forwarded.len() <= MAX_FRAME_LEN {
                assert_eq!(decode(&forwarded), Ok(stamped), "forwarded: {}", excerpt(&forwarded));
            }
            envelope
        }
        (Err(error), Err(forwarding_error)) => {
            assert_eq!(error, forwarding_error, "the two decoders refuse differently");
            return;
        }
        (decoded, forwardable) => panic!(
            "decode gave {decoded:?}, decode_forwardable {:?}",
            forwardable.map(Forwardable::into_envelope)
        ),
    };
    let frame = encode(&envelope);
    if frame.len() > MAX_FRAME_LEN {
        assert!(
            frame.len() <= data.len() + MAX_CANONICAL_GROWTH,
            "a {}-byte frame decodes but re-encodes to {} bytes",
            data.len(),
            frame.len()
        );
        return;
    }
    match decode(&frame) {
        Ok(again) => assert_eq!(again, envelope, "the re-encoded frame decodes differently"),
        Err(error) => {
            panic!("a frame decodes but its re-encoding does not ({error}): {}", excerpt(&frame))
        }
    }
}

/// An SDP (the input as UTF-8, invalid bytes replaced) is checked and summarized without
/// panicking; when [`sdp::check`] passes, [`sdp::summarize`] sees the same m-sections: kind,
/// direction, mid and whether it is rejected.
pub fn sdp_check(data: &[u8]) {
    let description =
        SessionDescription::new(SdpType::Offer, String::from_utf8_lossy(data).into_owned());
    let summary = sdp::summarize(&description);
    let Ok(checked) = sdp::check(&description) else { return };
    assert_eq!(
        checked.media,
        summary.media,
        "check (left) and summarize (right) disagree on the m-sections of {}",
        excerpt(data)
    );
}

/// A candidate (the input, if it is UTF-8) parses without panicking; what parses prints as
/// text that parses again to an equal candidate, and so does what each privacy filter keeps
/// of it (the relay forwards those).
pub fn candidate_round_trip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = text.parse::<Candidate>();
    // The same text as a slice of a larger shared text (as a decoded frame holds it) parses
    // alike, and a candidate that keeps the shared text keeps exactly its printed form.
    let source: Arc<str> = Arc::from(format!("[{text}]"));
    let shared = SharedStr::slice(&source, 1..source.len() - 1).expect("the text in brackets");
    let from_shared = Candidate::parse_shared(&shared);
    assert_eq!(from_shared, parsed, "`{text}` parses differently from a shared text");
    // The source, `shared` and a candidate that kept it: three owners.
    if let Ok(kept) = &from_shared
        && Arc::strong_count(&source) == 3
    {
        assert_eq!(kept.as_str(), text, "a shared text kept for `{text}` is not its printed form");
    }
    let Ok(candidate) = parsed else { return };
    let printed = reparse(&candidate, text, "the parser");
    assert_eq!(printed, candidate, "`{text}` prints as a different candidate");
    for policy in [CandidatePolicy::All, CandidatePolicy::RelayOnly] {
        let strict = CandidateFilter::new(policy);
        for filter in [strict, strict.dangerous_allow_unroutable()] {
            if let Ok(kept) = filter.apply(candidate.clone()) {
                let what = format!("the {policy:?} filter");
                assert_eq!(reparse(&kept, text, &what), kept, "{what} keeps `{text}` unstably");
            }
        }
    }
}

/// Prints a candidate that `source` became through `what` and parses it again; panics when
/// that fails.
fn reparse(candidate: &Candidate, source: &str, what: &str) -> Candidate {
    let printed = candidate.to_string();
    printed.parse().unwrap_or_else(|error| {
        panic!(
            "{what} takes {} ({} bytes) to {} ({} bytes), which does not parse: {error}",
            excerpt(source.as_bytes()),
            source.len(),
            excerpt(printed.as_bytes()),
            printed.len()
        )
    })
}

/// An ICE server URL (the input, if it is UTF-8) parses without panicking; what parses prints
/// as text that parses again to an equal URL.
pub fn ice_url_round_trip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(url) = text.parse::<IceUrl>() else { return };
    let printed = url.to_string();
    match printed.parse::<IceUrl>() {
        Ok(again) => assert_eq!(again, url, "`{text}` prints as `{printed}`, a different url"),
        Err(error) => panic!("`{text}` parses, but prints as `{printed}`, which does not: {error}"),
    }
}

/// The instant every script's clock starts from: taken once per process, so that a run's
/// timings are offsets from a fixed base.
fn base_instant() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    #[allow(clippy::disallowed_methods)] // the one real instant, the base of the scripts' clocks
    *BASE.get_or_init(Instant::now)
}

/// The start of `bytes`, lossily as text, with its length: for panic messages.
fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{text:?}… ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}
