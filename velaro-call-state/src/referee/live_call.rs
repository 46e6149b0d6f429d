//! The live call of a conversation and the rules that judge its frames.

use std::mem::size_of;
use std::time::Instant;

use velaro_call_protocol::limits::{MAX_INVITE_LIFETIME, MIN_INVITE_LIFETIME};
use velaro_call_protocol::message::answer::CancelBody;
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode};
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Reason, Role};

use super::window::SeqWindow;
use super::{Delivery, Fact, Notice, Referee};
use crate::record::MediaUsed;

/// The rules' answer about one frame, before it becomes a [`RefereeOutput`](super::RefereeOutput).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ruling {
    /// Deliver it (stamped with its sender's identity).
    Deliver(Delivery),
    /// Refuse it: answer its sender with `call.rejected` carrying this code and detail (and the
    /// frame's `seq` as `rejected_seq`). Nothing changed.
    Reject {
        /// What the sender can act on.
        code: RejectCode,
        /// Why, for developers: lowercase, names the call or party (under 1 KiB).
        detail: String,
    },
    /// Drop it quietly, without a notice: a duplicate, or a frame for a call that has ended.
    Drop,
}

/// The most visitor tabs whose sequence numbers a ringing call tells apart; past that, the
/// oldest tab's window is forgotten (a duplicate `call.ringing` from it is delivered again,
/// which is harmless: its accept or decline would have bound or ended the call).
pub(super) const MAX_TABS: usize = 8;

/// How a remembered call ended, as far as late frames care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Its invite's lifetime passed unanswered: a late accept is told `expired`.
    Expired,
    /// Any other end.
    Other,
}

/// A party and the sequence numbers delivered from it in this call.
#[derive(Debug, Clone)]
pub(super) struct Speaker {
    pub(super) party: PartyId,
    pub(super) window: SeqWindow,
}

impl Speaker {
    pub(super) fn new(party: PartyId, window: SeqWindow) -> Self {
        Speaker { party, window }
    }
}

/// Whether the live call is answered.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    /// Unanswered: every visitor tab may ring, accept or decline.
    Ringing {
        /// The tabs heard from so far (at most [`MAX_TABS`]).
        tabs: Vec<Speaker>,
        /// The invite as delivered (stamped), for a tab that joins while it rings.
        invite: Box<Envelope>,
    },
    /// Bound to the visitor tab whose accept came first.
    Answered {
        visitor: Speaker,
        at: Instant,
        /// When media connected: the first `call.media` of either bound party (a party sends
        /// its first one once its media is connected). Talk time counts from here.
        media_at: Option<Instant>,
        /// Whether the agent's `call.select_answer` was relayed. Until it is, another tab may
        /// be waiting on the call (it accepted too, and lost the race), so the call's end
        /// reaches every tab.
        selected: bool,
    },
}

/// Who sent a frame for the live call, as far as its rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// The agent device that invited.
    Inviter,
    /// Another agent device of the conversation.
    OtherAgent,
    /// A visitor tab, before the answer.
    Tab,
    /// The visitor tab that answered.
    Bound,
    /// Another visitor tab, after the answer.
    OtherTab,
}

/// What a judged frame did to the live call, besides its verdict.
#[derive(Debug)]
pub(super) enum Effect {
    None,
    /// The call was answered.
    Answered(Fact),
    /// The call ended; `tell_tabs`: the other visitor tabs stop prompting.
    Ended {
        reason: Reason,
        by: Role,
        tell_tabs: bool,
    },
}

/// The live call of the conversation. Small: its ids, two instants, one 16-byte window per
/// party, two counters; the tab list exists only while ringing.
#[derive(Debug, Clone)]
pub(super) struct LiveCall {
    pub(super) id: CallId,
    pub(super) agent: Speaker,
    pub(super) invited_at: Instant,
    pub(super) expires_at: Instant,
    pub(super) answer: Answer,
    /// Candidates delivered from the agent and from the visitor.
    pub(super) agent_candidates: usize,
    pub(super) visitor_candidates: usize,
    /// What the bound parties' `call.media` states showed, for the call's record.
    pub(super) media_used: MediaUsed,
}

impl LiveCall {
    pub(super) fn is_ringing(&self) -> bool {
        matches!(self.answer, Answer::Ringing { .. })
    }

    pub(super) fn answered_at(&self) -> Option<Instant> {
        match &self.answer {
            Answer::Ringing { .. } => None,
            Answer::Answered { at, .. } => Some(*at),
        }
    }

    pub(super) fn media_at(&self) -> Option<Instant> {
        match &self.answer {
            Answer::Ringing { .. } => None,
            Answer::Answered { media_at, .. } => *media_at,
        }
    }

    pub(super) fn visitor(&self) -> Option<&Speaker> {
        match &self.answer {
            Answer::Ringing { .. } => None,
            Answer::Answered { visitor, .. } => Some(visitor),
        }
    }

    fn sender(&self, role: Role, party: &PartyId) -> Sender {
        match (role, &self.answer) {
            (Role::Agent, _) if *party == self.agent.party => Sender::Inviter,
            (Role::Agent, _) => Sender::OtherAgent,
            (Role::Visitor, Answer::Ringing { .. }) => Sender::Tab,
            (Role::Visitor, Answer::Answered { visitor, .. }) if visitor.party == *party => {
                Sender::Bound
            }
            (Role::Visitor, Answer::Answered { .. }) => Sender::OtherTab,
        }
    }

    fn window(&self, sender: Sender, party: &PartyId) -> Option<&SeqWindow> {
        match (sender, &self.answer) {
            (Sender::Inviter, _) => Some(&self.agent.window),
            (Sender::Tab, Answer::Ringing { tabs, .. }) => {
                tabs.iter().find(|t| t.party == *party).map(|t| &t.window)
            }
            (Sender::Bound, Answer::Answered { visitor, .. }) => Some(&visitor.window),
            _ => None,
        }
    }

    /// Records a delivered `seq`. Called after the rule ran, so an accept records into the
    /// window of the tab it just bound.
    fn record(&mut self, role: Role, party: &PartyId, seq: u64) {
        match (role, &mut self.answer) {
            (Role::Agent, _) if *party == self.agent.party => self.agent.window.record(seq),
            (Role::Agent, _) => {}
            (Role::Visitor, Answer::Ringing { tabs, .. }) => {
                if let Some(tab) = tabs.iter_mut().find(|t| t.party == *party) {
                    tab.window.record(seq);
                } else {
                    if tabs.len() >= MAX_TABS {
                        tabs.remove(0);
                    }
                    tabs.push(Speaker::new(party.clone(), SeqWindow::starting_at(seq)));
                }
            }
            (Role::Visitor, Answer::Answered { visitor, .. }) => {
                if visitor.party == *party {
                    visitor.window.record(seq);
                }
            }
        }
    }

    /// Judges a frame of this call from a sender the static checks allowed.
    pub(super) fn judge(
        &mut self,
        now: Instant,
        role: Role,
        party: &PartyId,
        envelope: &Envelope,
    ) -> (Ruling, Effect) {
        let sender = self.sender(role, party);
        if self.window(sender, party).is_some_and(|w| w.is_duplicate(envelope.seq)) {
            return (Ruling::Drop, Effect::None);
        }
        let judged = self.rule(now, sender, party, &envelope.message);
        if matches!(judged.0, Ruling::Deliver(_)) {
            self.record(role, party, envelope.seq);
        }
        judged
    }

    /// The rules of a live call, by message and sender.
    fn rule(
        &mut self,
        now: Instant,
        sender: Sender,
        party: &PartyId,
        message: &Message,
    ) -> (Ruling, Effect) {
        match (message, sender) {
            (_, Sender::OtherAgent | Sender::OtherTab) => plain(self.outsider(sender, message)),
            (
                Message::Cancel(CancelBody { reason, .. })
                | Message::Hangup(HangupBody { reason, .. }),
                _,
            ) => self.terminal(sender, reason),
            (
                Message::Description(_)
                | Message::Candidates(_)
                | Message::Media(_)
                | Message::Quality(_),
                _,
            ) => plain(self.media(now, sender, message)),
            _ => self.answer(now, sender, party, message),
        }
    }

    /// A frame from an agent device that did not invite, or from a visitor tab that did not
    /// answer (after the answer).
    fn outsider(&self, sender: Sender, message: &Message) -> Ruling {
        match (message, sender) {
            (Message::Invite(_), _) => busy(&self.id),
            (_, Sender::OtherAgent) => reject(
                RejectCode::Forbidden,
                format!("call {} belongs to agent party {}", self.id, self.agent.party),
            ),
            // A late prompt carries no decision: the tab learns from `call.select_answer`.
            (Message::Ringing(_), _) => Ruling::Drop,
            _ => reject(
                RejectCode::Forbidden,
                format!("call {} was answered by another visitor tab", self.id),
            ),
        }
    }

    /// The invite, the visitor's answer and the agent's selection of it.
    fn answer(
        &mut self,
        now: Instant,
        sender: Sender,
        party: &PartyId,
        message: &Message,
    ) -> (Ruling, Effect) {
        let to_agent = Ruling::Deliver(Delivery::Agent(self.agent.party.clone()));
        match (message, sender) {
            (Message::Invite(_), _) => {
                plain(reject(RejectCode::Invalid, format!("call {} was already invited", self.id)))
            }
            (Message::Ringing(_), Sender::Tab) => plain(to_agent),
            (Message::Ringing(_), _) => plain(Ruling::Drop),
            (Message::Accept(_), Sender::Tab) => {
                let window = self.window(Sender::Tab, party).copied().unwrap_or_default();
                let visitor = Speaker::new(party.clone(), window);
                self.answer =
                    Answer::Answered { visitor, at: now, media_at: None, selected: false };
                let fact = Fact::CallStarted {
                    call_id: self.id.clone(),
                    agent: self.agent.party.clone(),
                    visitor: party.clone(),
                    at: now,
                };
                (to_agent, Effect::Answered(fact))
            }
            (Message::Decline(decline), Sender::Tab) => {
                let effect = Effect::Ended {
                    reason: decline.reason.clone(),
                    by: Role::Visitor,
                    tell_tabs: true,
                };
                (to_agent, effect)
            }
            (Message::Accept(_) | Message::Decline(_), _) => plain(reject(
                RejectCode::Invalid,
                format!("call {} was already accepted by this tab", self.id),
            )),
            (Message::SelectAnswer(select), _) => plain(match &mut self.answer {
                Answer::Answered { visitor, selected, .. }
                    if visitor.party == select.selected_party_id =>
                {
                    *selected = true;
                    Ruling::Deliver(Delivery::AllVisitors)
                }
                Answer::Answered { visitor, .. } => reject(
                    RejectCode::Invalid,
                    format!(
                        "call {} was accepted by {}, not {}",
                        self.id, visitor.party, select.selected_party_id
                    ),
                ),
                Answer::Ringing { .. } => reject(
                    RejectCode::Invalid,
                    format!("call {} has no accept to select yet", self.id),
                ),
            }),
            // Static checks keep `call.rejected` and unknown types away; refuse anything a
            // newer protocol crate might add.
            _ => plain(reject(
                RejectCode::Forbidden,
                format!("{} is not relayed", message.message_type()),
            )),
        }
    }

    /// `call.cancel` (from the inviting agent) and `call.hangup` end the call. Before the
    /// answer, a tab's hangup is a decline: the other tabs stop prompting; so do they when the
    /// bound tab hangs up before the agent's selection reached them.
    fn terminal(&self, sender: Sender, reason: &Reason) -> (Ruling, Effect) {
        let (to, by) = if sender == Sender::Inviter {
            (self.ending_reaches(), Role::Agent)
        } else {
            (Delivery::Agent(self.agent.party.clone()), Role::Visitor)
        };
        // A tab's end before the agent's selection was relayed: the other tabs (still
        // prompting, or waiting after an accept that lost the race) stop.
        let tell_tabs = sender == Sender::Tab
            || (sender == Sender::Bound && self.ending_reaches() == Delivery::AllVisitors);
        let effect = Effect::Ended { reason: reason.clone(), by, tell_tabs };
        (Ruling::Deliver(to), effect)
    }

    /// Descriptions, candidates, media state and quality: only between the two bound parties,
    /// only after the answer. The first `call.media` says media connected.
    fn media(&mut self, now: Instant, sender: Sender, message: &Message) -> Ruling {
        let media_at = match &mut self.answer {
            Answer::Answered { media_at, .. } => media_at,
            Answer::Ringing { .. } => {
                return reject(
                    RejectCode::Forbidden,
                    format!("{} before call {} was answered", message.message_type(), self.id),
                );
            }
        };
        if let Message::Media(media) = message {
            media_at.get_or_insert(now);
            self.media_used.note(media);
        }
        let from_agent = sender == Sender::Inviter;
        if let Message::Candidates(body) = message {
            let used =
                if from_agent { &mut self.agent_candidates } else { &mut self.visitor_candidates };
            let more = body.candidates.len();
            if used.saturating_add(more) > Referee::MAX_CANDIDATES {
                let role = if from_agent { Role::Agent } else { Role::Visitor };
                return reject(
                    RejectCode::TooLarge,
                    format!(
                        "call {}: the {role} sent {used} of {} candidates, {more} more pass the cap",
                        self.id,
                        Referee::MAX_CANDIDATES
                    ),
                );
            }
            *used += more;
        }
        Ruling::Deliver(if from_agent {
            self.to_visitors()
        } else {
            Delivery::Agent(self.agent.party.clone())
        })
    }

    /// The visitor side of the call's media: every tab before the answer (where media is
    /// refused anyway), the bound tab after it.
    fn to_visitors(&self) -> Delivery {
        match self.visitor() {
            None => Delivery::AllVisitors,
            Some(visitor) => Delivery::Visitor(visitor.party.clone()),
        }
    }

    /// Who on the visitor side hears of the call's end: every tab until the agent's selection
    /// was relayed (a tab whose accept lost the race waits on the call too), the bound tab
    /// after it.
    fn ending_reaches(&self) -> Delivery {
        match &self.answer {
            Answer::Answered { visitor, selected: true, .. } => {
                Delivery::Visitor(visitor.party.clone())
            }
            _ => Delivery::AllVisitors,
        }
    }

    /// What the visitor side learns when the relay ends the call, from the agent party:
    /// `call.hangup` to the bound tab once the agent selected it, `call.cancel` to every tab
    /// before that (so that one still prompting stops, and one whose accept lost the race
    /// stops waiting).
    pub(super) fn tell_visitors(&self, conversation: &ConversationId, reason: Reason) -> Notice {
        let to = self.ending_reaches();
        let message: Message = match to {
            Delivery::Visitor(_) => HangupBody::new(reason).into(),
            _ => CancelBody::new(reason).into(),
        };
        let envelope = Envelope::new(
            conversation.clone(),
            self.id.clone(),
            self.agent.party.clone(),
            Role::Agent,
            self.agent.window.next(),
            message,
        );
        Notice { to, envelope }
    }

    /// What the inviting agent learns when the relay ends the call: `call.hangup`, from the
    /// bound visitor tab after the answer, from the party `relay` (role `visitor`) before it.
    pub(super) fn tell_agent(&self, conversation: &ConversationId, reason: Reason) -> Notice {
        let (party, seq) = match self.visitor() {
            Some(visitor) => (visitor.party.clone(), visitor.window.next()),
            None => (PartyId::relay(), 1),
        };
        let envelope = Envelope::new(
            conversation.clone(),
            self.id.clone(),
            party,
            Role::Visitor,
            seq,
            HangupBody::new(reason),
        );
        Notice { to: Delivery::Agent(self.agent.party.clone()), envelope }
    }

    /// The invite for a visitor tab that joins while it rings: as delivered, with the lifetime
    /// that is left by the relay's clock (at least the protocol's minimum: the relay's own
    /// expiry cancels it on time).
    pub(super) fn invite_for(&self, now: Instant, tab: &PartyId) -> Option<Notice> {
        let Answer::Ringing { invite, .. } = &self.answer else { return None };
        let mut envelope = Envelope::clone(invite);
        if let Message::Invite(body) = &mut envelope.message {
            let left = self.expires_at.saturating_duration_since(now);
            let left = left.clamp(MIN_INVITE_LIFETIME, MAX_INVITE_LIFETIME);
            body.lifetime_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        }
        Some(Notice { to: Delivery::Visitor(tab.clone()), envelope })
    }

    /// Bytes on the heap (ids by length: the referee's copies are exact-size clones).
    pub(super) fn heap(&self) -> usize {
        let tabs = match &self.answer {
            Answer::Ringing { tabs, invite } => {
                // The invite's strings are at most its encoded size.
                let invite = size_of::<Envelope>() + velaro_call_protocol::encode(invite).len();
                tabs.capacity() * size_of::<Speaker>()
                    + tabs.iter().map(|t| t.party.as_str().len()).sum::<usize>()
                    + invite
            }
            Answer::Answered { visitor, .. } => visitor.party.as_str().len(),
        };
        self.id.as_str().len() + self.agent.party.as_str().len() + tabs
    }
}

fn plain(verdict: Ruling) -> (Ruling, Effect) {
    (verdict, Effect::None)
}

pub(super) fn reject(code: RejectCode, detail: String) -> Ruling {
    Ruling::Reject { code, detail }
}

pub(super) fn busy(live: &CallId) -> Ruling {
    reject(RejectCode::Busy, format!("the conversation has a live call {live}"))
}

/// Whether a role may ever send a message type, whatever the call's state.
pub(super) fn may_send(role: Role, message: &Message) -> bool {
    match message {
        Message::Invite(_) | Message::SelectAnswer(_) | Message::Cancel(_) => role == Role::Agent,
        Message::Ringing(_) | Message::Accept(_) | Message::Decline(_) => role == Role::Visitor,
        Message::Description(_)
        | Message::Candidates(_)
        | Message::Media(_)
        | Message::Quality(_)
        | Message::Hangup(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_may_send_its_own_messages_only() {
        use velaro_call_protocol::message::answer::{AcceptBody, RingingBody};
        use velaro_call_protocol::message::invite::MediaKinds;
        assert!(may_send(Role::Visitor, &RingingBody::new().into()));
        assert!(!may_send(Role::Agent, &RingingBody::new().into()));
        assert!(!may_send(Role::Agent, &AcceptBody::new(MediaKinds::AUDIO_VIDEO).into()));
        assert!(may_send(Role::Agent, &HangupBody::default().into()));
        assert!(may_send(Role::Visitor, &HangupBody::default().into()));
    }
}
