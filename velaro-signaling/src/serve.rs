//! `serve`: a [`Relay`] over many transports on a tokio runtime (feature `tokio`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{Either, select};
use velaro_call_state::velaro_call_protocol::{ConversationId, PartyId, Role};

use crate::clock::{Clock, TokioClock};
use crate::observe;
use crate::relay::{Relay, RelayError, RelayEvent, RelayOutput, SessionId};
use crate::transport::Transport;

/// The shared state of a served relay.
#[derive(Debug)]
struct Shared {
    relay: Relay,
    /// Each connected session's wake-up: "you have frames to write" or "close".
    wakers: HashMap<SessionId, UnboundedSender<Wake>>,
    events: UnboundedSender<RelayEvent>,
    /// The deadline the timer task sleeps until, and its wake-up when an input armed an
    /// earlier one (a disconnect starting a 20 s grace during a 10 min invite, say).
    armed: Option<Instant>,
    rearm: UnboundedSender<()>,
}

#[derive(Debug, Clone, Copy)]
enum Wake {
    Write,
    Close,
}

/// Why a served session's task ended.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// The peer ended the stream.
    TransportEnded,
    /// A receive or a send failed.
    TransportFailed,
    /// The relay closed it (its queue was full), or the host did.
    RelayClosed,
    /// The server is gone.
    ServerGone,
}

impl Stop {
    fn as_str(self) -> &'static str {
        match self {
            Stop::TransportEnded => "transport_ended",
            Stop::TransportFailed => "transport_failed",
            Stop::RelayClosed => "relay_closed",
            Stop::ServerGone => "server_gone",
        }
    }
}

/// A served relay: connect authenticated transports to it, and read its events.
#[derive(Debug, Clone)]
pub struct RelayServer {
    shared: Arc<Mutex<Shared>>,
}

/// Starts serving `relay` on the current tokio runtime; returns the server (to connect
/// transports) and the stream of events for the host (calls started and ended, refusals).
///
/// Events and the sessions' frames travel separately: a host must not expect a
/// `CallStarted` before or after the `call.accept` its agent's page receives.
///
/// # Panics
/// Outside a tokio runtime (it spawns its timer task there, as `tokio::spawn` does).
pub fn serve(relay: Relay) -> (RelayServer, UnboundedReceiver<RelayEvent>) {
    let (events, events_rx) = unbounded();
    let (rearm, rearm_rx) = unbounded();
    let shared = Shared { relay, wakers: HashMap::new(), events, armed: None, rearm };
    let server = RelayServer { shared: Arc::new(Mutex::new(shared)) };
    let timers = Arc::downgrade(&server.shared);
    #[allow(clippy::disallowed_methods)] // the IO edge owns the tasks
    tokio::spawn(run_timers(timers, rearm_rx));
    (server, events_rx)
}

/// Sleeps until the relay's next deadline and handles it; an input that arms an earlier
/// deadline wakes it to sleep less (as quinn's driver re-arms its timer), and without a
/// deadline it sleeps until one is armed: no polling. Ends with the server.
async fn run_timers(shared: Weak<Mutex<Shared>>, mut rearm: UnboundedReceiver<()>) {
    use futures::StreamExt as _;
    loop {
        let deadline = {
            let Some(shared) = shared.upgrade() else { return };
            let mut shared = lock(&shared);
            shared.armed = shared.relay.poll_timeout();
            shared.armed
        };
        let sleep = match deadline {
            Some(at) => Either::Left(TokioClock.sleep_until(at)),
            None => Either::Right(futures::future::pending()),
        };
        match select(sleep, rearm.next()).await {
            Either::Left(((), _)) => {
                let Some(shared) = shared.upgrade() else { return };
                let mut shared = lock(&shared);
                let now = TokioClock.now();
                shared.relay.handle_timeout(now);
                shared.wake_ready();
            }
            Either::Right((Some(()), _)) => {}
            // Every sender (held by the shared state) is gone: the server is.
            Either::Right((None, _)) => return,
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A panic while locked leaves the relay consistent (it never panics mid-update).
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RelayServer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// Opens a conversation (see [`Relay::open_conversation`]).
    pub fn open_conversation(&self, conversation_id: ConversationId, video_enabled: bool) {
        self.lock().relay.open_conversation(conversation_id, video_enabled);
    }

    /// Connects an authenticated transport as a session of `party` and serves it until it
    /// ends (open the conversation first: [`open_conversation`](Self::open_conversation)).
    ///
    /// `resume`: `None` for a page that connects for the first time or kept nothing (it gets
    /// what any new session gets: the invite of a call that rings, with the lifetime left);
    /// `Some(cursor)` for a page that reconnects, with the last `seq` its call saw from each
    /// sender (see `velaro_call_protocol::resume`): the relay replays what the cursor does not
    /// cover, within the party's grace (an empty cursor replays everything the party was
    /// sent).
    pub fn connect<T: Transport + 'static>(
        &self,
        transport: T,
        conversation_id: &ConversationId,
        role: Role,
        party: PartyId,
        resume: Option<Vec<(PartyId, u64)>>,
    ) -> Result<SessionId, RelayError> {
        let (wake, wake_rx) = unbounded();
        let (session, span) = {
            let mut shared = self.lock();
            let now = TokioClock.now();
            let session = shared.relay.connect(now, conversation_id, role, party)?;
            if let Some(seen) = resume {
                shared.relay.resume(session, &seen)?;
            }
            shared.wakers.insert(session, wake);
            shared.wake_ready();
            (session, observe::session_span(&shared.relay.span(conversation_id), session))
        };
        let server = self.clone();
        let run = async move { server.run_session(session, transport, wake_rx).await };
        #[allow(clippy::disallowed_methods)] // the IO edge owns the tasks
        tokio::spawn(observe::instrument(run, span));
        Ok(session)
    }

    /// Ends `session` from the host's side (its user logged out, its token was revoked, or the
    /// host saw its socket go before the transport did): its transport is closed and the relay
    /// disconnects it, which starts its party's grace as a dropped connection would. Harmless
    /// on a session that already ended: `false` when the session is not (or no longer) served.
    pub fn disconnect(&self, session: SessionId) -> bool {
        let shared = self.lock();
        let served = shared.wakers.contains_key(&session);
        shared.wake(session, Wake::Close);
        served
    }

    /// Sessions connected now.
    pub fn session_count(&self) -> usize {
        self.lock().relay.session_count()
    }

    /// Conversations open in the relay (a freed one is not counted).
    pub fn conversation_count(&self) -> usize {
        self.lock().relay.conversation_count()
    }

    async fn run_session<T: Transport>(
        &self,
        session: SessionId,
        mut transport: T,
        mut wake: UnboundedReceiver<Wake>,
    ) {
        use futures::StreamExt as _;
        let stop = loop {
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
                    if let Err(stop) = self.write_queued(session, &mut transport, &mut wake).await {
                        break stop;
                    }
                }
                Either::Left(Ok(None)) => break Stop::TransportEnded,
                Either::Left(Err(_)) => break Stop::TransportFailed,
                Either::Right(Some(Wake::Close)) => break Stop::RelayClosed,
                Either::Right(None) => break Stop::ServerGone,
            }
        };
        observe::session_ended(stop.as_str());
        let _ = transport.close().await;
        let mut shared = self.lock();
        shared.wakers.remove(&session);
        let now = TokioClock.now();
        let _ = shared.relay.disconnect(now, session);
        shared.wake_ready();
    }

    /// Writes what the relay queued for `session`, frame by frame. A transport that pushes back
    /// (a slow page's bounded queue) keeps a send waiting: the relay's close still ends it then.
    /// Returns why the session ends when it does (a failed send or a close end it).
    async fn write_queued<T: Transport>(
        &self,
        session: SessionId,
        transport: &mut T,
        wake: &mut UnboundedReceiver<Wake>,
    ) -> Result<(), Stop> {
        use futures::StreamExt as _;
        loop {
            // The lock is released before the send waits.
            let next = self.lock().relay.poll_transmit(session);
            let Some(frame) = next else { return Ok(()) };
            let mut send = transport.send(frame);
            loop {
                match select(send, wake.next()).await {
                    Either::Left((Ok(()), _)) => break,
                    Either::Left((Err(_), _)) => return Err(Stop::TransportFailed),
                    Either::Right((Some(Wake::Close), _)) => return Err(Stop::RelayClosed),
                    Either::Right((None, _)) => return Err(Stop::ServerGone),
                    // This loop writes until the queue is empty: that frame too.
                    Either::Right((Some(Wake::Write), pending)) => send = pending,
                }
            }
        }
    }
}

impl Shared {
    fn wake(&self, session: SessionId, wake: Wake) {
        if let Some(waker) = self.wakers.get(&session) {
            let _ = waker.unbounded_send(wake);
        }
    }

    /// Wakes the sessions with frames to write, passes events on to the host, and wakes the
    /// timer task when the relay's next deadline moved earlier than the one it sleeps until.
    fn wake_ready(&mut self) {
        let next = self.relay.poll_timeout();
        if next.is_some_and(|next| self.armed.is_none_or(|armed| next < armed)) {
            self.armed = next;
            let _ = self.rearm.unbounded_send(());
        }
        while let Some(output) = self.relay.poll_output() {
            match output {
                RelayOutput::Transmit(session) => self.wake(session, Wake::Write),
                RelayOutput::Close(session) => self.wake(session, Wake::Close),
                RelayOutput::Event(event) => {
                    let _ = self.events.unbounded_send(event);
                }
            }
        }
    }
}
