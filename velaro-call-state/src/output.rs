//! What a call asks of its host: frames to send, commands for the media layer, events for the UI.

use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::SessionDescription;
use velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_protocol::message::invite::MediaKinds;
use velaro_call_protocol::message::media::MediaBody;
use velaro_call_protocol::{Device, Envelope, MediaError, Reason};

use crate::summary::CallSummary;

/// One output of a call, drained with [`Call::poll_output`](crate::Call::poll_output).
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this envelope to the relay (`velaro_call_protocol::encode` it).
    Send(Envelope),
    /// Do this with the local media layer.
    Media(MediaCommand),
    /// Tell the user.
    Event(Event),
}

/// Which kind of track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// The microphone.
    Audio,
    /// The camera.
    Video,
}

/// A command for the local media layer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaCommand {
    /// Ask for the camera and/or microphone (`getUserMedia`); answer with
    /// `PermissionGranted` or `PermissionDenied`. In a call it asks for the camera alone
    /// ([`MediaKinds::VIDEO_ONLY`]): add its track to the local camera stream and the peer
    /// connection (or put it in place of an ended one); the call renegotiates once it is
    /// granted.
    RequestUserMedia(MediaKinds),
    /// Ask for a screen, window or tab (`getDisplayMedia`); answer with `ScreenShareStarted`
    /// or `PermissionDenied { device: Screen, .. }`.
    RequestScreenCapture,
    /// Stop the screen capture track and remove it from the connection.
    StopScreenCapture,
    /// Enable or disable a local track (mute, camera off, audio only): no renegotiation.
    SetTrackEnabled {
        /// Which track.
        kind: TrackKind,
        /// Whether it sends.
        enabled: bool,
    },
    /// Create an offer and apply it locally; answer with `LocalDescription`.
    CreateOffer {
        /// Restart ICE (new credentials, new candidates).
        ice_restart: bool,
    },
    /// Roll back our own offer (the polite side in glare).
    Rollback,
    /// Apply the remote offer or answer.
    ApplyRemoteDescription(SessionDescription),
    /// Create an answer to the applied remote offer and apply it; answer with `LocalDescription`.
    CreateAnswer,
    /// Add a remote ICE candidate (`candidate: ""` marks the end of candidates).
    AddRemoteCandidate(IceCandidate),
    /// Close the peer connection and stop every local track.
    Close,
}

/// Why a visitor's prompt went away without an answer from this tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromptEnd {
    /// The agent withdrew the invite.
    Cancelled,
    /// The invite's lifetime passed.
    Expired,
    /// Another tab or device of the visitor answered.
    AnsweredElsewhere,
}

/// Advice from the quality monitor, with hysteresis so it does not flap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QualityAdvice {
    /// Quality has been poor for a while: audio only would help.
    SwitchToAudioOnly,
    /// Quality has recovered.
    Recovered,
}

/// Something the user should learn.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Visitor: show "Your agent would like to start a video call. Accept?".
    Prompt {
        /// The invite's text.
        text: String,
        /// Its language, if given.
        locale: Option<String>,
        /// The media the agent asks for.
        media: MediaKinds,
    },
    /// Visitor: remove the prompt.
    StopPrompting(PromptEnd),
    /// Agent: the visitor's prompt is on screen.
    Ringing,
    /// Agent: a visitor accepted; connecting.
    Accepted,
    /// Media connected: show the call overlay.
    Opened,
    /// The connection dropped; trying to restore it.
    Reconnecting,
    /// The connection is back.
    Reconnected,
    /// The other side's media state: who is muted, what is shared, audio only.
    RemoteMedia(MediaBody),
    /// Quality advice for the UI.
    Quality(QualityAdvice),
    /// The camera could not be used (missing, busy, failed, or refused mid-call): the call goes
    /// on with audio, and the other side sees `camera_unavailable`. Tell the user why.
    CameraUnavailable {
        /// The browser's error.
        error: MediaError,
        /// What happened and what to do, in plain words ([`media_help`](crate::media_help)).
        help: &'static str,
    },
    /// A media request that a call cannot do without failed (or a screen share's): show how to
    /// fix it in this browser.
    PermissionHelp {
        /// Which device.
        device: Device,
        /// The browser's error.
        error: MediaError,
        /// Step-by-step help for the user's browser ([`media_help`](crate::media_help)).
        help: &'static str,
    },
    /// The relay refused one of our frames.
    Rejected {
        /// Why.
        code: RejectCode,
        /// Details for developers.
        detail: String,
    },
    /// The call ended; the chat goes on.
    Ended {
        /// Why.
        reason: Reason,
        /// The summary for the chat transcript.
        summary: CallSummary,
    },
}
