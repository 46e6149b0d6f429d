//! Trickle ICE: local candidates batched on the way out, remote ones held until their
//! description is applied.

use std::collections::VecDeque;

use velaro_call_protocol::limits::MAX_CANDIDATES;
use velaro_call_protocol::message::candidates::{IceCandidate, SharedStr};
use velaro_call_protocol::velaro_ice_config::Candidate;

pub(crate) use crate::tuning::MAX_HELD_CANDIDATES as MAX_BUFFERED;

/// Local candidates waiting to be sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalCandidates {
    pending: Vec<IceCandidate>,
    /// The first batch of this ICE generation went out: later candidates go as they come.
    first_batch_sent: bool,
}

/// What to do after a local candidate was gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gathered {
    /// Hold it; arm the batch timer if it is not armed.
    Hold,
    /// Send now.
    SendNow,
}

impl LocalCandidates {
    /// A new ICE generation starts (first offer or ICE restart): batch again.
    pub(crate) fn new_generation(&mut self) {
        self.pending.clear();
        self.first_batch_sent = false;
    }

    pub(crate) fn gathered(&mut self, candidate: IceCandidate) -> Gathered {
        self.pending.push(candidate);
        if self.first_batch_sent || self.pending.len() >= MAX_CANDIDATES {
            Gathered::SendNow
        } else {
            Gathered::Hold
        }
    }

    /// Takes what is pending (at most one message's worth), marking the first batch sent.
    pub(crate) fn take(&mut self) -> Vec<IceCandidate> {
        self.first_batch_sent = true;
        let rest = self.pending.split_off(self.pending.len().min(MAX_CANDIDATES));
        std::mem::replace(&mut self.pending, rest)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(crate) fn heap_estimate(&self) -> usize {
        self.pending.capacity() * size_of::<IceCandidate>()
            + self.pending.iter().map(candidate_heap).sum::<usize>()
    }
}

/// Remote candidates and the ICE generation (ufrag) of the applied remote description.
#[derive(Debug, Clone, Default)]
pub(crate) struct RemoteCandidates {
    /// The ufrag of the remote description applied last; `None` before the first one.
    ufrag: Option<String>,
    held: VecDeque<IceCandidate>,
    /// How many were dropped: overflow or an old generation.
    pub(crate) dropped: u32,
}

impl RemoteCandidates {
    /// A remote candidate arrived: `Some` to apply now, `None` if held or dropped.
    pub(crate) fn received(&mut self, candidate: IceCandidate) -> Option<IceCandidate> {
        match (&self.ufrag, candidate.ufrag()) {
            (Some(current), Some(ufrag)) if current != ufrag => {
                // An old generation's, or a new one's whose description has not come yet.
                self.hold(candidate);
                None
            }
            (Some(_), _) => Some(candidate),
            (None, _) => {
                self.hold(candidate);
                None
            }
        }
    }

    fn hold(&mut self, candidate: IceCandidate) {
        if self.held.len() == MAX_BUFFERED {
            self.dropped = self.dropped.saturating_add(1);
        } else {
            self.held.push_back(candidate);
        }
    }

    /// A remote description of generation `ufrag` was applied: returns the held candidates of
    /// that generation, in arrival order; those of other (older) generations are dropped.
    pub(crate) fn description_applied(&mut self, ufrag: &str) -> Vec<IceCandidate> {
        self.ufrag = Some(ufrag.to_owned());
        let held = std::mem::take(&mut self.held);
        let mut ready = Vec::with_capacity(held.len());
        for candidate in held {
            match candidate.ufrag() {
                Some(other) if other != ufrag => self.dropped = self.dropped.saturating_add(1),
                _ => ready.push(candidate),
            }
        }
        ready
    }

    pub(crate) fn heap_estimate(&self) -> usize {
        self.ufrag.as_ref().map_or(0, String::capacity)
            + self.held.capacity() * size_of::<IceCandidate>()
            + self.held.iter().map(candidate_heap).sum::<usize>()
    }

    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }
}

/// The heap a candidate holds, at most: the texts it keeps alive (a decoded candidate's
/// strings may all be slices of its frame, which is then counted once per string).
fn candidate_heap(candidate: &IceCandidate) -> usize {
    candidate.candidate.as_ref().map_or(0, Candidate::retained_len)
        + candidate.sdp_mid.as_ref().map_or(0, SharedStr::retained_len)
        + candidate.username_fragment.as_ref().map_or(0, SharedStr::retained_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(ufrag: &str, port: u16) -> IceCandidate {
        let line = format!("candidate:1 1 udp 2122260223 192.0.2.1 {port} typ host ufrag {ufrag}");
        IceCandidate::new(line.parse().unwrap(), Some("0".into()), Some(0))
    }

    #[test]
    fn first_batch_is_held_then_candidates_flow() {
        let mut local = LocalCandidates::default();
        assert_eq!(local.gathered(candidate("a", 1)), Gathered::Hold);
        assert_eq!(local.gathered(candidate("a", 2)), Gathered::Hold);
        assert_eq!(local.take().len(), 2);
        assert_eq!(local.gathered(candidate("a", 3)), Gathered::SendNow);
        assert_eq!(local.take().len(), 1);
        local.new_generation();
        assert_eq!(local.gathered(candidate("b", 4)), Gathered::Hold, "a restart batches again");
    }

    #[test]
    fn remote_candidates_wait_for_their_description_and_keep_order() {
        let mut remote = RemoteCandidates::default();
        assert_eq!(remote.received(candidate("old", 1)), None);
        assert_eq!(remote.received(candidate("new", 2)), None);
        assert_eq!(remote.received(candidate("new", 3)), None);
        let ready = remote.description_applied("new");
        assert_eq!(
            ready.iter().map(|c| c.candidate.as_ref().unwrap().port()).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(remote.dropped, 1, "the old generation's candidate");
        assert!(remote.received(candidate("new", 4)).is_some());
        assert_eq!(
            remote.received(candidate("old", 5)),
            None,
            "held, and dropped at the next description"
        );
        assert!(remote.description_applied("newer").is_empty());
        assert_eq!(remote.dropped, 2);
    }

    #[test]
    fn holding_is_bounded() {
        let mut remote = RemoteCandidates::default();
        for port in 0..200 {
            remote.received(candidate("x", port));
        }
        assert_eq!(remote.held(), MAX_BUFFERED);
        assert_eq!(remote.dropped as usize, 200 - MAX_BUFFERED);
    }
}
