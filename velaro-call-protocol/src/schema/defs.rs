//! The `$defs` the frame and the bodies share: the id grammar, the open enums, `Reason`,
//! `MediaKinds`, `Prompt`, `SessionDescription` and `StreamState` (the ICE ones come from
//! `ice`), and the text patterns the definitions and bodies use.

use serde_json::{Map, Value, json};

use super::ice::{ice_candidate, ice_server, ice_url, rtc_configuration};
use super::sdp_types;
use crate::limits::{
    MAX_ID_LEN, MAX_LOCALE_LEN, MAX_M_SECTIONS, MAX_PROMPT_LEN, MAX_SDP_LEN, MAX_TOKEN_LEN,
};
use crate::message::hangup::RejectCode;
use crate::message::invite::Capability;
use crate::message::media::{AudioOnlyReason, DisplaySurface, QualityLevel, StreamPurpose};
use crate::{Device, MediaError, Reason};

/// The `$defs` every body shares: ids, open enums, reasons and the ICE configuration.
pub(super) fn common_defs() -> Map<String, Value> {
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

/// Free text without control characters other than newline and tab.
pub(super) const NO_CONTROLS: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";

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

/// An RFC 4566 token-char.
pub(super) const TOKEN_CHAR: &str = r"[!#-'*+\-.0-9A-Z^-~]";
