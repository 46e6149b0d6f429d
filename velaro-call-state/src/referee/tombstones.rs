//! The calls that ended, remembered (bounded) so that nothing revives them.

use std::collections::VecDeque;
use std::mem::size_of;

use velaro_call_protocol::CallId;

/// How many ended calls a conversation remembers; older ones are forgotten first.
pub(super) const MAX_TOMBSTONES: usize = 64;

/// How a remembered call ended, as far as late frames care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Its invite's lifetime passed unanswered: a late accept is told `expired`.
    Expired,
    /// Any other end.
    Other,
}

#[derive(Debug, Clone)]
struct Tombstone {
    call_id: CallId,
    ending: Ending,
}

/// The most recent [`MAX_TOMBSTONES`] ended calls of a conversation, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct Tombstones {
    ended: VecDeque<Tombstone>,
}

impl Tombstones {
    /// Remembers that `call_id` ended, forgetting the oldest call when full.
    pub(super) fn bury(&mut self, call_id: CallId, ending: Ending) {
        if self.ended.len() >= MAX_TOMBSTONES {
            self.ended.pop_front();
        }
        self.ended.push_back(Tombstone { call_id, ending });
    }

    /// How `call_id` ended, if it is remembered.
    pub(super) fn get(&self, call_id: &CallId) -> Option<Ending> {
        self.ended.iter().find(|t| &t.call_id == call_id).map(|t| t.ending)
    }

    /// The heap this holds, in bytes (ids by length: they are exact-size clones).
    pub(super) fn heap(&self) -> usize {
        self.ended.capacity() * size_of::<Tombstone>()
            + self.ended.iter().map(|t| t.call_id.as_str().len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> CallId {
        CallId::new(format!("call-{n}")).unwrap()
    }

    #[test]
    fn remembers_the_most_recent_calls_only() {
        let mut tombstones = Tombstones::default();
        tombstones.bury(id(0), Ending::Expired);
        assert_eq!(tombstones.get(&id(0)), Some(Ending::Expired));
        for n in 1..=MAX_TOMBSTONES {
            tombstones.bury(id(n), Ending::Other);
        }
        assert_eq!(tombstones.get(&id(0)), None, "the oldest is forgotten");
        assert_eq!(tombstones.get(&id(1)), Some(Ending::Other));
        assert_eq!(tombstones.get(&id(MAX_TOMBSTONES)), Some(Ending::Other));
        assert_eq!(tombstones.ended.len(), MAX_TOMBSTONES);
        let capacity = tombstones.ended.capacity();
        for n in 100..1000 {
            tombstones.bury(id(n), Ending::Other);
        }
        assert_eq!(tombstones.ended.len(), MAX_TOMBSTONES);
        assert_eq!(tombstones.ended.capacity(), capacity, "does not grow");
        let ids: usize = (936..1000).map(|n| id(n).as_str().len()).sum();
        assert_eq!(tombstones.heap(), capacity * size_of::<Tombstone>() + ids);
    }
}
