//! The relay's referee: the judge of one conversation's calls (who may send what, when).

mod live_call;
mod snapshot;
mod window;

use std::collections::VecDeque;
use std::mem::size_of;
use std::time::{Duration, Instant};

use velaro_call_protocol::limits::{MAX_CLIENT_SEQ, MAX_INVITE_LIFETIME, MIN_INVITE_LIFETIME};
use velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_protocol::message::invite::InviteBody;
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Reason, Role};

use crate::ended::EndedCalls;
use crate::record::{CallReport, MediaUsed};
use crate::summary::{CallSummary, Outcome};
use live_call::{Answer, Effect, Ending, LiveCall, Ruling, Speaker, busy, may_send, reject};
pub use snapshot::RefereeSnapshot;
use window::SeqWindow;

/// Who gets a frame the referee let through. The relay stamps it with the sender's identity
/// (from the connection, [`Envelope::stamp`]) before delivering it.
///
/// A party is named with its role: a party id belongs to one role in a conversation, and a
/// session of the other role that claims the same id must never receive the party's frames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Every visitor session of the conversation: every tab may show the prompt.
    AllVisitors,
    /// Every session of one agent device.
    Agent(PartyId),
    /// Every session of one visitor tab.
    Visitor(PartyId),
}

impl Delivery {
    /// Whether a session of `party` in `role` gets the frame.
    pub fn includes(&self, role: Role, party: &PartyId) -> bool {
        match self {
            Delivery::AllVisitors => role == Role::Visitor,
            Delivery::Agent(agent) => role == Role::Agent && agent == party,
            Delivery::Visitor(tab) => role == Role::Visitor && tab == party,
        }
    }
}

/// A frame the relay writes itself, because something ended a call that a party cannot learn
/// from any frame of the other side: a glare, the relay's invite expiry, a lost session, a
/// visitor tab's decline (the other tabs stop prompting).
///
/// The envelope is written on behalf of the party the recipient's call machine listens to, so
/// that it acts on it: to visitors from the call's agent party (role `agent`, `seq` one past
/// the last one delivered from it); to the agent from the bound visitor tab, or, before an
/// answer, from the party `relay` with role `visitor`. The relay encodes it like a forwarded
/// frame (a relay that renumbers `seq` stamps it like one too).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Who gets it.
    pub to: Delivery,
    /// The frame.
    pub envelope: Envelope,
}

/// Something the host application should know: for the chat transcript, analytics, billing.
///
/// Exhaustive on purpose: a new fact must be handled by every relay that drains them, so
/// adding one is a breaking change that the compiler points out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A visitor tab accepted: the call is answered and bound to these two parties.
    CallStarted {
        /// The call.
        call_id: CallId,
        /// The agent device that invited.
        agent: PartyId,
        /// The visitor tab that answered.
        visitor: PartyId,
        /// When the relay saw the accept.
        at: Instant,
    },
    /// The call ended, answered or not (exactly once per call).
    CallEnded {
        /// What happened, from the relay's point of view (see [`Referee`] on talk time): the
        /// summary for the transcript, the parties, the times and the media used, for a
        /// [`CallRecord`](crate::CallRecord).
        report: Box<CallReport>,
    },
}

/// What the referee asks of the relay, drained with [`Referee::poll_output`] in the order to act
/// on it. Every frame given to [`Referee::handle_message`] comes back exactly once, as
/// [`Forward`](Self::Forward), [`Refuse`](Self::Refuse) or [`Drop`](Self::Drop); the notices
/// and facts it caused come before it.
#[derive(Debug, Clone, PartialEq)]
pub enum RefereeOutput {
    /// Write a frame of the relay's own (see [`Notice`]).
    Notice(Notice),
    /// Deliver the judged frame, stamped with its sender's identity from the connection, to
    /// the sessions `to` names.
    Forward {
        /// Who gets it.
        to: Delivery,
        /// The frame, stamped.
        envelope: Envelope,
    },
    /// Refuse the judged frame: answer its sender's session with `call.rejected` carrying this
    /// code and detail (and the frame's `seq` as `rejected_seq`). Nothing changed.
    Refuse {
        /// The frame.
        envelope: Envelope,
        /// What the sender can act on.
        code: RejectCode,
        /// Why, for developers: lowercase, names the call or party (under 1 KiB).
        detail: String,
    },
    /// Drop the judged frame quietly, without a notice: a duplicate, or a late frame of a call
    /// that has ended.
    Drop(Envelope),
    /// Tell the host application (transcript, analytics, billing).
    Fact(Fact),
}

/// The relay's judge of one conversation: who may send what, when. Sans IO, with the crate's
/// method map (see the [crate docs](crate#the-sans-io-shape)): the relay decodes a frame and
/// gives it to [`handle_message`](Self::handle_message) with the sender's role and party **from
/// its authenticated connection** (never from the envelope), then acts on what
/// [`poll_output`](Self::poll_output) gives until `None`.
///
/// - Inputs: [`handle_message`](Self::handle_message) (every decoded frame),
///   [`handle_timeout`](Self::handle_timeout) (when [`poll_timeout`](Self::poll_timeout) is
///   reached), [`handle_party_lost`](Self::handle_party_lost) (a party is gone past the relay's
///   grace), [`handle_join`](Self::handle_join) (a session joined: a tab that opens while the
///   call rings gets the invite); the command [`set_video_enabled`](Self::set_video_enabled)
///   (the account's plan changed).
/// - Outputs: [`RefereeOutput`], in the order to act on them: the notices a frame caused come
///   before the frame itself (a call replaced by a glare-winning invite is cancelled on the
///   visitor tabs before the new invite reaches them), and every judged frame comes back
///   exactly once, forwarded, refused or dropped.
/// - Getters: [`live_call`](Self::live_call), [`live_agent`](Self::live_agent),
///   [`live_visitor`](Self::live_visitor), [`conversation_id`](Self::conversation_id),
///   [`video_enabled`](Self::video_enabled), [`memory`](Self::memory),
///   [`live_call_memory`](Self::live_call_memory).
///
/// ```
/// use std::time::Instant;
/// use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
/// use velaro_call_protocol::{CallId, ConversationId, Envelope, PartyId, Role};
/// use velaro_call_state::{Delivery, Referee, RefereeOutput};
///
/// # #[allow(clippy::disallowed_methods)]
/// let now = Instant::now(); // the IO edge owns the clock
/// let conversation = ConversationId::new("conv-1")?;
/// let mut referee = Referee::new(conversation.clone(), true);
/// let agent = PartyId::new("agent-tab")?;
/// let invite = Envelope::new(conversation, CallId::new("call-1")?, agent.clone(), Role::Agent, 1,
///     InviteBody::new(Prompt::new("Video call?")?, MediaKinds::AUDIO_VIDEO));
///
/// referee.handle_message(now, Role::Agent, &agent, invite);
/// while let Some(output) = referee.poll_output() {
///     match output {
///         RefereeOutput::Notice(notice) => { /* encode notice.envelope, deliver to notice.to */ }
///         RefereeOutput::Forward { to, envelope } => {
///             assert_eq!(to, Delivery::AllVisitors); // encode (it is stamped), deliver
///         }
///         RefereeOutput::Refuse { envelope, code, detail } => { /* call.rejected to the sender */ }
///         RefereeOutput::Drop(_) => {}
///         RefereeOutput::Fact(fact) => { /* transcript, analytics, billing */ }
///     }
/// }
/// let _next_wakeup = referee.poll_timeout(); // the invite's expiry
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Rules
/// Checked in this order; the first that applies decides. Message types are written without
/// their `call.` prefix.
///
/// | frame | verdict |
/// |---|---|
/// | with `seq` 2^53 - 1 (the relay's, for its notices) | reject `invalid` |
/// | of another `conversation_id` | reject `unknown_call` |
/// | of an unknown type | reject `unknown_type` (never forwarded) |
/// | `rejected`, from any client | reject `forbidden`: only the relay sends it |
/// | `invite`, `select_answer`, `cancel` from a visitor | reject `forbidden` |
/// | `ringing`, `accept`, `decline` from an agent | reject `forbidden` |
/// | `invite` of a remembered ended call (reused or replayed) | reject `call_ended`: never rings |
/// | `accept` of a remembered call whose invite expired | reject `expired` |
/// | anything else of a remembered ended call | drop |
/// | a duplicate (same party and `seq` already delivered in this call) | drop |
/// | `invite` while video is disabled | reject `feature_disabled`; its id is spent |
/// | `invite` while another call is live | reject `busy`, its id is spent; but see glare below |
/// | `invite` | to all visitors; the relay's invite clock starts (`lifetime_ms`) |
/// | `invite` again for the live call (new `seq`) | reject `invalid` |
/// | anything from an agent device that did not invite | reject `forbidden` |
/// | `ringing` before the answer | to the inviting agent party |
/// | the first `accept` (before the deadline) | to the inviting agent; binds that tab |
/// | `decline` before the answer | to the inviting agent; ends the call |
/// | `accept` after the invite's deadline (relay's clock) | reject `expired` |
/// | `accept`, `decline` from another tab after the answer | reject `forbidden` |
/// | `accept`, `decline` again from the bound tab | reject `invalid` |
/// | `ringing` after the answer | drop: it carries no decision |
/// | `select_answer` naming the bound tab | to all visitor tabs |
/// | `select_answer` before the answer or naming another tab | reject `invalid` |
/// | `cancel` (inviting agent) | to all tabs, or the bound tab once selected; ends the call |
/// | `hangup` (inviting agent or, after the answer, bound tab) | to the other side; ends it |
/// | `hangup` from a tab before the answer | as a `decline` |
/// | `description`, `candidates`, `media`, `quality` before the answer | reject `forbidden` |
/// | the same after the answer, from the two bound parties | to the other bound party |
/// | anything from another tab after the answer | reject `forbidden` |
/// | `candidates` past 100 per direction in the call | reject `too_large` |
///
/// When a visitor tab's `decline` (or `hangup`) ends an unanswered call, the other tabs get a
/// notice, `call.cancel` `answered_elsewhere`, so that they stop prompting. The agent's end of
/// the call (and the relay's, on its behalf) reaches every tab until the agent's
/// `select_answer` was relayed: a tab whose accept lost the race is waiting on the call too,
/// and only the selection or the end tells it so. An invite refused `busy` or
/// `feature_disabled` ends its agent's call, so its id is remembered as ended: a duplicate of
/// it that arrives once the conversation is free again is refused `call_ended`, never rung. The candidate cap
/// counts every entry of every `call.candidates` relayed in the call, end-of-candidates markers
/// included; `too_large` rather than `rate_limited` because the call's budget is spent and
/// retrying cannot help. A late accept from a second tab gets `forbidden` (the protocol has no
/// `answered_elsewhere` reject code; the detail says so, and the tab learns it from the agent's
/// `call.select_answer` too).
///
/// Glare: an invite from *another* agent device while the live call is still unanswered, with
/// a `call_id` lexicographically less than the live one's, wins: the live call ends
/// `replaced` (a [`Fact::CallEnded`]; notices: `call.cancel` `replaced` to the visitor tabs,
/// `call.hangup` `replaced` to its agent) and the new invite is delivered. A greater
/// `call_id`, the same device, or an answered call get `busy`.
///
/// The first terminal frame (hangup, cancel, decline) ends the call; later frames of that call
/// are dropped. The ended `call_id` is remembered among the conversation's 64 most recent.
///
/// # Timers and summaries
/// The invite rings for its `lifetime_ms` from when the relay saw it. When
/// [`poll_timeout`](Self::poll_timeout) is reached, [`handle_timeout`](Self::handle_timeout)
/// ends it `invite_timeout` (outcome missed) and tells the visitor tabs with `call.cancel`
/// (a background tab's throttled timer may be late); the agent's own clock started first and
/// ended it already. [`handle_message`](Self::handle_message), [`handle_join`](Self::handle_join)
/// and [`handle_party_lost`](Self::handle_party_lost) apply a due timeout first, so decisions
/// never depend on when the relay woke up.
///
/// Summaries use the same [`Outcome`] rules as the call machines. The relay does not see ICE;
/// it learns that media connected from the first `call.media` of either bound party (a party
/// sends its first one once its own media is connected). Talk time counts from there to the
/// end (zero if media never connected); ring time from the invite to the answer, or to the end
/// when unanswered. `ended_by` is the role whose frame
/// ended the call (a winning glare invite counts as the agent's); `None` when the relay's clock
/// or a lost session did.
///
/// # Memory
/// Per conversation: the live call (ids, three instants, a 16-byte `seq` window per party, up
/// to 8 visitor tab windows and the invite while ringing, two counters), 64 tombstones, and
/// the queues the caller drains. An answered call idling holds under 1 KiB even with 255-character ids; see
/// [`live_call_memory`](Self::live_call_memory).
#[derive(Debug, Clone)]
pub struct Referee {
    conversation_id: ConversationId,
    video_enabled: bool,
    live: Option<LiveCall>,
    tombstones: EndedCalls<Ending>,
    outputs: VecDeque<RefereeOutput>,
}

impl Referee {
    /// The most ICE candidates relayed per direction in one call: every entry of every
    /// `call.candidates` counts, end-of-candidates markers included, so the bound is exact.
    pub const MAX_CANDIDATES: usize = 100;

    /// How many ended calls a conversation remembers, to drop their late frames quietly.
    pub const MAX_TOMBSTONES: usize = EndedCalls::<Ending>::CAPACITY;

    /// The referee of `conversation_id`; `video_enabled`: whether the account's plan includes
    /// video calls.
    pub fn new(conversation_id: ConversationId, video_enabled: bool) -> Self {
        Referee {
            conversation_id,
            video_enabled,
            live: None,
            tombstones: EndedCalls::default(),
            outputs: VecDeque::new(),
        }
    }

    /// Whether the account allows video calls. Applies to the next invite; a live call goes on.
    pub fn set_video_enabled(&mut self, enabled: bool) {
        self.video_enabled = enabled;
    }

    /// Judges one decoded frame from an authenticated session: `sender_role` and
    /// `sender_party` come from the connection, never from the envelope. See the rules on
    /// [`Referee`]; a due invite expiry is applied first. The frame comes back from
    /// [`poll_output`](Self::poll_output) as [`RefereeOutput::Forward`] (stamped with the
    /// sender's identity), [`RefereeOutput::Refuse`] or [`RefereeOutput::Drop`], after the
    /// notices and facts it caused.
    pub fn handle_message(
        &mut self,
        now: Instant,
        sender_role: Role,
        sender_party: &PartyId,
        mut envelope: Envelope,
    ) {
        let output = match self.judge(now, sender_role, sender_party, &envelope) {
            Ruling::Deliver(to) => {
                if envelope.party_id != *sender_party || envelope.role != sender_role {
                    envelope.stamp(sender_party.clone(), sender_role, envelope.seq);
                }
                RefereeOutput::Forward { to, envelope }
            }
            Ruling::Reject { code, detail } => RefereeOutput::Refuse { envelope, code, detail },
            Ruling::Drop => RefereeOutput::Drop(envelope),
        };
        self.outputs.push_back(output);
    }

    /// The rules, for one frame (see [`Referee`]).
    fn judge(
        &mut self,
        now: Instant,
        sender_role: Role,
        sender_party: &PartyId,
        envelope: &Envelope,
    ) -> Ruling {
        self.handle_timeout(now);
        let call_id = &envelope.call_id;
        if envelope.seq > MAX_CLIENT_SEQ {
            return reject(
                RejectCode::Invalid,
                format!("seq {} is the relay's own (a client's seq is below it)", envelope.seq),
            );
        }
        if envelope.conversation_id != self.conversation_id {
            return reject(
                RejectCode::UnknownCall,
                format!(
                    "call {call_id} is of conversation {}, not this one",
                    envelope.conversation_id
                ),
            );
        }
        match &envelope.message {
            Message::Unknown(unknown) => {
                return reject(
                    RejectCode::UnknownType,
                    format!("message type {} is not relayed", unknown.message_type),
                );
            }
            Message::Rejected(_) => {
                return reject(
                    RejectCode::Forbidden,
                    "call.rejected comes from the relay only".to_owned(),
                );
            }
            // Addressed to the relay, which forgets what it acknowledges: nobody else gets it.
            Message::Ack(_) => return Ruling::Drop,
            message if !may_send(sender_role, message) => {
                return reject(
                    RejectCode::Forbidden,
                    format!("{} may not come from the {sender_role}", message.message_type()),
                );
            }
            _ => {}
        }
        if let Some(ending) = self.tombstones.get(call_id) {
            return match (&envelope.message, ending) {
                (Message::Accept(_), Ending::Expired) => reject(
                    RejectCode::Expired,
                    format!("the invite of call {call_id} expired before this accept"),
                ),
                (Message::Invite(_), _) => reject(
                    RejectCode::CallEnded,
                    format!("call {call_id} has ended: a new call needs a new call_id"),
                ),
                _ => Ruling::Drop,
            };
        }
        if let Some(call) = self.live.as_mut().filter(|c| c.id == *call_id) {
            let (verdict, effect) = call.judge(now, sender_role, sender_party, envelope);
            self.apply(now, effect);
            return verdict;
        }
        if let Message::Invite(invite) = &envelope.message {
            return self.invite(now, sender_party, envelope, invite);
        }
        reject(RejectCode::UnknownCall, format!("call {call_id} is not live in this conversation"))
    }

    /// Ends the live call when `now` reaches its invite's deadline (outcome missed).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        if let Some(call) = self.live.take() {
            let notice = call.tell_visitors(&self.conversation_id, Reason::InviteTimeout);
            self.outputs.push_back(RefereeOutput::Notice(notice));
            self.finish(call, deadline, Reason::InviteTimeout, None);
        }
    }

    /// A party is gone for good (its last session dropped and the relay's grace for a
    /// reconnect ran out). If it was the inviting agent or the bound visitor tab of the live
    /// call, the call ends `signaling_lost` and the other side gets a notice (`call.cancel` to
    /// every tab before the answer, `call.hangup` after it). Another tab or agent device
    /// leaving changes nothing: before the answer, the remaining tabs may still answer.
    pub fn handle_party_lost(&mut self, now: Instant, role: Role, party: &PartyId) {
        self.handle_timeout(now);
        let Some(call) = &self.live else {
            return;
        };
        let agent_lost = role == Role::Agent && call.agent.party == *party;
        let visitor_lost =
            role == Role::Visitor && call.visitor().is_some_and(|v| v.party == *party);
        if !agent_lost && !visitor_lost {
            return;
        }
        let Some(call) = self.live.take() else {
            return;
        };
        let notice = if agent_lost {
            call.tell_visitors(&self.conversation_id, Reason::SignalingLost)
        } else {
            call.tell_agent(&self.conversation_id, Reason::SignalingLost)
        };
        self.outputs.push_back(RefereeOutput::Notice(notice));
        self.finish(call, now, Reason::SignalingLost, None);
    }

    /// A session of `party` in `role` joined the conversation (a new tab, a reload). A visitor
    /// tab that joins while the live call rings gets its invite as a notice, with the lifetime
    /// that is left, so that it rings too.
    pub fn handle_join(&mut self, now: Instant, role: Role, party: &PartyId) {
        self.handle_timeout(now);
        if role != Role::Visitor {
            return;
        }
        if let Some(notice) = self.live.as_ref().and_then(|call| call.invite_for(now, party)) {
            self.outputs.push_back(RefereeOutput::Notice(notice));
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the live call's
    /// invite deadline while it is unanswered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.live.as_ref().filter(|c| c.is_ringing()).map(|c| c.expires_at)
    }

    /// The next output, or `None` when drained; act on them in this order.
    pub fn poll_output(&mut self) -> Option<RefereeOutput> {
        crate::queue::pop_output(&mut self.outputs)
    }

    /// The live call, ringing or answered.
    pub fn live_call(&self) -> Option<&CallId> {
        self.live.as_ref().map(|c| &c.id)
    }

    /// The agent device that invited the live call.
    pub fn live_agent(&self) -> Option<&PartyId> {
        self.live.as_ref().map(|c| &c.agent.party)
    }

    /// The visitor tab that answered the live call, once one did.
    pub fn live_visitor(&self) -> Option<&PartyId> {
        self.live.as_ref()?.visitor().map(|v| &v.party)
    }

    /// The conversation.
    pub fn conversation_id(&self) -> &ConversationId {
        &self.conversation_id
    }

    /// Whether the account allows video calls.
    pub fn video_enabled(&self) -> bool {
        self.video_enabled
    }

    /// The bytes this referee holds: its own size, the live call's heap, the tombstones, and
    /// the queues' slots (not what queued notices hold on the heap: the caller drains them).
    /// Ids count by length; the referee's copies of them are exact-size clones.
    pub fn memory(&self) -> usize {
        size_of::<Referee>()
            + self.conversation_id.as_str().len()
            + self.live.as_ref().map_or(0, LiveCall::heap)
            + self.tombstones.heap()
            + self.outputs.capacity() * size_of::<RefereeOutput>()
    }

    /// The bytes the live call holds (its state and heap), if there is one. An answered call
    /// holds its ids, two instants, two `seq` windows and two counters: under 1 KiB with
    /// 255-character ids.
    pub fn live_call_memory(&self) -> Option<usize> {
        self.live.as_ref().map(|c| size_of::<LiveCall>() + c.heap())
    }

    /// An invite for a call that is not live: feature, busy and glare checks.
    fn invite(
        &mut self,
        now: Instant,
        party: &PartyId,
        envelope: &Envelope,
        invite: &InviteBody,
    ) -> Ruling {
        // An agent's call ends on `busy` or `feature_disabled`: its id is spent, so that a
        // duplicate of the invite arriving later (the call that was busy is over by then) is
        // refused `call_ended` instead of ringing for an agent that gave up.
        if !self.video_enabled {
            self.tombstones.bury(envelope.call_id.clone(), Ending::Other);
            return reject(
                RejectCode::FeatureDisabled,
                "video calls are not enabled for this account".to_owned(),
            );
        }
        if let Some(live) = &self.live {
            let glare =
                live.is_ringing() && live.agent.party != *party && envelope.call_id < live.id;
            if !glare {
                let refused = busy(&live.id);
                self.tombstones.bury(envelope.call_id.clone(), Ending::Other);
                return refused;
            }
            if let Some(old) = self.live.take() {
                let visitors = old.tell_visitors(&self.conversation_id, Reason::Replaced);
                let agent = old.tell_agent(&self.conversation_id, Reason::Replaced);
                self.outputs.push_back(RefereeOutput::Notice(visitors));
                self.outputs.push_back(RefereeOutput::Notice(agent));
                self.finish(old, now, Reason::Replaced, Some(Role::Agent));
            }
        }
        let lifetime: Duration = invite.lifetime().clamp(MIN_INVITE_LIFETIME, MAX_INVITE_LIFETIME);
        let mut delivered = envelope.clone();
        delivered.stamp(party.clone(), Role::Agent, envelope.seq);
        self.live = Some(LiveCall {
            id: envelope.call_id.clone(),
            agent: Speaker::new(party.clone(), SeqWindow::starting_at(envelope.seq)),
            invited_at: now,
            expires_at: now.checked_add(lifetime).unwrap_or(now),
            answer: Answer::Ringing { tabs: Vec::new(), invite: Box::new(delivered) },
            agent_candidates: 0,
            visitor_candidates: 0,
            media_used: MediaUsed::default(),
        });
        Ruling::Deliver(Delivery::AllVisitors)
    }

    fn apply(&mut self, now: Instant, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Answered(fact) => self.outputs.push_back(RefereeOutput::Fact(fact)),
            Effect::Ended { reason, by, tell_tabs } => {
                if let Some(call) = self.live.take() {
                    if tell_tabs {
                        let notice =
                            call.tell_visitors(&self.conversation_id, Reason::AnsweredElsewhere);
                        self.outputs.push_back(RefereeOutput::Notice(notice));
                    }
                    self.finish(call, now, reason, Some(by));
                }
            }
        }
    }

    /// Ends `call` at `at`: summary, fact, tombstone.
    fn finish(&mut self, call: LiveCall, at: Instant, reason: Reason, ended_by: Option<Role>) {
        let answered_at = call.answered_at();
        let media_at = call.media_at();
        let ending = if reason == Reason::InviteTimeout { Ending::Expired } else { Ending::Other };
        let summary = CallSummary {
            call_id: call.id.clone(),
            outcome: Outcome::of(&reason, answered_at.is_some()),
            ended_by,
            reason,
            ring_time: answered_at.unwrap_or(at).saturating_duration_since(call.invited_at),
            talk_time: media_at.map_or(Duration::ZERO, |m| at.saturating_duration_since(m)),
        };
        let report = CallReport {
            conversation_id: self.conversation_id.clone(),
            summary,
            agent: call.agent.party.clone(),
            visitor: call.visitor().map(|v| v.party.clone()),
            invited_at: call.invited_at,
            answered_at,
            media_connected_at: media_at,
            ended_at: at,
            media: call.media_used,
        };
        self.tombstones.bury(call.id, ending);
        let report = Box::new(report);
        self.outputs.push_back(RefereeOutput::Fact(Fact::CallEnded { report }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_names_a_party_with_its_role() {
        let id = PartyId::new("tab-1").unwrap();
        assert!(Delivery::Visitor(id.clone()).includes(Role::Visitor, &id));
        assert!(!Delivery::Visitor(id.clone()).includes(Role::Agent, &id), "same id, other role");
        assert!(Delivery::Agent(id.clone()).includes(Role::Agent, &id));
        assert!(!Delivery::Agent(id.clone()).includes(Role::Visitor, &id));
        assert!(Delivery::AllVisitors.includes(Role::Visitor, &id));
        assert!(!Delivery::AllVisitors.includes(Role::Agent, &id));
        let other = PartyId::new("tab-2").unwrap();
        assert!(!Delivery::Visitor(id).includes(Role::Visitor, &other));
    }
}
