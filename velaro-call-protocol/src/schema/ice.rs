//! The ICE `$defs`, from velaro-ice-config's types and limits: `RtcConfiguration`,
//! `IceServer`, `IceUrl` (the STUN and TURN URL grammar, built from the schemes and transports
//! the URL parser knows) and `IceCandidate` (the RFC 8839 candidate grammar, sketched as a
//! pattern).

use serde_json::{Value, json};
use velaro_ice_config::{
    IceTransportPolicy, MAX_CANDIDATE_LEN, MAX_CREDENTIAL_LEN, MAX_ICE_SERVERS, MAX_URL_LEN,
    MAX_URLS_PER_SERVER, MAX_USERNAME_LEN, Scheme, TurnTransport,
};

use super::defs::TOKEN_CHAR;
use super::{to_json, transport_policies};
use crate::limits::{MAX_M_SECTIONS, MAX_SHORT_TOKEN_LEN};

pub(super) fn rtc_configuration() -> Value {
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

pub(super) fn ice_candidate() -> Value {
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

pub(super) fn ice_url() -> Value {
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

pub(super) fn ice_server() -> Value {
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
