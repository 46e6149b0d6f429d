//! A fake browser for `CallSession` tests: it answers the session's media commands the way a
//! page's `RTCPeerConnection` would, accepts prompts, and (as the agent) hangs up after a while.

use std::time::Duration;

use futures::StreamExt as _;
use velaro_call_protocol::Role;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::SdpType;
use velaro_call_protocol::message::media::StreamId;
use velaro_call_state::{Action, Event, IceState, MediaCommand, MediaEvent};
use velaro_signaling::{CallControl, SessionOutput, SessionOutputs};

use crate::fixtures::browser_description;

/// Two host candidates of the role's ICE generation (the ufrag of the captured offer or
/// answer it uses).
pub fn host_candidates(role: Role) -> Vec<IceCandidate> {
    let ufrag = if role == Role::Agent { "lZ7j" } else { "LvlJ" };
    [50_000, 50_002]
        .map(|port| {
            let line = format!(
                "candidate:{port} 1 udp 2122260223 192.0.2.1 {port} typ host ufrag {ufrag}"
            );
            let candidate = line.parse().unwrap_or_else(|e| panic!("{e}"));
            IceCandidate::new(candidate, Some("0".into()), Some(0))
        })
        .into()
}

/// A fake browser: answers the session's media commands with Chromium's captured SDP and
/// [`host_candidates`], accepts a prompt (visitor), hangs up once media is open (agent, after
/// `talk`). Returns the UI events it saw.
pub async fn browser(
    control: CallControl,
    outputs: SessionOutputs,
    role: Role,
    talk: Duration,
) -> Vec<Event> {
    browser_gathering(control, outputs, role, talk, host_candidates(role)).await
}

/// [`browser`], gathering `candidates` after each local description.
pub async fn browser_gathering(
    control: CallControl,
    mut outputs: SessionOutputs,
    role: Role,
    talk: Duration,
    candidates: Vec<IceCandidate>,
) -> Vec<Event> {
    let (offer, answer) = ("chromium-offer-av.json", "chromium-answer-av.json");
    let mut events = Vec::new();
    let (mut local, mut remote, mut connected) = (false, false, false);
    while let Some(output) = outputs.next().await {
        let mut replies = Vec::new();
        match output {
            SessionOutput::Media(MediaCommand::RequestUserMedia(media)) => {
                let stream_id =
                    StreamId::new(format!("cam-{role}")).unwrap_or_else(|e| panic!("{e}"));
                replies.push(MediaEvent::PermissionGranted { media, stream_id });
            }
            SessionOutput::Media(MediaCommand::CreateOffer { .. }) => {
                local = true;
                replies
                    .push(MediaEvent::LocalDescription(browser_description(offer, SdpType::Offer)));
            }
            SessionOutput::Media(MediaCommand::CreateAnswer) => {
                local = true;
                replies.push(MediaEvent::LocalDescription(browser_description(
                    answer,
                    SdpType::Answer,
                )));
            }
            SessionOutput::Media(MediaCommand::ApplyRemoteDescription(_)) => remote = true,
            SessionOutput::Event(event) => {
                match &event {
                    Event::Prompt { .. } => {
                        control.act(Action::Accept);
                    }
                    Event::Opened if role == Role::Agent => {
                        tokio::time::sleep(talk).await;
                        control.act(Action::Hangup);
                    }
                    _ => {}
                }
                events.push(event);
            }
            _ => {}
        }
        if local && matches!(replies.first(), Some(MediaEvent::LocalDescription(_))) {
            let description = replies.remove(0);
            control.media(description);
            for candidate in &candidates {
                control.media(MediaEvent::LocalCandidate(candidate.clone()));
            }
            control.media(MediaEvent::GatheringComplete);
        }
        for reply in replies {
            control.media(reply);
        }
        if local && remote && !connected {
            connected = true;
            control.media(MediaEvent::Ice(IceState::Connected));
        }
    }
    events
}
