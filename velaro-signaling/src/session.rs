//! `CallSession`: one party's call, driven over a transport with real time.

use std::sync::Arc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{Either, select};
use futures::{Stream, StreamExt as _};
use velaro_call_state::velaro_call_protocol::{CallId, Role, decode, encode};
use velaro_call_state::{
    Action, Call, CallConfig, CallError, CallSummary, EndedCalls, Event, MediaCommand, MediaEvent,
    Output,
};

use crate::clock::Clock;
use crate::observe::{self, in_span};
use crate::transport::{Transport, TransportError};

/// What the session asks of its host: media commands for the WebRTC layer, events for the UI.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionOutput {
    /// Do this with the local media layer, then report what happened with
    /// [`CallControl::media`].
    Media(MediaCommand),
    /// Tell the user.
    Event(Event),
    /// An action or media fact was refused; the call is unchanged.
    Refused(CallError),
}

/// Why a session stopped before its call ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The transport ended while the call was still on. The relay keeps the call for its grace
    /// period: reconnect and resume to carry on.
    #[error("the transport ended during the call")]
    Disconnected,
    /// The host dropped every [`CallControl`] before there was a call to hang up.
    #[error("every call control was dropped before the call started")]
    Abandoned,
}

#[derive(Debug)]
enum Input {
    Action(Action),
    Media(MediaEvent),
}

/// What woke the session up.
enum Wake {
    Frame(Result<Option<bytes::Bytes>, TransportError>),
    Input(Option<Input>),
    Timer,
}

/// The host's inputs to a [`CallSession`]: user actions and media facts. Clone it for other
/// tasks (the media layer's callbacks, a UI thread); once every clone is dropped, the session
/// hangs up, as nobody can drive the media any more.
#[derive(Debug, Clone)]
pub struct CallControl {
    inputs: UnboundedSender<Input>,
}

impl CallControl {
    /// Passes on a user action. `false` once the session has stopped.
    pub fn act(&self, action: Action) -> bool {
        self.inputs.unbounded_send(Input::Action(action)).is_ok()
    }

    /// Reports a fact from the media layer. `false` once the session has stopped.
    pub fn media(&self, event: MediaEvent) -> bool {
        self.inputs.unbounded_send(Input::Media(event)).is_ok()
    }
}

/// What a [`CallSession`] asks of its host, as a `Stream` of [`SessionOutput`]: media commands
/// for the WebRTC layer, events for the UI. It ends when the session stops.
#[derive(Debug)]
pub struct SessionOutputs {
    outputs: UnboundedReceiver<SessionOutput>,
}

impl Stream for SessionOutputs {
    type Item = SessionOutput;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<SessionOutput>> {
        self.outputs.poll_next_unpin(cx)
    }
}

/// One party's call over a [`Transport`]: frames in and out through the codec, timers from a
/// [`Clock`], actions and media facts from the host's [`CallControl`], outputs to its
/// [`SessionOutputs`].
///
/// Runtime-agnostic: [`run`](Self::run) is a future to spawn on any executor.
#[derive(Debug)]
pub struct CallSession<T> {
    config: CallConfig,
    call: Option<Call>,
    /// Visitor, before its call: calls whose end overtook their invite.
    ended: EndedCalls,
    transport: T,
    clock: Arc<dyn Clock>,
    inputs: UnboundedReceiver<Input>,
    outputs: UnboundedSender<SessionOutput>,
    /// Its span: conversation, party, role and call (feature `tracing`).
    span: observe::Span,
}

impl<T: Transport> CallSession<T> {
    fn new(
        config: CallConfig,
        role: Role,
        call: Option<Call>,
        transport: T,
        clock: Arc<dyn Clock>,
    ) -> (Self, CallControl, SessionOutputs) {
        let (input_tx, input_rx) = unbounded();
        let (output_tx, output_rx) = unbounded();
        let call_id = call.as_ref().map(Call::call_id);
        let span =
            observe::call_session_span(&config.conversation_id, &config.party_id, role, call_id);
        let session = CallSession {
            config,
            call,
            ended: EndedCalls::default(),
            transport,
            clock,
            inputs: input_rx,
            outputs: output_tx,
            span,
        };
        (session, CallControl { inputs: input_tx }, SessionOutputs { outputs: output_rx })
    }

    /// An agent's session for a new call; send [`Action::Invite`] through its control.
    pub fn agent(
        config: CallConfig,
        call_id: CallId,
        transport: T,
        clock: Arc<dyn Clock>,
    ) -> (Self, CallControl, SessionOutputs) {
        let call = Call::agent(config.clone(), call_id, clock.now());
        CallSession::new(config, Role::Agent, Some(call), transport, clock)
    }

    /// A visitor's session: its call starts with the first invite that arrives (unless a
    /// hangup or cancel of that call came first, on a link that reorders).
    pub fn visitor(
        config: CallConfig,
        transport: T,
        clock: Arc<dyn Clock>,
    ) -> (Self, CallControl, SessionOutputs) {
        CallSession::new(config, Role::Visitor, None, transport, clock)
    }

    /// Drives the call until it ends, returning its summary. On
    /// [`SessionError::Disconnected`], [`reconnect`](Self::reconnect) and run again.
    pub async fn run(&mut self) -> Result<CallSummary, SessionError> {
        let span = self.span.clone();
        observe::instrument(self.drive(), span).await
    }

    async fn drive(&mut self) -> Result<CallSummary, SessionError> {
        loop {
            self.flush().await?;
            if let Some(summary) = self.call.as_ref().and_then(Call::summary) {
                observe::session_call_ended(summary);
                return Ok(summary.clone());
            }
            let deadline = self.call.as_ref().and_then(Call::poll_timeout);
            let CallSession { transport, inputs, clock, .. } = &mut *self;
            let timer = match deadline {
                Some(at) => Either::Left(clock.sleep_until(at)),
                None => Either::Right(futures::future::pending::<()>()),
            };
            let frame_or_input = select(transport.recv(), inputs.next());
            let wake = match select(frame_or_input, timer).await {
                Either::Left((Either::Left((frame, _)), _)) => Wake::Frame(frame),
                Either::Left((Either::Right((input, _)), _)) => Wake::Input(input),
                Either::Right(((), _)) => Wake::Timer,
            };
            match wake {
                Wake::Frame(Ok(Some(frame))) => self.on_frame(&frame),
                Wake::Frame(Ok(None)) => {
                    observe::transport_ended();
                    return Err(SessionError::Disconnected);
                }
                Wake::Frame(Err(error)) => {
                    observe::transport_failed(&error);
                    return Err(error.into());
                }
                Wake::Input(Some(input)) => self.on_input(input),
                // The host dropped every control: nobody can drive the media any more.
                Wake::Input(None) => {
                    self.on_input(Input::Action(Action::Hangup));
                    self.flush().await?;
                    return match self.call.as_ref().and_then(Call::summary) {
                        Some(summary) => {
                            observe::session_call_ended(summary);
                            Ok(summary.clone())
                        }
                        None => Err(SessionError::Abandoned),
                    };
                }
                Wake::Timer => {
                    let now = self.clock.now();
                    if let Some(call) = self.call.as_mut() {
                        call.handle_timeout(now);
                    }
                }
            }
        }
    }

    /// Carries on over a new transport after a disconnect; returns the highest `seq` seen from
    /// each sender, for the relay's resume (so it replays exactly the missed frames).
    pub fn reconnect(
        &mut self,
        transport: T,
    ) -> Vec<(velaro_call_state::velaro_call_protocol::PartyId, u64)> {
        in_span!(&self.span);
        self.transport = transport;
        let seen = self.call.as_ref().map(Call::last_seen).unwrap_or_default();
        observe::reconnected(seen.len());
        seen
    }

    fn on_frame(&mut self, frame: &[u8]) {
        // A relay forwards only frames it decoded; anything else is dropped here.
        let envelope = match decode(frame) {
            Ok(envelope) => envelope,
            Err(error) => return observe::undecodable(&error.reject_code()),
        };
        let now = self.clock.now();
        match self.call.as_mut() {
            Some(call) => {
                let _ = call.handle_message(now, envelope);
            }
            None if self.ended.starts_a_call(&envelope) => {
                self.call = Call::visitor(self.config.clone(), &envelope, now).ok();
                if self.call.is_some() {
                    observe::call_rang(&self.span, &envelope.call_id);
                }
            }
            None => {}
        }
    }

    fn on_input(&mut self, input: Input) {
        let now = self.clock.now();
        let Some(call) = self.call.as_mut() else { return };
        let result = match input {
            Input::Action(action) => call.handle_action(now, action),
            Input::Media(event) => call.handle_media(now, event),
        };
        if let Err(error) = result {
            observe::input_refused(&error);
            let _ = self.outputs.unbounded_send(SessionOutput::Refused(error));
        }
    }

    /// Sends the call's frames and hands its commands and events to the host.
    async fn flush(&mut self) -> Result<(), SessionError> {
        while let Some(output) = self.call.as_mut().and_then(Call::poll_output) {
            match output {
                Output::Send(envelope) => {
                    let sent = self.transport.send(encode(&envelope).into()).await;
                    sent.inspect_err(observe::transport_failed)?;
                }
                // A host that stopped listening only misses what it no longer wants.
                Output::Media(command) => {
                    let _ = self.outputs.unbounded_send(SessionOutput::Media(command));
                }
                Output::Event(event) => {
                    let _ = self.outputs.unbounded_send(SessionOutput::Event(event));
                }
            }
        }
        Ok(())
    }
}
