//! Validated scalar values of the protocol: ids, bounded text, and open string enums.

use std::fmt;

use crate::limits::MAX_ID_LEN;

/// A value that failed validation on construction or on deserialize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value is empty.
    #[error("{what} is empty")]
    Empty {
        /// What kind of value.
        what: &'static str,
    },
    /// The value is longer than allowed.
    #[error("{what} is {len} bytes long, more than {max}")]
    TooLong {
        /// What kind of value.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value holds a character its grammar does not allow.
    #[error("{what} has the character {ch:?} at byte {at}, which is not allowed")]
    InvalidChar {
        /// What kind of value.
        what: &'static str,
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// A number outside its range.
    #[error("{what} is {value}, outside {min}..={max}")]
    OutOfRange {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
}

/// Checks `text` against a length range and a per-byte grammar (ASCII grammars only).
#[inline]
pub(crate) fn check_token(
    what: &'static str,
    text: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), ValueError> {
    if text.is_empty() {
        return Err(ValueError::Empty { what });
    }
    if text.len() > max {
        return Err(ValueError::TooLong { what, len: text.len(), max });
    }
    // Bytes, not chars: every byte of a non-ASCII char is refused, and the first one starts it.
    match text.bytes().position(|b| !b.is_ascii() || !allowed(b)) {
        Some(at) => {
            let ch = text.get(at..).and_then(|rest| rest.chars().next()).unwrap_or_default();
            Err(ValueError::InvalidChar { what, ch, at })
        }
        None => Ok(()),
    }
}

/// Checks free text: at most `max` bytes, no control characters other than newline and tab.
pub(crate) fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), ValueError> {
    if text.len() > max {
        return Err(ValueError::TooLong { what, len: text.len(), max });
    }
    match text.char_indices().find(|(_, ch)| ch.is_control() && !matches!(ch, '\n' | '\t')) {
        Some((at, ch)) => Err(ValueError::InvalidChar { what, ch, at }),
        None => Ok(()),
    }
}

/// Deserializes a string through `parse` without allocating: serde's `Cow<str>` always
/// allocates, while a visitor sees the borrowed (or unescaped scratch) text directly.
pub(crate) fn parse_str<'de, D, T, E>(
    deserializer: D,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    E: fmt::Display,
{
    struct StrVisitor<F>(F);
    impl<T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> serde::de::Visitor<'_> for StrVisitor<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<Err: serde::de::Error>(self, text: &str) -> Result<T, Err> {
            (self.0)(text).map_err(Err::custom)
        }
    }
    deserializer.deserialize_str(StrVisitor(parse))
}

/// The id grammar: `[0-9A-Za-z._~-]` (the Matrix opaque-id grammar). A table: ids are checked
/// in every frame, three of them.
fn is_id_byte(b: u8) -> bool {
    #[allow(
        clippy::indexing_slicing,
        clippy::cast_possible_truncation,
        reason = "evaluated at compile time: a bad index does not build, and `byte` is below 256"
    )]
    const ID_BYTES: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            table[byte] = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-');
            byte += 1;
        }
        table
    };
    ID_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// The longest id kept in place, so that an [`IdText`] is as large as a `String` (24 bytes).
const INLINE_ID_LEN: usize = 22;

/// The text of an id: up to [`INLINE_ID_LEN`] bytes in place (ids of that size are the rule:
/// decoding one allocates nothing, cloning one copies 24 bytes), a longer one shared (cloning
/// it counts a reference). One text has one form, so equal ids have equal forms.
#[derive(Clone)]
enum IdText {
    Inline { len: u8, bytes: [u8; INLINE_ID_LEN] },
    Shared(std::sync::Arc<str>),
}

impl IdText {
    /// `text`, already checked against the id grammar (ASCII).
    fn new(text: &str) -> IdText {
        let mut bytes = [0; INLINE_ID_LEN];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(text.as_bytes());
                IdText::Inline { len, bytes }
            }
            _ => IdText::Shared(text.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            IdText::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            IdText::Shared(text) => text.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // ASCII, as the grammar has it: valid, and checked quickly.
            IdText::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            IdText::Shared(text) => text,
        }
    }
}

impl PartialEq for IdText {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for IdText {}

impl PartialOrd for IdText {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// As the texts order (byte order is `str` order).
impl Ord for IdText {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for IdText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// 1 to 255 characters of `[0-9A-Za-z._~-]`, checked on construction and on deserialize.
        /// Ids of up to 22 characters are kept in place (no allocation); longer ones are shared
        /// between clones.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(IdText);

        impl $name {
            /// Validates and wraps an id.
            pub fn new(id: impl AsRef<str>) -> Result<Self, ValueError> {
                let id = id.as_ref();
                check_token($what, id, MAX_ID_LEN, is_id_byte)?;
                Ok($name(IdText::new(id)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The id's bytes, without the check `as_str` makes of an id kept in place: what
            /// the encoder writes (an id needs no JSON escape).
            pub(crate) fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;

            fn from_str(id: &str) -> Result<Self, ValueError> {
                $name::new(id)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                parse_str(deserializer, |id: &str| $name::new(id))
            }
        }
    };
}

id_type!(
    /// The chat conversation a call belongs to; the host application's own id.
    ConversationId,
    "conversation_id"
);
id_type!(
    /// One call; chosen by the inviting agent's client, unique per call.
    CallId,
    "call_id"
);
id_type!(
    /// One device or browser tab of a party; stamped by the relay.
    PartyId,
    "party_id"
);
impl PartyId {
    /// The party the relay writes on its own notices (`call.rejected`, and what it says for a
    /// party that is not there). The relay stamps every client's frame with the client's own
    /// id, so no client can speak as `relay`.
    pub fn relay() -> PartyId {
        PartyId(IdText::new(RELAY_PARTY_ID))
    }
}

/// The text of [`PartyId::relay`].
pub const RELAY_PARTY_ID: &str = "relay";

id_type!(
    /// One offer/answer exchange within a call; chosen by the offerer.
    NegotiationId,
    "negotiation_id"
);

/// Defines an open string enum: known values as variants, anything else kept in `Other`
/// so it round-trips (a newer peer may send values this version does not know).
macro_rules! open_enum {
    (
        $(#[$doc:meta])* $name:ident, $what:literal {
            $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        ///
        /// Open: an unknown value (1 to 64 of `[0-9A-Za-z._-]`) is kept as `Other` and written back
        /// unchanged.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version does not know.
            Other(String),
        }

        impl $name {
            /// Every value this version knows, as written on the wire.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            /// The value as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(text) => text,
                }
            }

            /// Parses a wire value; unknown values become `Other` if they are well-formed.
            pub fn parse(text: &str) -> Result<Self, $crate::value::ValueError> {
                Ok(match text {
                    $($text => $name::$variant,)+
                    other => {
                        $crate::value::check_token($what, other, $crate::limits::MAX_TOKEN_LEN, |b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
                        })?;
                        $name::Other(other.to_owned())
                    }
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::value::parse_str(deserializer, $name::parse)
            }
        }
    };
}
pub(crate) use open_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_validate_their_grammar() {
        assert_eq!(CallId::new("call-1.a_b~C").unwrap().as_str(), "call-1.a_b~C");
        assert_eq!(CallId::new(""), Err(ValueError::Empty { what: "call_id" }));
        assert_eq!(
            PartyId::new("a b"),
            Err(ValueError::InvalidChar { what: "party_id", ch: ' ', at: 1 })
        );
        assert_eq!(
            ConversationId::new("é"),
            Err(ValueError::InvalidChar { what: "conversation_id", ch: 'é', at: 0 })
        );
        assert_eq!(
            NegotiationId::new("x".repeat(256)),
            Err(ValueError::TooLong { what: "negotiation_id", len: 256, max: 255 })
        );
        assert!(NegotiationId::new("x".repeat(255)).is_ok());
    }

    #[test]
    fn ids_kept_in_place_or_shared_behave_as_their_text() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |id: &CallId| {
            let mut hasher = DefaultHasher::new();
            id.hash(&mut hasher);
            hasher.finish()
        };
        // Around the longest id kept in place, and the longest id.
        let texts: Vec<String> = [1, 21, 22, 23, 255]
            .iter()
            .flat_map(|&len| ["a".repeat(len), format!("{}b", "a".repeat(len - 1))])
            .collect();
        for text in &texts {
            let id = CallId::new(text).unwrap();
            assert!(matches!(id.0, IdText::Inline { .. }) == (text.len() <= INLINE_ID_LEN));
            assert_eq!(id.as_str(), text);
            assert_eq!(id.to_string(), *text);
            assert_eq!(format!("{id:?}"), format!("CallId({text:?})"));
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
            let clone = id.clone();
            assert_eq!(clone, id);
            assert_eq!(hash(&clone), hash(&id));
            for other in &texts {
                let other_id = CallId::new(other).unwrap();
                assert_eq!(id == other_id, text == other, "{text} = {other}");
                assert_eq!(id.cmp(&other_id), text.cmp(other), "{text} ? {other}");
            }
        }
        assert_eq!(size_of::<CallId>(), size_of::<String>());
    }

    #[test]
    fn the_relay_party_id_is_a_valid_id() {
        assert_eq!(PartyId::new(RELAY_PARTY_ID), Ok(PartyId::relay()));
    }

    #[test]
    fn ids_validate_on_deserialize() {
        let id: CallId = serde_json::from_str("\"c1\"").unwrap();
        assert_eq!(id, CallId::new("c1").unwrap());
        let err = serde_json::from_str::<CallId>("\"c/1\"").unwrap_err();
        assert!(err.to_string().contains("call_id has the character '/'"), "{err}");
    }

    #[test]
    fn text_allows_newlines_but_not_other_controls() {
        assert_eq!(check_text("prompt", "a\nb\tc", 10), Ok(()));
        assert_eq!(
            check_text("prompt", "a\u{7}", 10),
            Err(ValueError::InvalidChar { what: "prompt", ch: '\u{7}', at: 1 })
        );
        assert_eq!(
            check_text("prompt", "abc", 2),
            Err(ValueError::TooLong { what: "prompt", len: 3, max: 2 })
        );
    }
}
