//! Frames to envelopes and back, with every limit checked and every failure typed.

mod fast;

use std::ops::Range;

use bytes::{BufMut, BytesMut};
use serde::de::DeserializeSeed as _;
use serde::{Deserialize as _, Deserializer as _};

use crate::envelope::{Envelope, EnvelopeVisitor, Parsed, Role};
use crate::json;
use crate::limits::{MAX_FRAME_LEN, MAX_SDP_LEN, MAX_SEQ};
use crate::message::BodySeed;
use crate::message::Message;
use crate::message::description::SdpType;
use crate::message::hangup::RejectCode;
use crate::value::{PartyId, ValueError};

/// Why a frame did not decode. Every variant names what was wrong; `field` is a path such as
/// `body.candidates[2].candidate`. None of them is fatal to a call by itself: the relay answers
/// with `call.rejected` and a peer drops the frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than [`MAX_FRAME_LEN`]; nothing else was looked at.
    #[error("frame is {len} bytes, more than {max}")]
    FrameTooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame is not UTF-8.
    #[error("frame is not utf-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// The offset of the first invalid byte.
        offset: usize,
    },
    /// The top level is not a JSON object.
    #[error("frame is not a json object")]
    NotAnObject,
    /// The JSON is malformed or truncated.
    #[error("malformed json at line {line} column {column}: {detail}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        detail: String,
    },
    /// Something follows the JSON document.
    #[error("trailing data after the json document at line {line} column {column}")]
    TrailingData {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A required field is missing.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field's path.
        field: String,
    },
    /// A field appears twice in one object.
    #[error("duplicate field `{field}`")]
    DuplicateField {
        /// The field's path.
        field: String,
    },
    /// A field has the wrong JSON type (a string where a number belongs, say).
    #[error("field `{field}` has the wrong type: {detail}")]
    WrongType {
        /// The field's path.
        field: String,
        /// What was found and what was expected.
        detail: String,
    },
    /// A field's value does not parse as what it must be: a bad id, an unknown role, a
    /// malformed candidate, an integer out of range.
    #[error("field `{field}` is invalid: {detail}")]
    BadValue {
        /// The field's path.
        field: String,
        /// Why.
        detail: String,
    },
    /// A field parses but breaks a limit or a rule of the protocol.
    #[error("field `{field}`: {error}")]
    Invalid {
        /// The field's path.
        field: String,
        /// Which limit or rule.
        error: ValueError,
    },
    /// The frame speaks another protocol version.
    #[error("unsupported protocol version {version} (this peer speaks {supported})", supported = crate::VERSION)]
    UnsupportedVersion {
        /// The version the frame claims.
        version: u64,
    },
}

impl DecodeError {
    /// The `call.rejected` code the relay answers this error with.
    pub fn reject_code(&self) -> RejectCode {
        match self {
            DecodeError::FrameTooLarge { .. }
            | DecodeError::Invalid { error: ValueError::TooLong { .. }, .. } => {
                RejectCode::TooLarge
            }
            DecodeError::UnsupportedVersion { .. } => RejectCode::UnsupportedVersion,
            _ => RejectCode::Invalid,
        }
    }
}

/// Decodes one frame.
///
/// In order: the size limit, UTF-8, the JSON document (one object, nothing after it, no field
/// of the protocol twice), the version, the ids and values, then every limit of the body. The SDP
/// of a `call.description` is only size-checked here (32 KiB); [`crate::sdp::check`] refuses
/// a 17th m-section as it reads it. Unknown fields are ignored and an unknown `type`
/// decodes to [`Message::Unknown`].
pub fn decode(frame: &[u8]) -> Result<Envelope, DecodeError> {
    decode_text(frame).map(|(envelope, _, _)| envelope)
}

/// Decodes one frame for forwarding: exactly as [`decode`] does (the same checks, the same
/// errors), and finds where the body's JSON text is in the frame, so that
/// [`Forwardable::encode`] can write the frame again around that text instead of encoding the
/// body again (no SDP escaped again, no candidate printed again).
pub fn decode_forwardable(frame: &[u8]) -> Result<Forwardable<'_>, DecodeError> {
    let (envelope, text, body_at) = decode_text(frame)?;
    let body = body_at.span(text).and_then(|span| text.get(span));
    Ok(Forwardable { envelope, body })
}

/// The one decoder behind [`decode`] and [`decode_forwardable`]: the envelope, the frame as
/// text, and where its body is.
fn decode_text(frame: &[u8]) -> Result<(Envelope, &str, BodyAt), DecodeError> {
    let text = frame_text(frame)?;
    if let Some((envelope, _, body)) = decode_fast(text) {
        return Ok((envelope, text, BodyAt::Found(body)));
    }
    decode_serde(text).map(|(envelope, body_last)| (envelope, text, BodyAt::Last(body_last)))
}

/// Where a decoded frame's body is in its text: found on the way by the fast path, or to be
/// looked for (only when forwarding) after the `serde` path.
enum BodyAt {
    Found(Option<Range<usize>>),
    /// Whether `body` was the last key.
    Last(bool),
}

impl BodyAt {
    fn span(self, text: &str) -> Option<Range<usize>> {
        match self {
            BodyAt::Found(span) => span,
            BodyAt::Last(body_last) => json::body_span(text, body_last),
        }
    }
}

/// The frame as text, after the checks that come before any JSON is read.
fn frame_text(frame: &[u8]) -> Result<&str, DecodeError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(DecodeError::FrameTooLarge { len: frame.len(), max: MAX_FRAME_LEN });
    }
    // JSON whitespace only (RFC 8259 §2): a no-break space before `{` is not a frame.
    match frame.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        Some(b'{') | None => {}
        Some(_) => return Err(not_an_object(frame)),
    }
    // Checked up front rather than left to serde_json, which skips unknown fields' strings
    // without looking at their bytes.
    std::str::from_utf8(frame).map_err(|e| DecodeError::InvalidUtf8 { offset: e.valid_up_to() })
}

/// The hand-written reader ([`fast`]): the envelope of a frame that passes every check,
/// whether `body` is its last key and where the body is, or `None` for any frame it does not
/// read exactly as [`decode_serde`] does (errors included).
fn decode_fast(text: &str) -> Option<(Envelope, bool, Option<Range<usize>>)> {
    let decoded = fast::frame(text)?;
    check(&decoded.0).ok()?;
    Some(decoded)
}

/// The `serde_json` reader: every frame, every error typed.
fn decode_serde(text: &str) -> Result<(Envelope, bool), DecodeError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // The fast path does not track where it is; the error path reads again to say where.
    let Ok(parsed) = Parsed::deserialize(&mut deserializer) else {
        return Err(locate_error(text));
    };
    if let Err(error) = deserializer.end() {
        return Err(DecodeError::TrailingData { line: error.line(), column: error.column() });
    }
    let Some(envelope) = parsed.envelope else {
        return Err(DecodeError::UnsupportedVersion { version: parsed.version });
    };
    check(&envelope)?;
    Ok((envelope, parsed.body_last))
}

/// The codec's two decoders, for the differential property test that holds them equal: not
/// part of the API, and not covered by semver.
#[doc(hidden)]
pub mod differential {
    use std::ops::Range;

    use super::{DecodeError, Envelope, frame_text, json};

    /// What the fast path decodes: the envelope, whether `body` is the last key and where the
    /// body is, or `None` when [`crate::decode`] falls back to [`serde`].
    pub fn fast(frame: &[u8]) -> Option<(Envelope, bool, Option<Range<usize>>)> {
        super::decode_fast(frame_text(frame).ok()?)
    }

    /// What the `serde_json` path decodes from the same frame, and where
    /// [`crate::decode_forwardable`] then finds the body.
    pub fn serde(frame: &[u8]) -> Result<(Envelope, bool, Option<Range<usize>>), DecodeError> {
        let text = frame_text(frame)?;
        let (envelope, body_last) = super::decode_serde(text)?;
        Ok((envelope, body_last, json::body_span(text, body_last)))
    }
}

/// A frame decoded by [`decode_forwardable`]: its envelope, and its body's JSON text as the
/// sender wrote it. What a relay forwards is the sender's body (unknown fields included: a
/// newer peer's additions reach the other side through an older relay) in an envelope the relay
/// stamps; the body has passed every check [`decode`] makes.
#[derive(Debug, Clone)]
pub struct Forwardable<'f> {
    envelope: Envelope,
    /// `None` for a frame without a body (it reads as `{}`), or whose keys are escaped.
    body: Option<&'f str>,
}

impl Forwardable<'_> {
    /// The decoded envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Overwrites the sender's identity and sequence number (see [`Envelope::stamp`]); the
    /// body is not touched.
    pub fn stamp(&mut self, party_id: PartyId, role: Role, seq: u64) {
        self.envelope.stamp(party_id, role, seq);
    }

    /// The frame as forwarded: the envelope's fields, in [`encode`]'s order, around the
    /// received body's text.
    pub fn encode(&self) -> Vec<u8> {
        let Some(body) = self.body else {
            return encode(&self.envelope);
        };
        let mut frame = Vec::with_capacity(head_len(&self.envelope) + body.len() + 1);
        write_head(&self.envelope, &mut frame);
        frame.put_slice(body.as_bytes());
        frame.put_u8(b'}');
        frame
    }

    /// The envelope alone, to change its message (and [`encode`] it).
    pub fn into_envelope(self) -> Envelope {
        self.envelope
    }
}

/// A frame's `type`, read without decoding the rest: for a host that carries its own frames
/// beside call frames on one connection, to route them (call frames are `call.*`). `None`
/// when the frame is not a JSON object with a string `type` (over the frame limit too);
/// nothing else is checked, so a frame routed to the relay can still be refused there.
///
/// ```
/// use velaro_call_protocol::peek_type;
///
/// assert_eq!(peek_type(br#"{ "type" : "call.invite", "body": {} }"#).as_deref(), Some("call.invite"));
/// assert_eq!(peek_type(br#"{"type":"chat.message","text":"hi"}"#).as_deref(), Some("chat.message"));
/// assert_eq!(peek_type(b"[1]"), None);
/// ```
pub fn peek_type(frame: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct TypeOnly<'a> {
        #[serde(rename = "type", borrow)]
        message_type: Option<std::borrow::Cow<'a, str>>,
    }
    if frame.len() > MAX_FRAME_LEN {
        return None;
    }
    serde_json::from_slice::<TypeOnly<'_>>(frame).ok()?.message_type
}

/// The error for a frame that does not start with `{`: [`DecodeError::NotAnObject`] when it is
/// JSON (an array, a string...), a syntax error when it is not JSON at all (`hello`).
fn not_an_object(frame: &[u8]) -> DecodeError {
    match serde_json::from_slice::<serde::de::IgnoredAny>(frame) {
        Ok(_) => DecodeError::NotAnObject,
        Err(error) => classify("", "", &error),
    }
}

/// Re-reads a frame that failed, tracking the path, and turns serde's error into ours.
fn locate_error(text: &str) -> DecodeError {
    /// What the visitor needs to read the body in place, read leniently first.
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type", default)]
        message_type: Option<String>,
        #[serde(default)]
        version: Option<u64>,
        #[serde(default)]
        body: Option<serde::de::IgnoredAny>,
    }
    let head = serde_json::from_str::<Head>(text).ok();
    // A frame of another version fails for its own reason first.
    if let Some(version) = head.as_ref().and_then(|head| head.version)
        && version != crate::VERSION
    {
        return DecodeError::UnsupportedVersion { version };
    }
    let (known_type, known_version) =
        head.as_ref().map_or((None, None), |head| (head.message_type.clone(), head.version));
    // A frame without a body reads `{}` as its body: say so when that is what failed.
    if let (Some(Head { body: None, .. }), Some(message_type), Some(crate::VERSION)) =
        (&head, &known_type, known_version)
    {
        let mut empty = serde_json::Deserializer::from_str("{}");
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(&mut empty, &mut track);
        if let Err(error) = BodySeed(message_type).deserialize(tracked) {
            return classify("body", &track.path().to_string(), &error);
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    match tracked.deserialize_map(EnvelopeVisitor { known_type, known_version }) {
        Ok(_) => {
            let detail = "the frame failed once and decoded the second time".to_owned();
            DecodeError::Syntax { line: 0, column: 0, detail }
        }
        Err(error) => classify("", &track.path().to_string(), &error),
    }
}

/// Turns serde's error at `path` (below `prefix`) into a typed error.
fn classify(prefix: &str, path: &str, error: &serde_json::Error) -> DecodeError {
    let (line, column) = (error.line(), error.column());
    let mut message = error.to_string();
    // serde_json appends the position; our variants carry it (or the path) instead.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    if !error.is_data() {
        return DecodeError::Syntax { line, column, detail: message };
    }
    let join = |parts: &[&str]| {
        parts.iter().filter(|p| !p.is_empty() && **p != ".").copied().collect::<Vec<_>>().join(".")
    };
    let field = join(&[prefix, path]);
    if let Some(name) = quoted_after(&message, "missing field `") {
        DecodeError::MissingField { field: join(&[prefix, path, name]) }
    } else if let Some(name) = quoted_after(&message, "duplicate field `") {
        DecodeError::DuplicateField { field: join(&[prefix, path, name]) }
    } else if message.starts_with("invalid type: ") {
        DecodeError::WrongType { field, detail: message }
    } else {
        DecodeError::BadValue { field, detail: message }
    }
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// The limits and rules serde cannot express.
fn check(envelope: &Envelope) -> Result<(), DecodeError> {
    let invalid = |field: &str, error| DecodeError::Invalid { field: field.to_owned(), error };
    if envelope.seq == 0 || envelope.seq > MAX_SEQ {
        let error =
            ValueError::OutOfRange { what: "seq", value: envelope.seq, min: 1, max: MAX_SEQ };
        return Err(invalid("seq", error));
    }
    match &envelope.message {
        Message::Invite(invite) => invite.check().map_err(|e| invalid("body", e)),
        Message::Description(description) => {
            let sdp = &description.description.sdp;
            if sdp.len() > MAX_SDP_LEN {
                let error = ValueError::TooLong { what: "sdp", len: sdp.len(), max: MAX_SDP_LEN };
                return Err(invalid("body.description.sdp", error));
            }
            Ok(())
        }
        Message::Candidates(candidates) => {
            candidates.check().map_err(|(index, error)| match index {
                Some(index) => invalid(&format!("body.candidates[{index}]"), error),
                None => invalid("body.candidates", error),
            })
        }
        Message::Media(media) => media.check().map_err(|e| invalid("body.streams", e)),
        Message::Quality(quality) => quality.check().map_err(|e| invalid("body.loss_pct", e)),
        Message::Rejected(rejected) => rejected.check().map_err(|e| invalid("body.detail", e)),
        _ => Ok(()),
    }
}

/// Encodes an envelope as one JSON frame, fields in a fixed order (`type` first): the bytes
/// `serde_json` writes for the envelope's `Serialize`.
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let mut frame = Vec::with_capacity(size_hint(envelope));
    write(envelope, &mut frame);
    frame
}

/// Encodes an envelope at the end of `buffer`, for transports that batch frames.
pub fn encode_into(envelope: &Envelope, buffer: &mut BytesMut) {
    buffer.reserve(size_hint(envelope));
    write(envelope, buffer);
}

/// At least as long as [`write_head`]'s output, and only the longest role and seq longer: the
/// frames a relay logs keep their allocation.
fn head_len(envelope: &Envelope) -> usize {
    // The keys and punctuation (94 bytes), the version, the longest role and seq.
    const FIXED: usize = 94 + 1 + "visitor".len() + "9007199254740991".len();
    FIXED
        + envelope.message_type().len()
        + envelope.conversation_id.as_bytes().len()
        + envelope.call_id.as_bytes().len()
        + envelope.party_id.as_bytes().len()
}

/// About how long the frame will be, so that a description's buffer is allocated once instead
/// of doubling its way up to the SDP's size.
fn size_hint(envelope: &Envelope) -> usize {
    const BODY: usize = 128;
    head_len(envelope)
        + BODY
        + match &envelope.message {
            // Every line ending becomes `\r\n` (four bytes for two).
            Message::Description(body) => body.description.sdp.len() * 21 / 20,
            Message::Candidates(body) => body.candidates.len() * 200,
            _ => 0,
        }
}

/// Writes the frame. The envelope, a description and candidates (the frames of every call) are
/// written here, strings escaped a run at a time (`serde_json` escapes byte by byte, which made
/// escaping an SDP a fifth of a call's signaling cost); other bodies go through their
/// `Serialize`, which gives the same bytes for these (a property test holds them equal).
fn write(envelope: &Envelope, out: &mut impl BufMut) {
    write_head(envelope, out);
    match &envelope.message {
        Message::Description(body) => {
            let sdp_type = match body.description.sdp_type {
                SdpType::Offer => "offer",
                SdpType::Answer => "answer",
            };
            out.put_slice(b"{\"description\":{\"type\":");
            json::write_str(out, sdp_type);
            out.put_slice(b",\"sdp\":");
            json::write_str(out, &body.description.sdp);
            out.put_slice(b"},\"negotiation_id\":");
            json::write_id(out, body.negotiation_id.as_bytes());
            out.put_u8(b'}');
        }
        Message::Candidates(body) => {
            out.put_slice(b"{\"candidates\":[");
            for (index, init) in body.candidates.iter().enumerate() {
                if index > 0 {
                    out.put_u8(b',');
                }
                out.put_slice(b"{\"candidate\":");
                json::write_str(out, init.candidate.as_ref().map_or("", |c| c.as_str()));
                if let Some(mid) = &init.sdp_mid {
                    out.put_slice(b",\"sdpMid\":");
                    json::write_str(out, mid);
                }
                if let Some(line) = init.sdp_m_line_index {
                    out.put_slice(b",\"sdpMLineIndex\":");
                    json::write_u64(out, line.into());
                }
                if let Some(ufrag) = &init.username_fragment {
                    out.put_slice(b",\"usernameFragment\":");
                    json::write_str(out, ufrag);
                }
                out.put_u8(b'}');
            }
            out.put_slice(b"]}");
        }
        message => {
            struct Body<'a>(&'a Message);
            impl serde::Serialize for Body<'_> {
                fn serialize<S: serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> Result<S::Ok, S::Error> {
                    self.0.serialize_body(serializer)
                }
            }
            // Writing to memory cannot fail, and none of our types' `Serialize` returns an
            // error (map keys are strings, numbers are integers or checked floats).
            if let Err(error) = serde_json::to_writer(out.writer(), &Body(message)) {
                unreachable!("encoding a call message to memory failed: {error}");
            }
        }
    }
    out.put_u8(b'}');
}

/// Writes `{"type":…,"body":`: every envelope field but the body, in [`Envelope`]'s
/// `Serialize` order.
fn write_head(envelope: &Envelope, out: &mut impl BufMut) {
    out.put_slice(b"{\"type\":");
    json::write_str(out, envelope.message_type());
    out.put_slice(b",\"version\":");
    json::write_u64(out, crate::VERSION);
    out.put_slice(b",\"conversation_id\":");
    json::write_id(out, envelope.conversation_id.as_bytes());
    out.put_slice(b",\"call_id\":");
    json::write_id(out, envelope.call_id.as_bytes());
    out.put_slice(b",\"party_id\":");
    json::write_id(out, envelope.party_id.as_bytes());
    out.put_slice(b",\"role\":");
    json::write_str(out, envelope.role.as_str());
    out.put_slice(b",\"seq\":");
    json::write_u64(out, envelope.seq);
    out.put_slice(b",\"body\":");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;
    use crate::limits::MAX_SEQ;
    use crate::message::hangup::HangupBody;
    use crate::value::{CallId, ConversationId};

    #[test]
    fn the_head_fits_its_estimate() {
        for (role, seq) in [(Role::Visitor, MAX_SEQ), (Role::Agent, 1)] {
            let envelope = Envelope::new(
                ConversationId::new("c".repeat(255)).unwrap_or_else(|e| panic!("{e}")),
                CallId::new("call-1").unwrap_or_else(|e| panic!("{e}")),
                PartyId::relay(),
                role,
                seq,
                HangupBody::new(Reason::UserHangup),
            );
            let mut head = Vec::new();
            write_head(&envelope, &mut head);
            assert!(head.len() <= head_len(&envelope), "{} > {}", head.len(), head_len(&envelope));
            assert!(head_len(&envelope) - head.len() <= 17, "{}", head.len());
        }
    }
}
