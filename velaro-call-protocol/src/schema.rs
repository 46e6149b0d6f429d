//! A JSON Schema (draft 2020-12) of protocol v1, for clients written in other languages.
//!
//! [`json_schema`] builds the schema from this crate's own lists and limits ([`Message::TYPES`],
//! [`Reason::KNOWN`], the open enums' `KNOWN`, [`crate::limits`], [`VERSION`]), so it cannot drift
//! from what [`decode`](crate::decode) accepts. A copy is checked in at
//! `velaro-call-protocol/schema/v1.schema.json`; the `velaro-tests` package compares the two and
//! validates every v1 fixture against it.
//!
//! The schema describes one frame. Like the decoder it is tolerant: unknown fields are allowed
//! everywhere (`additionalProperties` is never `false`), an unknown `type` takes any object body,
//! and the open enums take any well-formed token besides the values listed. Some rules the
//! decoder checks are only approximated: lengths are in bytes on the wire and in characters in
//! JSON Schema, and the ICE candidate and URL grammars are only sketched by their patterns.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use velaro_ice_config::{
    IceTransportPolicy, MAX_CANDIDATE_LEN, MAX_CREDENTIAL_LEN, MAX_ICE_SERVERS, MAX_URL_LEN,
    MAX_URLS_PER_SERVER, MAX_USERNAME_LEN, Scheme, TurnTransport,
};

use crate::limits::{
    MAX_CANDIDATES, MAX_CAPABILITIES, MAX_DETAIL_LEN, MAX_ID_LEN, MAX_INVITE_LIFETIME,
    MAX_LOCALE_LEN, MAX_M_SECTIONS, MAX_PROMPT_LEN, MAX_SDP_LEN, MAX_SEQ, MAX_SHORT_TOKEN_LEN,
    MAX_STREAM_ID_LEN, MAX_STREAMS, MAX_TOKEN_LEN, MIN_INVITE_LIFETIME,
};
use crate::message::answer::{CancelBody, DeclineBody};
use crate::message::description::SdpType;
use crate::message::hangup::{HangupBody, RejectCode};
use crate::message::invite::Capability;
use crate::message::media::{AudioOnlyReason, DisplaySurface, QualityLevel, StreamPurpose};
use crate::{Device, MediaError, Message, Reason, Role, VERSION};

/// The `$id` of the v1 schema.
pub const SCHEMA_ID: &str = "https://velaro.invalid/schema/call-protocol/v1.json";

/// The JSON Schema dialect the schema is written in.
pub const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Builds the JSON Schema (draft 2020-12) of one v1 frame.
///
/// Every list and limit comes from this crate: the message types, reason codes and open enum
/// values, the limits of [`crate::limits`] (and of `velaro-ice-config` for the ICE
/// configuration), the id grammar and [`VERSION`]. Each known `type` requires its body shape
/// (through `if`/`then` on `type`); a frame without `body` reads as `{}`, so `body` is required
/// exactly for the types whose body has a required field. An unknown `type` takes any object
/// body, since peers keep messages they do not understand.
///
/// The checked-in copy is `serde_json::to_string_pretty(&json_schema())` plus a newline.
pub fn json_schema() -> Value {
    let mut defs = common_defs();
    let mut branches = Vec::new();
    for message_type in Message::TYPES {
        let Some((name, description, body)) = body_def(message_type) else {
            continue;
        };
        let requires_body = body
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|required| !required.is_empty());
        let body_ref = json!({ "$ref": format!("#/$defs/{name}") });
        let then = if requires_body {
            json!({ "properties": { "body": body_ref }, "required": ["body"] })
        } else {
            json!({ "properties": { "body": body_ref } })
        };
        branches.push(json!({
            "description": description,
            "if": {
                "properties": { "type": { "const": message_type } },
                "required": ["type"]
            },
            "then": then
        }));
        defs.insert(name.to_owned(), body);
    }
    json!({
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": format!("Velaro call protocol v{VERSION} frame"),
        "description": format!(
            "One frame of the Velaro call signaling protocol, version {VERSION}: a JSON object \
             carried as one text message over the host application's chat connection. Unknown \
             fields are ignored everywhere (never rejected), so a newer peer may add fields. A \
             frame of an unknown `type` is kept with its body, which may then be any object. \
             Lengths are counted in bytes of UTF-8 on the wire; JSON Schema counts characters, \
             so `maxLength` is exact for ASCII only. Integers are written without a fraction \
             or exponent (`1`, never `1.0`). Generated from the velaro-call-protocol crate: do \
             not edit by hand."
        ),
        "type": "object",
        "required": ["type", "version", "conversation_id", "call_id", "party_id", "role", "seq"],
        "properties": {
            "type": {
                "description": format!(
                    "The message type. Known in v{VERSION}: {}. Any other string is a message \
                     of a newer peer: it may be ignored, and the relay refuses to forward it.",
                    Message::TYPES.join(", ")
                ),
                "type": "string",
                "examples": Message::TYPES
            },
            "version": {
                "description": "The protocol version; a frame of another version is refused \
                                as unsupported.",
                "const": VERSION
            },
            "conversation_id": {
                "description": "The chat conversation the call belongs to.",
                "$ref": "#/$defs/Id"
            },
            "call_id": {
                "description": "The call; chosen by the inviting agent's client.",
                "$ref": "#/$defs/Id"
            },
            "party_id": {
                "description": "The sending device or tab; stamped by the relay.",
                "$ref": "#/$defs/Id"
            },
            "role": {
                "description": "The sender's side; stamped by the relay.",
                "enum": roles()
            },
            "seq": {
                "description": "The sender's sequence number in this call, from 1; at most \
                                2^53 - 1 so that JavaScript reads it exactly.",
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_SEQ
            },
            "body": {
                "description": "The message body, shaped by `type`. Absent reads as `{}`.",
                "type": "object"
            }
        },
        "allOf": branches,
        "$defs": defs
    })
}

/// The `$defs` every body shares: ids, open enums, reasons and the ICE configuration.
fn common_defs() -> Map<String, Value> {
    let open_enums: [(&str, &str, &[&str]); 9] = [
        ("ReasonCode", "Why a call ended, was declined or was cancelled.", Reason::KNOWN),
        ("Device", "The device a media permission was asked for.", Device::KNOWN),
        (
            "MediaError",
            "The DOMException name the browser raised for a media request.",
            MediaError::KNOWN,
        ),
        ("Capability", "A feature the inviting client supports.", Capability::KNOWN),
        ("StreamPurpose", "What a stream carries.", StreamPurpose::KNOWN),
        (
            "DisplaySurface",
            "What a screen share shows: the displaySurface of the captured track.",
            DisplaySurface::KNOWN,
        ),
        ("AudioOnlyReason", "Why a call switched to audio only.", AudioOnlyReason::KNOWN),
        (
            "QualityLevel",
            "How the call's connection is doing, as the sender measures it.",
            QualityLevel::KNOWN,
        ),
        ("RejectCode", "Why the relay refused a frame.", RejectCode::KNOWN),
    ];
    let mut defs = Map::new();
    let mut add = |name: &str, schema: Value| {
        defs.insert(name.to_owned(), schema);
    };
    add("Id", id());
    for (name, description, known) in open_enums {
        add(name, open_enum(description, known));
    }
    add("Reason", reason());
    add("MediaKinds", media_kinds());
    add("Prompt", prompt());
    add("IceUrl", ice_url());
    add("IceServer", ice_server());
    add("RtcConfiguration", rtc_configuration());
    add("SessionDescription", session_description());
    add("IceCandidate", ice_candidate());
    add("StreamState", stream_state());
    defs
}

/// The body `$defs` entry of a known message type: its name, a description and its schema.
fn body_def(message_type: &str) -> Option<(&'static str, &'static str, Value)> {
    Some(match message_type {
        "call.invite" => {
            ("InviteBody", "call.invite (agent to visitor): start a call.", invite_body())
        }
        "call.ringing" => (
            "RingingBody",
            "call.ringing (visitor to agent): the prompt is shown.",
            json!({ "description": "Empty.", "type": "object" }),
        ),
        "call.accept" => (
            "AcceptBody",
            "call.accept (visitor to agent): yes, after permission was granted.",
            accept_body(),
        ),
        "call.select_answer" => (
            "SelectAnswerBody",
            "call.select_answer (agent to visitors): which tab's accept won.",
            select_answer_body(),
        ),
        "call.decline" => (
            "DeclineBody",
            "call.decline (visitor to agent): no, with a reason.",
            reason_body::<DeclineBody>(),
        ),
        "call.cancel" => (
            "CancelBody",
            "call.cancel (agent to visitor): the invite is withdrawn.",
            reason_body::<CancelBody>(),
        ),
        "call.description" => (
            "DescriptionBody",
            "call.description (both): an SDP offer or answer.",
            description_body(),
        ),
        "call.candidates" => (
            "CandidatesBody",
            "call.candidates (both): trickled ICE candidates.",
            candidates_body(),
        ),
        "call.media" => (
            "MediaBody",
            "call.media (both): mute, camera, screen share and audio-only state.",
            media_body(),
        ),
        "call.quality" => {
            ("QualityBody", "call.quality (both): connection quality reports.", quality_body())
        }
        "call.hangup" => (
            "HangupBody",
            "call.hangup (both): the call ends; the conversation goes on.",
            reason_body::<HangupBody>(),
        ),
        "call.rejected" => (
            "RejectedBody",
            "call.rejected (relay to sender): a frame was refused.",
            rejected_body(),
        ),
        _ => return None,
    })
}

fn id() -> Value {
    json!({
        "description": format!(
            "An id: 1 to {MAX_ID_LEN} characters of [0-9A-Za-z._~-]."
        ),
        "type": "string",
        "pattern": format!("^[0-9A-Za-z._~-]{{1,{MAX_ID_LEN}}}$")
    })
}

fn media_kinds() -> Value {
    json!({
        "description": "Which media a party asks for or will send.",
        "type": "object",
        "required": ["audio", "video"],
        "properties": {
            "audio": { "description": "Microphone audio.", "type": "boolean" },
            "video": { "description": "Camera video.", "type": "boolean" }
        }
    })
}

fn prompt() -> Value {
    json!({
        "description": "What the visitor is asked.",
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": {
                "description": format!(
                    "The question shown to the visitor, in the visitor's language: at most \
                     {MAX_PROMPT_LEN} bytes, not blank, no control characters but newline \
                     and tab."
                ),
                "type": "string",
                "maxLength": MAX_PROMPT_LEN,
                "allOf": [
                    { "pattern": NO_CONTROLS },
                    { "pattern": NOT_BLANK }
                ]
            },
            "locale": {
                "description": format!(
                    "The BCP 47 language tag of `text` (`en`, `pt-BR`): 1 to \
                     {MAX_LOCALE_LEN} of [0-9A-Za-z-]. null reads as absent."
                ),
                "type": ["string", "null"],
                "pattern": format!("^[0-9A-Za-z-]{{1,{MAX_LOCALE_LEN}}}$")
            }
        }
    })
}

fn rtc_configuration() -> Value {
    json!({
        "description": "The browser's RTCConfiguration, limited to the ICE fields a call \
                        needs: ready for `new RTCPeerConnection(config)`.",
        "type": "object",
        "properties": {
            "iceServers": {
                "description": format!("At most {MAX_ICE_SERVERS} STUN or TURN servers."),
                "type": "array",
                "maxItems": MAX_ICE_SERVERS,
                "items": { "$ref": "#/$defs/IceServer" },
                "default": []
            },
            "iceTransportPolicy": {
                "description": "`relay` uses TURN relay candidates only.",
                "enum": transport_policies(),
                "default": to_json(IceTransportPolicy::default())
            }
        }
    })
}

fn session_description() -> Value {
    json!({
        "description": "RTCSessionDescriptionInit, ready for setRemoteDescription. Only \
                        offers and answers travel.",
        "type": "object",
        "required": ["type", "sdp"],
        "properties": {
            "type": { "enum": sdp_types() },
            "sdp": {
                "description": format!(
                    "The SDP: at most {MAX_SDP_LEN} bytes. The SDP check that runs before it is \
                     parsed (at the relay and the peer) also requires at most {MAX_M_SECTIONS} \
                     m-sections, ICE credentials, a DTLS fingerprint and an audio or video \
                     m-section."
                ),
                "type": "string",
                "maxLength": MAX_SDP_LEN
            }
        }
    })
}

fn stream_state() -> Value {
    json!({
        "description": "The state of one stream the sender sends.",
        "type": "object",
        "required": ["purpose"],
        "properties": {
            "purpose": { "$ref": "#/$defs/StreamPurpose" },
            "audio_muted": {
                "description": "The audio track is muted (or absent).",
                "type": "boolean",
                "default": false
            },
            "video_muted": {
                "description": "The video track is off (or absent).",
                "type": "boolean",
                "default": false
            },
            "display_surface": {
                "description": "For a screen stream: what is shared. null reads as absent.",
                "anyOf": [{ "$ref": "#/$defs/DisplaySurface" }, { "type": "null" }]
            }
        }
    })
}

fn accept_body() -> Value {
    json!({
        "type": "object",
        "required": ["media"],
        "properties": {
            "media": {
                "description": "The media the visitor will send.",
                "$ref": "#/$defs/MediaKinds"
            }
        }
    })
}

fn select_answer_body() -> Value {
    json!({
        "type": "object",
        "required": ["selected_party_id"],
        "properties": {
            "selected_party_id": {
                "description": "The visitor tab whose accept won.",
                "$ref": "#/$defs/Id"
            }
        }
    })
}

fn description_body() -> Value {
    json!({
        "type": "object",
        "required": ["description", "negotiation_id"],
        "properties": {
            "description": { "$ref": "#/$defs/SessionDescription" },
            "negotiation_id": {
                "description": "Which offer/answer exchange this belongs to: an answer \
                                repeats its offer's id.",
                "$ref": "#/$defs/Id"
            }
        }
    })
}

fn candidates_body() -> Value {
    json!({
        "type": "object",
        "required": ["candidates"],
        "properties": {
            "candidates": {
                "description": format!(
                    "At most {MAX_CANDIDATES} candidates, in the order they were \
                     gathered, end-of-candidates markers included."
                ),
                "type": "array",
                "maxItems": MAX_CANDIDATES,
                "items": { "$ref": "#/$defs/IceCandidate" }
            }
        }
    })
}

fn quality_body() -> Value {
    json!({
        "type": "object",
        "required": ["level"],
        "properties": {
            "level": { "$ref": "#/$defs/QualityLevel" },
            "rtt_ms": {
                "description": "Round-trip time in milliseconds, if measured. null \
                                reads as absent.",
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": u32::MAX
            },
            "loss_pct": {
                "description": "Packet loss in percent, if measured. null reads as \
                                absent.",
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 100
            }
        }
    })
}

fn rejected_body() -> Value {
    json!({
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": { "$ref": "#/$defs/RejectCode" },
            "detail": {
                "description": format!(
                    "Why, for a developer (never shown to end users as is): at most \
                     {MAX_DETAIL_LEN} bytes, no control characters but newline and tab."
                ),
                "type": "string",
                "maxLength": MAX_DETAIL_LEN,
                "pattern": NO_CONTROLS,
                "default": ""
            },
            "rejected_seq": {
                "description": "The `seq` of the refused frame, when the relay could \
                                read it. null reads as absent.",
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": u64::MAX
            }
        }
    })
}

/// Free text without control characters other than newline and tab.
const NO_CONTROLS: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";

/// At least one character that is not white space (Unicode `White_Space`, as `str::trim`).
const NOT_BLANK: &str =
    r"[^\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// An open enum: the known values, or any token a newer peer may send.
fn open_enum(description: &str, known: &[&str]) -> Value {
    json!({
        "description": format!(
            "{description} Open: known values are {}; any other token of 1 to {MAX_TOKEN_LEN} \
             characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is.",
            known.join(", ")
        ),
        "type": "string",
        "anyOf": [
            { "enum": known },
            { "pattern": format!("^[0-9A-Za-z._-]{{1,{MAX_TOKEN_LEN}}}$") }
        ],
        "examples": known
    })
}

/// `Reason`: `{code, device?, error?}`; `media_permission_denied` needs `device` and `error`.
fn reason() -> Value {
    let denied = "media_permission_denied";
    json!({
        "description": "Why a call ended, was declined or was cancelled.",
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": { "$ref": "#/$defs/ReasonCode" },
            "device": {
                "description": format!("With `{denied}`: which device. null reads as absent."),
                "anyOf": [{ "$ref": "#/$defs/Device" }, { "type": "null" }]
            },
            "error": {
                "description": format!(
                    "With `{denied}`: the browser's DOMException name. null reads as absent."
                ),
                "anyOf": [{ "$ref": "#/$defs/MediaError" }, { "type": "null" }]
            }
        },
        "if": {
            "properties": { "code": { "const": denied } },
            "required": ["code"]
        },
        "then": {
            "required": ["device", "error"],
            "properties": {
                "device": { "$ref": "#/$defs/Device" },
                "error": { "$ref": "#/$defs/MediaError" }
            }
        }
    })
}

/// A body whose only field is an optional `reason`, with the default the body gives it.
fn reason_body<T: DeserializeOwned + Serialize>() -> Value {
    let default = serde_json::from_value::<T>(json!({}))
        .ok()
        .and_then(|body| to_json(body).get("reason").cloned())
        .unwrap_or(Value::Null);
    json!({
        "type": "object",
        "properties": {
            "reason": {
                "description": "Why; the default when absent.",
                "$ref": "#/$defs/Reason",
                "default": default
            }
        }
    })
}

fn invite_body() -> Value {
    let (min, max) = (millis(MIN_INVITE_LIFETIME), millis(MAX_INVITE_LIFETIME));
    json!({
        "type": "object",
        "required": ["prompt", "media", "lifetime_ms"],
        "properties": {
            "prompt": { "$ref": "#/$defs/Prompt" },
            "media": {
                "description": "The media the agent asks the visitor for.",
                "$ref": "#/$defs/MediaKinds"
            },
            "lifetime_ms": {
                "description": "How long the invite rings, in milliseconds, judged by the \
                                recipient's own clock from arrival.",
                "type": "integer",
                "minimum": min,
                "maximum": max
            },
            "capabilities": {
                "description": format!(
                    "Features the agent's client supports (at most {MAX_CAPABILITIES})."
                ),
                "type": "array",
                "maxItems": MAX_CAPABILITIES,
                "items": { "$ref": "#/$defs/Capability" },
                "default": []
            },
            "ice": {
                "description": "The ICE configuration for the recipient; the relay may inject \
                                one with fresh TURN credentials. null reads as absent.",
                "anyOf": [{ "$ref": "#/$defs/RtcConfiguration" }, { "type": "null" }]
            }
        }
    })
}

fn media_body() -> Value {
    json!({
        "type": "object",
        "properties": {
            "streams": {
                "description": format!(
                    "Every stream the sender sends, by stream id (the msid of the stream in \
                     the SDP; at most {MAX_STREAMS}). The complete state, not a change: a \
                     stream no longer listed has ended."
                ),
                "type": "object",
                "maxProperties": MAX_STREAMS,
                "propertyNames": {
                    "description": format!(
                        "A stream id: 1 to {MAX_STREAM_ID_LEN} RFC 4566 token characters."
                    ),
                    "pattern": format!("^{TOKEN_CHAR}{{1,{MAX_STREAM_ID_LEN}}}$")
                },
                "additionalProperties": { "$ref": "#/$defs/StreamState" },
                "default": {}
            },
            "audio_only": {
                "description": "Present when the call is audio only. null reads as absent.",
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["reason"],
                        "properties": { "reason": { "$ref": "#/$defs/AudioOnlyReason" } }
                    },
                    { "type": "null" }
                ]
            }
        }
    })
}

/// An RFC 4566 token-char.
const TOKEN_CHAR: &str = r"[!#-'*+\-.0-9A-Z^-~]";

fn ice_candidate() -> Value {
    // foundation component transport priority address port "typ" type *(name value)
    let candidate = format!(
        r"^$|^(?:a=)?(?:candidate:)?[0-9A-Za-z+/]{{1,32}} [0-9]{{1,10}} {TOKEN_CHAR}+ [0-9]{{1,10}} [^ ]+ [0-9]{{1,10}} typ (?:host|srflx|prflx|relay)(?: [^ ]+ [^ ]+)*\r?\n?$"
    );
    let last_index = MAX_M_SECTIONS.saturating_sub(1);
    json!({
        "description": "RTCIceCandidateInit.",
        "type": "object",
        "required": ["candidate"],
        "properties": {
            "candidate": {
                "description": format!(
                    "An RFC 8839 candidate (`candidate:…`, at most {MAX_CANDIDATE_LEN} bytes, \
                     also as written back with its `candidate:` prefix), or \"\" for \
                     end-of-candidates of the generation named by `usernameFragment`."
                ),
                "type": "string",
                "maxLength": MAX_CANDIDATE_LEN,
                "pattern": candidate
            },
            "sdpMid": {
                "description": format!(
                    "The media stream identification of the m-section: empty, or up to \
                     {MAX_SHORT_TOKEN_LEN} visible ASCII characters."
                ),
                "type": ["string", "null"],
                "pattern": format!("^[!-~]{{0,{MAX_SHORT_TOKEN_LEN}}}$")
            },
            "sdpMLineIndex": {
                "description": "The index of the m-section.",
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": last_index
            },
            "usernameFragment": {
                "description": "The ICE username fragment: which ICE generation the candidate \
                                belongs to.",
                "type": ["string", "null"],
                "pattern": format!("^[0-9A-Za-z+/]{{1,{MAX_SHORT_TOKEN_LEN}}}$")
            }
        }
    })
}

/// Every ICE URL scheme, and whether it is TURN. The match has no wildcard: a new scheme does
/// not compile until it is listed here.
fn schemes() -> [(Scheme, bool); 4] {
    [Scheme::Stun, Scheme::Stuns, Scheme::Turn, Scheme::Turns].map(|scheme| match scheme {
        Scheme::Stun | Scheme::Stuns | Scheme::Turn | Scheme::Turns => (scheme, scheme.is_turn()),
    })
}

/// `text` matched in either case, as the URL parser matches schemes and the transport query.
fn either_case(text: &str) -> String {
    let mut pattern = String::new();
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            pattern.extend(['[', c.to_ascii_uppercase(), c.to_ascii_lowercase(), ']']);
        } else {
            pattern.push(c);
        }
    }
    pattern
}

/// A pattern matching the URL schemes (all, or only the TURN or only the STUN ones).
fn scheme_pattern(turn: Option<bool>) -> String {
    let alternatives: Vec<String> = schemes()
        .into_iter()
        .filter(|(_, is_turn)| turn.is_none_or(|turn| turn == *is_turn))
        .map(|(scheme, _)| either_case(scheme.as_str()))
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

fn ice_url() -> Value {
    let names: Vec<&str> = schemes().into_iter().map(|(scheme, _)| scheme.as_str()).collect();
    // The match has no wildcard: a new transport does not compile until it is listed here.
    let transports: Vec<String> = [TurnTransport::Udp, TurnTransport::Tcp]
        .map(|transport| match transport {
            TurnTransport::Udp | TurnTransport::Tcp => either_case(transport.as_str()),
        })
        .into();
    json!({
        "description": format!(
            "A STUN or TURN server URL (RFC 7064, RFC 7065) of the schemes {}: at most \
             {MAX_URL_LEN} bytes, no `//`, userinfo, path or fragment; only TURN URLs take \
             `?transport=`.",
            names.join(", ")
        ),
        "type": "string",
        "maxLength": MAX_URL_LEN,
        "pattern": format!(
            "^{}:[^/#@?]+(?:\\?{}=(?:{}))?$",
            scheme_pattern(None),
            either_case("transport"),
            transports.join("|")
        )
    })
}

fn ice_server() -> Value {
    let turn = format!("^{}:", scheme_pattern(Some(true)));
    json!({
        "description": "RTCIceServer. A server with a TURN URL needs a username and a \
                        credential.",
        "type": "object",
        "required": ["urls"],
        "properties": {
            "urls": {
                "description": format!(
                    "One URL, or an array of 1 to {MAX_URLS_PER_SERVER}."
                ),
                "anyOf": [
                    { "$ref": "#/$defs/IceUrl" },
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_URLS_PER_SERVER,
                        "items": { "$ref": "#/$defs/IceUrl" }
                    }
                ]
            },
            "username": {
                "description": format!(
                    "Less than {MAX_USERNAME_LEN} bytes. null reads as absent."
                ),
                "type": ["string", "null"],
                "maxLength": MAX_USERNAME_LEN.saturating_sub(1)
            },
            "credential": {
                "description": format!(
                    "At most {MAX_CREDENTIAL_LEN} bytes. null reads as absent."
                ),
                "type": ["string", "null"],
                "maxLength": MAX_CREDENTIAL_LEN
            }
        },
        "if": {
            "properties": {
                "urls": {
                    "anyOf": [
                        { "type": "string", "pattern": turn },
                        { "type": "array", "contains": { "type": "string", "pattern": turn } }
                    ]
                }
            },
            "required": ["urls"]
        },
        "then": {
            "required": ["username", "credential"],
            "properties": {
                "username": { "type": "string" },
                "credential": { "type": "string" }
            }
        }
    })
}

// The closed enums, as their `Serialize` writes them. Each match has no wildcard, so a new
// variant does not compile until it is listed.

fn roles() -> Vec<Value> {
    [Role::Agent, Role::Visitor]
        .map(|role| match role {
            Role::Agent | Role::Visitor => to_json(role),
        })
        .into()
}

fn sdp_types() -> Vec<Value> {
    [SdpType::Offer, SdpType::Answer]
        .map(|sdp_type| match sdp_type {
            SdpType::Offer | SdpType::Answer => to_json(sdp_type),
        })
        .into()
}

fn transport_policies() -> Vec<Value> {
    [IceTransportPolicy::All, IceTransportPolicy::Relay]
        .map(|policy| match policy {
            IceTransportPolicy::All | IceTransportPolicy::Relay => to_json(policy),
        })
        .into()
}

fn to_json<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
