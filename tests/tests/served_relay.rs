//! The served relay (`serve`) keeps the sans-IO relay's deadlines on a real (virtual) clock.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Reason, Role};
use velaro_call_protocol::{decode, encode};
use velaro_signaling::{Relay, RelayConfig, RelayEvent, Transport, memory_pair, serve};

#[tokio::test(start_paused = true)]
async fn an_agent_that_drops_during_a_long_invite_ends_it_signaling_lost_after_the_grace() {
    let (server, mut events) = serve(Relay::new(RelayConfig::default()));
    let conversation = ConversationId::new("conv-1").unwrap();
    server.open_conversation(conversation.clone(), true);
    let (mut agent, agent_at_relay) = memory_pair();
    let (mut visitor, visitor_at_relay) = memory_pair();
    let agent_party = PartyId::new("agent-1").unwrap();
    server.connect(agent_at_relay, &conversation, Role::Agent, agent_party.clone(), None).unwrap();
    let visitor_party = PartyId::new("visitor-1").unwrap();
    server.connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party, None).unwrap();

    // An invite that rings for ten minutes: the relay's timer sleeps until its expiry.
    let prompt = Prompt::new("Video call?").unwrap();
    let invite = InviteBody::new(prompt, MediaKinds::AUDIO_VIDEO)
        .with_lifetime(Duration::from_secs(600))
        .unwrap();
    let call = CallId::new("call-1").unwrap();
    let frame = Envelope::new(conversation.clone(), call, agent_party, Role::Agent, 1, invite);
    agent.send(encode(&frame).into()).await.unwrap();
    let rang = decode(&visitor.recv().await.unwrap().unwrap()).unwrap();
    assert_eq!(rang.message_type(), "call.invite");

    // A while later the agent's connection drops: its 20 s grace is a deadline earlier than
    // the expiry the timer sleeps until.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let dropped_at = tokio::time::Instant::now();
    agent.close().await.unwrap();
    drop(agent);
    let told = decode(&visitor.recv().await.unwrap().unwrap()).unwrap();
    let Message::Cancel(cancel) = &told.message else { panic!("{told:?}") };
    assert_eq!(cancel.reason, Reason::SignalingLost);
    assert_eq!(dropped_at.elapsed(), RelayConfig::default().grace, "at the grace, not later");
    let ended = std::iter::from_fn(|| events.try_recv().ok()).find_map(|event| match event {
        RelayEvent::CallEnded { report } => Some(report.summary.reason),
        _ => None,
    });
    assert_eq!(ended, Some(Reason::SignalingLost));
}

/// A transport whose peer never reads: every send waits for ever.
#[derive(Debug, Default)]
struct NeverReads {
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl Transport for NeverReads {
    async fn send(&mut self, _frame: bytes::Bytes) -> Result<(), velaro_signaling::TransportError> {
        futures::future::pending().await
    }

    async fn recv(&mut self) -> Result<Option<bytes::Bytes>, velaro_signaling::TransportError> {
        futures::future::pending().await
    }

    async fn close(&mut self) -> Result<(), velaro_signaling::TransportError> {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_stuck_writing_to_a_page_that_never_reads_is_still_closed() {
    let (server, _events) = serve(Relay::new(RelayConfig::default().with_max_queued(1)));
    let conversation = ConversationId::new("conv-1").unwrap();
    server.open_conversation(conversation.clone(), true);
    let (mut agent, agent_at_relay) = memory_pair();
    let agent_party = PartyId::new("agent-1").unwrap();
    server.connect(agent_at_relay, &conversation, Role::Agent, agent_party.clone(), None).unwrap();
    let stuck = NeverReads::default();
    let closed = stuck.closed.clone();
    let tab = PartyId::new("visitor-1").unwrap();
    server.connect(stuck, &conversation, Role::Visitor, tab, None).unwrap();

    // Three frames for the tab: the first is being written (and never will be), the second
    // fills its queue, the third finds it full.
    let invite = || InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO);
    let frames: [(&str, u64, Message); 3] = [
        ("call-1", 1, invite().into()),
        ("call-1", 2, velaro_call_protocol::message::answer::CancelBody::default().into()),
        ("call-2", 1, invite().into()),
    ];
    for (call, seq, message) in frames {
        let call = CallId::new(call).unwrap();
        let envelope = Envelope::new(
            conversation.clone(),
            call,
            agent_party.clone(),
            Role::Agent,
            seq,
            message,
        );
        agent.send(encode(&envelope).into()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(closed.load(std::sync::atomic::Ordering::SeqCst), "the relay closed it by itself");
}

/// A host that multiplexes: the call frames of its own connection go through a
/// `channel_transport`, and the host can end a session and count what is served.
#[tokio::test(start_paused = true)]
async fn a_host_multiplexes_through_channels_and_ends_a_session_itself() {
    use futures::{SinkExt as _, StreamExt as _};
    use velaro_signaling::channel_transport;

    let (server, _events) = serve(Relay::new(RelayConfig::default()));
    let conversation = ConversationId::new("conv-1").unwrap();
    server.open_conversation(conversation.clone(), true);
    let (agent_transport, mut agent) = channel_transport(8);
    let (visitor_transport, mut visitor) = channel_transport(8);
    let agent_party = PartyId::new("agent-1").unwrap();
    let visitor_party = PartyId::new("visitor-1").unwrap();
    let agent_session = server
        .connect(agent_transport, &conversation, Role::Agent, agent_party.clone(), None)
        .unwrap();
    // A `Box<dyn Transport>` is a transport too.
    let boxed: Box<dyn Transport> = Box::new(visitor_transport);
    server.connect(boxed, &conversation, Role::Visitor, visitor_party, None).unwrap();
    assert_eq!((server.session_count(), server.conversation_count()), (2, 1));

    let invite = InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO);
    let call = CallId::new("call-1").unwrap();
    let frame = Envelope::new(conversation.clone(), call, agent_party, Role::Agent, 1, invite);
    agent.to_relay.send(encode(&frame).into()).await.unwrap();
    let rang = decode(&visitor.from_relay.next().await.unwrap()).unwrap();
    assert_eq!(rang.message_type(), "call.invite");

    assert!(server.disconnect(agent_session), "the host ends the agent's session");
    assert_eq!(agent.from_relay.next().await, None, "its transport was closed");
    while server.session_count() != 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!server.disconnect(agent_session), "already gone");
    assert_eq!(server.conversation_count(), 1, "the agent's grace keeps the conversation");
}
