//! The message bodies: one `$defs` entry per known `type` (`InviteBody` to `AckBody`),
//! with the name and description [`body_def`] gives it.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::defs::{NO_CONTROLS, TOKEN_CHAR};
use super::to_json;
use crate::limits::{
    MAX_CANDIDATES, MAX_CAPABILITIES, MAX_DETAIL_LEN, MAX_ID_LEN, MAX_INVITE_LIFETIME,
    MAX_STREAM_ID_LEN, MAX_STREAMS, MIN_INVITE_LIFETIME,
};
use crate::message::answer::{CancelBody, DeclineBody};
use crate::message::hangup::HangupBody;
use crate::resume::MAX_CURSOR_ENTRIES;

/// The body `$defs` entry of a known message type: its name, a description and its schema.
pub(super) fn body_def(message_type: &str) -> Option<(&'static str, &'static str, Value)> {
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
        "call.ack" => (
            "AckBody",
            "call.ack (both to the relay, never forwarded): the frames the sender's call took, \
             which the relay need not keep for a resume. Added in protocol 1 without a version \
             change: a relay that predates it refuses it as `unknown_type`, and the sender then \
             stops acknowledging.",
            ack_body(),
        ),
        _ => return None,
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

fn ack_body() -> Value {
    let entry = format!("[0-9A-Za-z._~-]{{1,{MAX_ID_LEN}}}:[1-9][0-9]{{0,15}}");
    let more = MAX_CURSOR_ENTRIES - 1;
    json!({
        "type": "object",
        "required": ["seen"],
        "properties": {
            "seen": {
                "description": format!(
                    "A resume cursor: `party-id:seq` per sender, comma-separated, each sender \
                     once, at most {MAX_CURSOR_ENTRIES} entries, seq from 1 to 2^53 - 1; empty \
                     for none."
                ),
                "type": "string",
                "pattern": format!("^({entry}(,{entry}){{0,{more}}})?$")
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
