//! One party's call machine: [`Call`] with its configuration and errors, and the dispatch of
//! every input to the code of the phase it concerns.
//!
//! The private state is one enum with the data of each phase (`state`); the submodules own the
//! rest: `ringing` (before the answer: invite, prompt, consent, permission), `negotiation`
//! (perfect negotiation and local candidates), `connection` (ICE and its timers), `media`
//! (what we send, `call.media`, quality reports), `ending` (the end paths and the summary),
//! `outbox` (the outputs queue), `candidates`, `dedupe` and `quality`.

mod acks;
mod candidates;
mod connection;
mod dedupe;
mod ending;
mod media;
mod negotiation;
mod outbox;
mod quality;
mod ringing;
mod state;

use std::time::{Duration, Instant};

use velaro_call_protocol::message::answer::RingingBody;
use velaro_call_protocol::message::media::{MediaBody, QualityLevel};
use velaro_call_protocol::sdp::SdpError;
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Reason, Role};

use crate::help::Browser;
use crate::input::{Action, MediaEvent};
use crate::output::{Event, MediaCommand, Output};
use crate::summary::CallSummary;
use crate::timer::{Timer, TimerTable};
use candidates::RemoteCandidates;
use dedupe::Dedupe;
use outbox::Outbox;
use state::State;

/// Timings of a call; the defaults are the protocol's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// How long the first local candidates are held to go out as one batch (default 200 ms:
    /// a browser gathers its host candidates within it).
    pub candidate_batch: Duration,
    /// How long media may take to connect after the visitor's accept before the call ends
    /// `ice_failed` (this also ends a call whose offer or answer never came). Default 30 s:
    /// TURN over TCP on a slow network takes seconds, never this long.
    pub ice_connect: Duration,
    /// How long ICE may stay `disconnected` before the agent restarts it (default 2 s:
    /// browsers report `disconnected` after a few lost checks and often recover by themselves).
    pub ice_restart_after: Duration,
    /// How long a lost connection may take to come back before the call ends `ice_timeout`
    /// (default 30 s: a network change or a laptop's Wi-Fi roaming).
    pub ice_reconnect: Duration,
    /// How long frames taken from the peer wait to be acknowledged to the relay (`call.ack`),
    /// so that one ack covers a burst (default 1 s).
    pub ack_delay: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            candidate_batch: Duration::from_millis(200),
            ice_connect: Duration::from_secs(30),
            ice_restart_after: Duration::from_secs(2),
            ice_reconnect: Duration::from_secs(30),
            ack_delay: Duration::from_secs(1),
        }
    }
}

/// Who this party is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallConfig {
    /// The conversation the call belongs to.
    pub conversation_id: ConversationId,
    /// This device or tab (the relay stamps the same id).
    pub party_id: PartyId,
    /// The local browser, for permission help.
    pub browser: Browser,
    /// Timings.
    pub timings: Timings,
}

impl CallConfig {
    /// A configuration with default timings and an unknown browser.
    pub fn new(conversation_id: ConversationId, party_id: PartyId) -> Self {
        CallConfig {
            conversation_id,
            party_id,
            browser: Browser::Other,
            timings: Timings::default(),
        }
    }

    /// Sets the browser, for permission help.
    #[must_use]
    pub fn with_browser(mut self, browser: Browser) -> Self {
        self.browser = browser;
        self
    }

    /// Sets the timings.
    #[must_use]
    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }
}

/// The phase of a call, for getters and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Agent: nothing happened yet.
    Idle,
    /// Agent: waiting for its own camera and microphone before the invite goes out.
    Inviting,
    /// Agent: the invite is out, waiting for an answer.
    Ringing,
    /// Visitor: the prompt is on screen.
    Prompting,
    /// Visitor: accepted; waiting for the browser's permission.
    AwaitingPermission,
    /// Offer, answer and ICE under way.
    Connecting,
    /// Media flows.
    Active,
    /// The connection dropped; restoring it.
    Reconnecting,
    /// Over; every further input is absorbed.
    Ended,
}

/// Why an input was refused. The call's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The envelope belongs to another conversation or call.
    #[error("envelope of call {call_id} in conversation {conversation_id} is not for this call")]
    WrongCall {
        /// Its conversation.
        conversation_id: ConversationId,
        /// Its call.
        call_id: CallId,
    },
    /// The input is not this role's to give (a visitor's invite, an agent's accept).
    #[error("{input} is not allowed for the {role}")]
    NotAllowed {
        /// The input.
        input: &'static str,
        /// Our role.
        role: Role,
    },
    /// The input makes no sense in this phase.
    #[error("{input} is not expected while {phase:?}")]
    WrongPhase {
        /// The input.
        input: &'static str,
        /// The phase.
        phase: Phase,
    },
    /// An invite must ask for audio or video, and the agent must send one of them (with its
    /// camera off, that is its microphone).
    #[error("an invite must ask for audio or video, and the agent must send one of them")]
    NoMedia,
    /// A visitor's call can only start from an invite.
    #[error("a visitor's call starts from a call.invite, got {0}")]
    NotAnInvite(String),
    /// The local media layer produced a description without ICE credentials.
    #[error("local description is invalid: {0}")]
    InvalidLocalDescription(SdpError),
}

/// One party's call: agent or visitor, sans IO.
///
/// - Inputs: [`handle_message`](Self::handle_message) (envelopes from the peer, via the relay),
///   [`handle_action`](Self::handle_action) (the local user), [`handle_media`](Self::handle_media)
///   (the local media layer), [`handle_timeout`](Self::handle_timeout) (when
///   [`poll_timeout`](Self::poll_timeout) is reached).
/// - Outputs: drain [`poll_output`](Self::poll_output) until `None` after any input: frames to
///   send, media commands, UI events. Outputs queue, so several inputs may come first.
/// - Getters: [`phase`](Self::phase), [`role`](Self::role), [`call_id`](Self::call_id),
///   [`remote_party`](Self::remote_party), [`local_media`](Self::local_media),
///   [`summary`](Self::summary).
///
/// A refused input returns a [`CallError`] and changes nothing; a peer that breaks the protocol
/// ends the call with `protocol_error`. Once ended, every input is absorbed. Ending a call
/// never ends the conversation.
///
/// ```
/// use std::time::Instant;
/// use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
/// use velaro_call_protocol::message::media::StreamId;
/// use velaro_call_protocol::{CallId, ConversationId, PartyId};
/// use velaro_call_state::{Action, Call, CallConfig, MediaCommand, MediaEvent, Output, Phase};
///
/// # #[allow(clippy::disallowed_methods)]
/// let now = Instant::now();
/// let config = CallConfig::new(ConversationId::new("conv-1")?, PartyId::new("agent-tab")?);
/// let mut agent = Call::agent(config, CallId::new("call-1")?, now);
/// let prompt = Prompt::new("Your agent would like to start a video call. Accept?")?;
/// let invite = Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false };
/// agent.handle_action(now, invite)?;
/// // The camera and microphone come first; the invite waits for them.
/// assert_eq!(agent.poll_output(), Some(Output::Media(MediaCommand::RequestUserMedia(MediaKinds::AUDIO_VIDEO))));
/// let granted = MediaEvent::PermissionGranted { media: MediaKinds::AUDIO_VIDEO, stream_id: StreamId::new("cam")? };
/// agent.handle_media(now, granted)?;
/// let Some(Output::Send(invite)) = agent.poll_output() else { panic!() };
/// assert_eq!(invite.message_type(), "call.invite");
/// assert_eq!(agent.phase(), Phase::Ringing);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Call {
    /// Who we are, the next `seq`, and the queued outputs.
    out: Outbox,
    /// The phase, with exactly its data.
    state: State,
    timers: TimerTable,
    dedupe: Dedupe,
    /// The peer, once bound: the inviting agent device, or the visitor tab that answered.
    remote_party: Option<PartyId>,
    /// Remote candidates, held until their description is applied. They may come in any phase
    /// before the end (a visitor's wait for consent).
    remote_candidates: RemoteCandidates,
    /// The level of the peer's last `call.quality` (reports come on change; the level holds
    /// until the next one).
    remote_level: Option<QualityLevel>,
    /// When the call started: the invite going out (agent) or arriving (visitor).
    started_at: Instant,
    /// The acks sent to the relay.
    acks: acks::Acks,
}

impl Call {
    fn new(role: Role, config: CallConfig, call_id: CallId, now: Instant, state: State) -> Call {
        Call {
            out: Outbox::new(role, config, call_id),
            state,
            timers: TimerTable::default(),
            dedupe: Dedupe::default(),
            remote_party: None,
            remote_candidates: RemoteCandidates::default(),
            remote_level: None,
            started_at: now,
            acks: acks::Acks::default(),
        }
    }

    /// An agent's call, idle until [`Action::Invite`].
    pub fn agent(config: CallConfig, call_id: CallId, now: Instant) -> Call {
        Call::new(Role::Agent, config, call_id, now, State::Idle)
    }

    /// A visitor's call, from the invite that just arrived: the prompt shows at once, `ringing`
    /// goes out, and the invite's lifetime starts on this party's own clock.
    pub fn visitor(config: CallConfig, invite: &Envelope, now: Instant) -> Result<Call, CallError> {
        let Message::Invite(body) = &invite.message else {
            return Err(CallError::NotAnInvite(invite.message_type().to_owned()));
        };
        if invite.role != Role::Agent {
            return Err(CallError::NotAllowed { input: "call.invite", role: invite.role });
        }
        if invite.conversation_id != config.conversation_id {
            return Err(CallError::WrongCall {
                conversation_id: invite.conversation_id.clone(),
                call_id: invite.call_id.clone(),
            });
        }
        let prompting = State::Prompting { requested: body.media, held_offer: None };
        let mut call = Call::new(Role::Visitor, config, invite.call_id.clone(), now, prompting);
        call.dedupe.first_time(&invite.party_id, invite.seq);
        call.remote_party = Some(invite.party_id.clone());
        call.timers.set(Timer::InviteExpiry, now + body.lifetime());
        call.out.event(Event::Prompt {
            text: body.prompt.text.clone(),
            locale: body.prompt.locale.clone(),
            media: body.media,
        });
        call.out.send(RingingBody::new());
        Ok(call)
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.state.phase()
    }

    /// Agent or visitor.
    pub fn role(&self) -> Role {
        self.out.role
    }

    /// The call's id.
    pub fn call_id(&self) -> &CallId {
        &self.out.call_id
    }

    /// The peer this call is bound to: the inviting agent device, or the visitor tab that
    /// answered.
    pub fn remote_party(&self) -> Option<&PartyId> {
        self.remote_party.as_ref()
    }

    /// What this party sends, as its `call.media` says it (it goes out once media is
    /// connected), from the answer until the end: for the call's own controls, and to check
    /// that both sides agree.
    pub fn local_media(&self) -> Option<MediaBody> {
        self.state.in_call().map(|call| call.media.body())
    }

    /// The summary, once the call ended.
    pub fn summary(&self) -> Option<&CallSummary> {
        match &self.state {
            State::Ended(ended) => Some(&ended.summary),
            _ => None,
        }
    }

    /// An estimate of the memory this call holds, in bytes: its own size plus what its buffers,
    /// strings and phase data hold on the heap (capacity, not length). For capacity planning;
    /// the buffers are bounded, so this is too.
    pub fn memory_estimate(&self) -> usize {
        let heap = self.out.heap_estimate()
            + self.state.heap_estimate()
            + self.remote_candidates.heap_estimate()
            + self.dedupe.heap_estimate();
        size_of::<Call>() + heap
    }

    /// The highest `seq` this call took from each party: what a reconnecting client tells the
    /// relay, so that it replays exactly the frames that were missed.
    pub fn last_seen(&self) -> Vec<(PartyId, u64)> {
        self.dedupe.highest().map(|(party, seq)| (party.clone(), seq)).collect()
    }

    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended(_))
    }

    /// Handles an envelope from the peer.
    pub fn handle_message(&mut self, now: Instant, envelope: Envelope) -> Result<(), CallError> {
        if envelope.conversation_id != self.out.config.conversation_id
            || envelope.call_id != self.out.call_id
        {
            return Err(CallError::WrongCall {
                conversation_id: envelope.conversation_id,
                call_id: envelope.call_id,
            });
        }
        if self.is_ended() {
            return Ok(());
        }
        // Relay notices come from the relay, not the peer; they answer our own frames.
        if let Message::Rejected(rejected) = envelope.message {
            if !self.ack_refused(&rejected) {
                self.on_rejected(now, rejected);
            }
            return Ok(());
        }
        let role = self.out.role;
        if envelope.role == role {
            return Err(CallError::NotAllowed { input: "a message from our own side", role });
        }
        if !self.dedupe.first_time(&envelope.party_id, envelope.seq) {
            return Ok(());
        }
        self.ack_later(now);
        // Once bound, only the bound peer speaks for the call (a second visitor tab's late
        // accept, say, is ignored: the relay tells that tab it was answered elsewhere).
        if let Some(bound) = &self.remote_party
            && bound != &envelope.party_id
        {
            return Ok(());
        }
        match (role, envelope.message) {
            (Role::Agent, Message::Ringing(_)) => {
                if let State::Ringing { .. } = self.state {
                    self.out.event(Event::Ringing);
                }
            }
            (Role::Agent, Message::Accept(_)) => self.on_accept(now, envelope.party_id),
            (Role::Agent, Message::Decline(decline)) => self.on_decline(now, decline.reason),
            (Role::Visitor, Message::Cancel(cancel)) => {
                self.end(now, cancel.reason, Some(Role::Agent));
            }
            (Role::Visitor, Message::SelectAnswer(select)) => {
                if select.selected_party_id != self.out.config.party_id {
                    self.end(now, Reason::AnsweredElsewhere, None);
                }
            }
            (_, Message::Description(description)) => {
                self.on_remote_description(now, description);
            }
            (_, Message::Candidates(candidates)) => {
                for candidate in candidates.candidates {
                    if let Some(ready) = self.remote_candidates.received(candidate) {
                        self.out.media(MediaCommand::AddRemoteCandidate(ready));
                    }
                }
            }
            (_, Message::Media(media)) => self.on_remote_media(envelope.seq, media),
            (_, Message::Quality(quality)) => self.remote_level = Some(quality.level),
            (_, Message::Hangup(hangup)) => self.end(now, hangup.reason, Some(role.peer())),
            // A newer peer's message types are not ours to act on.
            (_, Message::Unknown(_)) => {}
            (_, message) => {
                return Err(CallError::NotAllowed {
                    input: static_type(&message),
                    role: role.peer(),
                });
            }
        }
        Ok(())
    }

    /// Handles the local user's action.
    pub fn handle_action(&mut self, now: Instant, action: Action) -> Result<(), CallError> {
        if self.is_ended() {
            return Ok(());
        }
        match action {
            Action::Invite { prompt, media, ice, camera_off } => {
                self.invite(prompt, media, ice, camera_off)
            }
            Action::Cancel => self.cancel(now),
            Action::Accept => self.accept(),
            Action::Decline => self.decline(now),
            Action::Hangup => match self.state {
                State::Inviting { .. } | State::Ringing { .. } => self.cancel(now),
                State::Prompting { .. } | State::AwaitingPermission { .. } => self.decline(now),
                State::Idle => Err(self.wrong_phase("hangup")),
                State::InCall(_) | State::Ended(_) => {
                    self.hang_up(now);
                    Ok(())
                }
            },
            Action::SetMicrophoneMuted(muted) => self.set_microphone_muted(muted),
            Action::SetCameraOff(off) => self.set_camera_off(off),
            Action::StartScreenShare => self.start_screen_share(),
            Action::StopScreenShare => self.stop_screen_share(),
            Action::SwitchToAudioOnly(reason) => self.switch_to_audio_only(reason),
        }
    }

    /// Handles a fact from the local media layer.
    pub fn handle_media(&mut self, now: Instant, event: MediaEvent) -> Result<(), CallError> {
        if self.is_ended() {
            return Ok(());
        }
        match event {
            MediaEvent::PermissionGranted { media, stream_id } => {
                self.on_permission_granted(now, media, stream_id)
            }
            MediaEvent::PermissionDenied { device, error } => {
                self.on_permission_denied(now, device, error)
            }
            MediaEvent::ScreenShareStarted { stream_id, surface } => {
                self.on_screen_share_started(stream_id, surface)
            }
            MediaEvent::ScreenShareEnded => {
                self.on_screen_share_ended();
                Ok(())
            }
            MediaEvent::CameraEnded => self.on_camera_ended(),
            MediaEvent::LocalDescription(description) => self.on_local_description(description),
            MediaEvent::LocalCandidate(candidate) => self.on_local_candidate(now, candidate),
            MediaEvent::GatheringComplete => self.on_gathering_complete(),
            MediaEvent::NegotiationNeeded => {
                let call = self.state.expect_in_call("negotiation needed")?;
                call.negotiation.renegotiate(false, &mut self.out);
                Ok(())
            }
            MediaEvent::Ice(ice) => self.on_ice(now, ice),
            MediaEvent::QualitySample { rtt_ms, loss_pct } => {
                self.on_quality_sample(rtt_ms, loss_pct)
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.expire(now) {
            if self.is_ended() {
                return;
            }
            match timer {
                Timer::InviteExpiry => self.on_invite_expired(now),
                Timer::CandidateBatch => {
                    if let Some(call) = self.state.in_call_mut() {
                        call.negotiation.flush_candidates(&mut self.out);
                    }
                }
                Timer::IceConnect => self.on_ice_connect_expired(now),
                Timer::IceRestart => self.on_ice_restart_due(),
                Timer::IceReconnect => self.on_ice_reconnect_expired(now),
                Timer::Ack => self.send_ack(),
            }
        }
    }

    // --- helpers ---

    /// Refuses `input`: it makes no sense in this phase.
    fn wrong_phase(&self, input: &'static str) -> CallError {
        CallError::WrongPhase { input, phase: self.phase() }
    }

    fn expect(&self, ok: bool, input: &'static str) -> Result<(), CallError> {
        if ok { Ok(()) } else { Err(self.wrong_phase(input)) }
    }

    fn agent_only(&self, input: &'static str) -> Result<(), CallError> {
        self.role_only(Role::Agent, input)
    }

    fn visitor_only(&self, input: &'static str) -> Result<(), CallError> {
        self.role_only(Role::Visitor, input)
    }

    fn role_only(&self, role: Role, input: &'static str) -> Result<(), CallError> {
        if self.out.role == role {
            Ok(())
        } else {
            Err(CallError::NotAllowed { input, role: self.out.role })
        }
    }
}

/// The wire type of a known message, as a static string for errors.
fn static_type(message: &Message) -> &'static str {
    Message::TYPES
        .iter()
        .copied()
        .find(|t| *t == message.message_type())
        .unwrap_or("unknown message")
}
