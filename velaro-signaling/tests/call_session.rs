//! `CallSession` on its own: a session whose transport goes away reports it. (Whole calls
//! between sessions, directly and through a served relay, are in the `velaro-tests` package.)

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::sync::Arc;

use common::TestClock;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::invite::{
    MediaKinds, Prompt,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::media::StreamId;
use velaro_signaling::velaro_call_state::velaro_call_protocol::{CallId, ConversationId, PartyId};
use velaro_signaling::velaro_call_state::{Action, CallConfig, MediaEvent};
use velaro_signaling::{CallSession, Faults, SessionError, memory_pair_with_faults};

#[tokio::test(start_paused = true)]
async fn a_session_whose_link_drops_reports_it() {
    let cut = Faults { disconnect_after: Some(1), ..Faults::default() };
    let (agent_link, _visitor_link) = memory_pair_with_faults(cut, Faults::default());
    let config =
        CallConfig::new(ConversationId::new("conv-1").unwrap(), PartyId::new("agent-1").unwrap());
    let call_id = CallId::new("call-1").unwrap();
    let (mut agent, handle) = CallSession::agent(config, call_id, agent_link, Arc::new(TestClock));
    let prompt = Prompt::new("Video call?").unwrap();
    handle.act(Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None });
    let stream_id = StreamId::new("cam").unwrap();
    handle.media(MediaEvent::PermissionGranted { media: MediaKinds::AUDIO_VIDEO, stream_id });
    let result = agent.run().await;
    assert!(
        matches!(result, Err(SessionError::Transport(_) | SessionError::Disconnected)),
        "{result:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_before_a_call_abandons_the_session() {
    let (link, _peer) = velaro_signaling::memory_pair();
    let config =
        CallConfig::new(ConversationId::new("conv-1").unwrap(), PartyId::new("visitor-1").unwrap());
    let (mut visitor, handle) = CallSession::visitor(config, link, Arc::new(TestClock));
    drop(handle);
    assert!(matches!(visitor.run().await, Err(SessionError::Abandoned)));
}
