//! Two `CallSession`s make a whole call over an in-memory link, each with a fake browser as its
//! host (answering media commands the way a page's `RTCPeerConnection` would).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
// The test is the IO edge: it spawns the sessions and the fake browsers.
#![allow(clippy::disallowed_methods)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestClock;
use futures::StreamExt as _;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::candidates::IceCandidate;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::description::{
    SdpType, SessionDescription,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::invite::{
    MediaKinds, Prompt,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::media::StreamId;
use velaro_signaling::velaro_call_state::velaro_call_protocol::{
    CallId, ConversationId, PartyId, Reason, Role,
};
use velaro_signaling::velaro_call_state::{
    Action, CallConfig, Event, IceState, MediaCommand, MediaEvent, Outcome,
};
use velaro_signaling::{CallHandle, CallSession, Faults, SessionOutput, memory_pair_with_faults};

fn sdp(file: &str, sdp_type: SdpType) -> SessionDescription {
    let path = format!("{}/../tests/fixtures/browser/{file}", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    SessionDescription::new(sdp_type, json["sdp"].as_str().unwrap())
}

fn candidate(ufrag: &str, port: u16) -> IceCandidate {
    let line = format!("candidate:{port} 1 udp 2122260223 192.0.2.1 {port} typ host ufrag {ufrag}");
    IceCandidate::new(line.parse().unwrap(), Some("0".into()), Some(0))
}

/// A fake browser: answers the session's media commands, accepts a prompt (visitor), hangs
/// up once media is open (agent, after `talk`). Returns the UI events it saw.
async fn browser(mut handle: CallHandle, role: Role, talk: Duration) -> Vec<Event> {
    let (offer, answer, ufrag) = match role {
        Role::Agent => ("chromium-offer-av.json", "chromium-answer-av.json", "lZ7j"),
        Role::Visitor => ("chromium-offer-av.json", "chromium-answer-av.json", "LvlJ"),
    };
    let mut events = Vec::new();
    let (mut local, mut remote, mut connected) = (false, false, false);
    while let Some(output) = handle.next().await {
        let mut replies = Vec::new();
        match output {
            SessionOutput::Media(MediaCommand::RequestUserMedia(media)) => {
                let stream_id = StreamId::new(format!("cam-{role}")).unwrap();
                replies.push(MediaEvent::PermissionGranted { media, stream_id });
            }
            SessionOutput::Media(MediaCommand::CreateOffer { .. }) => {
                local = true;
                replies.push(MediaEvent::LocalDescription(sdp(offer, SdpType::Offer)));
            }
            SessionOutput::Media(MediaCommand::CreateAnswer) => {
                local = true;
                replies.push(MediaEvent::LocalDescription(sdp(answer, SdpType::Answer)));
            }
            SessionOutput::Media(MediaCommand::ApplyRemoteDescription(_)) => remote = true,
            SessionOutput::Event(event) => {
                match &event {
                    Event::Prompt { .. } => {
                        handle.act(Action::Accept);
                    }
                    Event::Opened if role == Role::Agent => {
                        tokio::time::sleep(talk).await;
                        handle.act(Action::Hangup);
                    }
                    _ => {}
                }
                events.push(event);
            }
            _ => {}
        }
        if local && matches!(replies.first(), Some(MediaEvent::LocalDescription(_))) {
            let description = replies.remove(0);
            handle.media(description);
            for port in [50_000, 50_002] {
                handle.media(MediaEvent::LocalCandidate(candidate(ufrag, port)));
            }
            handle.media(MediaEvent::GatheringComplete);
        }
        for reply in replies {
            handle.media(reply);
        }
        if local && remote && !connected {
            connected = true;
            handle.media(MediaEvent::Ice(IceState::Connected));
        }
    }
    events
}

#[tokio::test(start_paused = true)]
async fn a_whole_call_between_two_sessions() {
    let clock = Arc::new(TestClock);
    // A link that duplicates and reorders now and then: the machines' dedupe and buffering
    // must cope.
    let faults = |seed| Faults { duplicate_pct: 20, seed, ..Faults::default() };
    let (agent_link, visitor_link) = memory_pair_with_faults(faults(1), faults(2));
    let conversation = ConversationId::new("conv-1").unwrap();
    let agent_config = CallConfig::new(conversation.clone(), PartyId::new("agent-1").unwrap());
    let visitor_config = CallConfig::new(conversation, PartyId::new("visitor-1").unwrap());
    let call_id = CallId::new("call-1").unwrap();
    let (agent, agent_handle) =
        CallSession::agent(agent_config, call_id, agent_link, clock.clone());
    let (visitor, visitor_handle) = CallSession::visitor(visitor_config, visitor_link, clock);
    let prompt = Prompt::new("Your agent would like to start a video call. Accept?").unwrap();
    agent_handle.act(Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None });

    let agent_run = tokio::spawn(agent.run());
    let visitor_run = tokio::spawn(visitor.run());
    let agent_ui = tokio::spawn(browser(agent_handle, Role::Agent, Duration::from_secs(252)));
    let visitor_ui = tokio::spawn(browser(visitor_handle, Role::Visitor, Duration::ZERO));

    let agent_summary = agent_run.await.unwrap().unwrap();
    let visitor_summary = visitor_run.await.unwrap().unwrap();
    assert_eq!(
        (agent_summary.outcome, visitor_summary.outcome),
        (Outcome::Answered, Outcome::Answered)
    );
    assert_eq!(
        (agent_summary.reason.clone(), visitor_summary.reason),
        (Reason::UserHangup, Reason::UserHangup)
    );
    assert_eq!(agent_summary.transcript_line(), "Video call ended (4 min 12 s)");
    for ui in [agent_ui.await.unwrap(), visitor_ui.await.unwrap()] {
        assert!(ui.contains(&Event::Opened), "{ui:?}");
        assert!(ui.iter().any(|e| matches!(e, Event::Ended { .. })));
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_link_drops_reports_it() {
    let clock = Arc::new(TestClock);
    let cut = Faults { disconnect_after: Some(1), ..Faults::default() };
    let (agent_link, _visitor_link) = memory_pair_with_faults(cut, Faults::default());
    let config =
        CallConfig::new(ConversationId::new("conv-1").unwrap(), PartyId::new("agent-1").unwrap());
    let (agent, handle) =
        CallSession::agent(config, CallId::new("call-1").unwrap(), agent_link, clock);
    let prompt = Prompt::new("Video call?").unwrap();
    handle.act(Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None });
    handle.media(MediaEvent::PermissionGranted {
        media: MediaKinds::AUDIO_VIDEO,
        stream_id: StreamId::new("cam").unwrap(),
    });
    let result = agent.run().await;
    assert!(
        matches!(
            result,
            Err(velaro_signaling::SessionError::Transport(_)
                | velaro_signaling::SessionError::Disconnected)
        ),
        "{result:?}"
    );
}
