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

// The schema is built in parts: `defs` holds the `$defs` the frame and the bodies share, `ice`
// the ICE ones (from velaro-ice-config's types and limits), `bodies` one `$defs` entry per
// message body. This file holds the frame, the closed enums and what the parts share.
mod bodies;
mod defs;
mod ice;

use serde::Serialize;
use serde_json::{Value, json};
use velaro_ice_config::IceTransportPolicy;

#[cfg(doc)]
use crate::Reason;
use crate::limits::MAX_SEQ;
use crate::message::description::SdpType;
use crate::{Message, Role, VERSION};

use bodies::body_def;
use defs::common_defs;

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
