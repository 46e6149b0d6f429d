//! The JSON Schema of protocol v1 (`velaro-call-protocol/schema/v1.schema.json`) for non-Rust
//! clients: the checked-in file is exactly what `json_schema()` builds, it is a valid draft
//! 2020-12 schema, every v1 fixture validates against it, and it agrees with `decode` on frames
//! at and past every limit. `VELARO_BLESS=1 cargo test -p velaro-tests --test protocol_schema`
//! rewrites the file from the crate (review the diff before committing).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use velaro_tests::fixtures::fixtures_dir;

use jsonschema::Validator;
use serde_json::{Value, json};
use velaro_call_protocol::limits::{
    MAX_CANDIDATES, MAX_CAPABILITIES, MAX_DETAIL_LEN, MAX_ID_LEN, MAX_LOCALE_LEN, MAX_M_SECTIONS,
    MAX_PROMPT_LEN, MAX_SDP_LEN, MAX_SEQ, MAX_STREAMS, MAX_TOKEN_LEN,
};
use velaro_call_protocol::message::answer::{CancelBody, DeclineBody};
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode};
use velaro_call_protocol::message::invite::Capability;
use velaro_call_protocol::message::media::{
    AudioOnlyReason, DisplaySurface, QualityLevel, StreamPurpose,
};
use velaro_call_protocol::resume::MAX_CURSOR_ENTRIES;
use velaro_call_protocol::schema::{SCHEMA_DIALECT, SCHEMA_ID, json_schema};
use velaro_call_protocol::{Device, MediaError, Message, Reason, VERSION, decode};

fn fixtures() -> PathBuf {
    fixtures_dir().join("v1")
}

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../velaro-call-protocol/schema/v1.schema.json")
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| jsonschema::draft202012::new(&json_schema()).unwrap())
}

fn schema_errors(frame: &Value) -> Vec<String> {
    validator().iter_errors(frame).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

/// What the decoder and the schema each say of a frame: `Ok` or why not.
fn verdicts(frame: &Value) -> (Result<(), String>, Result<(), Vec<String>>) {
    let bytes = serde_json::to_vec(frame).unwrap();
    let decoded = decode(&bytes).map(drop).map_err(|e| e.to_string());
    let errors = schema_errors(frame);
    (decoded, if errors.is_empty() { Ok(()) } else { Err(errors) })
}

fn assert_both_accept(what: &str, frame: &Value) {
    let (decoded, validated) = verdicts(frame);
    assert!(decoded.is_ok(), "{what}: decode refused it: {decoded:?}");
    assert!(validated.is_ok(), "{what}: the schema refused it: {validated:?}");
}

fn assert_both_refuse(what: &str, frame: &Value) {
    let (decoded, validated) = verdicts(frame);
    assert!(decoded.is_err(), "{what}: decode accepted it");
    assert!(validated.is_err(), "{what}: the schema accepted it");
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// A canonical fixture, to mutate.
fn fixture(name: &str) -> Value {
    read_json(&fixtures().join(name))
}

/// `fixture` with the value at `pointer` replaced (its parent must exist).
fn with(mut frame: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = frame.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("{pointer}: parent is {other}"),
    }
    frame
}

/// `fixture` without the field at `pointer`.
fn without(mut frame: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed =
        frame.pointer_mut(parent).and_then(Value::as_object_mut).and_then(|map| map.remove(key));
    assert!(removed.is_some(), "no {pointer}");
    frame
}

/// A frame of `type` with `body` (left out when `None`).
fn frame_of(message_type: &str, body: Option<Value>) -> Value {
    let mut frame = json!({
        "type": message_type,
        "version": VERSION,
        "conversation_id": "conv-1",
        "call_id": "call-1",
        "party_id": "tab-1",
        "role": "agent",
        "seq": 1
    });
    if let Some(body) = body {
        frame["body"] = body;
    }
    frame
}

fn candidate(index: usize) -> Value {
    json!({
        "candidate": format!("candidate:{index} 1 udp 2122260223 192.0.2.1 {} typ host", 40000 + index),
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "lZ7j"
    })
}

/// An SDP with `sections` m-sections, padded with attribute lines to exactly `len` bytes (when
/// longer than the bare SDP).
fn sdp(sections: usize, len: usize) -> String {
    let mut sdp = String::from("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    for mid in 0..sections {
        sdp.push_str(&format!("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:{mid}\r\n"));
    }
    while sdp.len() + 40 < len {
        sdp.push_str("a=x-padding\r\n");
    }
    if sdp.len() < len {
        let fill = "x".repeat(len - sdp.len() - "a=\r\n".len());
        sdp.push_str(&format!("a={fill}\r\n"));
    }
    sdp
}

#[test]
fn checked_in_schema_is_what_the_crate_builds() {
    let mut generated = serde_json::to_string_pretty(&json_schema()).unwrap();
    generated.push('\n');
    let path = schema_path();
    if std::env::var_os("VELARO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let file = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path:?}: {e} (VELARO_BLESS=1 writes it)"));
    assert!(
        file == generated,
        "{path:?} is stale: VELARO_BLESS=1 cargo test -p velaro-tests --test protocol_schema \
         rewrites it"
    );
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = json_schema();
    assert_eq!(schema["$schema"], SCHEMA_DIALECT);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["$id"], SCHEMA_ID);
    assert!(schema["title"].is_string() && schema["description"].is_string());
    if let Err(error) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("{error} at {}", error.instance_path());
    }
    // The meta-schema check does look: a misspelt type is caught.
    let broken = with(schema, "/$defs/Id/type", json!("strng"));
    assert!(!jsonschema::draft202012::meta::is_valid(&broken));
}

#[test]
fn schema_never_closes_an_object() {
    fn walk(value: &Value, path: &str) {
        match value {
            Value::Object(map) => {
                assert_ne!(map.get("additionalProperties"), Some(&Value::Bool(false)), "{path}");
                assert!(!map.contains_key("unevaluatedProperties"), "{path}");
                for (key, value) in map {
                    walk(value, &format!("{path}/{key}"));
                }
            }
            Value::Array(items) => {
                for (index, value) in items.iter().enumerate() {
                    walk(value, &format!("{path}/{index}"));
                }
            }
            _ => {}
        }
    }
    walk(&json_schema(), "");
}

#[test]
fn every_fixture_validates() {
    let mut checked = Vec::new();
    for dir in [fixtures(), fixtures().join("compat")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let frame = read_json(&path);
                let errors = schema_errors(&frame);
                assert!(errors.is_empty(), "{path:?}: {errors:#?}");
                checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    // One canonical fixture per message type at least, and the compat ones.
    assert!(checked.len() >= Message::TYPES.len() + 6, "{checked:?}");
    for name in ["unknown-type.json", "unknown-fields.json", "hangup-without-body.json"] {
        assert!(checked.iter().any(|c| c == name), "{name} not checked");
    }
}

#[test]
fn every_known_type_selects_its_body_schema() {
    let schema = json_schema();
    let branches = schema["allOf"].as_array().unwrap();
    assert_eq!(branches.len(), Message::TYPES.len());
    for message_type in Message::TYPES {
        let branch = branches
            .iter()
            .find(|b| b["if"]["properties"]["type"]["const"] == *message_type)
            .unwrap_or_else(|| panic!("no branch for {message_type}"));
        let target = branch["then"]["properties"]["body"]["$ref"].as_str().unwrap();
        let name = target.strip_prefix("#/$defs/").unwrap();
        assert!(schema["$defs"][name].is_object(), "{message_type}: no {target}");
        // A body that is not even an object is refused for every known type.
        assert_both_refuse(message_type, &frame_of(message_type, Some(json!("x"))));
    }
}

#[test]
fn body_is_required_exactly_when_the_decoder_needs_one() {
    let (mut optional, mut required) = (0, 0);
    for message_type in Message::TYPES {
        for body in [None, Some(json!({}))] {
            let frame = frame_of(message_type, body.clone());
            let (decoded, validated) = verdicts(&frame);
            assert_eq!(
                decoded.is_ok(),
                validated.is_ok(),
                "{message_type} with body {body:?}: decode {decoded:?}, schema {validated:?}"
            );
            if body.is_none() {
                if decoded.is_ok() {
                    optional += 1;
                } else {
                    required += 1;
                }
            }
        }
    }
    // Both kinds exist: call.hangup needs no body, call.invite does.
    assert!(optional > 0 && required > 0, "{optional} optional, {required} required");
    assert_both_accept("hangup", &frame_of("call.hangup", None));
    assert_both_refuse("invite", &frame_of("call.invite", None));
}

#[test]
fn unknown_types_take_any_object_body() {
    for body in [None, Some(json!({})), Some(json!({"emoji": "👍", "n": [1, 2]}))] {
        assert_both_accept("call.reaction", &frame_of("call.reaction", body));
    }
    // The schema of a known type is not applied to an unknown one.
    assert_both_accept("call.invite.v2", &frame_of("call.invite.v2", Some(json!({"prompt": 3}))));
}

#[test]
fn open_enums_list_their_known_values_and_take_new_tokens() {
    let schema = json_schema();
    for (name, known) in [
        ("ReasonCode", Reason::KNOWN),
        ("Device", Device::KNOWN),
        ("MediaError", MediaError::KNOWN),
        ("Capability", Capability::KNOWN),
        ("StreamPurpose", StreamPurpose::KNOWN),
        ("DisplaySurface", DisplaySurface::KNOWN),
        ("AudioOnlyReason", AudioOnlyReason::KNOWN),
        ("QualityLevel", QualityLevel::KNOWN),
        ("RejectCode", RejectCode::KNOWN),
    ] {
        let def = &schema["$defs"][name];
        assert_eq!(def["examples"], json!(known), "{name}");
        assert_eq!(def["anyOf"][0]["enum"], json!(known), "{name}");
        let enum_validator = jsonschema::draft202012::new(def).unwrap();
        for value in known {
            assert!(enum_validator.is_valid(&json!(value)), "{name}: {value}");
        }
        let longest = "x".repeat(MAX_TOKEN_LEN);
        assert!(enum_validator.is_valid(&json!("from_a.newer-peer")), "{name}");
        assert!(enum_validator.is_valid(&json!(longest)), "{name}");
        for bad in [json!(""), json!("has space"), json!(format!("{longest}x")), json!(3)] {
            assert!(!enum_validator.is_valid(&bad), "{name}: {bad}");
        }
    }
    // End to end, through the decoder too.
    let invite = fixture("invite.json");
    let decline = fixture("decline.json");
    assert_both_accept(
        "new capability",
        &with(invite.clone(), "/body/capabilities/0", json!("holograms")),
    );
    assert_both_accept(
        "new device",
        &with(decline.clone(), "/body/reason/device", json!("speaker")),
    );
    assert_both_refuse(
        "capability with a space",
        &with(invite, "/body/capabilities/0", json!("screen share")),
    );
    assert_both_refuse(
        "reason code with a space",
        &with(decline, "/body/reason", json!({"code": "has space"})),
    );
}

#[test]
fn defaults_are_the_decoders() {
    let schema = json_schema();
    for (name, body) in [
        (
            "DeclineBody",
            serde_json::to_value(serde_json::from_value::<DeclineBody>(json!({})).unwrap()),
        ),
        (
            "CancelBody",
            serde_json::to_value(serde_json::from_value::<CancelBody>(json!({})).unwrap()),
        ),
        (
            "HangupBody",
            serde_json::to_value(serde_json::from_value::<HangupBody>(json!({})).unwrap()),
        ),
    ] {
        let default = &schema["$defs"][name]["properties"]["reason"]["default"];
        assert_eq!(*default, body.unwrap()["reason"], "{name}");
    }
    let codes = ["DeclineBody", "CancelBody", "HangupBody"]
        .map(|name| schema["$defs"][name]["properties"]["reason"]["default"]["code"].clone());
    assert_eq!(codes, [json!("declined"), json!("cancelled"), json!("user_hangup")]);
}

#[test]
fn tolerated_variants_are_accepted_by_both() {
    let invite = fixture("invite.json");
    let candidates = fixture("candidates-chromium.json");
    let media = fixture("media.json");
    for (what, frame) in [
        ("unknown envelope field", with(invite.clone(), "/sent_at", json!("2024-05-01"))),
        ("unknown body field", with(invite.clone(), "/body/priority", json!(1))),
        ("unknown prompt field", with(invite.clone(), "/body/prompt/x", json!(null))),
        ("unknown ice field", with(invite.clone(), "/body/ice/bundlePolicy", json!("max-bundle"))),
        ("locale null", with(invite.clone(), "/body/prompt/locale", json!(null))),
        ("ice null", with(invite.clone(), "/body/ice", json!(null))),
        ("ice empty", with(invite.clone(), "/body/ice", json!({}))),
        ("no capabilities", without(invite.clone(), "/body/capabilities")),
        (
            "prompt with newline and tab",
            with(invite.clone(), "/body/prompt/text", json!("Call?\n\tYes")),
        ),
        ("prompt in Greek", with(invite.clone(), "/body/prompt/text", json!("Βιντεοκλήση;"))),
        (
            "single url string",
            with(
                invite.clone(),
                "/body/ice/iceServers",
                json!([{"urls": "stun:stun.example.com"}]),
            ),
        ),
        (
            "stun url of an IPv6 address",
            with(
                invite.clone(),
                "/body/ice/iceServers",
                json!([{"urls": ["stun:[2001:db8::1]:3478", "STUNS:stun.example.com"]}]),
            ),
        ),
        (
            "turn url with an explicit transport",
            with(
                invite.clone(),
                "/body/ice/iceServers/0/urls/1",
                json!("TURN:turn.example.com:3478?Transport=UDP"),
            ),
        ),
        (
            "turn url in capitals",
            with(invite.clone(), "/body/ice/iceServers/0/urls", json!("TURN:turn.example.com")),
        ),
        (
            "end of candidates only",
            with(candidates.clone(), "/body/candidates", json!([{"candidate": ""}])),
        ),
        ("empty sdpMid", with(candidates.clone(), "/body/candidates/0/sdpMid", json!(""))),
        ("null sdpMid", with(candidates.clone(), "/body/candidates/0/sdpMid", json!(null))),
        (
            "null sdpMLineIndex",
            with(candidates.clone(), "/body/candidates/0/sdpMLineIndex", json!(null)),
        ),
        (
            "a= candidate line",
            with(
                candidates.clone(),
                "/body/candidates/0/candidate",
                json!(
                    "a=candidate:1 1 UDP 2122260223 192.0.2.1 5000 typ srflx raddr 0.0.0.0 rport 0\r\n"
                ),
            ),
        ),
        ("no candidates", with(candidates, "/body/candidates", json!([]))),
        ("no streams", with(media.clone(), "/body", json!({}))),
        (
            "stream with defaults",
            with(media.clone(), "/body/streams", json!({"s": {"purpose": "camera"}})),
        ),
        (
            "null display surface",
            with(
                media.clone(),
                "/body/streams/8a6f3512-8f6b-4986-addf-8d0800b0df80/display_surface",
                json!(null),
            ),
        ),
        ("null audio_only", with(media, "/body/audio_only", json!(null))),
        ("null measurements", with(fixture("quality.json"), "/body/rtt_ms", json!(null))),
        ("integer loss", with(fixture("quality.json"), "/body/loss_pct", json!(0))),
        ("rejected without detail", without(fixture("rejected.json"), "/body/detail")),
        (
            "unknown reason with a device",
            with(fixture("hangup.json"), "/body/reason/device", json!("camera")),
        ),
        ("decline without reason", with(fixture("decline.json"), "/body", json!({}))),
        ("ack of nothing", with(fixture("ack.json"), "/body/seen", json!(""))),
        ("ack of two senders", with(fixture("ack.json"), "/body/seen", json!("a:1,relay.x:9"))),
    ] {
        assert_both_accept(what, &frame);
    }
}

#[test]
fn refused_frames_are_refused_by_both() {
    let invite = fixture("invite.json");
    let candidates = fixture("candidates-chromium.json");
    let description = fixture("description-offer-chromium.json");
    let decline = fixture("decline.json");
    let media = fixture("media.json");
    let sixty_five: Vec<Value> = (0..=MAX_CANDIDATES).map(candidate).collect();
    for (what, frame) in [
        ("id with a space", with(invite.clone(), "/party_id", json!("visitor tab"))),
        ("empty id", with(invite.clone(), "/call_id", json!(""))),
        ("non-ASCII id", with(invite.clone(), "/conversation_id", json!("convé"))),
        ("role misspelt", with(invite.clone(), "/role", json!("vistor"))),
        ("role capitalized", with(invite.clone(), "/role", json!("Agent"))),
        ("version as a string", with(invite.clone(), "/version", json!("1"))),
        ("version 2", with(invite.clone(), "/version", json!(2))),
        ("no version", without(invite.clone(), "/version")),
        ("no type", without(invite.clone(), "/type")),
        ("type not a string", with(invite.clone(), "/type", json!(7))),
        ("no call_id", without(invite.clone(), "/call_id")),
        ("seq 0", with(invite.clone(), "/seq", json!(0))),
        ("seq negative", with(invite.clone(), "/seq", json!(-1))),
        ("seq as a string", with(invite.clone(), "/seq", json!("1"))),
        ("lifetime 5 s", with(invite.clone(), "/body/lifetime_ms", json!(5000))),
        ("no lifetime", without(invite.clone(), "/body/lifetime_ms")),
        ("no prompt", without(invite.clone(), "/body/prompt")),
        ("blank prompt", with(invite.clone(), "/body/prompt/text", json!(" \n\t "))),
        ("prompt with a bell", with(invite.clone(), "/body/prompt/text", json!("Call?\u{7}"))),
        ("prompt with a CR", with(invite.clone(), "/body/prompt/text", json!("Call?\r\n"))),
        ("locale with underscore", with(invite.clone(), "/body/prompt/locale", json!("pt_BR"))),
        ("media without video", without(invite.clone(), "/body/media/video")),
        ("media as strings", with(invite.clone(), "/body/media/audio", json!("yes"))),
        ("capabilities null", with(invite.clone(), "/body/capabilities", json!(null))),
        ("turn without credential", without(invite.clone(), "/body/ice/iceServers/0/credential")),
        (
            "turn with null username",
            with(invite.clone(), "/body/ice/iceServers/0/username", json!(null)),
        ),
        ("no urls", with(invite.clone(), "/body/ice/iceServers", json!([{}]))),
        ("empty urls", with(invite.clone(), "/body/ice/iceServers/0/urls", json!([]))),
        (
            "http url",
            with(invite.clone(), "/body/ice/iceServers/0/urls", json!("https://turn.example.com")),
        ),
        (
            "url with a path",
            with(invite.clone(), "/body/ice/iceServers/0/urls/1", json!("turn:turn.example.com/x")),
        ),
        (
            "url with userinfo",
            with(
                invite.clone(),
                "/body/ice/iceServers/0/urls/1",
                json!("turn:user@turn.example.com"),
            ),
        ),
        (
            "url with an unknown query",
            with(
                invite.clone(),
                "/body/ice/iceServers/0/urls/1",
                json!("turn:turn.example.com?transport=sctp"),
            ),
        ),
        ("ice policy none", with(invite.clone(), "/body/ice/iceTransportPolicy", json!("none"))),
        ("rollback", with(description.clone(), "/body/description/type", json!("rollback"))),
        ("pranswer", with(description.clone(), "/body/description/type", json!("pranswer"))),
        ("no negotiation id", without(description.clone(), "/body/negotiation_id")),
        ("no sdp", without(description, "/body/description/sdp")),
        ("denied without device", without(decline.clone(), "/body/reason/device")),
        ("denied with null error", with(decline.clone(), "/body/reason/error", json!(null))),
        ("reason as a string", with(decline.clone(), "/body/reason", json!("declined"))),
        ("reason null", with(decline, "/body/reason", json!(null))),
        ("65 candidates", with(candidates.clone(), "/body/candidates", json!(sixty_five))),
        (
            "garbage candidate",
            with(candidates.clone(), "/body/candidates/0/candidate", json!("hello")),
        ),
        (
            "candidate of unknown type",
            with(
                candidates.clone(),
                "/body/candidates/0/candidate",
                json!("candidate:1 1 udp 1 192.0.2.1 5000 typ nat"),
            ),
        ),
        ("candidate missing", without(candidates.clone(), "/body/candidates/0/candidate")),
        (
            "sdpMid with a space",
            with(candidates.clone(), "/body/candidates/0/sdpMid", json!("a b")),
        ),
        (
            "ufrag with a dash",
            with(candidates.clone(), "/body/candidates/0/usernameFragment", json!("a-b")),
        ),
        ("negative sdpMLineIndex", with(candidates, "/body/candidates/0/sdpMLineIndex", json!(-1))),
        ("no purpose", with(media.clone(), "/body/streams", json!({"s": {}}))),
        (
            "stream id with a quote",
            with(media.clone(), "/body/streams", json!({"a\"b": {"purpose": "camera"}})),
        ),
        ("streams null", with(media.clone(), "/body/streams", json!(null))),
        (
            "mute as a number",
            with(
                media.clone(),
                "/body/streams",
                json!({"s": {"purpose": "camera", "audio_muted": 1}}),
            ),
        ),
        ("audio_only without reason", with(media, "/body/audio_only", json!({}))),
        ("loss 101 %", with(fixture("quality.json"), "/body/loss_pct", json!(101))),
        ("negative rtt", with(fixture("quality.json"), "/body/rtt_ms", json!(-5))),
        ("no level", without(fixture("quality.json"), "/body/level")),
        ("detail with a NUL", with(fixture("rejected.json"), "/body/detail", json!("a\u{0}b"))),
        ("detail null", with(fixture("rejected.json"), "/body/detail", json!(null))),
        ("no reject code", without(fixture("rejected.json"), "/body/code")),
        ("accept without body", without(fixture("accept.json"), "/body")),
        (
            "select_answer with a bad id",
            with(fixture("select_answer.json"), "/body/selected_party_id", json!("a/b")),
        ),
        ("hangup body null", with(fixture("hangup.json"), "/body", json!(null))),
        ("hangup body a string", with(fixture("hangup.json"), "/body", json!("bye"))),
        ("ack without seen", with(fixture("ack.json"), "/body", json!({}))),
        ("ack of seq 0", with(fixture("ack.json"), "/body/seen", json!("agent-tab-1:0"))),
        ("ack entry without seq", with(fixture("ack.json"), "/body/seen", json!("agent-tab-1"))),
        ("ack with a trailing comma", with(fixture("ack.json"), "/body/seen", json!("a:1,"))),
    ] {
        assert_both_refuse(what, &frame);
    }
}

/// A resume cursor of `entries` senders.
fn cursor(entries: usize) -> String {
    (0..entries).map(|i| format!("p{i}:{}", i + 1)).collect::<Vec<_>>().join(",")
}

/// Each limit: the value at it passes both checks, one past it fails both.
#[test]
fn limits_agree_at_their_boundaries() {
    let invite = fixture("invite.json");
    let candidates = fixture("candidates-chromium.json");
    let description = fixture("description-offer-chromium.json");
    let media = fixture("media.json");
    let streams = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("s{i}"), json!({"purpose": "camera"})))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let capabilities = |n: usize| json!(vec!["trickle"; n]);
    let lifetime = |secs: u64| json!(secs * 1000);
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "id length",
            with(invite.clone(), "/call_id", json!("c".repeat(MAX_ID_LEN))),
            with(invite.clone(), "/call_id", json!("c".repeat(MAX_ID_LEN + 1))),
        ),
        (
            "seq",
            with(invite.clone(), "/seq", json!(MAX_SEQ)),
            with(invite.clone(), "/seq", json!(MAX_SEQ + 1)),
        ),
        (
            "shortest lifetime",
            with(invite.clone(), "/body/lifetime_ms", lifetime(10)),
            with(invite.clone(), "/body/lifetime_ms", json!(9_999)),
        ),
        (
            "longest lifetime",
            with(invite.clone(), "/body/lifetime_ms", lifetime(600)),
            with(invite.clone(), "/body/lifetime_ms", json!(600_001)),
        ),
        (
            "prompt length",
            with(invite.clone(), "/body/prompt/text", json!("p".repeat(MAX_PROMPT_LEN))),
            with(invite.clone(), "/body/prompt/text", json!("p".repeat(MAX_PROMPT_LEN + 1))),
        ),
        (
            "locale length",
            with(invite.clone(), "/body/prompt/locale", json!("l".repeat(MAX_LOCALE_LEN))),
            with(invite.clone(), "/body/prompt/locale", json!("l".repeat(MAX_LOCALE_LEN + 1))),
        ),
        (
            "capabilities",
            with(invite.clone(), "/body/capabilities", capabilities(MAX_CAPABILITIES)),
            with(invite.clone(), "/body/capabilities", capabilities(MAX_CAPABILITIES + 1)),
        ),
        (
            "capability length",
            with(invite.clone(), "/body/capabilities/0", json!("c".repeat(MAX_TOKEN_LEN))),
            with(invite, "/body/capabilities/0", json!("c".repeat(MAX_TOKEN_LEN + 1))),
        ),
        (
            "candidates",
            with(
                candidates.clone(),
                "/body/candidates",
                json!((0..MAX_CANDIDATES).map(candidate).collect::<Vec<_>>()),
            ),
            with(
                candidates.clone(),
                "/body/candidates",
                json!((0..=MAX_CANDIDATES).map(candidate).collect::<Vec<_>>()),
            ),
        ),
        (
            "sdpMLineIndex",
            with(candidates.clone(), "/body/candidates/0/sdpMLineIndex", json!(MAX_M_SECTIONS - 1)),
            with(candidates, "/body/candidates/0/sdpMLineIndex", json!(MAX_M_SECTIONS)),
        ),
        (
            "sdp length",
            with(description.clone(), "/body/description/sdp", json!(sdp(2, MAX_SDP_LEN))),
            with(description, "/body/description/sdp", json!(sdp(2, MAX_SDP_LEN + 1))),
        ),
        (
            "streams",
            with(media.clone(), "/body/streams", streams(MAX_STREAMS)),
            with(media.clone(), "/body/streams", streams(MAX_STREAMS + 1)),
        ),
        (
            "stream id length",
            with(media.clone(), "/body/streams", json!({"s".repeat(64): {"purpose": "screen"}})),
            with(media, "/body/streams", json!({"s".repeat(65): {"purpose": "screen"}})),
        ),
        (
            "detail length",
            with(fixture("rejected.json"), "/body/detail", json!("d".repeat(MAX_DETAIL_LEN))),
            with(fixture("rejected.json"), "/body/detail", json!("d".repeat(MAX_DETAIL_LEN + 1))),
        ),
        (
            "loss",
            with(fixture("quality.json"), "/body/loss_pct", json!(100.0)),
            with(fixture("quality.json"), "/body/loss_pct", json!(100.5)),
        ),
        (
            "ack entries",
            with(fixture("ack.json"), "/body/seen", json!(cursor(MAX_CURSOR_ENTRIES))),
            with(fixture("ack.json"), "/body/seen", json!(cursor(MAX_CURSOR_ENTRIES + 1))),
        ),
    ];
    for (what, at_limit, past_limit) in &cases {
        assert_both_accept(&format!("{what} at the limit"), at_limit);
        assert_both_refuse(&format!("{what} past the limit"), past_limit);
    }
    // The exact sizes the cases rely on.
    let sdp_at_limit = sdp(2, MAX_SDP_LEN);
    assert_eq!(sdp_at_limit.len(), MAX_SDP_LEN, "pad differently");
}
