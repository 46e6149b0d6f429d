//! Resuming after a dropped connection: the cursor a reconnecting client gives the relay, so
//! that it gets back exactly the call frames it missed.
//!
//! # The cursor
//! For its **live call**, the client tells the relay the highest `seq` its call took from each
//! sender:
//!
//! ```text
//! cursor = [ entry *( "," entry ) ]        ; empty: nothing seen
//! entry  = party-id ":" seq                ; seq: decimal, 1 to 2^53 - 1, no sign
//! ```
//!
//! A party id never contains `:` or `,`, so each entry splits at its last `:`. Each sender
//! appears once; the order carries nothing. "Took" means the frame passed the call's replay
//! window (a duplicate does not raise it); relay notices (`call.rejected`) are not counted, as
//! they answer the client's own frames and are not replayed. How the cursor reaches the relay is
//! the host's business (the demo puts it in its WebSocket URL: `&resume=agent-7:12,visitor-3:4`);
//! the relay takes it as `Relay::resume(session, &cursor)` in `velaro-signaling`.
//!
//! # What the relay replays
//! The relay logs, per party, the frames it delivered to that party (or held for it while it was
//! away, within its grace) in the conversation's latest call: a new call starts every log
//! afresh. For a reconnected session it queues, in their first delivery order, every logged
//! frame whose `(sender, seq)` the cursor does not cover: above `seq` for a sender the cursor
//! names, from the first frame for one it does not. Frames the client sent while away it sends
//! again; the relay drops those it has (by `seq`).
//!
//! # Acknowledging
//! What the relay keeps is bounded (512 frames and 1 MiB per party) but is mostly a call's
//! offer and answer, long after both sides took them. A live call therefore tells the relay
//! what it took: `call.ack` with body `{"seen":"<cursor>"}`, sent once frames it has not
//! acknowledged have been taken for `Timings::ack_delay` (1 s by default; velaro-call-state
//! does this). The relay drops from the sender's log every frame the cursor covers (they are
//! exactly the frames a resume with that cursor would skip), does not forward the ack and
//! answers nothing. An ack for another call than the logged one is ignored. A client that never
//! acknowledges loses nothing but relay memory; a relay that predates `call.ack` refuses it as
//! `unknown_type`, and a call whose ack is refused (for any reason) acknowledges no more.
//!
//! # What the client does
//! - Only a live call has a cursor: a `seq` numbers a sender's frames within one call, so a
//!   cursor of an ended call would hide the first frames of the next. Without a live call the
//!   client sends an empty cursor, and a visitor's client keeps replayed frames of ended calls
//!   from ringing (`EndedCalls` in velaro-call-state).
//! - The live call takes the replay through its replay window: what it took before is dropped
//!   as a duplicate. `Call::last_seen` in velaro-call-state gives the cursor's entries;
//!   `@velaro/call` has `client.resumeCursor()`.
//!
//! Example: a visitor's tab took `seq` 1 to 5 from `agent-7`, dropped, and reconnects with
//! `agent-7:5`. Meanwhile the agent muted (seq 6) and hung up (seq 7): the relay replays 6 and
//! 7, in order. With no cursor it replays 1 to 7, and the call drops 1 to 5 as duplicates.
//!
//! ```
//! use velaro_call_protocol::PartyId;
//! use velaro_call_protocol::resume::{format_cursor, parse_cursor};
//!
//! let cursor = vec![(PartyId::new("agent-7")?, 12), (PartyId::new("visitor-3")?, 4)];
//! let text = format_cursor(&cursor);
//! assert_eq!(text, "agent-7:12,visitor-3:4");
//! assert_eq!(parse_cursor(&text)?, cursor);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use crate::limits::MAX_SEQ;
use crate::value::{PartyId, ValueError};

/// The most entries a cursor may have: a conversation's senders in one call are the agent's
/// devices and the visitor's tabs, far fewer than this.
pub const MAX_CURSOR_ENTRIES: usize = 64;

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// An entry is not `party-id:seq`.
    #[error("cursor entry {index} is not party-id:seq")]
    NotAnEntry {
        /// The entry's index.
        index: usize,
    },
    /// An entry's party id is not an id.
    #[error("cursor entry {index}: {error}")]
    Party {
        /// The entry's index.
        index: usize,
        /// What is wrong with it.
        error: ValueError,
    },
    /// An entry's `seq` is not a decimal from 1 to 2^53 - 1.
    #[error("cursor entry {index}: the seq is not a decimal from 1 to 2^53 - 1")]
    Seq {
        /// The entry's index.
        index: usize,
    },
    /// A sender appears twice.
    #[error("cursor names {party} twice")]
    Duplicate {
        /// The sender.
        party: PartyId,
    },
    /// More than [`MAX_CURSOR_ENTRIES`] entries.
    #[error("cursor has more than {max} entries")]
    TooManyEntries {
        /// The limit.
        max: usize,
    },
}

/// Reads a cursor; the empty text is the empty cursor.
pub fn parse_cursor(text: &str) -> Result<Vec<(PartyId, u64)>, CursorError> {
    let mut cursor: Vec<(PartyId, u64)> = Vec::new();
    if text.is_empty() {
        return Ok(cursor);
    }
    for (index, entry) in text.split(',').enumerate() {
        if index == MAX_CURSOR_ENTRIES {
            return Err(CursorError::TooManyEntries { max: MAX_CURSOR_ENTRIES });
        }
        let (party, seq) = entry.rsplit_once(':').ok_or(CursorError::NotAnEntry { index })?;
        let party = PartyId::new(party).map_err(|error| CursorError::Party { index, error })?;
        let digits = !seq.is_empty() && seq.len() <= 16 && seq.bytes().all(|b| b.is_ascii_digit());
        let seq = digits
            .then(|| seq.parse::<u64>().ok())
            .flatten()
            .filter(|seq| (1..=MAX_SEQ).contains(seq))
            .ok_or(CursorError::Seq { index })?;
        if cursor.iter().any(|(seen, _)| *seen == party) {
            return Err(CursorError::Duplicate { party });
        }
        cursor.push((party, seq));
    }
    Ok(cursor)
}

/// Writes a cursor (`party-id:seq,…`; empty for no entries).
pub fn format_cursor(cursor: &[(PartyId, u64)]) -> String {
    let mut text = String::new();
    for (party, seq) in cursor {
        if !text.is_empty() {
            text.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(text, "{party}:{seq}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(id: &str) -> PartyId {
        PartyId::new(id).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_the_empty_text_is_the_empty_cursor() {
        assert_eq!(parse_cursor(""), Ok(Vec::new()));
        assert_eq!(format_cursor(&[]), "");
        let cursor = vec![(party("agent-7"), 12), (party("v.3~x"), MAX_SEQ)];
        assert_eq!(parse_cursor(&format_cursor(&cursor)), Ok(cursor));
    }

    #[test]
    fn each_bad_cursor_says_what_is_wrong() {
        let cases = [
            ("agent-7", CursorError::NotAnEntry { index: 0 }),
            ("a:1,,b:2", CursorError::NotAnEntry { index: 1 }),
            ("a:0", CursorError::Seq { index: 0 }),
            ("a:+1", CursorError::Seq { index: 0 }),
            ("a:9007199254740992", CursorError::Seq { index: 0 }),
            ("a:1,b:x", CursorError::Seq { index: 1 }),
            ("a:1,a:2", CursorError::Duplicate { party: party("a") }),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_cursor(text), Err(expected), "{text}");
        }
        assert!(matches!(parse_cursor("a b:1"), Err(CursorError::Party { index: 0, .. })));
        let many = (0..=MAX_CURSOR_ENTRIES).map(|i| format!("p{i}:1")).collect::<Vec<_>>();
        assert_eq!(
            parse_cursor(&many.join(",")),
            Err(CursorError::TooManyEntries { max: MAX_CURSOR_ENTRIES })
        );
    }
}
