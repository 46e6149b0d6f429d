//! Before the call is answered: the agent's invite (its own camera and microphone first, so a
//! denial never rings the visitor; a camera that fails falls back to audio), the visitor's prompt, consent and permission (no media
//! before consent), the ways an unanswered invite ends (withdrawn, declined, refused by the
//! relay, expired), and the answer that starts the call.

use std::time::Instant;

use velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, SelectAnswerBody,
};
use velaro_call_protocol::message::hangup::{RejectCode, RejectedBody};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::StreamId;
use velaro_call_protocol::velaro_ice_config::RtcConfiguration;
use velaro_call_protocol::{Device, MediaError, PartyId, Reason, Role};

use super::media::{UserMedia, UserMediaRequest};
use super::state::{InCall, State};
use super::{Call, CallError};
use crate::help::media_help;
use crate::output::{Event, MediaCommand};
use crate::timer::Timer;

impl Call {
    /// Agent: start a call. Its own camera and microphone are requested first (the microphone
    /// alone with `camera_off`); the invite waits.
    pub(super) fn invite(
        &mut self,
        prompt: Prompt,
        media: MediaKinds,
        ice: Option<RtcConfiguration>,
        camera_off: bool,
    ) -> Result<(), CallError> {
        self.agent_only("invite")?;
        self.expect(matches!(self.state, State::Idle), "invite")?;
        let mut invite = InviteBody::new(prompt, media);
        invite.ice = ice;
        let own = if camera_off { MediaKinds::new(media.audio, false) } else { media };
        if !own.audio && !own.video {
            return Err(CallError::NoMedia);
        }
        self.state =
            State::Inviting { invite: Box::new(invite), request: UserMediaRequest::new(own) };
        self.out.media(MediaCommand::RequestUserMedia(own));
        Ok(())
    }

    /// Agent: withdraw the invite; the visitor hears of it only if it went out.
    pub(super) fn cancel(&mut self, now: Instant) -> Result<(), CallError> {
        self.agent_only("cancel")?;
        match self.state {
            State::Inviting { .. } => {}
            State::Ringing { .. } => self.out.send(CancelBody::new(Reason::Cancelled)),
            _ => return Err(self.wrong_phase("cancel")),
        }
        self.end(now, Reason::Cancelled, Some(Role::Agent));
        Ok(())
    }

    /// Visitor: say yes; the browser is asked for the media the invite asks for.
    pub(super) fn accept(&mut self) -> Result<(), CallError> {
        self.visitor_only("accept")?;
        match self.state.take() {
            State::Prompting { requested, held_offer } => {
                let request = UserMediaRequest::new(requested);
                self.state = State::AwaitingPermission { held_offer, request };
                self.out.media(MediaCommand::RequestUserMedia(requested));
                Ok(())
            }
            other => Err(self.restore(other, "accept")),
        }
    }

    /// Visitor: say no.
    pub(super) fn decline(&mut self, now: Instant) -> Result<(), CallError> {
        self.visitor_only("decline")?;
        let prompted =
            matches!(self.state, State::Prompting { .. } | State::AwaitingPermission { .. });
        self.expect(prompted, "decline")?;
        self.out.send(DeclineBody::new(Reason::Declined));
        self.end(now, Reason::Declined, Some(Role::Visitor));
        Ok(())
    }

    /// The camera and/or microphone were granted: the agent's invite goes out; the visitor's
    /// accept does, and the call is answered; in a call, a camera asked for mid-call joins it.
    pub(super) fn on_permission_granted(
        &mut self,
        now: Instant,
        media: MediaKinds,
        stream: StreamId,
    ) -> Result<(), CallError> {
        if self.camera_granted(media) {
            return Ok(());
        }
        match self.state.take() {
            State::Inviting { invite, request } => {
                let camera_failed = request.camera_failed;
                self.started_at = now;
                self.timers.set(Timer::InviteExpiry, now + invite.lifetime());
                self.state = State::Ringing {
                    user_media: UserMedia { stream, sends: media, camera_failed },
                };
                self.out.send(*invite);
            }
            State::AwaitingPermission { held_offer, request } => {
                let camera_failed = request.camera_failed;
                let user_media = UserMedia { stream, sends: media, camera_failed };
                self.state = State::InCall(self.answered(now, user_media));
                self.out.send(AcceptBody::new(media));
                if let Some(offer) = held_offer {
                    self.on_remote_description(now, offer);
                }
            }
            other => return Err(self.restore(other, "permission granted")),
        }
        Ok(())
    }

    /// A media request failed, by the rule table (crate docs): a screen share's is reported and
    /// the call goes on; so does a camera's mid-call; a camera that fails at the start (not
    /// refused) leaves the call on audio, asking for the microphone alone; anything else stops
    /// the call: the agent's invite is never sent, the visitor declines.
    pub(super) fn on_permission_denied(
        &mut self,
        now: Instant,
        device: Device,
        error: MediaError,
    ) -> Result<(), CallError> {
        let browser = self.out.config.browser;
        if device == Device::Screen {
            if !self.screen_share_refused() {
                return Err(self.wrong_phase("permission denied"));
            }
            let help = media_help(browser, &device, &error);
            self.out.event(Event::PermissionHelp { device, error, help });
            return Ok(());
        }
        if device == Device::Camera && self.camera_failed(&error) {
            return Ok(());
        }
        let (by, request) = match &mut self.state {
            State::Inviting { request, .. } => (Role::Agent, request),
            State::AwaitingPermission { request, .. } => (Role::Visitor, request),
            _ => return Err(self.wrong_phase("permission denied")),
        };
        if request.fall_back(&device, &error) {
            let help = media_help(browser, &device, &error);
            self.out.event(Event::CameraUnavailable { error, help });
            self.out.media(MediaCommand::RequestUserMedia(MediaKinds::AUDIO_ONLY));
            return Ok(());
        }
        let device = request.failed_device(device);
        let help = media_help(browser, &device, &error);
        self.out.event(Event::PermissionHelp {
            device: device.clone(),
            error: error.clone(),
            help,
        });
        let reason = Reason::MediaPermissionDenied { device, error };
        if by == Role::Visitor {
            self.out.send(DeclineBody::new(reason.clone()));
        }
        self.end(now, reason, Some(by));
        Ok(())
    }

    /// Agent: a visitor tab accepted. The first one wins (the relay enforces the same).
    pub(super) fn on_accept(&mut self, now: Instant, party: PartyId) {
        match self.state.take() {
            State::Ringing { user_media } => {
                self.remote_party = Some(party.clone());
                let mut call = self.answered(now, user_media);
                self.out.send(SelectAnswerBody::new(party));
                self.out.event(Event::Accepted);
                call.negotiation.renegotiate(false, &mut self.out);
                self.state = State::InCall(call);
            }
            other => self.state = other,
        }
    }

    /// Agent: the visitor said no on one device; its other tabs stop prompting too.
    pub(super) fn on_decline(&mut self, now: Instant, reason: Reason) {
        if let State::Ringing { .. } = self.state {
            self.out.send(CancelBody::new(reason.clone()));
            self.end(now, reason, Some(Role::Visitor));
        }
    }

    /// The relay refused one of our frames; a refused invite ends the call.
    pub(super) fn on_rejected(&mut self, now: Instant, rejected: RejectedBody) {
        let reason = match (&self.state, &rejected.code) {
            (State::Ringing { .. }, RejectCode::Busy) => Some(Reason::Busy),
            (State::Ringing { .. }, RejectCode::FeatureDisabled) => Some(Reason::FeatureDisabled),
            (
                State::Ringing { .. },
                RejectCode::Forbidden
                | RejectCode::Expired
                | RejectCode::UnknownCall
                | RejectCode::CallEnded,
            ) => Some(Reason::ProtocolError),
            _ => None,
        };
        self.out.event(Event::Rejected { code: rejected.code, detail: rejected.detail });
        if let Some(reason) = reason {
            self.end(now, reason, None);
        }
    }

    /// [`Timer::InviteExpiry`]: nobody answered in time (each side by its own clock).
    pub(super) fn on_invite_expired(&mut self, now: Instant) {
        match self.state {
            State::Ringing { .. } => {
                self.out.send(CancelBody::new(Reason::InviteTimeout));
                self.end(now, Reason::InviteTimeout, None);
            }
            State::Prompting { .. } | State::AwaitingPermission { .. } => {
                self.end(now, Reason::InviteTimeout, None);
            }
            _ => {}
        }
    }

    /// The call is answered at `now`: the invite stops ringing, and media must connect in time.
    fn answered(&mut self, now: Instant, user_media: UserMedia) -> Box<InCall> {
        self.timers.stop(Timer::InviteExpiry);
        self.timers.set(Timer::IceConnect, now + self.out.config.timings.ice_connect);
        Box::new(InCall::new(now, user_media))
    }

    /// Puts back a state taken for a transition that `input` may not make, and refuses it.
    fn restore(&mut self, state: State, input: &'static str) -> CallError {
        self.state = state;
        self.wrong_phase(input)
    }
}
