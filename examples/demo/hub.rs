//! The demo's chat: who is in each conversation, and what was said.
//!
//! A room lives while pages are in it. Once its last page is gone it keeps its history for
//! the relay's grace period, so a page whose connection dropped and comes back (or a second tab
//! opened a moment later) still sees the conversation, then it is freed, history and all: the
//! history is only there for pages joining a conversation that is going on, and a product
//! keeps its transcripts in its own storage, not in the socket server. Without the freeing,
//! every one-off conversation stayed in memory for ever. At most [`MAX_EMPTY_ROOMS`] empty
//! rooms wait at once (the oldest goes first), and each room's history is bounded by lines and
//! by bytes, so the chat's memory is bounded by the pages connected.
//!
//! Rooms are freed lazily, whenever the hub is used (no timer task); time is a `now` argument.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use velaro_call_protocol::{ConversationId, PartyId, Role};

use crate::outbox::Outbox;

/// Lines kept per conversation for pages that join later.
const HISTORY: usize = 200;

/// Bytes of history kept per conversation (the oldest lines go first): a page joining gets
/// it all at once, so it stays well under a page's queue.
const HISTORY_BYTES: usize = 64 * 1024;

/// Empty rooms kept at most, waiting for a page to come back.
pub(crate) const MAX_EMPTY_ROOMS: usize = 256;

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
    members: Vec<(u64, Arc<Outbox>)>,
    history: VecDeque<Bytes>,
    history_bytes: usize,
    /// How many times the room emptied: names the latest entry in [`Hub::empty`].
    emptied: u64,
}

/// Every conversation's chat room.
#[derive(Debug)]
pub(crate) struct Hub {
    rooms: HashMap<ConversationId, Room>,
    next_member: u64,
    /// How long an empty room waits for a page to come back.
    grace: Duration,
    /// Rooms that emptied, oldest first: when each may be freed, and which emptying it was
    /// (a room that filled and emptied again has a newer entry).
    empty: VecDeque<(Instant, ConversationId, u64)>,
}

impl Hub {
    /// No rooms yet; an empty room keeps its history for `grace`.
    pub(crate) fn new(grace: Duration) -> Hub {
        Hub { rooms: HashMap::new(), next_member: 0, grace, empty: VecDeque::new() }
    }

    /// Adds a page's outgoing queue to the room and sends it the history; returns its ticket.
    pub(crate) fn join(
        &mut self,
        now: Instant,
        conversation: &ConversationId,
        out: Arc<Outbox>,
    ) -> u64 {
        self.free_empty_rooms(now);
        self.next_member += 1;
        let room = self.rooms.entry(conversation.clone()).or_default();
        for line in &room.history {
            if out.push(line.clone()).is_err() {
                break;
            }
        }
        room.members.push((self.next_member, out));
        self.next_member
    }

    /// Removes a page from the room.
    pub(crate) fn leave(&mut self, now: Instant, conversation: &ConversationId, member: u64) {
        if let Some(room) = self.rooms.get_mut(conversation) {
            let before = room.members.len();
            room.members.retain(|(id, _)| *id != member);
            if before > 0 && room.members.is_empty() {
                self.emptied(now, conversation);
            }
        }
        self.free_empty_rooms(now);
    }

    /// Says `text` in the conversation: to every page in it, and into its history. A room that
    /// was freed (everyone left long ago) hears nothing.
    pub(crate) fn post(
        &mut self,
        now: Instant,
        conversation: &ConversationId,
        speaker: Speaker<'_>,
        text: &str,
    ) {
        self.free_empty_rooms(now);
        let Some(room) = self.rooms.get_mut(conversation) else { return };
        let (from, party_id) = match speaker {
            Speaker::Party(Role::Agent, party) => ("agent", Some(party.as_str())),
            Speaker::Party(_, party) => ("visitor", Some(party.as_str())),
            Speaker::System => ("system", None),
        };
        let line = ChatLine { kind: "chat.message", from, party_id, text };
        let Ok(json) = serde_json::to_vec(&line) else { return };
        let frame = Bytes::from(json);
        room.history_bytes += frame.len();
        room.history.push_back(frame.clone());
        while room.history.len() > HISTORY || room.history_bytes > HISTORY_BYTES {
            let Some(old) = room.history.pop_front() else { break };
            room.history_bytes -= old.len();
        }
        let before = room.members.len();
        // A page whose queue is full is being disconnected: it leaves the room now.
        room.members.retain(|(_, out)| out.push(frame.clone()).is_ok());
        if before > 0 && room.members.is_empty() {
            self.emptied(now, conversation);
        }
    }

    /// The room just lost its last page.
    fn emptied(&mut self, now: Instant, conversation: &ConversationId) {
        let Some(room) = self.rooms.get_mut(conversation) else { return };
        room.emptied += 1;
        self.empty.push_back((now + self.grace, conversation.clone(), room.emptied));
    }

    /// Frees the rooms that stayed empty past their grace, and the oldest empty ones beyond
    /// [`MAX_EMPTY_ROOMS`].
    fn free_empty_rooms(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.empty.front() {
            if *at > now && self.empty.len() <= MAX_EMPTY_ROOMS {
                break;
            }
            let Some((_, conversation, emptied)) = self.empty.pop_front() else { break };
            let still_empty = self
                .rooms
                .get(&conversation)
                .is_some_and(|room| room.members.is_empty() && room.emptied == emptied);
            if still_empty {
                self.rooms.remove(&conversation);
            }
        }
        // A burst of rooms leaves a large table behind: give it back once mostly empty.
        if self.rooms.capacity() > 64 && self.rooms.capacity() > 4 * self.rooms.len() {
            self.rooms.shrink_to_fit();
        }
        if self.empty.capacity() > 2 * MAX_EMPTY_ROOMS {
            self.empty.shrink_to_fit();
        }
    }

    /// How many rooms are held, empty ones included.
    #[cfg(test)]
    fn room_count(&self) -> usize {
        self.rooms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's resident set, in bytes.
    fn rss() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
        let kib: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("kB");
        kib * 1024
    }

    const GRACE: Duration = Duration::from_secs(20);

    fn conversation(name: &str) -> ConversationId {
        ConversationId::new(name).expect("id")
    }

    fn page() -> Arc<Outbox> {
        Arc::new(Outbox::new(1024 * 1024))
    }

    #[test]
    fn one_off_conversations_leave_no_room_behind() {
        #[allow(clippy::disallowed_methods)] // a fixed start; the test moves time itself
        let start = Instant::now();
        let mut hub = Hub::new(GRACE);
        let before = rss();
        for i in 0..20_000u64 {
            let now = start + Duration::from_millis(i);
            let conversation = conversation(&format!("one-off-{i}"));
            let member = hub.join(now, &conversation, page());
            hub.post(now, &conversation, Speaker::System, "Video call ended (2 min 5 s)");
            hub.leave(now, &conversation, member);
        }
        let grown = rss().saturating_sub(before);
        eprintln!("20,000 one-off conversations: the hub grew {} KiB", grown / 1024);
        assert!(grown < 2 * 1024 * 1024, "the hub grew {} KiB", grown / 1024);
        assert!(hub.room_count() <= MAX_EMPTY_ROOMS, "{} rooms kept", hub.room_count());
        hub.leave(start + Duration::from_secs(60), &conversation("none"), 0);
        assert_eq!(hub.room_count(), 0, "past the grace every empty room is freed");
    }

    #[test]
    fn an_empty_room_keeps_its_history_for_the_grace_then_is_freed() {
        #[allow(clippy::disallowed_methods)] // a fixed start; the test moves time itself
        let start = Instant::now();
        let mut hub = Hub::new(GRACE);
        let room = conversation("conv-1");
        let visitor = hub.join(start, &room, page());
        hub.post(start, &room, Speaker::System, "hello");
        hub.leave(start, &room, visitor);

        // Back within the grace (a dropped connection): the history is there.
        let back = page();
        let again = hub.join(start + GRACE / 2, &room, Arc::clone(&back));
        assert!(back.queued().iter().any(|f| f.windows(5).any(|w| w == b"hello")));
        hub.leave(start + GRACE / 2, &room, again);

        // The grace counts from the last leave; past it the room and its history are gone.
        let late = start + GRACE / 2 + GRACE;
        hub.post(late, &room, Speaker::System, "nobody hears this");
        assert_eq!(hub.room_count(), 0);
        let new = page();
        hub.join(late, &room, Arc::clone(&new));
        assert!(new.queued().is_empty(), "a fresh room has no history");
    }

    #[test]
    fn history_is_bounded_by_lines_and_bytes() {
        #[allow(clippy::disallowed_methods)] // a fixed start
        let now = Instant::now();
        let mut hub = Hub::new(GRACE);
        let room = conversation("conv-2");
        hub.join(now, &room, page());
        let long = "x".repeat(MAX_CHAT_LEN);
        for _ in 0..100 {
            hub.post(now, &room, Speaker::System, &long);
        }
        let kept = &hub.rooms[&room];
        assert!(kept.history_bytes <= HISTORY_BYTES, "{} bytes", kept.history_bytes);
        assert_eq!(kept.history_bytes, kept.history.iter().map(Bytes::len).sum::<usize>());
        for _ in 0..1000 {
            hub.post(now, &room, Speaker::System, "hi");
        }
        assert_eq!(hub.rooms[&room].history.len(), HISTORY);
    }
}
