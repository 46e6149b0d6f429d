//! One party's call machine.

mod candidates;
mod dedupe;
mod quality;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody,
};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode, RejectedBody};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds};
use velaro_call_protocol::message::media::{
    AudioOnlyReason, DisplaySurface, MediaBody, QualityBody, QualityLevel, StreamId, StreamState,
};
use velaro_call_protocol::sdp::{self, SdpError, SdpSummary};
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, Message, NegotiationId, PartyId, Reason,
    Role,
};

use crate::help::{Browser, permission_help};
use crate::input::{Action, IceState, MediaEvent};
use crate::output::{Event, MediaCommand, Output, PromptEnd, TrackKind};
use crate::summary::{CallSummary, Outcome};
use crate::timer::{Timer, TimerTable};
use candidates::{Gathered, LocalCandidates, RemoteCandidates};
use dedupe::Dedupe;
use quality::QualityMonitor;

/// Timings of a call; the defaults are the protocol's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// How long the first local candidates are held to go out as one batch.
    pub candidate_batch: Duration,
    /// How long media may take to connect after the visitor's accept before the call ends
    /// `ice_failed` (this also ends a call whose offer or answer never came).
    pub ice_connect: Duration,
    /// How long ICE may stay `disconnected` before the agent restarts it.
    pub ice_restart_after: Duration,
    /// How long a lost connection may take to come back before the call ends `ice_timeout`.
    pub ice_reconnect: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            candidate_batch: Duration::from_millis(200),
            ice_connect: Duration::from_secs(30),
            ice_restart_after: Duration::from_secs(2),
            ice_reconnect: Duration::from_secs(30),
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
    /// A visitor's call can only start from an invite.
    #[error("a visitor's call starts from a call.invite, got {0}")]
    NotAnInvite(String),
    /// The local media layer produced a description without ICE credentials.
    #[error("local description is invalid: {0}")]
    InvalidLocalDescription(SdpError),
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Idle,
    Inviting(Box<InviteBody>),
    Ringing,
    Prompting,
    AwaitingPermission,
    Connecting,
    Active,
    Reconnecting,
    Ended,
}

/// Offer/answer progress (perfect negotiation; the visitor is polite).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signaling {
    Stable,
    /// We asked the media layer for an offer.
    CreatingOffer {
        id: NegotiationId,
    },
    /// Our offer is out.
    AwaitingAnswer {
        id: NegotiationId,
    },
    /// We applied a remote offer and asked for an answer.
    Answering {
        id: NegotiationId,
    },
}

/// What we send: the local media state behind `call.media`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LocalMedia {
    stream: Option<StreamId>,
    sends: MediaKinds,
    mic_muted: bool,
    camera_off: bool,
    screen: Option<(StreamId, DisplaySurface)>,
    audio_only: Option<AudioOnlyReason>,
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
///   [`remote_party`](Self::remote_party), [`summary`](Self::summary).
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
/// agent.handle_action(now, Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None })?;
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
    role: Role,
    config: CallConfig,
    id: CallId,
    state: State,
    next_seq: u64,
    remote_party: Option<PartyId>,
    outputs: VecDeque<Output>,
    timers: TimerTable,
    dedupe: Dedupe,
    signaling: Signaling,
    negotiations: u32,
    /// A renegotiation wanted while another was in flight (`true`: with ICE restart).
    deferred: Option<bool>,
    /// Our last offer's summary, to check the answer against.
    last_offer: Option<SdpSummary>,
    /// The local ICE generation's ufrag, for our end-of-candidates marker.
    local_ufrag: Option<String>,
    /// Visitor: an offer that came before consent, applied once it is given.
    held_offer: Option<DescriptionBody>,
    local_candidates: LocalCandidates,
    remote_candidates: RemoteCandidates,
    requested: MediaKinds,
    media: LocalMedia,
    screen_requested: bool,
    quality: QualityMonitor,
    last_level: Option<QualityLevel>,
    remote_level: Option<QualityLevel>,
    invite_sent: bool,
    started_at: Instant,
    accepted_at: Option<Instant>,
    connected_at: Option<Instant>,
    summary: Option<CallSummary>,
}

impl Call {
    fn new(role: Role, config: CallConfig, call_id: CallId, now: Instant, state: State) -> Call {
        Call {
            role,
            config,
            id: call_id,
            state,
            next_seq: 1,
            remote_party: None,
            outputs: VecDeque::new(),
            timers: TimerTable::default(),
            dedupe: Dedupe::default(),
            signaling: Signaling::Stable,
            negotiations: 0,
            deferred: None,
            last_offer: None,
            local_ufrag: None,
            held_offer: None,
            local_candidates: LocalCandidates::default(),
            remote_candidates: RemoteCandidates::default(),
            requested: MediaKinds::default(),
            media: LocalMedia::default(),
            screen_requested: false,
            quality: QualityMonitor::default(),
            last_level: None,
            remote_level: None,
            invite_sent: false,
            started_at: now,
            accepted_at: None,
            connected_at: None,
            summary: None,
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
        let mut call =
            Call::new(Role::Visitor, config, invite.call_id.clone(), now, State::Prompting);
        call.dedupe.first_time(&invite.party_id, invite.seq);
        call.remote_party = Some(invite.party_id.clone());
        call.requested = body.media;
        call.timers.set(Timer::InviteExpiry, now + body.lifetime());
        call.event(Event::Prompt {
            text: body.prompt.text.clone(),
            locale: body.prompt.locale.clone(),
            media: body.media,
        });
        call.send(RingingBody::new());
        Ok(call)
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        let output = self.outputs.pop_front();
        if output.is_none() && self.outputs.capacity() > 0 {
            // Drained: give the buffer back, so an idle call holds none.
            self.outputs = VecDeque::new();
        }
        output
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        phase_of(&self.state)
    }

    /// Agent or visitor.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The call's id.
    pub fn call_id(&self) -> &CallId {
        &self.id
    }

    /// The peer this call is bound to: the inviting agent device, or the visitor tab that
    /// answered.
    pub fn remote_party(&self) -> Option<&PartyId> {
        self.remote_party.as_ref()
    }

    /// The summary, once the call ended.
    pub fn summary(&self) -> Option<&CallSummary> {
        self.summary.as_ref()
    }

    /// An estimate of the memory this call holds, in bytes: its own size plus what its buffers
    /// and strings hold on the heap (capacity, not length). For capacity planning; the
    /// buffers are bounded, so this is too.
    pub fn memory_estimate(&self) -> usize {
        let heap = self.outputs.capacity() * size_of::<Output>()
            + self.remote_candidates.heap_estimate()
            + self.local_candidates.heap_estimate()
            + self.local_ufrag.as_ref().map_or(0, String::capacity)
            + self
                .last_offer
                .as_ref()
                .map_or(0, |o| o.media.capacity() * 64 + o.ice_ufrag.capacity())
            + self.held_offer.as_ref().map_or(0, |o| o.description.sdp.capacity())
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
        self.state == State::Ended
    }

    /// Handles an envelope from the peer.
    pub fn handle_message(&mut self, now: Instant, envelope: Envelope) -> Result<(), CallError> {
        if envelope.conversation_id != self.config.conversation_id || envelope.call_id != self.id {
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
            self.on_rejected(now, rejected);
            return Ok(());
        }
        if envelope.role == self.role {
            return Err(CallError::NotAllowed {
                input: "a message from our own side",
                role: self.role,
            });
        }
        if !self.dedupe.first_time(&envelope.party_id, envelope.seq) {
            return Ok(());
        }
        // Once bound, only the bound peer speaks for the call (a second visitor tab's late
        // accept, say, is ignored: the relay tells that tab it was answered elsewhere).
        if let Some(bound) = &self.remote_party
            && bound != &envelope.party_id
        {
            return Ok(());
        }
        let party = envelope.party_id;
        match (self.role, envelope.message) {
            (Role::Agent, Message::Ringing(_)) => {
                if self.state == State::Ringing {
                    self.event(Event::Ringing);
                }
                Ok(())
            }
            (Role::Agent, Message::Accept(_)) => {
                self.on_accept(now, party);
                Ok(())
            }
            (Role::Agent, Message::Decline(decline)) => {
                if matches!(self.state, State::Ringing) {
                    // The visitor said no on one device: its other tabs stop prompting too.
                    self.send(CancelBody::new(decline.reason.clone()));
                    self.end(now, decline.reason, Some(Role::Visitor), false);
                }
                Ok(())
            }
            (Role::Visitor, Message::Cancel(cancel)) => {
                self.end(now, cancel.reason, Some(Role::Agent), false);
                Ok(())
            }
            (Role::Visitor, Message::SelectAnswer(select)) => {
                if select.selected_party_id != self.config.party_id {
                    self.end(now, Reason::AnsweredElsewhere, None, false);
                }
                Ok(())
            }
            (_, Message::Description(description)) => {
                self.on_remote_description(now, description);
                Ok(())
            }
            (_, Message::Candidates(candidates)) => {
                for candidate in candidates.candidates {
                    if let Some(ready) = self.remote_candidates.received(candidate) {
                        self.media_command(MediaCommand::AddRemoteCandidate(ready));
                    }
                }
                Ok(())
            }
            (_, Message::Media(media)) => {
                self.on_remote_media(media);
                Ok(())
            }
            (_, Message::Quality(quality)) => {
                // Reports come on change; the level holds until the next one.
                self.remote_level = Some(quality.level);
                Ok(())
            }
            (_, Message::Hangup(hangup)) => {
                self.end(now, hangup.reason, Some(self.role.peer()), false);
                Ok(())
            }
            // A newer peer's message types are not ours to act on.
            (_, Message::Unknown(_)) => Ok(()),
            (_, message) => {
                Err(CallError::NotAllowed { input: static_type(&message), role: self.role.peer() })
            }
        }
    }

    /// Handles the local user's action.
    pub fn handle_action(&mut self, now: Instant, action: Action) -> Result<(), CallError> {
        if self.is_ended() {
            return Ok(());
        }
        match action {
            Action::Invite { prompt, media, ice } => {
                self.agent_only("invite")?;
                self.expect(matches!(self.state, State::Idle), "invite")?;
                let mut invite = InviteBody::new(prompt, media);
                invite.ice = ice;
                self.requested = media;
                self.state = State::Inviting(Box::new(invite));
                self.media_command(MediaCommand::RequestUserMedia(media));
            }
            Action::Cancel => {
                self.agent_only("cancel")?;
                self.expect(matches!(self.state, State::Inviting(_) | State::Ringing), "cancel")?;
                let announce = self.invite_sent;
                if announce {
                    self.send(CancelBody::new(Reason::Cancelled));
                }
                self.end(now, Reason::Cancelled, Some(Role::Agent), false);
            }
            Action::Accept => {
                self.visitor_only("accept")?;
                self.expect(self.state == State::Prompting, "accept")?;
                self.state = State::AwaitingPermission;
                self.media_command(MediaCommand::RequestUserMedia(self.requested));
            }
            Action::Decline => {
                self.visitor_only("decline")?;
                self.expect(
                    matches!(self.state, State::Prompting | State::AwaitingPermission),
                    "decline",
                )?;
                self.send(DeclineBody::new(Reason::Declined));
                self.end(now, Reason::Declined, Some(Role::Visitor), false);
            }
            Action::Hangup => match self.state {
                State::Inviting(_) | State::Ringing => {
                    return self.handle_action(now, Action::Cancel);
                }
                State::Prompting | State::AwaitingPermission => {
                    return self.handle_action(now, Action::Decline);
                }
                State::Idle => {
                    return Err(CallError::WrongPhase { input: "hangup", phase: self.phase() });
                }
                _ => self.end(now, Reason::UserHangup, Some(self.role), true),
            },
            Action::SetMicrophoneMuted(muted) => {
                self.expect_media("mute")?;
                self.media.mic_muted = muted;
                self.media_command(MediaCommand::SetTrackEnabled {
                    kind: TrackKind::Audio,
                    enabled: !muted,
                });
                self.send_media_state();
            }
            Action::SetCameraOff(off) => {
                self.expect_media("camera")?;
                self.media.camera_off = off;
                let enabled = !off && self.media.audio_only.is_none();
                self.media_command(MediaCommand::SetTrackEnabled {
                    kind: TrackKind::Video,
                    enabled,
                });
                self.send_media_state();
            }
            Action::StartScreenShare => {
                self.agent_only("screen share")?;
                self.expect_media("screen share")?;
                self.expect(self.media.screen.is_none() && !self.screen_requested, "screen share")?;
                self.screen_requested = true;
                self.media_command(MediaCommand::RequestScreenCapture);
            }
            Action::StopScreenShare => {
                self.expect(self.media.screen.is_some(), "stop screen share")?;
                self.media_command(MediaCommand::StopScreenCapture);
                self.screen_ended(now);
            }
            Action::SwitchToAudioOnly(reason) => {
                self.agent_only("audio only")?;
                self.expect_media("audio only")?;
                self.go_audio_only(reason);
            }
        }
        Ok(())
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
                self.expect(self.screen_requested, "screen share started")?;
                self.screen_requested = false;
                self.media.screen = Some((stream_id, surface));
                self.send_media_state();
                self.renegotiate(false);
                Ok(())
            }
            MediaEvent::ScreenShareEnded => {
                if self.media.screen.is_some() {
                    self.screen_ended(now);
                }
                Ok(())
            }
            MediaEvent::LocalDescription(description) => self.on_local_description(description),
            MediaEvent::LocalCandidate(candidate) => self.on_local_candidate(now, candidate),
            MediaEvent::GatheringComplete => self.on_gathering_complete(),
            MediaEvent::NegotiationNeeded => {
                self.expect(self.in_call(), "negotiation needed")?;
                self.renegotiate(false);
                Ok(())
            }
            MediaEvent::Ice(state) => {
                // ICE exists once a local description does.
                self.expect(self.local_ufrag.is_some(), "ice state")?;
                self.on_ice(now, state);
                Ok(())
            }
            MediaEvent::QualitySample { rtt_ms, loss_pct } => {
                self.expect_media("quality sample")?;
                // A sample the stats could not compute counts as total loss.
                let loss_pct =
                    if loss_pct.is_finite() { loss_pct.clamp(0.0, 100.0) } else { 100.0 };
                let level = quality::level(rtt_ms, loss_pct);
                if self.last_level.as_ref() != Some(&level) {
                    self.last_level = Some(level.clone());
                    let report = QualityBody::new(level.clone());
                    self.send(report.clone().with_measurements(rtt_ms, loss_pct).unwrap_or(report));
                }
                if self.role == Role::Agent {
                    // The agent decides on audio only: from the worse of both ends' views.
                    let worse = match &self.remote_level {
                        Some(remote) if quality::rank(remote) > quality::rank(&level) => {
                            remote.clone()
                        }
                        _ => level,
                    };
                    self.feed_quality(&worse);
                }
                Ok(())
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
                Timer::InviteExpiry => match self.state {
                    State::Ringing => {
                        self.send(CancelBody::new(Reason::InviteTimeout));
                        self.end(now, Reason::InviteTimeout, None, false);
                    }
                    State::Prompting | State::AwaitingPermission => {
                        self.end(now, Reason::InviteTimeout, None, false);
                    }
                    _ => {}
                },
                Timer::CandidateBatch => self.flush_candidates(),
                Timer::IceConnect => {
                    if self.connected_at.is_none() {
                        self.end(now, Reason::IceFailed, None, true);
                    }
                }
                Timer::IceRestart => {
                    if self.role == Role::Agent && self.state == State::Reconnecting {
                        self.renegotiate(true);
                    }
                }
                Timer::IceReconnect => {
                    if self.state == State::Reconnecting {
                        self.end(now, Reason::IceTimeout, None, true);
                    }
                }
            }
        }
    }

    // --- the answer ---

    fn on_permission_denied(
        &mut self,
        now: Instant,
        device: Device,
        error: MediaError,
    ) -> Result<(), CallError> {
        let screen = matches!(device, Device::Screen);
        let help = permission_help(self.config.browser, &device);
        match (&self.state, screen) {
            (_, true) if self.screen_requested => {
                // A refused screen share is reported; the call goes on.
                self.screen_requested = false;
                self.event(Event::PermissionHelp { device, error, help });
            }
            (State::Inviting(_), false) => {
                // The agent's own denial stops the invite before it is sent.
                self.event(Event::PermissionHelp {
                    device: device.clone(),
                    error: error.clone(),
                    help,
                });
                self.end(
                    now,
                    Reason::MediaPermissionDenied { device, error },
                    Some(Role::Agent),
                    false,
                );
            }
            (State::AwaitingPermission, false) => {
                self.event(Event::PermissionHelp {
                    device: device.clone(),
                    error: error.clone(),
                    help,
                });
                let reason = Reason::MediaPermissionDenied { device, error };
                self.send(DeclineBody::new(reason.clone()));
                self.end(now, reason, Some(Role::Visitor), false);
            }
            _ => {
                return Err(CallError::WrongPhase {
                    input: "permission denied",
                    phase: self.phase(),
                });
            }
        }
        Ok(())
    }

    /// The first visitor tab to accept wins (the relay enforces the same).
    fn on_accept(&mut self, now: Instant, party: PartyId) {
        if self.state != State::Ringing {
            return;
        }
        self.remote_party = Some(party.clone());
        self.accepted_at = Some(now);
        self.timers.stop(Timer::InviteExpiry);
        self.state = State::Connecting;
        self.send(SelectAnswerBody::new(party));
        self.arm_ice_connect(now);
        self.event(Event::Accepted);
        self.renegotiate(false);
    }

    fn on_permission_granted(
        &mut self,
        now: Instant,
        media: MediaKinds,
        stream_id: StreamId,
    ) -> Result<(), CallError> {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::Inviting(invite) => {
                self.media.stream = Some(stream_id);
                self.media.sends = media;
                self.started_at = now;
                self.invite_sent = true;
                self.timers.set(Timer::InviteExpiry, now + invite.lifetime());
                self.state = State::Ringing;
                self.send(*invite);
                Ok(())
            }
            State::AwaitingPermission => {
                self.media.stream = Some(stream_id);
                self.media.sends = media;
                self.accepted_at = Some(now);
                self.timers.stop(Timer::InviteExpiry);
                self.state = State::Connecting;
                self.arm_ice_connect(now);
                self.send(AcceptBody::new(media));
                if let Some(offer) = self.held_offer.take() {
                    self.on_remote_description(now, offer);
                }
                Ok(())
            }
            other => {
                let phase = phase_of(&other);
                self.state = other;
                Err(CallError::WrongPhase { input: "permission granted", phase })
            }
        }
    }

    // --- negotiation ---

    fn next_negotiation_id(&mut self) -> NegotiationId {
        self.negotiations += 1;
        let prefix = if self.role == Role::Agent { "a" } else { "v" };
        // Always a valid id: a letter and digits.
        NegotiationId::new(format!("{prefix}{}", self.negotiations))
            .unwrap_or_else(|_| unreachable!("`a1`-style ids are valid"))
    }

    /// Starts an offer now if nothing is in flight, or defers it until the current one settles.
    fn renegotiate(&mut self, ice_restart: bool) {
        if !self.in_call() {
            return;
        }
        if self.signaling != Signaling::Stable {
            self.deferred = Some(self.deferred.unwrap_or(false) || ice_restart);
            return;
        }
        let id = self.next_negotiation_id();
        self.signaling = Signaling::CreatingOffer { id };
        self.media_command(MediaCommand::CreateOffer { ice_restart });
    }

    fn settled(&mut self) {
        self.signaling = Signaling::Stable;
        if let Some(ice_restart) = self.deferred.take() {
            self.renegotiate(ice_restart);
        }
    }

    fn on_local_description(&mut self, description: SessionDescription) -> Result<(), CallError> {
        // Our own media layer's description: summarized, not re-validated (the peer checks it).
        let summary = sdp::summarize(&description);
        if summary.ice_ufrag.is_empty() {
            let error = SdpError::MissingIceUfrag { index: 0 };
            return Err(CallError::InvalidLocalDescription(error));
        }
        let id = match (&self.signaling, description.sdp_type) {
            (Signaling::CreatingOffer { id }, SdpType::Offer)
            | (Signaling::Answering { id }, SdpType::Answer) => id.clone(),
            _ => {
                return Err(CallError::WrongPhase {
                    input: "local description",
                    phase: self.phase(),
                });
            }
        };
        if self.local_ufrag.as_deref() != Some(summary.ice_ufrag.as_str()) {
            self.local_candidates.new_generation();
            self.timers.stop(Timer::CandidateBatch);
            self.local_ufrag = Some(summary.ice_ufrag.clone());
        }
        let sdp_type = description.sdp_type;
        self.send(DescriptionBody::new(description, id.clone()));
        if sdp_type == SdpType::Offer {
            self.last_offer = Some(summary);
            self.signaling = Signaling::AwaitingAnswer { id };
        } else {
            self.settled();
        }
        Ok(())
    }

    fn on_remote_description(&mut self, now: Instant, body: DescriptionBody) {
        if self.role == Role::Visitor
            && !matches!(self.state, State::Connecting | State::Active | State::Reconnecting)
        {
            // No media before consent: hold the offer until the visitor accepted and the
            // browser granted permission.
            if body.description.sdp_type == SdpType::Offer {
                self.held_offer = Some(body);
            }
            return;
        }
        let Ok(summary) = sdp::check(&body.description) else {
            self.end(now, Reason::ProtocolError, None, true);
            return;
        };
        match body.description.sdp_type {
            SdpType::Offer => {
                let glare = matches!(
                    self.signaling,
                    Signaling::CreatingOffer { .. } | Signaling::AwaitingAnswer { .. }
                );
                if glare && self.role == Role::Agent {
                    // Impolite: our offer wins; the visitor rolls its own back.
                    return;
                }
                if glare {
                    self.media_command(MediaCommand::Rollback);
                    self.deferred = Some(self.deferred.unwrap_or(false));
                }
                if matches!(self.signaling, Signaling::Answering { .. }) {
                    return;
                }
                self.media_command(MediaCommand::ApplyRemoteDescription(body.description));
                self.apply_held_candidates(&summary.ice_ufrag);
                self.signaling = Signaling::Answering { id: body.negotiation_id };
                self.media_command(MediaCommand::CreateAnswer);
            }
            SdpType::Answer => {
                let Signaling::AwaitingAnswer { id } = &self.signaling else {
                    return;
                };
                if id != &body.negotiation_id {
                    return; // an answer to an older offer
                }
                if let Some(offer) = &self.last_offer
                    && summary.check_answers(offer).is_err()
                {
                    self.end(now, Reason::ProtocolError, None, true);
                    return;
                }
                self.media_command(MediaCommand::ApplyRemoteDescription(body.description));
                self.apply_held_candidates(&summary.ice_ufrag);
                self.settled();
            }
        }
    }

    fn apply_held_candidates(&mut self, ufrag: &str) {
        for candidate in self.remote_candidates.description_applied(ufrag) {
            self.media_command(MediaCommand::AddRemoteCandidate(candidate));
        }
    }

    fn on_local_candidate(
        &mut self,
        now: Instant,
        candidate: IceCandidate,
    ) -> Result<(), CallError> {
        self.expect(self.local_ufrag.is_some(), "local candidate")?;
        if candidate.is_end_of_candidates() {
            return self.on_gathering_complete();
        }
        match self.local_candidates.gathered(candidate) {
            Gathered::SendNow => self.flush_candidates(),
            Gathered::Hold if !self.timers.is_armed(Timer::CandidateBatch) => {
                self.timers.set(Timer::CandidateBatch, now + self.config.timings.candidate_batch);
            }
            Gathered::Hold => {}
        }
        Ok(())
    }

    /// Sends what is held and the end-of-candidates marker of this generation (Chromium only
    /// fires a `null` candidate, so the marker is ours to write).
    fn on_gathering_complete(&mut self) -> Result<(), CallError> {
        self.expect(self.local_ufrag.is_some(), "gathering complete")?;
        self.timers.stop(Timer::CandidateBatch);
        self.flush_candidates();
        let end = IceCandidate::end_of_candidates(self.local_ufrag.clone());
        self.send(CandidatesBody::new(vec![end]));
        Ok(())
    }

    fn arm_ice_connect(&mut self, now: Instant) {
        if self.connected_at.is_none() && !self.timers.is_armed(Timer::IceConnect) {
            self.timers.set(Timer::IceConnect, now + self.config.timings.ice_connect);
        }
    }

    fn flush_candidates(&mut self) {
        while !self.local_candidates.is_empty() {
            let batch = self.local_candidates.take();
            self.send(CandidatesBody::new(batch));
        }
    }

    // --- ICE ---

    fn on_ice(&mut self, now: Instant, state: IceState) {
        let timings = self.config.timings;
        match (state, &self.state) {
            (IceState::Connected, State::Connecting) => {
                self.connected_at = Some(now);
                self.timers.stop(Timer::IceConnect);
                self.state = State::Active;
                self.event(Event::Opened);
                self.send_media_state();
            }
            (IceState::Connected, State::Reconnecting) => {
                self.timers.stop(Timer::IceRestart);
                self.timers.stop(Timer::IceReconnect);
                self.state = State::Active;
                self.event(Event::Reconnected);
            }
            (IceState::Disconnected, State::Active) => {
                self.state = State::Reconnecting;
                self.event(Event::Reconnecting);
                self.timers.set(Timer::IceRestart, now + timings.ice_restart_after);
                self.timers.set(Timer::IceReconnect, now + timings.ice_reconnect);
            }
            (IceState::Failed, State::Connecting) => self.end(now, Reason::IceFailed, None, true),
            (IceState::Failed, State::Active | State::Reconnecting) => {
                if self.state == State::Active {
                    self.state = State::Reconnecting;
                    self.event(Event::Reconnecting);
                    self.timers.set(Timer::IceReconnect, now + timings.ice_reconnect);
                }
                // Failed will not recover by itself: restart now rather than after the grace.
                self.timers.stop(Timer::IceRestart);
                if self.role == Role::Agent {
                    self.renegotiate(true);
                }
            }
            _ => {}
        }
    }

    // --- media state ---

    fn media_body(&self) -> MediaBody {
        let mut body = MediaBody::default();
        if let Some(stream) = &self.media.stream {
            let audio_muted = self.media.mic_muted || !self.media.sends.audio;
            let video_muted =
                self.media.camera_off || self.media.audio_only.is_some() || !self.media.sends.video;
            body.streams.insert(stream.clone(), StreamState::camera(audio_muted, video_muted));
        }
        if let Some((stream, surface)) = &self.media.screen {
            body.streams.insert(stream.clone(), StreamState::screen(surface.clone()));
        }
        if let Some(reason) = &self.media.audio_only {
            body = body.with_audio_only(reason.clone());
        }
        body
    }

    /// Sends `call.media`, once media is connected: the first one tells the peer's UI and the
    /// relay that media flows (talk time counts from it); changes made while connecting go out
    /// with it.
    fn send_media_state(&mut self) {
        if matches!(self.state, State::Active | State::Reconnecting) {
            let body = self.media_body();
            self.send(body);
        }
    }

    fn screen_ended(&mut self, _now: Instant) {
        self.media.screen = None;
        self.send_media_state();
        self.renegotiate(false);
    }

    fn go_audio_only(&mut self, reason: AudioOnlyReason) {
        if self.media.audio_only.is_some() {
            return;
        }
        self.media.audio_only = Some(reason);
        self.media_command(MediaCommand::SetTrackEnabled {
            kind: TrackKind::Video,
            enabled: false,
        });
        self.send_media_state();
    }

    fn on_remote_media(&mut self, media: MediaBody) {
        if !self.in_call() {
            return; // nothing to show (or to change) before the call is under way
        }
        // The agent chose audio only for the call: the visitor stops its video too.
        if self.role == Role::Visitor
            && let Some(audio_only) = &media.audio_only
        {
            self.go_audio_only(audio_only.reason.clone());
        }
        self.event(Event::RemoteMedia(media));
    }

    fn feed_quality(&mut self, level: &QualityLevel) {
        if let Some(advice) = self.quality.sample(level) {
            self.event(Event::Quality(advice));
        }
    }

    fn on_rejected(&mut self, now: Instant, rejected: RejectedBody) {
        let reason = match (&self.state, &rejected.code) {
            (State::Ringing, RejectCode::Busy) => Some(Reason::Busy),
            (State::Ringing, RejectCode::FeatureDisabled) => Some(Reason::FeatureDisabled),
            (
                State::Ringing,
                RejectCode::Forbidden
                | RejectCode::Expired
                | RejectCode::UnknownCall
                | RejectCode::CallEnded,
            ) => Some(Reason::ProtocolError),
            _ => None,
        };
        self.event(Event::Rejected { code: rejected.code, detail: rejected.detail });
        if let Some(reason) = reason {
            self.end(now, reason, None, false);
        }
    }

    // --- ending ---

    /// Ends the call (first terminal transition wins: callers check `is_ended` first).
    fn end(&mut self, now: Instant, reason: Reason, ended_by: Option<Role>, send_hangup: bool) {
        if self.is_ended() {
            return;
        }
        if send_hangup {
            self.send(HangupBody::new(reason.clone()));
        }
        if matches!(self.state, State::Prompting | State::AwaitingPermission) {
            let end = match reason {
                Reason::AnsweredElsewhere => Some(PromptEnd::AnsweredElsewhere),
                Reason::InviteTimeout => Some(PromptEnd::Expired),
                Reason::Cancelled | Reason::Replaced => Some(PromptEnd::Cancelled),
                _ => None,
            };
            if let Some(end) = end {
                self.event(Event::StopPrompting(end));
            }
        }
        let media_started = self.media.stream.is_some()
            || matches!(self.state, State::Inviting(_) | State::AwaitingPermission);
        if media_started {
            self.media_command(MediaCommand::Close);
        }
        let outcome = if self.role == Role::Agent && !self.invite_sent {
            Outcome::Cancelled
        } else {
            Outcome::of(&reason, self.accepted_at.is_some())
        };
        let ring_end = self.accepted_at.unwrap_or(now);
        let summary = CallSummary {
            call_id: self.id.clone(),
            outcome,
            ended_by,
            reason: reason.clone(),
            ring_time: ring_end.saturating_duration_since(self.started_at),
            talk_time: self
                .connected_at
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at)),
        };
        self.timers.stop_all();
        self.held_offer = None;
        self.local_candidates = LocalCandidates::default();
        self.remote_candidates = RemoteCandidates::default();
        self.state = State::Ended;
        self.summary = Some(summary.clone());
        self.event(Event::Ended { reason, summary });
    }

    // --- helpers ---

    fn in_call(&self) -> bool {
        matches!(self.state, State::Connecting | State::Active | State::Reconnecting)
    }

    fn expect(&self, ok: bool, input: &'static str) -> Result<(), CallError> {
        if ok { Ok(()) } else { Err(CallError::WrongPhase { input, phase: self.phase() }) }
    }

    fn expect_media(&self, input: &'static str) -> Result<(), CallError> {
        self.expect(self.in_call() && self.media.stream.is_some(), input)
    }

    fn agent_only(&self, input: &'static str) -> Result<(), CallError> {
        if self.role == Role::Agent {
            Ok(())
        } else {
            Err(CallError::NotAllowed { input, role: self.role })
        }
    }

    fn visitor_only(&self, input: &'static str) -> Result<(), CallError> {
        if self.role == Role::Visitor {
            Ok(())
        } else {
            Err(CallError::NotAllowed { input, role: self.role })
        }
    }

    fn send(&mut self, message: impl Into<Message>) {
        let envelope = Envelope::new(
            self.config.conversation_id.clone(),
            self.id.clone(),
            self.config.party_id.clone(),
            self.role,
            self.next_seq,
            message,
        );
        self.next_seq += 1;
        self.outputs.push_back(Output::Send(envelope));
    }

    fn media_command(&mut self, command: MediaCommand) {
        self.outputs.push_back(Output::Media(command));
    }

    fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}

fn phase_of(state: &State) -> Phase {
    match state {
        State::Idle => Phase::Idle,
        State::Inviting(_) => Phase::Inviting,
        State::Ringing => Phase::Ringing,
        State::Prompting => Phase::Prompting,
        State::AwaitingPermission => Phase::AwaitingPermission,
        State::Connecting => Phase::Connecting,
        State::Active => Phase::Active,
        State::Reconnecting => Phase::Reconnecting,
        State::Ended => Phase::Ended,
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
