//! A fake browser for `CallSession` tests: it answers the session's media commands the way a
//! page's `RTCPeerConnection` would, accepts prompts, and (as the agent) hangs up after a while.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::SdpType;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::StreamId;
use velaro_call_protocol::{CallId, ConversationId, PartyId, Role};
use velaro_call_state::{
    Action, CallConfig, CallSummary, Event, IceState, MediaCommand, MediaEvent,
};
use velaro_signaling::{
    CallControl, CallSession, SessionOutput, SessionOutputs, TokioClock, Transport,
};

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

/// Both ends of a finished call: each session's summary and what each browser's UI showed.
#[derive(Debug)]
pub struct Finished {
    /// The agent session's summary.
    pub agent: CallSummary,
    /// The visitor session's summary.
    pub visitor: CallSummary,
    /// What the agent's UI showed.
    pub agent_ui: Vec<Event>,
    /// What the visitor's UI showed.
    pub visitor_ui: Vec<Event>,
}

/// Runs a whole call over the two links (`agent-1` and `visitor-1` of `conv-1`, call
/// `call-1`): the agent invites, the visitor's browser accepts, the agent's hangs up `talk`
/// after media opened. Panics if either session fails.
#[allow(clippy::disallowed_methods)] // the test harness is the IO edge: it runs both sessions
pub async fn whole_call<T: Transport + 'static>(
    agent_link: T,
    visitor_link: T,
    talk: Duration,
) -> Finished {
    let clock = Arc::new(TokioClock);
    let conversation = ConversationId::new("conv-1").expect("id");
    let agent_config = CallConfig::new(conversation.clone(), PartyId::new("agent-1").expect("id"));
    let visitor_config = CallConfig::new(conversation, PartyId::new("visitor-1").expect("id"));
    let call_id = CallId::new("call-1").expect("id");
    let (mut agent, agent_control, agent_outputs) =
        CallSession::agent(agent_config, call_id, agent_link, clock.clone());
    let (mut visitor, visitor_control, visitor_outputs) =
        CallSession::visitor(visitor_config, visitor_link, clock);
    let prompt =
        Prompt::new("Your agent would like to start a video call. Accept?").expect("prompt");
    agent_control.act(Action::Invite {
        prompt,
        media: MediaKinds::AUDIO_VIDEO,
        ice: None,
        camera_off: false,
    });
    let agent_run = tokio::spawn(async move { agent.run().await });
    let visitor_run = tokio::spawn(async move { visitor.run().await });
    let agent_ui = tokio::spawn(browser(agent_control, agent_outputs, Role::Agent, talk));
    let visitor_ui =
        tokio::spawn(browser(visitor_control, visitor_outputs, Role::Visitor, Duration::ZERO));
    Finished {
        agent: agent_run.await.expect("agent task").expect("agent session"),
        visitor: visitor_run.await.expect("visitor task").expect("visitor session"),
        agent_ui: agent_ui.await.expect("agent browser"),
        visitor_ui: visitor_ui.await.expect("visitor browser"),
    }
}
