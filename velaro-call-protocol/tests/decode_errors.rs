//! Every decode error path, each asserting its specific error and the field it names.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use velaro_call_protocol::limits::{MAX_FRAME_LEN, MAX_SEQ};
use velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_protocol::{DecodeError, ValueError, decode};

fn frame(message_type: &str, body: Value) -> Value {
    let mut frame = json!({
        "type": message_type, "version": 1, "conversation_id": "conv-1", "call_id": "call-1",
        "party_id": "tab-1", "role": "agent", "seq": 1,
    });
    frame["body"] = body;
    frame
}

fn invite() -> Value {
    frame(
        "call.invite",
        json!({"prompt": {"text": "Video call?"}, "media": {"audio": true, "video": true}, "lifetime_ms": 60000}),
    )
}

fn candidates(lines: &[&str]) -> Value {
    let inits: Vec<Value> =
        lines.iter().map(|c| json!({"candidate": c, "sdpMid": "0", "sdpMLineIndex": 0})).collect();
    frame("call.candidates", json!({ "candidates": inits }))
}

fn decode_value(value: &Value) -> Result<velaro_call_protocol::Envelope, DecodeError> {
    decode(&serde_json::to_vec(value).unwrap())
}

fn with(mut value: Value, pointer: &str, replacement: Value) -> Value {
    *value.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = replacement;
    value
}

fn without(mut value: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value
        .pointer_mut(if parent.is_empty() { "" } else { parent })
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    value
}

fn field_of(error: &DecodeError) -> &str {
    match error {
        DecodeError::MissingField { field }
        | DecodeError::DuplicateField { field }
        | DecodeError::WrongType { field, .. }
        | DecodeError::BadValue { field, .. }
        | DecodeError::Invalid { field, .. } => field,
        other => panic!("{other:?} names no field"),
    }
}

#[test]
fn the_base_frames_decode() {
    assert!(decode_value(&invite()).is_ok());
    assert!(decode_value(&candidates(&["candidate:1 1 udp 1 192.0.2.1 9 typ host"])).is_ok());
}

#[test]
fn frame_over_64_kib_is_refused_before_parsing() {
    let frame = vec![b' '; MAX_FRAME_LEN + 1];
    assert_eq!(
        decode(&frame),
        Err(DecodeError::FrameTooLarge { len: MAX_FRAME_LEN + 1, max: MAX_FRAME_LEN })
    );
    assert_eq!(decode(&frame).unwrap_err().reject_code(), RejectCode::TooLarge);
}

#[test]
fn invalid_utf8_names_its_offset() {
    let mut bytes = serde_json::to_vec(&invite()).unwrap();
    let at = bytes.windows(5).position(|w| w == b"Video").unwrap();
    bytes[at] = 0xff;
    assert_eq!(decode(&bytes), Err(DecodeError::InvalidUtf8 { offset: at }));
}

#[test]
fn top_level_must_be_an_object() {
    for text in ["[]", "\"call.invite\"", "1", "null", "  true"] {
        assert_eq!(decode(text.as_bytes()), Err(DecodeError::NotAnObject), "{text}");
    }
}

#[test]
fn malformed_and_truncated_json_is_a_syntax_error() {
    let not_json = ["hello", "<html>", "[1,", "'x'", "\u{a0}{}", "[] []"];
    for text in ["", "{", "{\"type\":", "{\"type\" \"x\"}", "{'type':1}", "{\"seq\":01}"]
        .iter()
        .chain(&not_json)
    {
        assert!(
            matches!(decode(text.as_bytes()), Err(DecodeError::Syntax { .. })),
            "{text}: {:?}",
            decode(text.as_bytes())
        );
    }
    let Err(DecodeError::Syntax { line, column, .. }) = decode(b"{\n  \"type\": tru }") else {
        panic!()
    };
    assert_eq!((line, column), (2, 14));
}

#[test]
fn trailing_data_after_the_document() {
    let mut bytes = serde_json::to_vec(&invite()).unwrap();
    bytes.extend_from_slice(b" {}");
    assert!(matches!(decode(&bytes), Err(DecodeError::TrailingData { line: 1, .. })));
    // Whitespace after the document is fine.
    let mut bytes = serde_json::to_vec(&invite()).unwrap();
    bytes.extend_from_slice(b"\r\n");
    assert!(decode(&bytes).is_ok());
}

#[test]
fn missing_fields_name_their_path() {
    let cases = [
        (without(invite(), "/call_id"), "call_id"),
        (without(invite(), "/type"), "type"),
        (without(invite(), "/version"), "version"),
        (without(invite(), "/seq"), "seq"),
        (without(invite(), "/body/prompt"), "body.prompt"),
        (without(invite(), "/body/prompt/text"), "body.prompt.text"),
        (without(invite(), "/body"), "body.prompt"),
    ];
    for (frame, field) in cases {
        assert_eq!(
            decode_value(&frame),
            Err(DecodeError::MissingField { field: field.into() }),
            "{field}"
        );
    }
}

#[test]
fn duplicate_fields_are_refused_at_any_depth() {
    let text = serde_json::to_string(&invite()).unwrap();
    let top = text.replacen("\"seq\":1", "\"seq\":1,\"seq\":2", 1);
    assert_eq!(decode(top.as_bytes()), Err(DecodeError::DuplicateField { field: "seq".into() }));
    let nested = text.replacen("\"audio\":true", "\"audio\":true,\"audio\":false", 1);
    assert_eq!(
        decode(nested.as_bytes()),
        Err(DecodeError::DuplicateField { field: "body.media.audio".into() })
    );
    let body = text.replacen("\"body\":", "\"body\":{},\"body\":", 1);
    assert_eq!(decode(body.as_bytes()), Err(DecodeError::DuplicateField { field: "body".into() }));
}

#[test]
fn wrong_json_types_name_their_field() {
    let cases = [
        (with(invite(), "/seq", json!("1")), "seq"),
        (with(invite(), "/version", json!("1")), "version"),
        (with(invite(), "/call_id", json!(7)), "call_id"),
        (with(invite(), "/body/media/audio", json!("yes")), "body.media.audio"),
        (with(invite(), "/body", json!([])), "body"),
        (with(invite(), "/body/lifetime_ms", json!(60000.5)), "body.lifetime_ms"),
    ];
    for (frame, field) in cases {
        let error = decode_value(&frame).unwrap_err();
        assert!(matches!(error, DecodeError::WrongType { .. }), "{field}: {error:?}");
        assert_eq!(field_of(&error), field);
    }
}

#[test]
fn bad_values_name_their_field_and_say_why() {
    let cases = [
        (with(invite(), "/call_id", json!("call 1")), "call_id", "call_id has the character ' '"),
        (with(invite(), "/party_id", json!("")), "party_id", "party_id is empty"),
        (
            with(invite(), "/conversation_id", json!("c".repeat(256))),
            "conversation_id",
            "256 bytes long",
        ),
        (with(invite(), "/role", json!("admin")), "role", "unknown variant `admin`"),
        (with(invite(), "/seq", json!(-1)), "seq", "integer `-1`"),
        (
            candidates(&["candidate:1 1 udp 0 192.0.2.1 9 typ host"]),
            "body.candidates[0].candidate",
            "candidate priority `0` is invalid",
        ),
        (
            frame(
                "call.description",
                json!({"description": {"type": "rollback", "sdp": ""}, "negotiation_id": "n1"}),
            ),
            "body.description.type",
            "never travels",
        ),
        (
            frame("call.decline", json!({"reason": {"code": "media_permission_denied"}})),
            "body.reason",
            "needs `device` and `error`",
        ),
        (
            frame("call.hangup", json!({"reason": {"code": "bad code"}})),
            "body.reason",
            "reason code has the character",
        ),
    ];
    for (frame, field, needle) in cases {
        let error = decode_value(&frame).unwrap_err();
        let DecodeError::BadValue { detail, .. } = &error else { panic!("{field}: {error:?}") };
        assert_eq!(field_of(&error), field);
        assert!(detail.contains(needle), "{field}: {detail}");
    }
}

#[test]
fn integers_out_of_range() {
    let too_big = invite().to_string().replacen("\"seq\":1", "\"seq\":18446744073709551616", 1);
    let error = decode(too_big.as_bytes()).unwrap_err();
    assert_eq!(field_of(&error), "seq");
    let cases = [
        (
            with(invite(), "/seq", json!(0)),
            "seq",
            ValueError::OutOfRange { what: "seq", value: 0, min: 1, max: MAX_SEQ },
        ),
        (
            with(invite(), "/seq", json!(MAX_SEQ + 1)),
            "seq",
            ValueError::OutOfRange { what: "seq", value: MAX_SEQ + 1, min: 1, max: MAX_SEQ },
        ),
        (
            with(invite(), "/body/lifetime_ms", json!(5000)),
            "body",
            ValueError::OutOfRange { what: "lifetime_ms", value: 5000, min: 10_000, max: 600_000 },
        ),
    ];
    for (frame, field, error) in cases {
        assert_eq!(decode_value(&frame), Err(DecodeError::Invalid { field: field.into(), error }));
    }
}

#[test]
fn limits_of_the_body() {
    let long_prompt = with(invite(), "/body/prompt/text", json!("x".repeat(1025)));
    let error = decode_value(&long_prompt).unwrap_err();
    assert_eq!(
        error,
        DecodeError::Invalid {
            field: "body".into(),
            error: ValueError::TooLong { what: "prompt text", len: 1025, max: 1024 }
        }
    );
    assert_eq!(error.reject_code(), RejectCode::TooLarge);

    let line = "candidate:1 1 udp 1 192.0.2.1 9 typ host";
    assert!(decode_value(&candidates(&[line; 64])).is_ok());
    assert_eq!(
        decode_value(&candidates(&[line; 65])),
        Err(DecodeError::Invalid {
            field: "body.candidates".into(),
            error: ValueError::OutOfRange {
                what: "number of candidates",
                value: 65,
                min: 0,
                max: 64
            }
        })
    );
    let index = with(candidates(&[line]), "/body/candidates/0/sdpMLineIndex", json!(16));
    assert_eq!(field_of(&decode_value(&index).unwrap_err()), "body.candidates[0]");

    let description = |sdp: String| {
        frame(
            "call.description",
            json!({"description": {"type": "offer", "sdp": sdp}, "negotiation_id": "n1"}),
        )
    };
    assert_eq!(
        decode_value(&description("v=0\r\n".repeat(7000))),
        Err(DecodeError::Invalid {
            field: "body.description.sdp".into(),
            error: ValueError::TooLong { what: "sdp", len: 35000, max: 32 * 1024 }
        })
    );
    // The m-section count is the SDP check's, before it parses (see tests/sdp_checks.rs).
    let many = "v=0\r\n".to_owned() + &"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n".repeat(17);
    assert!(decode_value(&description(many)).is_ok());
    let loss = frame("call.quality", json!({"level": "poor", "loss_pct": 150.0}));
    assert_eq!(field_of(&decode_value(&loss).unwrap_err()), "body.loss_pct");
    let detail = frame("call.rejected", json!({"code": "invalid", "detail": "d".repeat(1025)}));
    assert_eq!(field_of(&decode_value(&detail).unwrap_err()), "body.detail");
    let streams: serde_json::Map<String, Value> =
        (0..9).map(|i| (format!("s{i}"), json!({"purpose": "camera"}))).collect();
    let media = frame("call.media", json!({ "streams": streams }));
    assert!(
        matches!(decode_value(&media), Err(DecodeError::BadValue { field, .. }) if field == "body.streams")
    );
}

#[test]
fn unsupported_version_is_its_own_error() {
    for version in [0, 2, 99] {
        let frame = with(
            with(invite(), "/version", json!(version)),
            "/body",
            json!({"anything": "v2 shaped"}),
        );
        let error = decode_value(&frame).unwrap_err();
        assert_eq!(error, DecodeError::UnsupportedVersion { version });
        assert_eq!(error.reject_code(), RejectCode::UnsupportedVersion);
    }
    // Also when the body comes before the version.
    let text = r#"{"body":{"x":1},"type":"call.invite","version":2,"conversation_id":"c","call_id":"k","party_id":"p","role":"agent","seq":1}"#;
    assert_eq!(decode(text.as_bytes()), Err(DecodeError::UnsupportedVersion { version: 2 }));
}

#[test]
fn every_error_displays_what_was_wrong() {
    let error = decode_value(&with(invite(), "/call_id", json!("a/b"))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `call_id` is invalid: call_id has the character '/' at byte 1, which is not allowed"
    );
    assert_eq!(error.reject_code(), RejectCode::Invalid);
}

/// Every JSON pointer to a value inside `value` (objects and arrays walked), the root excluded.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => {
            map.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v)).collect()
        }
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        let pointer = format!("{at}/{key}");
        out.push(pointer.clone());
        pointers(child, &pointer, out);
    }
}

/// An error's details speak the wire's terms: a value of the wrong kind anywhere in any
/// fixture never makes the decoder name a Rust type (`struct WireReason`, `enum Role`,
/// `a sequence`, `tuple`), which an integrator cannot look up.
#[test]
fn no_error_names_a_rust_type() {
    let dir = format!("{}/../tests/fixtures/v1", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let fixture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut all = Vec::new();
        pointers(&fixture, "", &mut all);
        for pointer in all {
            for replacement in
                [json!(5), json!("x"), json!([]), json!({}), json!(true), json!(null)]
            {
                let Err(error) =
                    decode_value(&with(fixture.clone(), &pointer, replacement.clone()))
                else {
                    continue;
                };
                checked += 1;
                let text = error.to_string();
                let rust = ["struct ", "enum ", "tuple", "Wire", "newtype", "unit variant"];
                if rust.iter().any(|rust| text.contains(rust)) {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    leaks.push(format!("{name} {pointer} = {replacement}: {text}"));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{} details name a Rust type:\n{}", leaks.len(), leaks.join("\n"));
    assert!(checked > 500, "only {checked} errors checked");
}
