//! `serve`: a [`Relay`] over many transports on a tokio runtime (feature `tokio`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{Either, select};
use velaro_call_state::velaro_call_protocol::{ConversationId, PartyId, Role};

use crate::clock::{Clock, TokioClock};
use crate::relay::{Relay, RelayError, RelayEvent, SessionId};
use crate::transport::Transport;

/// The shared state of a served relay.
#[derive(Debug)]
struct Shared {
    relay: Relay,
    /// Each connected session's wake-up: "you have frames to write" or "close".
    wakers: HashMap<SessionId, UnboundedSender<Wake>>,
    events: UnboundedSender<RelayEvent>,
}

#[derive(Debug, Clone, Copy)]
enum Wake {
    Write,
    Close,
}

/// A served relay: connect authenticated transports to it, and read its events.
#[derive(Debug, Clone)]
pub struct RelayServer {
    shared: Arc<Mutex<Shared>>,
}

/// Starts serving `relay` on the current tokio runtime; returns the server (to connect
/// transports) and the stream of events for the host (calls started and ended, refusals).
pub fn serve(relay: Relay) -> (RelayServer, UnboundedReceiver<RelayEvent>) {
    let (events, events_rx) = unbounded();
    let shared = Arc::new(Mutex::new(Shared { relay, wakers: HashMap::new(), events }));
    let server = RelayServer { shared };
    let timers = server.clone();
    #[allow(clippy::disallowed_methods)] // the IO edge owns the tasks
    tokio::spawn(async move { timers.run_timers().await });
    (server, events_rx)
}

impl RelayServer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while locked leaves the relay consistent (it never panics mid-update).
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a conversation (see [`Relay::open_conversation`]).
    pub fn open_conversation(&self, conversation_id: ConversationId, video_enabled: bool) {
        self.lock().relay.open_conversation(conversation_id, video_enabled);
    }

    /// Connects an authenticated transport as a session of `party` and serves it until it
    /// ends; `resume`: the last `seq` it saw from each sender, when it reconnects.
    pub fn connect<T: Transport + 'static>(
        &self,
        transport: T,
        conversation_id: &ConversationId,
        role: Role,
        party: PartyId,
        resume: Option<Vec<(PartyId, u64)>>,
    ) -> Result<SessionId, RelayError> {
        let (wake, wake_rx) = unbounded();
        let session = {
            let mut shared = self.lock();
            let now = TokioClock.now();
            let session = shared.relay.connect(now, conversation_id, role, party)?;
            if let Some(seen) = resume {
                shared.relay.resume(session, &seen)?;
            }
            shared.wakers.insert(session, wake);
            shared.wake_ready();
            session
        };
        let server = self.clone();
        #[allow(clippy::disallowed_methods)] // the IO edge owns the tasks
        tokio::spawn(async move { server.run_session(session, transport, wake_rx).await });
        Ok(session)
    }

    async fn run_session<T: Transport>(
        &self,
        session: SessionId,
        mut transport: T,
        mut wake: UnboundedReceiver<Wake>,
    ) {
        use futures::StreamExt as _;
        loop {
            let next = match select(transport.recv(), wake.next()).await {
                Either::Left((frame, _)) => Either::Left(frame),
                Either::Right((wake, _)) => Either::Right(wake),
            };
            match next {
                Either::Left(Ok(Some(frame))) => {
                    let mut shared = self.lock();
                    let now = TokioClock.now();
                    let _ = shared.relay.handle_frame(now, session, &frame);
                    shared.wake_ready();
                }
                Either::Right(Some(Wake::Write)) => {
                    let frames: Vec<_> = {
                        let mut shared = self.lock();
                        std::iter::from_fn(|| shared.relay.poll_frame(session)).collect()
                    };
                    for frame in frames {
                        if transport.send(frame).await.is_err() {
                            break;
                        }
                    }
                }
                // The transport ended or failed, or the relay wants the session closed.
                Either::Left(Ok(None) | Err(_)) | Either::Right(Some(Wake::Close) | None) => break,
            }
        }
        let _ = transport.close().await;
        let mut shared = self.lock();
        shared.wakers.remove(&session);
        let now = TokioClock.now();
        let _ = shared.relay.disconnect(now, session);
        shared.wake_ready();
    }

    async fn run_timers(&self) {
        // Until every other handle (the host's server, the session tasks) is gone.
        while Arc::strong_count(&self.shared) > 1 {
            let deadline = self.lock().relay.poll_timeout();
            // Without a deadline, look again soon: a frame may have armed one meanwhile.
            let at = deadline.unwrap_or_else(|| TokioClock.now() + Duration::from_millis(250));
            TokioClock.sleep_until(at).await;
            let mut shared = self.lock();
            let now = TokioClock.now();
            shared.relay.handle_timeout(now);
            shared.wake_ready();
        }
    }
}

impl Shared {
    /// Wakes the sessions with frames to write and passes events on to the host.
    fn wake_ready(&mut self) {
        while let Some(session) = self.relay.poll_ready() {
            if let Some(wake) = self.wakers.get(&session) {
                let _ = wake.unbounded_send(Wake::Write);
            }
        }
        while let Some(event) = self.relay.poll_event() {
            if let RelayEvent::Disconnect { session } = &event
                && let Some(wake) = self.wakers.get(session)
            {
                let _ = wake.unbounded_send(Wake::Close);
            }
            let _ = self.events.unbounded_send(event);
        }
    }
}
