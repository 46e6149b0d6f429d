//! The calls that ended, remembered (bounded) so that nothing revives them.

use std::collections::VecDeque;
use std::mem::size_of;

use velaro_call_protocol::{CallId, Envelope, Message};

/// The most recent ended calls, oldest forgotten first: a late frame of one of them is known
/// for what it is, and an invite of one never rings again.
///
/// The referee keeps one per conversation (tagged with how each call ended). A visitor's
/// client keeps one for the frames that come while it has no call: on a link that reorders,
/// a `call.hangup` or `call.cancel` can overtake its own invite, and must still stop it
/// ([`starts_a_call`](Self::starts_a_call)).
///
/// ```
/// use velaro_call_protocol::message::answer::CancelBody;
/// use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
/// use velaro_call_protocol::{CallId, ConversationId, Envelope, PartyId, Role};
/// use velaro_call_state::EndedCalls;
///
/// let frame = |seq, message: velaro_call_protocol::Message| {
///     Envelope::new(ConversationId::new("conv-1").unwrap(), CallId::new("call-1").unwrap(),
///         PartyId::new("agent-1").unwrap(), Role::Agent, seq, message)
/// };
/// let invite = InviteBody::new(Prompt::new("Video call?")?, MediaKinds::AUDIO_VIDEO);
/// let mut ended = EndedCalls::default();
/// // The cancel (seq 2) overtook its invite (seq 1): the invite must not ring.
/// assert!(!ended.starts_a_call(&frame(2, CancelBody::default().into())));
/// assert!(!ended.starts_a_call(&frame(1, invite.into())));
/// # Ok::<(), velaro_call_protocol::ValueError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EndedCalls<T = ()> {
    ended: VecDeque<(CallId, T)>,
}

impl<T> Default for EndedCalls<T> {
    fn default() -> Self {
        EndedCalls { ended: VecDeque::new() }
    }
}

impl<T: Copy> EndedCalls<T> {
    /// How many ended calls are remembered.
    pub const CAPACITY: usize = 64;

    /// Remembers that `call_id` ended (and how), forgetting the oldest call when full.
    pub fn bury(&mut self, call_id: CallId, how: T) {
        if self.ended.len() >= Self::CAPACITY {
            self.ended.pop_front();
        }
        self.ended.push_back((call_id, how));
    }

    /// How `call_id` ended, if it is remembered.
    pub fn get(&self, call_id: &CallId) -> Option<T> {
        self.ended.iter().find(|(id, _)| id == call_id).map(|(_, how)| *how)
    }

    /// Whether `call_id` is remembered as ended.
    pub fn contains(&self, call_id: &CallId) -> bool {
        self.get(call_id).is_some()
    }

    /// The remembered calls, oldest first (as they are forgotten).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&CallId, T)> + '_ {
        self.ended.iter().map(|(id, how)| (id, *how))
    }

    /// The heap this holds, in bytes (ids by length: they are exact-size clones).
    pub fn heap(&self) -> usize {
        self.ended.capacity() * size_of::<(CallId, T)>()
            + self.ended.iter().map(|(id, _)| id.as_str().len()).sum::<usize>()
    }
}

impl EndedCalls {
    /// Takes in a frame that arrived while this visitor has no call, and says whether it is an
    /// invite to start one ([`Call::visitor`](crate::Call::visitor)). A frame that ends a call
    /// (`call.hangup`, `call.cancel`, `call.select_answer` of another tab) is remembered, so
    /// that its invite, arriving later or replayed, does not ring.
    pub fn starts_a_call(&mut self, envelope: &Envelope) -> bool {
        match &envelope.message {
            Message::Invite(_) => !self.contains(&envelope.call_id),
            Message::Hangup(_) | Message::Cancel(_) | Message::SelectAnswer(_) => {
                if !self.contains(&envelope.call_id) {
                    self.bury(envelope.call_id.clone(), ());
                }
                false
            }
            _ => false,
        }
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
        let mut ended = EndedCalls::default();
        ended.bury(id(0), true);
        assert_eq!(ended.get(&id(0)), Some(true));
        for n in 1..=EndedCalls::<bool>::CAPACITY {
            ended.bury(id(n), false);
        }
        assert_eq!(ended.get(&id(0)), None, "the oldest is forgotten");
        assert_eq!(ended.get(&id(1)), Some(false));
        assert!(ended.contains(&id(EndedCalls::<bool>::CAPACITY)));
        assert_eq!(ended.ended.len(), EndedCalls::<bool>::CAPACITY);
        let capacity = ended.ended.capacity();
        for n in 100..1000 {
            ended.bury(id(n), false);
        }
        assert_eq!(ended.ended.len(), EndedCalls::<bool>::CAPACITY);
        assert_eq!(ended.ended.capacity(), capacity, "does not grow");
        let ids: usize = (936..1000).map(|n| id(n).as_str().len()).sum();
        assert_eq!(ended.heap(), capacity * size_of::<(CallId, bool)>() + ids);
    }
}
