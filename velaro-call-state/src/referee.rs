//! The relay's referee: the judge of one conversation's calls (who may send what, when).

mod window;

use std::collections::VecDeque;
use std::mem::size_of;
use std::time::{Duration, Instant};

use velaro_call_protocol::limits::{MAX_CLIENT_SEQ, MAX_INVITE_LIFETIME, MIN_INVITE_LIFETIME};
use velaro_call_protocol::message::answer::CancelBody;
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode};
use velaro_call_protocol::message::invite::InviteBody;
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Reason, Role};

use crate::ended::EndedCalls;
use crate::summary::{CallSummary, Outcome};
use window::SeqWindow;

/// The most visitor tabs whose sequence numbers a ringing call tells apart; past that, the
/// oldest tab's window is forgotten (a duplicate `call.ringing` from it is delivered again,
/// which is harmless: its accept or decline would have bound or ended the call).
const MAX_TABS: usize = 8;

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

/// The referee's answer about one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stamp the frame and deliver it.
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
        /// What happened, from the relay's point of view (see [`Referee`] on talk time).
        summary: CallSummary,
        /// When it ended (for an expired invite: its deadline).
        at: Instant,
    },
}

/// How a remembered call ended, as far as late frames care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Its invite's lifetime passed unanswered: a late accept is told `expired`.
    Expired,
    /// Any other end.
    Other,
}

/// A party and the sequence numbers delivered from it in this call.
#[derive(Debug, Clone)]
struct Speaker {
    party: PartyId,
    window: SeqWindow,
}

impl Speaker {
    fn new(party: PartyId, window: SeqWindow) -> Self {
        Speaker { party, window }
    }
}

/// Whether the live call is answered.
#[derive(Debug, Clone)]
enum Answer {
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
enum Effect {
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
struct LiveCall {
    id: CallId,
    agent: Speaker,
    invited_at: Instant,
    expires_at: Instant,
    answer: Answer,
    /// Candidates delivered from the agent and from the visitor.
    agent_candidates: usize,
    visitor_candidates: usize,
}

impl LiveCall {
    fn is_ringing(&self) -> bool {
        matches!(self.answer, Answer::Ringing { .. })
    }

    fn answered_at(&self) -> Option<Instant> {
        match &self.answer {
            Answer::Ringing { .. } => None,
            Answer::Answered { at, .. } => Some(*at),
        }
    }

    fn media_at(&self) -> Option<Instant> {
        match &self.answer {
            Answer::Ringing { .. } => None,
            Answer::Answered { media_at, .. } => *media_at,
        }
    }

    fn visitor(&self) -> Option<&Speaker> {
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
    fn judge(
        &mut self,
        now: Instant,
        role: Role,
        party: &PartyId,
        envelope: &Envelope,
    ) -> (Verdict, Effect) {
        let sender = self.sender(role, party);
        if self.window(sender, party).is_some_and(|w| w.is_duplicate(envelope.seq)) {
            return (Verdict::Drop, Effect::None);
        }
        let judged = self.rule(now, sender, party, &envelope.message);
        if matches!(judged.0, Verdict::Deliver(_)) {
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
    ) -> (Verdict, Effect) {
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
    fn outsider(&self, sender: Sender, message: &Message) -> Verdict {
        match (message, sender) {
            (Message::Invite(_), _) => busy(&self.id),
            (_, Sender::OtherAgent) => reject(
                RejectCode::Forbidden,
                format!("call {} belongs to agent party {}", self.id, self.agent.party),
            ),
            // A late prompt carries no decision: the tab learns from `call.select_answer`.
            (Message::Ringing(_), _) => Verdict::Drop,
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
    ) -> (Verdict, Effect) {
        let to_agent = Verdict::Deliver(Delivery::Agent(self.agent.party.clone()));
        match (message, sender) {
            (Message::Invite(_), _) => {
                plain(reject(RejectCode::Invalid, format!("call {} was already invited", self.id)))
            }
            (Message::Ringing(_), Sender::Tab) => plain(to_agent),
            (Message::Ringing(_), _) => plain(Verdict::Drop),
            (Message::Accept(_), Sender::Tab) => {
                let window = self.window(Sender::Tab, party).copied().unwrap_or_default();
                let visitor = Speaker::new(party.clone(), window);
                self.answer = Answer::Answered { visitor, at: now, media_at: None };
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
            (Message::SelectAnswer(select), _) => plain(match self.visitor() {
                Some(visitor) if visitor.party == select.selected_party_id => {
                    Verdict::Deliver(Delivery::AllVisitors)
                }
                Some(visitor) => reject(
                    RejectCode::Invalid,
                    format!(
                        "call {} was accepted by {}, not {}",
                        self.id, visitor.party, select.selected_party_id
                    ),
                ),
                None => reject(
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
    /// answer, a tab's hangup is a decline: the other tabs stop prompting.
    fn terminal(&self, sender: Sender, reason: &Reason) -> (Verdict, Effect) {
        let (to, by) = if sender == Sender::Inviter {
            (self.to_visitors(), Role::Agent)
        } else {
            (Delivery::Agent(self.agent.party.clone()), Role::Visitor)
        };
        let effect = Effect::Ended { reason: reason.clone(), by, tell_tabs: sender == Sender::Tab };
        (Verdict::Deliver(to), effect)
    }

    /// Descriptions, candidates, media state and quality: only between the two bound parties,
    /// only after the answer. The first `call.media` says media connected.
    fn media(&mut self, now: Instant, sender: Sender, message: &Message) -> Verdict {
        let media_at = match &mut self.answer {
            Answer::Answered { media_at, .. } => media_at,
            Answer::Ringing { .. } => {
                return reject(
                    RejectCode::Forbidden,
                    format!("{} before call {} was answered", message.message_type(), self.id),
                );
            }
        };
        if matches!(message, Message::Media(_)) {
            media_at.get_or_insert(now);
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
        Verdict::Deliver(if from_agent {
            self.to_visitors()
        } else {
            Delivery::Agent(self.agent.party.clone())
        })
    }

    /// The visitor side: every tab before the answer, the bound tab after it.
    fn to_visitors(&self) -> Delivery {
        match self.visitor() {
            None => Delivery::AllVisitors,
            Some(visitor) => Delivery::Visitor(visitor.party.clone()),
        }
    }

    /// What the visitor side learns when the relay ends the call: `call.cancel` to every tab
    /// before the answer, `call.hangup` to the bound tab after it; both from the agent party.
    fn tell_visitors(&self, conversation: &ConversationId, reason: Reason) -> Notice {
        let (to, message): (Delivery, Message) = match self.visitor() {
            None => (Delivery::AllVisitors, CancelBody::new(reason).into()),
            Some(visitor) => {
                (Delivery::Visitor(visitor.party.clone()), HangupBody::new(reason).into())
            }
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
    fn tell_agent(&self, conversation: &ConversationId, reason: Reason) -> Notice {
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
    fn invite_for(&self, now: Instant, tab: &PartyId) -> Option<Notice> {
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
    fn heap(&self) -> usize {
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

fn plain(verdict: Verdict) -> (Verdict, Effect) {
    (verdict, Effect::None)
}

fn reject(code: RejectCode, detail: String) -> Verdict {
    Verdict::Reject { code, detail }
}

fn busy(live: &CallId) -> Verdict {
    reject(RejectCode::Busy, format!("the conversation has a live call {live}"))
}

/// Whether a role may ever send a message type, whatever the call's state.
fn may_send(role: Role, message: &Message) -> bool {
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

/// The relay's judge of one conversation: who may send what, when. Sans IO: the relay decodes
/// a frame, asks [`judge`](Self::judge) with the sender's role and party **from its
/// authenticated connection** (never from the envelope), and acts on the [`Verdict`].
///
/// - Inputs: [`judge`](Self::judge) (every decoded frame), [`handle_timeout`](Self::handle_timeout)
///   (when [`poll_timeout`](Self::poll_timeout) is reached),
///   [`handle_session_lost`](Self::handle_session_lost) (a session is gone past the relay's
///   grace), [`handle_join`](Self::handle_join) (a session joined: a tab that opens while the
///   call rings gets the invite), [`set_video_enabled`](Self::set_video_enabled) (the
///   account's plan changed).
/// - Outputs: the verdict, then two queues drained until `None` after any input:
///   [`poll_notice`](Self::poll_notice) (frames the relay writes itself) and
///   [`poll_fact`](Self::poll_fact) (call started, call ended with a [`CallSummary`]).
/// - Getters: [`live_call`](Self::live_call), [`live_agent`](Self::live_agent),
///   [`live_visitor`](Self::live_visitor), [`conversation_id`](Self::conversation_id),
///   [`video_enabled`](Self::video_enabled), [`memory`](Self::memory),
///   [`live_call_memory`](Self::live_call_memory).
///
/// Notices describe what the judged frame ended (a call replaced by a glare-winning invite,
/// say): deliver them **before** the frame itself, so visitor tabs see the old call cancelled
/// before the new invite.
///
/// ```
/// use std::time::Instant;
/// use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
/// use velaro_call_protocol::{CallId, ConversationId, Envelope, PartyId, Role};
/// use velaro_call_state::{Delivery, Referee, Verdict};
///
/// # #[allow(clippy::disallowed_methods)]
/// let now = Instant::now(); // the IO edge owns the clock
/// let conversation = ConversationId::new("conv-1")?;
/// let mut referee = Referee::new(conversation.clone(), true);
/// let agent = PartyId::new("agent-tab")?;
/// let invite = Envelope::new(conversation, CallId::new("call-1")?, agent.clone(), Role::Agent, 1,
///     InviteBody::new(Prompt::new("Video call?")?, MediaKinds::AUDIO_VIDEO));
///
/// let verdict = referee.judge(now, Role::Agent, &agent, &invite);
/// while let Some(notice) = referee.poll_notice() { /* encode and deliver to notice.to */ }
/// match verdict {
///     Verdict::Deliver(to) => assert_eq!(to, Delivery::AllVisitors), // stamp, encode, deliver
///     Verdict::Reject { code, detail } => { /* call.rejected to the sender */ }
///     Verdict::Drop => {}
/// }
/// while let Some(fact) = referee.poll_fact() { /* transcript, analytics, billing */ }
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
/// | `invite` while video is disabled | reject `feature_disabled` |
/// | `invite` while another call is live | reject `busy`, but see glare below |
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
/// | `cancel` (inviting agent) | to all tabs, or the bound tab; ends the call |
/// | `hangup` (inviting agent or, after the answer, bound tab) | to the other side; ends it |
/// | `hangup` from a tab before the answer | as a `decline` |
/// | `description`, `candidates`, `media`, `quality` before the answer | reject `forbidden` |
/// | the same after the answer, from the two bound parties | to the other bound party |
/// | anything from another tab after the answer | reject `forbidden` |
/// | `candidates` past 100 per direction in the call | reject `too_large` |
///
/// When a visitor tab's `decline` (or `hangup`) ends an unanswered call, the other tabs get a
/// notice, `call.cancel` `answered_elsewhere`, so that they stop prompting. The candidate cap
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
/// ended it already. [`judge`](Self::judge) and [`handle_session_lost`](Self::handle_session_lost)
/// apply a due timeout first, so decisions never depend on when the relay woke up.
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
    notices: VecDeque<Notice>,
    facts: VecDeque<Fact>,
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
            notices: VecDeque::new(),
            facts: VecDeque::new(),
        }
    }

    /// Whether the account allows video calls. Applies to the next invite; a live call goes on.
    pub fn set_video_enabled(&mut self, enabled: bool) {
        self.video_enabled = enabled;
    }

    /// Judges one decoded frame from an authenticated session: `sender_role` and
    /// `sender_party` come from the connection, never from the envelope. See the rules on
    /// [`Referee`]; a due invite expiry is applied first.
    pub fn judge(
        &mut self,
        now: Instant,
        sender_role: Role,
        sender_party: &PartyId,
        envelope: &Envelope,
    ) -> Verdict {
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
                _ => Verdict::Drop,
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
            self.notices.push_back(notice);
            self.finish(call, deadline, Reason::InviteTimeout, None);
        }
    }

    /// A session is gone for good (past the relay's grace for a reconnect). If it was the
    /// inviting agent or the bound visitor tab of the live call, the call ends
    /// `signaling_lost` and the other side gets a notice (`call.cancel` to every tab before
    /// the answer, `call.hangup` after it). Another tab or agent device leaving changes
    /// nothing: before the answer, the remaining tabs may still answer. Returns whether the
    /// live call ended.
    pub fn handle_session_lost(&mut self, now: Instant, role: Role, party: &PartyId) -> bool {
        self.handle_timeout(now);
        let Some(call) = &self.live else {
            return false;
        };
        let agent_lost = role == Role::Agent && call.agent.party == *party;
        let visitor_lost =
            role == Role::Visitor && call.visitor().is_some_and(|v| v.party == *party);
        if !agent_lost && !visitor_lost {
            return false;
        }
        let Some(call) = self.live.take() else {
            return false;
        };
        let notice = if agent_lost {
            call.tell_visitors(&self.conversation_id, Reason::SignalingLost)
        } else {
            call.tell_agent(&self.conversation_id, Reason::SignalingLost)
        };
        self.notices.push_back(notice);
        self.finish(call, now, Reason::SignalingLost, None);
        true
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
            self.notices.push_back(notice);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the live call's
    /// invite deadline while it is unanswered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.live.as_ref().filter(|c| c.is_ringing()).map(|c| c.expires_at)
    }

    /// The next frame the relay writes itself, or `None` when drained. Deliver notices before
    /// the frame just judged.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// The next fact for the host application, or `None` when drained.
    pub fn poll_fact(&mut self) -> Option<Fact> {
        self.facts.pop_front()
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
            + self.notices.capacity() * size_of::<Notice>()
            + self.facts.capacity() * size_of::<Fact>()
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
    ) -> Verdict {
        if !self.video_enabled {
            return reject(
                RejectCode::FeatureDisabled,
                "video calls are not enabled for this account".to_owned(),
            );
        }
        if let Some(live) = &self.live {
            let glare =
                live.is_ringing() && live.agent.party != *party && envelope.call_id < live.id;
            if !glare {
                return busy(&live.id);
            }
            if let Some(old) = self.live.take() {
                self.notices.push_back(old.tell_visitors(&self.conversation_id, Reason::Replaced));
                self.notices.push_back(old.tell_agent(&self.conversation_id, Reason::Replaced));
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
        });
        Verdict::Deliver(Delivery::AllVisitors)
    }

    fn apply(&mut self, now: Instant, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Answered(fact) => self.facts.push_back(fact),
            Effect::Ended { reason, by, tell_tabs } => {
                if let Some(call) = self.live.take() {
                    if tell_tabs {
                        let notice =
                            call.tell_visitors(&self.conversation_id, Reason::AnsweredElsewhere);
                        self.notices.push_back(notice);
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
        self.tombstones.bury(call.id, ending);
        self.facts.push_back(Fact::CallEnded { summary, at });
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
