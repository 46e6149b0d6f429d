//! The envelope: the fields every message carries, around its body.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::limits::MAX_TOKEN_LEN;
use crate::message::{BodySeed, Message};
use crate::value::{CallId, ConversationId, PartyId, ValueError};

/// The protocol version this crate speaks.
pub const VERSION: u64 = 1;

/// Which side of the conversation a party is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The support agent: the only role that may invite.
    Agent,
    /// The website visitor.
    Visitor,
}

impl Role {
    /// The other side.
    #[must_use]
    pub fn peer(self) -> Role {
        match self {
            Role::Agent => Role::Visitor,
            Role::Visitor => Role::Agent,
        }
    }

    /// The role as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Visitor => "visitor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One frame: who sent what, in which call of which conversation, and in what order.
///
/// On the wire: `{"type","version","conversation_id","call_id","party_id","role","seq","body"}`.
/// `party_id` and `role` are stamped by the relay from the authenticated connection (a client's
/// claim means nothing); `seq` counts each party's frames in a call from 1, for dedupe and
/// resume.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The conversation the call belongs to.
    pub conversation_id: ConversationId,
    /// The call.
    pub call_id: CallId,
    /// The sending device or tab.
    pub party_id: PartyId,
    /// The sender's side.
    pub role: Role,
    /// The sender's sequence number in this call, from 1 (at most 2^53 - 1, so JavaScript reads
    /// it exactly).
    pub seq: u64,
    /// The message.
    pub message: Message,
}

impl Envelope {
    /// An envelope around `message`.
    pub fn new(
        conversation_id: ConversationId,
        call_id: CallId,
        party_id: PartyId,
        role: Role,
        seq: u64,
        message: impl Into<Message>,
    ) -> Self {
        Envelope { conversation_id, call_id, party_id, role, seq, message: message.into() }
    }

    /// The message type, e.g. `call.invite`.
    pub fn message_type(&self) -> &str {
        self.message.message_type()
    }

    /// Overwrites the sender's identity and sequence number: what the relay does with every
    /// frame before forwarding it. The body stays as decoded (and checked) once.
    pub fn stamp(&mut self, party_id: PartyId, role: Role, seq: u64) {
        self.party_id = party_id;
        self.role = role;
        self.seq = seq;
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Body<'a>(&'a Message);
        impl Serialize for Body<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize_body(serializer)
            }
        }
        let mut envelope = serializer.serialize_struct("Envelope", 8)?;
        envelope.serialize_field("type", self.message_type())?;
        envelope.serialize_field("version", &VERSION)?;
        envelope.serialize_field("conversation_id", &self.conversation_id)?;
        envelope.serialize_field("call_id", &self.call_id)?;
        envelope.serialize_field("party_id", &self.party_id)?;
        envelope.serialize_field("role", &self.role)?;
        envelope.serialize_field("seq", &self.seq)?;
        envelope.serialize_field("body", &Body(&self.message))?;
        envelope.end()
    }
}

/// What the single pass over a frame found; the codec turns it into an [`Envelope`] or a
/// typed error (an unsupported version, say).
pub(crate) struct Parsed {
    pub(crate) version: u64,
    pub(crate) envelope: Option<Envelope>,
    /// Whether `body` was the object's last key (as every writer of ours puts it): the body's
    /// text then ends where the frame's object does.
    pub(crate) body_last: bool,
}

enum Field {
    Type,
    Version,
    ConversationId,
    CallId,
    PartyId,
    Role,
    Seq,
    Body,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "type" => Field::Type,
                    "version" => Field::Version,
                    "conversation_id" => Field::ConversationId,
                    "call_id" => Field::CallId,
                    "party_id" => Field::PartyId,
                    "role" => Field::Role,
                    "seq" => Field::Seq,
                    "body" => Field::Body,
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

/// Reads the envelope in one pass. When `type` and `version` come before `body` (as every
/// writer of ours orders them), the body is deserialized straight into its type; otherwise it
/// is kept raw and read once the type is known.
impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor::default())
    }
}

/// The envelope visitor, optionally told the `type` and `version` in advance: the codec's
/// error path does so, so that the body is read in place (and its errors get a path) whatever
/// the key order.
#[derive(Default)]
pub(crate) struct EnvelopeVisitor {
    pub(crate) known_type: Option<String>,
    pub(crate) known_version: Option<u64>,
}

fn set<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

/// The `type`: a known one borrowed from [`Message::TYPES`] (no allocation), another kept if it
/// is a well-formed token.
struct TypeName;

impl<'de> DeserializeSeed<'de> for TypeName {
    type Value = Cow<'static, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        crate::value::parse_str(deserializer, type_name)
    }
}

/// A `type` as [`TypeName`] reads it, shared with the codec's fast path.
pub(crate) fn type_name(text: &str) -> Result<Cow<'static, str>, ValueError> {
    if let Some(known) = Message::TYPES.iter().find(|known| **known == text) {
        return Ok(Cow::Borrowed(*known));
    }
    crate::value::check_token("type", text, MAX_TOKEN_LEN, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
    })
    .map(|()| Cow::Owned(text.to_owned()))
}

enum BodySlot {
    Parsed(Message),
    Raw(Box<RawValue>),
    Skipped,
}

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a call message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut message_type: Option<Cow<'static, str>> = None;
        let mut version = None;
        let mut conversation_id = None;
        let mut call_id = None;
        let mut party_id = None;
        let mut role = None;
        let mut seq = None;
        let mut body = None;
        let mut body_last = false;
        while let Some(field) = map.next_key::<Field>()? {
            body_last = matches!(field, Field::Body);
            match field {
                Field::Type => set(&mut message_type, "type", map.next_value_seed(TypeName)?)?,
                Field::Version => {
                    set(&mut version, "version", map.next_value::<u64>()?)?;
                }
                Field::ConversationId => {
                    set(&mut conversation_id, "conversation_id", map.next_value()?)?;
                }
                Field::CallId => {
                    set(&mut call_id, "call_id", map.next_value()?)?;
                }
                Field::PartyId => {
                    set(&mut party_id, "party_id", map.next_value()?)?;
                }
                Field::Role => {
                    set(&mut role, "role", map.next_value()?)?;
                }
                Field::Seq => {
                    set(&mut seq, "seq", map.next_value::<u64>()?)?;
                }
                Field::Body => {
                    let message_type = message_type.as_deref().or(self.known_type.as_deref());
                    let slot = match (message_type, version.or(self.known_version)) {
                        (_, Some(v)) if v != crate::VERSION => {
                            map.next_value::<IgnoredAny>()?;
                            BodySlot::Skipped
                        }
                        (Some(message_type), Some(_)) => {
                            BodySlot::Parsed(map.next_value_seed(BodySeed(message_type))?)
                        }
                        _ => BodySlot::Raw(map.next_value()?),
                    };
                    set(&mut body, "body", slot)?;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let version = version.ok_or_else(|| de::Error::missing_field("version"))?;
        if version != crate::VERSION {
            return Ok(Parsed { version, envelope: None, body_last });
        }
        let message_type = message_type.ok_or_else(|| de::Error::missing_field("type"))?;
        let message = match body {
            Some(BodySlot::Parsed(message)) => message,
            Some(BodySlot::Raw(raw)) => {
                let mut inner = serde_json::Deserializer::from_str(raw.get());
                BodySeed(&message_type).deserialize(&mut inner).map_err(de::Error::custom)?
            }
            Some(BodySlot::Skipped) | None => {
                let mut empty = serde_json::Deserializer::from_str("{}");
                BodySeed(&message_type).deserialize(&mut empty).map_err(de::Error::custom)?
            }
        };
        let envelope = Envelope {
            conversation_id: conversation_id
                .ok_or_else(|| de::Error::missing_field("conversation_id"))?,
            call_id: call_id.ok_or_else(|| de::Error::missing_field("call_id"))?,
            party_id: party_id.ok_or_else(|| de::Error::missing_field("party_id"))?,
            role: role.ok_or_else(|| de::Error::missing_field("role"))?,
            seq: seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            message,
        };
        Ok(Parsed { version, envelope: Some(envelope), body_last })
    }
}
