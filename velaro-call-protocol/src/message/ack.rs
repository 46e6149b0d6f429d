//! `call.ack`: what a party's call took, so that the relay can forget it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::resume::{format_cursor, parse_cursor};
use crate::value::PartyId;

/// The body of `call.ack` (both sides, to the relay; never forwarded): `{"seen":"agent-7:12"}`,
/// the highest `seq` the sender's live call took from each sender, written as a resume cursor
/// (see [`crate::resume`]). The relay keeps every frame it delivered to a party for a resume;
/// the frames an ack covers are ones a resume would never replay, so the relay forgets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AckBody {
    /// Per sender, the highest `seq` taken (at most
    /// [`MAX_CURSOR_ENTRIES`](crate::resume::MAX_CURSOR_ENTRIES) senders).
    pub seen: Vec<(PartyId, u64)>,
}

impl AckBody {
    /// An ack of `seen`.
    pub fn new(seen: Vec<(PartyId, u64)>) -> Self {
        AckBody { seen }
    }
}

impl Serialize for AckBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire {
            seen: String,
        }
        Wire { seen: format_cursor(&self.seen) }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AckBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(expecting = "the body of call.ack (an object)")]
        struct Wire<'a> {
            #[serde(borrow)]
            seen: std::borrow::Cow<'a, str>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let seen = parse_cursor(&wire.seen).map_err(serde::de::Error::custom)?;
        Ok(AckBody { seen })
    }
}
