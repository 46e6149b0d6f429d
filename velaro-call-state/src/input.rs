//! What a call is told: the local user's actions and the local media layer's facts.

use velaro_call_protocol::Device;
use velaro_call_protocol::MediaError;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::SessionDescription;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::{AudioOnlyReason, DisplaySurface, StreamId};
use velaro_call_protocol::velaro_ice_config::RtcConfiguration;

/// What the local user does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Agent: start a call. The agent's own camera and microphone are requested first; the
    /// invite goes out only once they are granted (a camera that fails leaves the call on
    /// audio; see the rule table in the crate docs).
    Invite {
        /// The question the visitor sees.
        prompt: Prompt,
        /// The media asked of the visitor (and sent by the agent unless `camera_off`).
        media: MediaKinds,
        /// The ICE configuration the visitor should use, if the agent's client has one.
        ice: Option<RtcConfiguration>,
        /// Start with the agent's camera off: only its microphone is asked for, and the camera
        /// is added when the agent turns it on ([`Action::SetCameraOff`]`(false)`).
        camera_off: bool,
    },
    /// Agent: withdraw the invite before it is answered.
    Cancel,
    /// Visitor: say yes. The browser is asked for the camera and microphone first.
    Accept,
    /// Visitor: say no.
    Decline,
    /// Either: end the call. The conversation goes on.
    Hangup,
    /// Either: mute or unmute the microphone.
    SetMicrophoneMuted(bool),
    /// Either: turn the camera off (`true`) or on. On also leaves audio only, and asks for a
    /// camera (then renegotiates) when the call has none: it started without one, or it was
    /// missing or busy.
    SetCameraOff(bool),
    /// Agent: share a screen, window or tab (the browser's picker decides which).
    StartScreenShare,
    /// Either: stop sharing.
    StopScreenShare,
    /// Agent: drop video on both sides (the visitor follows) until a camera is turned on.
    SwitchToAudioOnly(AudioOnlyReason),
}

/// The state of the ICE transport, as `RTCPeerConnection.iceConnectionState` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceState {
    /// Gathering or checking.
    Checking,
    /// Media can flow.
    Connected,
    /// Connectivity was lost; it may come back by itself.
    Disconnected,
    /// ICE gave up.
    Failed,
}

/// What the local media layer (the browser's `RTCPeerConnection` and `getUserMedia`, or a Rust
/// WebRTC stack) reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The camera and/or microphone were granted; `stream_id` is the local stream's id. A
    /// camera asked for mid-call joins the call's camera stream (the call keeps its first id).
    PermissionGranted {
        /// What was granted.
        media: MediaKinds,
        /// The local camera stream's id (its msid).
        stream_id: StreamId,
    },
    /// A media request failed (camera, microphone or screen): refused, or the device is
    /// missing or busy. A failed request for camera and microphone together is the camera's.
    PermissionDenied {
        /// Which device.
        device: Device,
        /// The browser's `DOMException` name.
        error: MediaError,
    },
    /// Screen capture started.
    ScreenShareStarted {
        /// The screen stream's id.
        stream_id: StreamId,
        /// What the user picked.
        surface: DisplaySurface,
    },
    /// Screen capture ended outside our control (the browser's own "Stop sharing" button).
    ScreenShareEnded,
    /// The camera's track ended outside our control (`ended`: the camera was unplugged or the
    /// system took it). The call goes on with audio; turning the camera on asks for one again.
    CameraEnded,
    /// The local description (offer or answer) the media layer created and applied.
    LocalDescription(SessionDescription),
    /// A local ICE candidate was gathered.
    LocalCandidate(IceCandidate),
    /// Gathering finished for the current ICE generation (Chromium's `null` candidate).
    GatheringComplete,
    /// The peer connection needs a new offer (`negotiationneeded`: a track was added or
    /// removed outside the call's own actions).
    NegotiationNeeded,
    /// The ICE connection state changed.
    Ice(IceState),
    /// A quality sample of the connection (from `getStats()`).
    QualitySample {
        /// Round-trip time in milliseconds.
        rtt_ms: u32,
        /// Packet loss in percent.
        loss_pct: f64,
    },
}
