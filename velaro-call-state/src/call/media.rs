//! What this party sends in an answered call, and what it tells the peer about it: the camera
//! and microphone as granted, mute and camera off, the agent's screen share, audio only, the
//! `call.media` that carries them (once media is connected), and `call.quality` reports with
//! the agent's audio-only advice.

use velaro_call_protocol::Role;
use velaro_call_protocol::message::invite::MediaKinds;
use velaro_call_protocol::message::media::{
    AudioOnlyReason, DisplaySurface, MediaBody, QualityBody, StreamId, StreamState,
};

use super::outbox::Outbox;
use super::quality;
use super::state::{Connection, InCall};
use super::{Call, CallError};
use crate::output::{Event, MediaCommand, TrackKind};

/// The camera and/or microphone the browser granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserMedia {
    /// The local camera stream's id (its msid).
    pub(super) stream: StreamId,
    /// What was granted.
    pub(super) sends: MediaKinds,
}

/// What we send: the local media state behind `call.media`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LocalMedia {
    user_media: UserMedia,
    mic_muted: bool,
    camera_off: bool,
    screen: ScreenShare,
    audio_only: Option<AudioOnlyReason>,
}

/// The agent's screen share.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ScreenShare {
    Off,
    /// Asked the browser for a screen, window or tab; waiting for the user's pick.
    Requested,
    Sharing {
        stream: StreamId,
        surface: DisplaySurface,
    },
}

impl UserMedia {
    pub(super) fn heap_estimate(&self) -> usize {
        self.stream.as_str().len()
    }
}

impl LocalMedia {
    pub(super) fn new(user_media: UserMedia) -> LocalMedia {
        LocalMedia {
            user_media,
            mic_muted: false,
            camera_off: false,
            screen: ScreenShare::Off,
            audio_only: None,
        }
    }

    fn body(&self) -> MediaBody {
        let mut body = MediaBody::default();
        let UserMedia { stream, sends } = &self.user_media;
        let audio_muted = self.mic_muted || !sends.audio;
        let video_muted = self.camera_off || self.audio_only.is_some() || !sends.video;
        body.streams.insert(stream.clone(), StreamState::camera(audio_muted, video_muted));
        if let ScreenShare::Sharing { stream, surface } = &self.screen {
            body.streams.insert(stream.clone(), StreamState::screen(surface.clone()));
        }
        if let Some(reason) = &self.audio_only {
            body = body.with_audio_only(reason.clone());
        }
        body
    }

    pub(super) fn heap_estimate(&self) -> usize {
        let screen = match &self.screen {
            ScreenShare::Sharing { stream, .. } => stream.as_str().len(),
            ScreenShare::Off | ScreenShare::Requested => 0,
        };
        self.user_media.heap_estimate() + screen
    }
}

impl InCall {
    /// Sends `call.media`, once media is connected: the first one tells the peer's UI and the
    /// relay that media flows (talk time counts from it); changes made while connecting go out
    /// with it.
    pub(super) fn send_media_state(&self, out: &mut Outbox) {
        if let Connection::Active { .. } | Connection::Reconnecting { .. } = self.connection {
            out.send(self.media.body());
        }
    }

    fn screen_ended(&mut self, out: &mut Outbox) {
        self.media.screen = ScreenShare::Off;
        self.send_media_state(out);
        self.negotiation.renegotiate(false, out);
    }

    fn go_audio_only(&mut self, reason: AudioOnlyReason, out: &mut Outbox) {
        if self.media.audio_only.is_some() {
            return;
        }
        self.media.audio_only = Some(reason);
        out.media(MediaCommand::SetTrackEnabled { kind: TrackKind::Video, enabled: false });
        self.send_media_state(out);
    }
}

impl Call {
    /// Mute (audio) or camera off (video): the track stops or starts sending, without
    /// renegotiation, and the peer hears of it. Video stays off in an audio-only call.
    pub(super) fn set_track_off(
        &mut self,
        input: &'static str,
        kind: TrackKind,
        off: bool,
    ) -> Result<(), CallError> {
        let call = self.state.expect_in_call(input)?;
        let media = &mut call.media;
        let enabled = match kind {
            TrackKind::Audio => {
                media.mic_muted = off;
                !off
            }
            TrackKind::Video => {
                media.camera_off = off;
                !off && media.audio_only.is_none()
            }
        };
        self.out.media(MediaCommand::SetTrackEnabled { kind, enabled });
        call.send_media_state(&mut self.out);
        Ok(())
    }

    pub(super) fn start_screen_share(&mut self) -> Result<(), CallError> {
        let input = "screen share";
        self.agent_only(input)?;
        let call = self.state.expect_in_call(input)?;
        if call.media.screen != ScreenShare::Off {
            return Err(call.refuse(input));
        }
        call.media.screen = ScreenShare::Requested;
        self.out.media(MediaCommand::RequestScreenCapture);
        Ok(())
    }

    /// The browser refused the screen we asked for: reported, and the call goes on. `false`
    /// when no screen was asked for.
    pub(super) fn screen_share_refused(&mut self) -> bool {
        match self.state.in_call_mut() {
            Some(call) if call.media.screen == ScreenShare::Requested => {
                call.media.screen = ScreenShare::Off;
                true
            }
            _ => false,
        }
    }

    pub(super) fn on_screen_share_started(
        &mut self,
        stream: StreamId,
        surface: DisplaySurface,
    ) -> Result<(), CallError> {
        let input = "screen share started";
        let call = self.state.expect_in_call(input)?;
        if call.media.screen != ScreenShare::Requested {
            return Err(call.refuse(input));
        }
        call.media.screen = ScreenShare::Sharing { stream, surface };
        call.send_media_state(&mut self.out);
        call.negotiation.renegotiate(false, &mut self.out);
        Ok(())
    }

    /// Our user stops sharing.
    pub(super) fn stop_screen_share(&mut self) -> Result<(), CallError> {
        let input = "stop screen share";
        let call = self.state.expect_in_call(input)?;
        if !matches!(call.media.screen, ScreenShare::Sharing { .. }) {
            return Err(call.refuse(input));
        }
        self.out.media(MediaCommand::StopScreenCapture);
        call.screen_ended(&mut self.out);
        Ok(())
    }

    /// The capture ended outside our control (the browser's own "Stop sharing" button).
    pub(super) fn on_screen_share_ended(&mut self) {
        if let Some(call) = self.state.in_call_mut()
            && matches!(call.media.screen, ScreenShare::Sharing { .. })
        {
            call.screen_ended(&mut self.out);
        }
    }

    pub(super) fn switch_to_audio_only(
        &mut self,
        reason: AudioOnlyReason,
    ) -> Result<(), CallError> {
        let input = "audio only";
        self.agent_only(input)?;
        let call = self.state.expect_in_call(input)?;
        call.go_audio_only(reason, &mut self.out);
        Ok(())
    }

    /// The peer's media state, shown once the call is under way.
    pub(super) fn on_remote_media(&mut self, media: MediaBody) {
        let Some(call) = self.state.in_call_mut() else {
            return; // nothing to show (or to change) before the call is under way
        };
        // The agent chose audio only for the call: the visitor stops its video too.
        if self.out.role == Role::Visitor
            && let Some(audio_only) = &media.audio_only
        {
            call.go_audio_only(audio_only.reason.clone(), &mut self.out);
        }
        self.out.event(Event::RemoteMedia(media));
    }

    /// A quality sample of our end: reported when its level changes; the agent advises audio
    /// only from the worse of both ends' levels.
    pub(super) fn on_quality_sample(
        &mut self,
        rtt_ms: u32,
        loss_pct: f64,
    ) -> Result<(), CallError> {
        let call = self.state.expect_in_call("quality sample")?;
        // A sample the stats could not compute counts as total loss.
        let loss_pct = if loss_pct.is_finite() { loss_pct.clamp(0.0, 100.0) } else { 100.0 };
        let level = quality::level(rtt_ms, loss_pct);
        if call.last_level.as_ref() != Some(&level) {
            call.last_level = Some(level.clone());
            let report = QualityBody::new(level.clone());
            self.out.send(report.clone().with_measurements(rtt_ms, loss_pct).unwrap_or(report));
        }
        if self.out.role == Role::Agent {
            // The agent decides on audio only: from the worse of both ends' views.
            let worse = match &self.remote_level {
                Some(remote) if quality::rank(remote) > quality::rank(&level) => remote.clone(),
                _ => level,
            };
            if let Some(advice) = call.quality.sample(&worse) {
                self.out.event(Event::Quality(advice));
            }
        }
        Ok(())
    }
}
