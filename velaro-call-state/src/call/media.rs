//! What this party sends in an answered call, and what it tells the peer about it: the camera
//! and microphone as asked for and granted (a failed camera falls back to audio, by the rule
//! table in the crate docs), mute, camera off and on (a camera added mid-call), the agent's
//! screen share, audio only and the visitor following it, the `call.media` that carries them
//! (once media is connected), and `call.quality` reports with the agent's audio-only advice.

use velaro_call_protocol::message::invite::MediaKinds;
use velaro_call_protocol::message::media::{
    AudioOnlyReason, DisplaySurface, MediaBody, QualityBody, StreamId, StreamState,
};
use velaro_call_protocol::{Device, MediaError, Role};

use super::outbox::Outbox;
use super::quality;
use super::state::{Connection, InCall};
use super::{Call, CallError};
use crate::help::{Browser, media_help};
use crate::output::{Event, MediaCommand, TrackKind};

/// A request for the camera and/or microphone before the call is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserMediaRequest {
    /// What the browser is being asked for.
    pub(super) asked: MediaKinds,
    /// The camera failed (not refused): the microphone is being asked for alone.
    pub(super) camera_failed: Option<MediaError>,
}

impl UserMediaRequest {
    pub(super) fn new(asked: MediaKinds) -> UserMediaRequest {
        UserMediaRequest { asked, camera_failed: None }
    }

    /// A failure of this request, by the rule table: `true` when the camera failed without a
    /// refusal and the microphone alone is now asked for (the call goes on); `false` when the
    /// call cannot start. A failure of a request without video is the microphone's.
    pub(super) fn fall_back(&mut self, device: &Device, error: &MediaError) -> bool {
        let camera = *device == Device::Camera && self.asked.video;
        if camera && self.asked.audio && !error.is_refusal() {
            self.asked = MediaKinds::AUDIO_ONLY;
            self.camera_failed = Some(error.clone());
            return true;
        }
        false
    }

    /// The device a failure is charged to: a request without video has no camera to blame.
    pub(super) fn failed_device(&self, device: Device) -> Device {
        if device == Device::Camera && !self.asked.video { Device::Microphone } else { device }
    }

    pub(super) fn heap_estimate(&self) -> usize {
        error_heap(self.camera_failed.as_ref())
    }
}

/// The camera and/or microphone the browser granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserMedia {
    /// The local camera stream's id (its msid); a camera added later joins this stream.
    pub(super) stream: StreamId,
    /// What was granted.
    pub(super) sends: MediaKinds,
    /// Why no camera was granted, when it failed and the call went on with audio.
    pub(super) camera_failed: Option<MediaError>,
}

/// The local camera as the call has it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Camera {
    /// A camera track is in the call (sending unless turned off or audio only).
    Track,
    /// No camera: the call started without one (the agent's choice, or an audio invite), or
    /// one asked for mid-call was refused.
    Absent,
    /// The camera failed (missing, busy, could not start): the other side is told.
    Unavailable(MediaError),
    /// Asked the browser for a camera mid-call; waiting for the answer.
    Requested,
}

/// What we send: the local media state behind `call.media`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LocalMedia {
    stream: StreamId,
    microphone: bool,
    camera: Camera,
    mic_muted: bool,
    camera_off: bool,
    screen: ScreenShare,
    /// Our own audio-only marker: the agent's switch, or the visitor following it.
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

fn error_heap(error: Option<&MediaError>) -> usize {
    match error {
        Some(MediaError::Other(name)) => name.capacity(),
        _ => 0,
    }
}

impl UserMedia {
    pub(super) fn heap_estimate(&self) -> usize {
        self.stream.as_str().len() + error_heap(self.camera_failed.as_ref())
    }
}

impl LocalMedia {
    pub(super) fn new(user_media: UserMedia) -> LocalMedia {
        let UserMedia { stream, sends, camera_failed } = user_media;
        let camera = match camera_failed {
            _ if sends.video => Camera::Track,
            Some(error) => Camera::Unavailable(error),
            None => Camera::Absent,
        };
        LocalMedia {
            stream,
            microphone: sends.audio,
            camera,
            mic_muted: false,
            camera_off: false,
            screen: ScreenShare::Off,
            audio_only: None,
        }
    }

    /// The `call.media` body: what we send.
    pub(super) fn body(&self) -> MediaBody {
        let mut body = MediaBody::default();
        let audio_muted = self.mic_muted || !self.microphone;
        body.streams
            .insert(self.stream.clone(), StreamState::camera(audio_muted, !self.sends_video()));
        if let ScreenShare::Sharing { stream, surface } = &self.screen {
            body.streams.insert(stream.clone(), StreamState::screen(surface.clone()));
        }
        let marker = match (&self.audio_only, &self.camera) {
            (Some(reason), _) => Some(reason.clone()),
            (None, Camera::Unavailable(_)) => Some(AudioOnlyReason::CameraUnavailable),
            (None, _) => None,
        };
        if let Some(reason) = marker {
            body = body.with_audio_only(reason);
        }
        body
    }

    /// Whether the camera track sends video.
    fn sends_video(&self) -> bool {
        self.camera == Camera::Track && !self.camera_off && self.audio_only.is_none()
    }

    pub(super) fn heap_estimate(&self) -> usize {
        let screen = match &self.screen {
            ScreenShare::Sharing { stream, .. } => stream.as_str().len(),
            ScreenShare::Off | ScreenShare::Requested => 0,
        };
        let camera = match &self.camera {
            Camera::Unavailable(error) => error_heap(Some(error)),
            Camera::Track | Camera::Absent | Camera::Requested => 0,
        };
        self.stream.as_str().len() + screen + camera
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

    /// Runs `change` on the local media and tells the media layer and the peer what it changed
    /// about the camera's video.
    fn change_video(&mut self, out: &mut Outbox, change: impl FnOnce(&mut LocalMedia)) {
        let before = self.media.sends_video();
        change(&mut self.media);
        let after = self.media.sends_video();
        if before != after {
            out.media(MediaCommand::SetTrackEnabled { kind: TrackKind::Video, enabled: after });
        }
        self.send_media_state(out);
    }

    /// Audio only: the agent's switch, or the visitor following it.
    fn go_audio_only(&mut self, reason: AudioOnlyReason, out: &mut Outbox) {
        if self.media.audio_only.is_none() {
            self.change_video(out, |media| media.audio_only = Some(reason));
        }
    }

    /// The visitor follows the agent back from audio only; its camera decides whether it sends.
    fn leave_audio_only(&mut self, out: &mut Outbox) {
        if self.media.audio_only.is_some() {
            self.change_video(out, |media| media.audio_only = None);
        }
    }

    /// The call goes on without a camera that failed with `error`: its user is told why, and
    /// the peer sees `camera_unavailable`, or just the camera off when it was refused.
    fn lose_camera(&mut self, error: MediaError, browser: Browser, out: &mut Outbox) {
        let help = media_help(browser, &Device::Camera, &error);
        self.media.camera =
            if error.is_refusal() { Camera::Absent } else { Camera::Unavailable(error.clone()) };
        out.event(Event::CameraUnavailable { error, help });
        self.send_media_state(out);
    }

    /// Our user turns the camera off, or on: on ends audio only, and asks the browser for a
    /// camera when the call has none (it renegotiates once granted).
    fn set_camera_off(&mut self, off: bool, out: &mut Outbox) {
        let ask = !off && matches!(self.media.camera, Camera::Absent | Camera::Unavailable(_));
        self.change_video(out, |media| {
            media.camera_off = off;
            if !off {
                media.audio_only = None;
            }
            if ask {
                media.camera = Camera::Requested;
            }
        });
        if ask {
            out.media(MediaCommand::RequestUserMedia(MediaKinds::VIDEO_ONLY));
        }
    }
}

impl Call {
    /// Mute or unmute: the microphone's track stops or starts sending, without renegotiation,
    /// and the peer hears of it.
    pub(super) fn set_microphone_muted(&mut self, muted: bool) -> Result<(), CallError> {
        let call = self.state.expect_in_call("mute")?;
        call.media.mic_muted = muted;
        self.out.media(MediaCommand::SetTrackEnabled { kind: TrackKind::Audio, enabled: !muted });
        call.send_media_state(&mut self.out);
        Ok(())
    }

    /// Camera off, or on (which also leaves audio only, on either side): the track stops or
    /// sends again without renegotiation, or a camera is asked for and added.
    pub(super) fn set_camera_off(&mut self, off: bool) -> Result<(), CallError> {
        let call = self.state.expect_in_call("camera")?;
        call.set_camera_off(off, &mut self.out);
        Ok(())
    }

    /// The camera asked for mid-call was granted: its track is in the call (the media layer
    /// added it to the camera stream), and the call renegotiates. `false` when no camera was
    /// asked for.
    pub(super) fn camera_granted(&mut self, media: MediaKinds) -> bool {
        let Some(call) = self.state.in_call_mut() else { return false };
        if call.media.camera != Camera::Requested || !media.video {
            return false;
        }
        // A new track sends; it stays off if the user turned the camera off meanwhile.
        call.media.camera = Camera::Track;
        if !call.media.sends_video() {
            self.out
                .media(MediaCommand::SetTrackEnabled { kind: TrackKind::Video, enabled: false });
        }
        call.send_media_state(&mut self.out);
        call.negotiation.renegotiate(false, &mut self.out);
        true
    }

    /// The camera asked for mid-call failed: the call goes on without it, and its user is told;
    /// the other side sees `camera_unavailable`, or just the camera off when it was refused
    /// (the user's own say). `false` when no camera was asked for.
    pub(super) fn camera_failed(&mut self, error: &MediaError) -> bool {
        let browser = self.out.config.browser;
        let Some(call) = self.state.in_call_mut() else { return false };
        if call.media.camera != Camera::Requested {
            return false;
        }
        call.lose_camera(error.clone(), browser, &mut self.out);
        true
    }

    /// The camera's track ended by itself (unplugged): as if the camera were missing.
    pub(super) fn on_camera_ended(&mut self) -> Result<(), CallError> {
        let browser = self.out.config.browser;
        let call = self.state.expect_in_call("camera ended")?;
        if call.media.camera != Camera::Track {
            return Err(call.refuse("camera ended"));
        }
        call.lose_camera(MediaError::NotFound, browser, &mut self.out);
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

    /// The peer's media state (its newest), shown once the call is under way. The visitor
    /// follows the agent's audio-only switch when its marker appears and when it goes (a
    /// `camera_unavailable` marker is no switch: it only says the agent has no camera).
    pub(super) fn on_remote_media(&mut self, seq: u64, media: MediaBody) {
        let Some(call) = self.state.in_call_mut() else {
            return; // nothing to show (or to change) before the call is under way
        };
        if seq < call.peer_media_seq {
            return; // overtaken by a newer state
        }
        call.peer_media_seq = seq;
        let switched = media
            .audio_only
            .as_ref()
            .map(|marker| &marker.reason)
            .filter(|reason| **reason != AudioOnlyReason::CameraUnavailable);
        if switched.is_some() != call.peer_audio_only {
            call.peer_audio_only = switched.is_some();
            if self.out.role == Role::Visitor {
                match switched {
                    Some(reason) => call.go_audio_only(reason.clone(), &mut self.out),
                    None => call.leave_audio_only(&mut self.out),
                }
            }
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
