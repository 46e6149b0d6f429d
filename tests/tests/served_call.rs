//! Whole calls between two `CallSession`s, each with a fake browser as its host: directly over an
//! in-memory link, and through a `serve`d relay over in-memory transports (with a reconnect).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
// The test is the IO edge: it spawns the sessions and the fake browsers.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, PartyId, Reason, Role};
use velaro_call_state::{Action, CallConfig, Event, Outcome};
use velaro_signaling::{
    CallSession, Faults, Relay, RelayConfig, RelayEvent, TokioClock, memory_pair,
    memory_pair_with_faults, serve,
};
use velaro_tests::fake_browser::{browser, whole_call};

fn configs() -> (CallConfig, CallConfig, CallId) {
    let conversation = ConversationId::new("conv-1").unwrap();
    (
        CallConfig::new(conversation.clone(), PartyId::new("agent-1").unwrap()),
        CallConfig::new(conversation, PartyId::new("visitor-1").unwrap()),
        CallId::new("call-1").unwrap(),
    )
}

fn invite() -> Action {
    let prompt = Prompt::new("Your agent would like to start a video call. Accept?").unwrap();
    Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false }
}

#[tokio::test(start_paused = true)]
async fn a_whole_call_between_two_sessions() {
    // A link that duplicates now and then: the machines' dedupe must cope.
    let faults = |seed| Faults { duplicate_pct: 20, seed, ..Faults::default() };
    let (agent_link, visitor_link) = memory_pair_with_faults(faults(1), faults(2));
    let call = whole_call(agent_link, visitor_link, Duration::from_secs(252)).await;
    let (agent_summary, visitor_summary) = (call.agent, call.visitor);
    assert_eq!(
        (agent_summary.outcome, visitor_summary.outcome),
        (Outcome::Answered, Outcome::Answered)
    );
    assert_eq!(
        (agent_summary.reason.clone(), visitor_summary.reason),
        (Reason::UserHangup, Reason::UserHangup)
    );
    assert_eq!(agent_summary.transcript_line(), "Video call ended (4 min 12 s)");
    for ui in [call.agent_ui, call.visitor_ui] {
        assert!(ui.contains(&Event::Opened), "{ui:?}");
        assert!(ui.iter().any(|e| matches!(e, Event::Ended { .. })));
    }
}

#[tokio::test(start_paused = true)]
async fn a_whole_call_through_a_served_relay() {
    let (server, mut events) = serve(Relay::new(RelayConfig::default()));
    let conversation = ConversationId::new("conv-1").unwrap();
    server.open_conversation(conversation.clone(), true);

    // Each party's transport: one end for its session, the other served by the relay.
    let (agent_link, agent_at_relay) = memory_pair();
    let (visitor_link, visitor_at_relay) = memory_pair();
    let agent_party = PartyId::new("agent-1").unwrap();
    let visitor_party = PartyId::new("visitor-1").unwrap();
    server.connect(agent_at_relay, &conversation, Role::Agent, agent_party, None).unwrap();
    server.connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party, None).unwrap();

    let call = whole_call(agent_link, visitor_link, Duration::from_secs(60)).await;
    assert_eq!((call.agent.outcome, call.visitor.outcome), (Outcome::Answered, Outcome::Answered));
    assert!(call.agent_ui.contains(&Event::Opened));
    assert!(call.visitor_ui.contains(&Event::Opened));

    // The host heard the call start and end, with the summary for the transcript.
    let mut started = false;
    let summary = loop {
        match events.next().await.unwrap() {
            RelayEvent::CallStarted { .. } => started = true,
            RelayEvent::CallEnded { report } => break report.summary,
            _ => {}
        }
    };
    assert!(started);
    assert_eq!((summary.outcome, summary.reason.clone()), (Outcome::Answered, Reason::UserHangup));
    assert!(
        summary.transcript_line().starts_with("Video call ended"),
        "{}",
        summary.transcript_line()
    );
}

#[tokio::test(start_paused = true)]
async fn a_visitor_that_drops_mid_call_reconnects_and_the_call_completes() {
    let clock = Arc::new(TokioClock);
    let (server, mut events) = serve(Relay::new(RelayConfig::default()));
    let conversation = ConversationId::new("conv-1").unwrap();
    server.open_conversation(conversation.clone(), true);
    let (agent_config, visitor_config, call_id) = configs();
    let agent_party = PartyId::new("agent-1").unwrap();
    let visitor_party = PartyId::new("visitor-1").unwrap();

    let (agent_link, agent_at_relay) = memory_pair();
    // The visitor's link goes down after 8 frames: in the middle of the candidate exchange.
    let cut = Faults { disconnect_after: Some(8), ..Faults::default() };
    let (visitor_link, visitor_at_relay) = memory_pair_with_faults(cut.clone(), cut);
    server.connect(agent_at_relay, &conversation, Role::Agent, agent_party, None).unwrap();
    server
        .connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party.clone(), None)
        .unwrap();

    let (mut agent, agent_control, agent_outputs) =
        CallSession::agent(agent_config, call_id, agent_link, clock.clone());
    let (mut visitor, visitor_control, visitor_outputs) =
        CallSession::visitor(visitor_config, visitor_link, clock);
    agent_control.act(invite());
    let agent_run = tokio::spawn(async move { agent.run().await });
    let agent_ui =
        tokio::spawn(browser(agent_control, agent_outputs, Role::Agent, Duration::from_secs(30)));
    let visitor_ui =
        tokio::spawn(browser(visitor_control, visitor_outputs, Role::Visitor, Duration::ZERO));

    let dropped = visitor.run().await;
    assert!(dropped.is_err(), "the link went down mid-call: {dropped:?}");
    // Back within the grace period: a new transport, and the relay replays what was missed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (visitor_link, visitor_at_relay) = memory_pair();
    let seen = visitor.reconnect(visitor_link);
    assert!(!seen.is_empty(), "the visitor had seen frames from the agent");
    server
        .connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party, Some(seen))
        .unwrap();
    let visitor_summary = visitor.run().await.unwrap();
    drop(visitor); // its browser's stream of outputs ends with it

    let agent_summary = agent_run.await.unwrap().unwrap();
    assert_eq!(
        (agent_summary.outcome, visitor_summary.outcome),
        (Outcome::Answered, Outcome::Answered)
    );
    assert_eq!(
        (agent_summary.reason, visitor_summary.reason),
        (Reason::UserHangup, Reason::UserHangup)
    );
    assert!(agent_ui.await.unwrap().contains(&Event::Opened));
    assert!(visitor_ui.await.unwrap().contains(&Event::Opened));
    let ended: Vec<Outcome> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            RelayEvent::CallEnded { report } => Some(report.summary.outcome),
            _ => None,
        })
        .collect();
    assert_eq!(ended, [Outcome::Answered], "one call, ended once, not signaling_lost");
}
