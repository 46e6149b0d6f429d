//! The fake media layer of one party: it answers the call's media commands as a browser would.

use std::sync::LazyLock;

use crate::fixtures::browser_sdp;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::message::invite::MediaKinds;
use velaro_call_protocol::message::media::{DisplaySurface, StreamId};
use velaro_call_protocol::{Device, MediaError};
use velaro_call_state::{IceState, MediaCommand, MediaEvent, TrackKind};

/// Chromium's captured offer and answer, read once and trimmed (see [`trimmed`]).
static TEMPLATES: LazyLock<[String; 2]> = LazyLock::new(|| {
    ["chromium-offer-av.json", "chromium-answer-av.json"].map(|file| trimmed(&browser_sdp(file)))
});

/// A captured description trimmed to the first codec of each media section, without header
/// extensions and SSRC lines. The call machines and the relay read only the sections, their
/// directions and mids, the BUNDLE group and the ICE and DTLS lines, all kept; a description
/// a quarter the size keeps the harness's time on the calls rather than on JSON and SDP
/// parsing in the debug profile.
fn trimmed(sdp: &str) -> String {
    let mut kept_format = String::new();
    let mut out = String::with_capacity(sdp.len() / 3);
    for line in sdp.split_inclusive('\n') {
        let text = line.trim_end();
        if let Some(media) = text.strip_prefix("m=") {
            // `m=<media> <port> <proto> <format> …`: the first format only.
            let fields: Vec<&str> = media.splitn(5, ' ').take(4).collect();
            fields.get(3).copied().unwrap_or_default().clone_into(&mut kept_format);
            out.push_str("m=");
            out.push_str(&fields.join(" "));
            out.push_str(&line[text.len()..]);
            continue;
        }
        let codec =
            ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().find_map(|p| text.strip_prefix(p));
        let other_codec = codec.is_some_and(|rest| rest.split(' ').next() != Some(&kept_format));
        if !other_codec && !text.starts_with("a=extmap") && !text.starts_with("a=ssrc") {
            out.push_str(line);
        }
    }
    out
}

/// How a party's fake browser answers permission requests: each device works, or fails with
/// the `DOMException` a browser raises (refused, missing, busy, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// The camera fails with this error.
    pub camera: Option<MediaError>,
    /// The microphone fails with this error.
    pub microphone: Option<MediaError>,
    /// Refuse screen capture.
    pub deny_screen: bool,
}

impl Permissions {
    /// The answer to a request for `media`: a failure is the camera's when it was asked for and
    /// fails, else the microphone's (a browser names neither; a call charges a failed request
    /// for both to the camera, and finds the microphone out by asking for it alone).
    fn answer(&self, media: MediaKinds) -> Result<(), (Device, MediaError)> {
        let failed = |asked: bool, device: Device, error: &Option<MediaError>| match error {
            Some(error) if asked => Err((device, error.clone())),
            _ => Ok(()),
        };
        failed(media.video, Device::Camera, &self.camera)?;
        failed(media.audio, Device::Microphone, &self.microphone)
    }
}

/// A fake media layer: it answers commands as a browser would, with events that the harness
/// delivers a few milliseconds later.
#[derive(Debug, Default)]
pub struct FakeMedia {
    name: String,
    /// How it answers permission requests.
    pub permissions: Permissions,
    /// How many host candidates it gathers per ICE generation (3 unless a test wants more):
    /// three 60 ms apart, up to 116 more before the call's first batch goes (so they go 64 to
    /// a `call.candidates`), any more one by one after it.
    pub candidates: u16,
    /// Which call of the party this media serves (it starts afresh with each call): events
    /// scheduled for an earlier call are not delivered to a later one.
    pub(super) epoch: u32,
    generation: u32,
    local_description: bool,
    remote_description: bool,
    remote_candidates: u32,
    pub(super) connected: bool,
    pub(super) closed: bool,
    remote_ufrag: Option<String>,
    /// The other side closed its peer connection: ICE never comes back.
    pub(super) peer_closed: bool,
    gathering_started_for: Option<u32>,
    /// The camera track: `None` until a camera was granted, then whether it sends.
    pub video_enabled: Option<bool>,
    /// Every command received, in order (over all the party's calls).
    pub commands: Vec<MediaCommand>,
}

impl FakeMedia {
    pub(super) fn new(name: &str) -> FakeMedia {
        FakeMedia { name: name.to_owned(), candidates: 3, ..FakeMedia::default() }
    }

    /// A new call: a new peer connection, with the same browser settings and history.
    pub(super) fn restart(&mut self) {
        *self = FakeMedia {
            name: std::mem::take(&mut self.name),
            permissions: std::mem::take(&mut self.permissions),
            candidates: self.candidates,
            epoch: self.epoch + 1,
            commands: std::mem::take(&mut self.commands),
            ..FakeMedia::default()
        };
    }

    /// Whether it has a local description and is not closed: its ICE would notice a peer
    /// that went away.
    pub(super) fn is_negotiating(&self) -> bool {
        self.local_description && !self.closed
    }

    fn ufrag(&self) -> String {
        // 4+ ice-chars, unique per party and ICE generation.
        format!("{}g{}", self.name.replace('-', ""), self.generation)
    }

    fn description(&self, sdp_type: SdpType) -> SessionDescription {
        let (template, ufrag) = match sdp_type {
            SdpType::Offer => (&TEMPLATES[0], "a=ice-ufrag:lZ7j"),
            SdpType::Answer => (&TEMPLATES[1], "a=ice-ufrag:LvlJ"),
        };
        SessionDescription::new(
            sdp_type,
            template.replace(ufrag, &format!("a=ice-ufrag:{}", self.ufrag())),
        )
    }

    fn candidate(&self, port: u16) -> IceCandidate {
        let line = format!(
            "candidate:{port} 1 udp 2122260223 192.0.2.10 {port} typ host ufrag {}",
            self.ufrag()
        );
        let parsed = line.parse().unwrap_or_else(|e| panic!("fake candidate {line}: {e}"));
        IceCandidate::new(parsed, Some("0".into()), Some(0)).with_username_fragment(self.ufrag())
    }

    /// Answers one command with events (and the delay after which each happens).
    pub(super) fn command(&mut self, command: &MediaCommand) -> Vec<(u64, MediaEvent)> {
        self.commands.push(command.clone());
        let mut events = Vec::new();
        match command {
            MediaCommand::RequestUserMedia(media) => match self.permissions.answer(*media) {
                Err((device, error)) => {
                    events.push((5, MediaEvent::PermissionDenied { device, error }));
                }
                Ok(()) => {
                    if media.video {
                        self.video_enabled = Some(true);
                    }
                    events.push((
                        5,
                        MediaEvent::PermissionGranted {
                            media: *media,
                            stream_id: StreamId::new(format!("cam-{}", self.name))
                                .unwrap_or_else(|e| panic!("{e}")),
                        },
                    ));
                }
            },
            MediaCommand::SetTrackEnabled { kind: TrackKind::Video, enabled } => {
                assert!(
                    self.video_enabled.is_some(),
                    "{}: video {} without a camera track",
                    self.name,
                    if *enabled { "enabled" } else { "disabled" }
                );
                self.video_enabled = Some(*enabled);
            }
            MediaCommand::RequestScreenCapture => {
                if self.permissions.deny_screen {
                    events.push((
                        5,
                        MediaEvent::PermissionDenied {
                            device: Device::Screen,
                            error: MediaError::NotAllowed,
                        },
                    ));
                } else {
                    let stream_id = StreamId::new(format!("screen-{}", self.name))
                        .unwrap_or_else(|e| panic!("{e}"));
                    events.push((
                        5,
                        MediaEvent::ScreenShareStarted {
                            stream_id,
                            surface: DisplaySurface::Window,
                        },
                    ));
                }
            }
            MediaCommand::CreateOffer { ice_restart } => {
                if *ice_restart {
                    // A new generation needs the peer's new description and candidates.
                    self.generation += 1;
                    self.connected = false;
                    self.remote_description = false;
                    self.remote_candidates = 0;
                }
                self.local_description = true;
                events.push((2, MediaEvent::LocalDescription(self.description(SdpType::Offer))));
            }
            MediaCommand::CreateAnswer => {
                self.local_description = true;
                events.push((2, MediaEvent::LocalDescription(self.description(SdpType::Answer))));
            }
            MediaCommand::ApplyRemoteDescription(description) => {
                let ufrag = description
                    .sdp
                    .split("a=ice-ufrag:")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned);
                let restart = self.remote_ufrag.is_some() && self.remote_ufrag != ufrag;
                if restart && description.sdp_type == SdpType::Offer {
                    // The peer restarted ICE: answer with new credentials and gather again.
                    self.generation += 1;
                    self.connected = false;
                    self.remote_candidates = 0;
                }
                self.remote_ufrag = ufrag;
                self.remote_description = true;
            }
            MediaCommand::AddRemoteCandidate(candidate) if !candidate.is_end_of_candidates() => {
                self.remote_candidates += 1;
            }
            MediaCommand::Close => self.closed = true,
            _ => {}
        }
        if self.closed {
            return events;
        }
        if self.local_description && self.gathering_started_for != Some(self.generation) {
            self.gathering_started_for = Some(self.generation);
            let mut last = 0;
            for i in 0..self.candidates {
                last = if i < 3 { 10 + 60 * u64::from(i) } else { 150 + u64::from(i) / 2 };
                let port = 50_000 + 2 * (i % 7_000);
                events.push((last, MediaEvent::LocalCandidate(self.candidate(port))));
            }
            events.push((last.max(390) + 10, MediaEvent::GatheringComplete));
        }
        let ready = self.local_description && self.remote_description && self.remote_candidates > 0;
        if ready && !self.connected && !self.peer_closed {
            self.connected = true;
            events.push((30, MediaEvent::Ice(IceState::Connected)));
        }
        events
    }
}
