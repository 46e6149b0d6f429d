//! Every v1 message: one body type per message kind, and the [`Message`] enum over them.

pub mod ack;
pub mod answer;
pub mod candidates;
pub mod description;
pub mod hangup;
pub mod invite;
pub mod media;

use std::fmt;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use ack::AckBody;
use answer::{AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody};
use candidates::CandidatesBody;
use description::DescriptionBody;
use hangup::{HangupBody, RejectedBody};
use invite::InviteBody;
use media::{MediaBody, QualityBody};

/// A message of a type this version does not know, kept so that a newer peer's additions do
/// not break an older one. Peers may ignore it; the relay refuses to forward it.
#[derive(Debug, Clone)]
pub struct UnknownMessage {
    /// The `type` as received.
    pub message_type: String,
    /// The `body` as received, byte for byte (`{}` when absent).
    pub body: Box<RawValue>,
}

impl PartialEq for UnknownMessage {
    fn eq(&self, other: &Self) -> bool {
        self.message_type == other.message_type && self.body.get() == other.body.get()
    }
}

macro_rules! messages {
    ($($(#[$doc:meta])* $variant:ident($body:ty) = $type:literal,)+) => {
        /// One call message: its kind and body. The envelope fields live in
        /// [`Envelope`](crate::Envelope).
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Message {
            $($(#[$doc])* $variant($body),)+
            /// A type this version does not know.
            Unknown(UnknownMessage),
        }

        impl Message {
            /// Every message type this version knows.
            pub const TYPES: &'static [&'static str] = &[$($type),+];

            /// The `type` on the wire, e.g. `call.invite`.
            pub fn message_type(&self) -> &str {
                match self {
                    $(Message::$variant(_) => $type,)+
                    Message::Unknown(unknown) => &unknown.message_type,
                }
            }

            pub(crate) fn serialize_body<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Message::$variant(body) => body.serialize(serializer),)+
                    Message::Unknown(unknown) => unknown.body.serialize(serializer),
                }
            }
        }

        $(
            impl From<$body> for Message {
                fn from(body: $body) -> Self {
                    Message::$variant(body)
                }
            }
        )+

        impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
            type Value = Message;

            fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Message, D::Error> {
                match self.0 {
                    $($type => <$body>::deserialize(ObjectOnly(deserializer)).map(Message::$variant),)+
                    other => {
                        // Kept whole, but still an object like every body.
                        let body = Box::<RawValue>::deserialize(deserializer)?;
                        if !body.get().starts_with('{') {
                            return Err(serde::de::Error::invalid_type(
                                serde::de::Unexpected::Other(body.get().get(..1).unwrap_or_default()),
                                &"a body object",
                            ));
                        }
                        Ok(Message::Unknown(UnknownMessage { message_type: other.to_owned(), body }))
                    }
                }
            }
        }
    };
}

/// Makes a body struct accept only a JSON object: serde's derived structs would also take an
/// array of the field values in order, which no writer of this protocol produces.
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Deserializes the body of the message type it holds.
pub(crate) struct BodySeed<'a>(pub(crate) &'a str);

messages! {
    /// `call.invite` (agent → visitor): start a call.
    Invite(InviteBody) = "call.invite",
    /// `call.ringing` (visitor → agent): the prompt is shown.
    Ringing(RingingBody) = "call.ringing",
    /// `call.accept` (visitor → agent): yes, after permission was granted.
    Accept(AcceptBody) = "call.accept",
    /// `call.select_answer` (agent → visitors): which tab's accept won.
    SelectAnswer(SelectAnswerBody) = "call.select_answer",
    /// `call.decline` (visitor → agent): no, with a reason.
    Decline(DeclineBody) = "call.decline",
    /// `call.cancel` (agent → visitor): the invite is withdrawn.
    Cancel(CancelBody) = "call.cancel",
    /// `call.description` (both): an SDP offer or answer.
    Description(DescriptionBody) = "call.description",
    /// `call.candidates` (both): trickled ICE candidates.
    Candidates(CandidatesBody) = "call.candidates",
    /// `call.media` (both): mute, camera, screen share and audio-only state.
    Media(MediaBody) = "call.media",
    /// `call.quality` (both): connection quality reports.
    Quality(QualityBody) = "call.quality",
    /// `call.hangup` (both): the call ends; the conversation goes on.
    Hangup(HangupBody) = "call.hangup",
    /// `call.rejected` (relay → sender): a frame was refused.
    Rejected(RejectedBody) = "call.rejected",
    /// `call.ack` (both → relay): the frames the sender's call took, which the relay need not
    /// keep for a resume.
    Ack(AckBody) = "call.ack",
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_type())
    }
}
