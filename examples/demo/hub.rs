//! The demo's chat: who is in each conversation, and what was said.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use futures::channel::mpsc::UnboundedSender;
use serde::Serialize;
use velaro_call_protocol::{ConversationId, PartyId, Role};

/// Lines kept per conversation for pages that join later.
const HISTORY: usize = 200;

/// The longest chat message, in characters.
pub(crate) const MAX_CHAT_LEN: usize = 2000;

/// Who said a line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Speaker<'a> {
    Party(Role, &'a PartyId),
    /// The host application itself: call started, the call's summary line.
    System,
}

#[derive(Serialize)]
struct ChatLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    party_id: Option<&'a str>,
    text: &'a str,
}

#[derive(Debug, Default)]
struct Room {
    members: Vec<(u64, UnboundedSender<Bytes>)>,
    history: VecDeque<Bytes>,
}

/// Every conversation's chat room.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    rooms: HashMap<ConversationId, Room>,
    next_member: u64,
}

impl Hub {
    /// Adds a page's outgoing queue to the room and sends it the history; returns its ticket.
    pub(crate) fn join(
        &mut self,
        conversation: &ConversationId,
        out: UnboundedSender<Bytes>,
    ) -> u64 {
        self.next_member += 1;
        let room = self.rooms.entry(conversation.clone()).or_default();
        for line in &room.history {
            let _ = out.unbounded_send(line.clone());
        }
        room.members.push((self.next_member, out));
        self.next_member
    }

    /// Removes a page from the room.
    pub(crate) fn leave(&mut self, conversation: &ConversationId, member: u64) {
        if let Some(room) = self.rooms.get_mut(conversation) {
            room.members.retain(|(id, _)| *id != member);
        }
    }

    /// Says `text` in the conversation: to every page in it, and into its history.
    pub(crate) fn post(&mut self, conversation: &ConversationId, speaker: Speaker<'_>, text: &str) {
        let (from, party_id) = match speaker {
            Speaker::Party(Role::Agent, party) => ("agent", Some(party.as_str())),
            Speaker::Party(_, party) => ("visitor", Some(party.as_str())),
            Speaker::System => ("system", None),
        };
        let line = ChatLine { kind: "chat.message", from, party_id, text };
        let Ok(json) = serde_json::to_vec(&line) else { return };
        let frame = Bytes::from(json);
        let room = self.rooms.entry(conversation.clone()).or_default();
        if room.history.len() == HISTORY {
            room.history.pop_front();
        }
        room.history.push_back(frame.clone());
        room.members.retain(|(_, out)| out.unbounded_send(frame.clone()).is_ok());
    }
}
