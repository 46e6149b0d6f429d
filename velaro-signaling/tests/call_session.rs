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
    let (mut agent, control, _outputs) =
        CallSession::agent(config, call_id, agent_link, Arc::new(TestClock));
    let prompt = Prompt::new("Video call?").unwrap();
    control.act(Action::Invite {
        prompt,
        media: MediaKinds::AUDIO_VIDEO,
        ice: None,
        camera_off: false,
    });
    let stream_id = StreamId::new("cam").unwrap();
    control.media(MediaEvent::PermissionGranted { media: MediaKinds::AUDIO_VIDEO, stream_id });
    let result = agent.run().await;
    assert!(
        matches!(result, Err(SessionError::Transport(_) | SessionError::Disconnected)),
        "{result:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_control_before_a_call_abandons_the_session() {
    let (link, _peer) = velaro_signaling::memory_pair();
    let config =
        CallConfig::new(ConversationId::new("conv-1").unwrap(), PartyId::new("visitor-1").unwrap());
    let (mut visitor, control, _outputs) = CallSession::visitor(config, link, Arc::new(TestClock));
    drop(control);
    assert!(matches!(visitor.run().await, Err(SessionError::Abandoned)));
}

#[tokio::test(start_paused = true)]
#[allow(clippy::disallowed_methods)] // the test is the IO edge: it runs the session as a task
async fn a_cancel_that_overtakes_its_invite_stops_it_ringing() {
    use futures::StreamExt as _;
    use velaro_signaling::Transport as _;
    use velaro_signaling::velaro_call_state::velaro_call_protocol::message::answer::CancelBody;
    use velaro_signaling::velaro_call_state::velaro_call_protocol::message::hangup::HangupBody;
    use velaro_signaling::velaro_call_state::velaro_call_protocol::message::invite::InviteBody;
    use velaro_signaling::velaro_call_state::velaro_call_protocol::{Envelope, Role, encode};
    use velaro_signaling::velaro_call_state::{Event, PromptEnd};
    use velaro_signaling::{SessionOutput, memory_pair};

    let conversation = ConversationId::new("conv-1").unwrap();
    let frame =
        |call: &str,
         seq,
         message: velaro_signaling::velaro_call_state::velaro_call_protocol::Message| {
            let envelope = Envelope::new(
                conversation.clone(),
                CallId::new(call).unwrap(),
                PartyId::new("agent-1").unwrap(),
                Role::Agent,
                seq,
                message,
            );
            bytes::Bytes::from(encode(&envelope))
        };
    let invite = || InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO);
    let (link, mut relay_end) = memory_pair();
    let config = CallConfig::new(conversation.clone(), PartyId::new("visitor-1").unwrap());
    let (mut visitor, _control, mut outputs) =
        CallSession::visitor(config, link, Arc::new(TestClock));
    // A link that reorders: call-1's cancel and call-2's hangup come before their invites.
    relay_end.send(frame("call-1", 2, CancelBody::default().into())).await.unwrap();
    relay_end.send(frame("call-2", 3, HangupBody::default().into())).await.unwrap();
    relay_end.send(frame("call-1", 1, invite().into())).await.unwrap();
    relay_end.send(frame("call-2", 1, invite().into())).await.unwrap();
    // The next call's invite still rings.
    relay_end.send(frame("call-3", 1, invite().into())).await.unwrap();
    let session = tokio::spawn(async move { visitor.run().await });
    let first = outputs.next().await;
    let Some(SessionOutput::Event(Event::Prompt { .. })) = first else { panic!("{first:?}") };
    let rang = relay_end.recv().await.unwrap().unwrap();
    let rang = velaro_signaling::velaro_call_state::velaro_call_protocol::decode(&rang).unwrap();
    assert_eq!((rang.message_type(), rang.call_id.as_str()), ("call.ringing", "call-3"));
    relay_end.send(frame("call-3", 2, CancelBody::default().into())).await.unwrap();
    let summary = session.await.unwrap().unwrap();
    assert_eq!(summary.call_id.as_str(), "call-3");
    let rest: Vec<SessionOutput> = outputs.collect().await;
    assert!(rest.contains(&SessionOutput::Event(Event::StopPrompting(PromptEnd::Cancelled))));
}
