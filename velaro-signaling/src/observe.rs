//! Observability, in one place: the metric names (feature `metrics`) and the span and event
//! helpers (feature `tracing`) that the relay, `serve` and `CallSession` call at each point worth
//! a log line or a count. Without the features every helper is an empty inline function, the
//! span a zero-sized type and [`in_span!`] nothing at all: nothing is compiled in.
//!
//! What is logged, and only this: the host's opaque ids (conversation, party, call, session),
//! roles, message types, `seq` numbers, reject and reason codes, outcomes, counts and durations.
//! Never a frame, an envelope, an SDP, a candidate or an address, an ICE or TURN credential, a
//! token, a prompt or chat text, and never an error's `Display` that may quote one (a refusal's
//! detail, a decode or SDP error, a transport's error): their codes or kinds instead.

// A helper's arguments are for the feature that is off, when only one is on.
#![cfg_attr(not(all(feature = "tracing", feature = "metrics")), allow(unused_variables))]

#[cfg(any(feature = "tracing", feature = "metrics"))]
use velaro_call_state::Outcome;
use velaro_call_state::velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_state::velaro_call_protocol::{CallId, ConversationId, Envelope, PartyId, Role};
use velaro_call_state::{CallError, CallReport, CallSummary};

use crate::relay::{RelayError, SessionId};
use crate::transport::TransportError;

/// The metric names, `velaro_` and Prometheus conventions (`_total` counters, base units).
#[cfg(feature = "metrics")]
mod names {
    /// Gauge: sessions connected to relays in this process.
    pub(super) const SESSIONS: &str = "velaro_sessions";
    /// Gauge: conversations open (not yet freed).
    pub(super) const CONVERSATIONS: &str = "velaro_conversations";
    /// Gauge: frames waiting in all sessions' queues (the backlog of writers that fall behind).
    pub(super) const QUEUED_FRAMES: &str = "velaro_queued_frames";
    /// Counter: calls answered (a visitor accepted).
    pub(super) const CALLS_STARTED: &str = "velaro_calls_started_total";
    /// Counter, label `outcome`: calls ended, answered or not.
    pub(super) const CALLS_ENDED: &str = "velaro_calls_ended_total";
    /// Counter: frames the referee let through (one per frame, however many sessions get it).
    pub(super) const FRAMES_ROUTED: &str = "velaro_frames_routed_total";
    /// Counter, label `code`: frames refused with a `call.rejected`.
    pub(super) const FRAMES_REFUSED: &str = "velaro_frames_refused_total";
    /// Counter: frames dropped without a notice (duplicates, stale frames of ended calls).
    pub(super) const FRAMES_DROPPED: &str = "velaro_frames_dropped_total";
    /// Counter: sessions that resumed.
    pub(super) const RESUMES: &str = "velaro_resumes_total";
    /// Counter: frames replayed to resumed sessions.
    pub(super) const FRAMES_REPLAYED: &str = "velaro_frames_replayed_total";
    /// Counter: logged frames forgotten because their party acknowledged them (`call.ack`).
    pub(super) const FRAMES_ACKNOWLEDGED: &str = "velaro_frames_acknowledged_total";
    /// Counter: sessions closed because their queue was full (slow consumers).
    pub(super) const SLOW_SESSIONS: &str = "velaro_slow_sessions_closed_total";
    /// Counter: parties whose grace ran out.
    pub(super) const GRACE_EXPIRED: &str = "velaro_grace_expired_total";
    /// Counter, label `reason`: connections the relay refused (host misuse, role conflicts).
    pub(super) const CONNECTS_REFUSED: &str = "velaro_connects_refused_total";
    /// Histogram: from the visitor's accept to media connecting, in seconds.
    pub(super) const ACCEPT_TO_MEDIA: &str = "velaro_accept_to_media_seconds";
}

#[cfg(feature = "metrics")]
#[allow(clippy::wildcard_imports)] // the whole list, by design
use names::*;

/// The targets of the spans and events: the relay's, `serve`'s, `CallSession`'s (filter on
/// them, e.g. `velaro_signaling::relay=info`).
#[cfg(feature = "tracing")]
const RELAY: &str = "velaro_signaling::relay";
#[cfg(all(feature = "tracing", feature = "tokio"))]
const SERVE: &str = "velaro_signaling::serve";
#[cfg(feature = "tracing")]
const SESSION: &str = "velaro_signaling::session";

/// A span, or nothing without the `tracing` feature.
#[cfg(feature = "tracing")]
pub(crate) type Span = tracing::Span;

/// A span, or nothing without the `tracing` feature.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Span;

/// Enters `$span` (a `&Span` or an `Option<&Span>`) until the end of the enclosing block;
/// without the `tracing` feature it expands to nothing, so the expression is not even evaluated.
macro_rules! in_span {
    ($span:expr) => {
        #[cfg(feature = "tracing")]
        let _entered = $crate::observe::enter(Option::from($span));
    };
}
pub(crate) use in_span;

/// Enters `span` (or no span) until the guard drops.
#[cfg(feature = "tracing")]
pub(crate) fn enter(span: Option<&Span>) -> tracing::span::EnteredSpan {
    span.map_or_else(Span::none, Span::clone).entered()
}

/// Runs `future` in `span`.
#[cfg(feature = "tracing")]
pub(crate) fn instrument<F: Future>(future: F, span: Span) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(future, span)
}

/// Runs `future` (no span without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
pub(crate) fn instrument<F: Future>(future: F, _: Span) -> F {
    future
}

/// A number of things as a gauge's `f64` (exact up to 2^53; counts here are far below).
#[cfg(feature = "metrics")]
fn float(count: usize) -> f64 {
    f64::from(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Registers the metrics with the installed recorder, with their help text and at zero, so that
/// a dashboard sees them before the first session connects (idempotent: every relay calls it).
#[inline]
pub(crate) fn describe() {
    #[cfg(feature = "metrics")]
    {
        use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_gauge!(SESSIONS, "Sessions connected to the relay.");
        describe_gauge!(CONVERSATIONS, "Conversations open on the relay.");
        describe_gauge!(QUEUED_FRAMES, "Frames waiting in the sessions' queues.");
        describe_counter!(CALLS_STARTED, "Calls answered by a visitor.");
        describe_counter!(CALLS_ENDED, "Calls ended, by outcome.");
        describe_counter!(FRAMES_ROUTED, "Call frames the relay forwarded.");
        describe_counter!(FRAMES_REFUSED, "Call frames refused with call.rejected, by code.");
        describe_counter!(FRAMES_DROPPED, "Call frames dropped (duplicates, stale).");
        describe_counter!(RESUMES, "Sessions that resumed after a drop.");
        describe_counter!(FRAMES_REPLAYED, "Frames replayed to resumed sessions.");
        describe_counter!(
            FRAMES_ACKNOWLEDGED,
            "Logged frames forgotten because their party acknowledged them."
        );
        describe_counter!(SLOW_SESSIONS, "Sessions closed because their queue was full.");
        describe_counter!(GRACE_EXPIRED, "Parties whose grace ran out.");
        describe_counter!(CONNECTS_REFUSED, "Connections refused, by reason.");
        describe_histogram!(
            ACCEPT_TO_MEDIA,
            Unit::Seconds,
            "From the visitor's accept to media connecting."
        );
        for gauge in [SESSIONS, CONVERSATIONS, QUEUED_FRAMES] {
            metrics::gauge!(gauge).increment(0.0);
        }
        for counter in [
            CALLS_STARTED,
            FRAMES_ROUTED,
            FRAMES_DROPPED,
            RESUMES,
            FRAMES_REPLAYED,
            SLOW_SESSIONS,
            GRACE_EXPIRED,
        ] {
            metrics::counter!(counter).increment(0);
        }
    }
}

// The relay.

/// The span of one conversation, for as long as the relay keeps it.
#[cfg(feature = "tracing")]
pub(crate) fn conversation_span(id: &ConversationId) -> Span {
    tracing::info_span!(target: RELAY, parent: None, "conversation", id = %id)
}

/// The span of one conversation (nothing without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
#[inline]
pub(crate) fn conversation_span(_: &ConversationId) -> Span {
    Span
}

#[inline]
pub(crate) fn conversation_opened() {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: RELAY, "conversation opened");
    #[cfg(feature = "metrics")]
    metrics::gauge!(CONVERSATIONS).increment(1.0);
}

#[inline]
pub(crate) fn conversation_freed() {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: RELAY, "conversation freed");
    #[cfg(feature = "metrics")]
    metrics::gauge!(CONVERSATIONS).decrement(1.0);
}

#[inline]
pub(crate) fn connected(session: SessionId, role: Role, party: &PartyId) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: RELAY, %session, %role, %party, "session connected");
    #[cfg(feature = "metrics")]
    metrics::gauge!(SESSIONS).increment(1.0);
}

/// Logs and counts a refused connection; returns the error.
#[inline]
pub(crate) fn connect_refused(role: Role, error: RelayError) -> RelayError {
    #[cfg(feature = "tracing")]
    tracing::info!(target: RELAY, %role, reason = relay_error_kind(&error), "session refused");
    #[cfg(feature = "metrics")]
    metrics::counter!(CONNECTS_REFUSED, "reason" => relay_error_kind(&error)).increment(1);
    error
}

/// A session left: `queued` frames it had not written are dropped with it; `party_left` when
/// it was its party's last session (the grace starts).
#[inline]
pub(crate) fn disconnected(session: SessionId, queued: usize, party_left: bool) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: RELAY,
        %session,
        queued,
        grace_started = party_left,
        "session disconnected"
    );
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!(SESSIONS).decrement(1.0);
        metrics::gauge!(QUEUED_FRAMES).decrement(float(queued));
    }
}

#[inline]
pub(crate) fn resumed(session: SessionId, replayed: usize) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: RELAY, %session, replayed, "session resumed");
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(RESUMES).increment(1);
        metrics::counter!(FRAMES_REPLAYED).increment(u64::try_from(replayed).unwrap_or(u64::MAX));
    }
}

#[inline]
pub(crate) fn acknowledged(session: SessionId, forgotten: usize) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: RELAY, %session, forgotten, "frames acknowledged");
    #[cfg(feature = "metrics")]
    metrics::counter!(FRAMES_ACKNOWLEDGED).increment(u64::try_from(forgotten).unwrap_or(u64::MAX));
    #[cfg(not(any(feature = "tracing", feature = "metrics")))]
    let _ = (session, forgotten);
}

/// A frame from `session` was forwarded (whoever gets it).
#[inline]
pub(crate) fn routed(session: SessionId, envelope: &Envelope) {
    #[cfg(feature = "tracing")]
    tracing::trace!(
        target: RELAY,
        %session,
        r#type = envelope.message_type(),
        call = %envelope.call_id,
        seq = envelope.seq,
        "frame routed"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(FRAMES_ROUTED).increment(1);
}

#[inline]
pub(crate) fn dropped(envelope: &Envelope) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: RELAY,
        r#type = envelope.message_type(),
        call = %envelope.call_id,
        seq = envelope.seq,
        "frame dropped"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(FRAMES_DROPPED).increment(1);
}

/// A frame from `session` was refused with `code` (its detail is never logged: it may quote
/// the frame, a candidate's address say).
#[inline]
pub(crate) fn refused(session: SessionId, call: Option<&CallId>, code: &RejectCode) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: RELAY,
        %session,
        call = call.map(tracing::field::display),
        code = code.as_str(),
        "frame refused"
    );
    #[cfg(feature = "metrics")]
    {
        // The relay writes known codes only; a label set must stay small whatever happens.
        let known = RejectCode::KNOWN.iter().find(|known| **known == code.as_str());
        metrics::counter!(FRAMES_REFUSED, "code" => known.copied().unwrap_or("other")).increment(1);
    }
}

/// One frame joined a session's queue.
#[inline]
pub(crate) fn queued() {
    #[cfg(feature = "metrics")]
    metrics::gauge!(QUEUED_FRAMES).increment(1.0);
}

/// One frame left a session's queue, to be written.
#[inline]
pub(crate) fn dequeued() {
    #[cfg(feature = "metrics")]
    metrics::gauge!(QUEUED_FRAMES).decrement(1.0);
}

/// `session`'s queue was full: it is closed, its `queued` frames dropped.
#[inline]
pub(crate) fn slow_session(session: SessionId, queued: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: RELAY, %session, queued, "slow session closed: its queue is full");
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(SLOW_SESSIONS).increment(1);
        metrics::gauge!(QUEUED_FRAMES).decrement(float(queued));
    }
}

#[cfg(feature = "tracing")]
pub(crate) fn invite_expired() {
    tracing::info!(target: RELAY, "invite expired");
}

#[inline]
pub(crate) fn grace_expired(role: Role, party: &PartyId) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: RELAY, %role, %party, "grace expired: party forgotten");
    #[cfg(feature = "metrics")]
    metrics::counter!(GRACE_EXPIRED).increment(1);
}

#[inline]
pub(crate) fn call_started(call: &CallId, agent: &PartyId, visitor: &PartyId) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: RELAY, %call, %agent, %visitor, "call started");
    #[cfg(feature = "metrics")]
    metrics::counter!(CALLS_STARTED).increment(1);
}

#[inline]
pub(crate) fn call_ended(report: &CallReport) {
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    let (summary, accept_to_media) = (
        &report.summary,
        report
            .answered_at
            .zip(report.media_connected_at)
            .map(|(answered, media)| media.saturating_duration_since(answered)),
    );
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: RELAY,
        call = %summary.call_id,
        outcome = outcome(summary.outcome),
        reason = summary.reason.code(),
        ended_by = summary.ended_by.map(Role::as_str),
        ring_ms = millis(summary.ring_time),
        talk_ms = millis(summary.talk_time),
        accept_to_media_ms = accept_to_media.map(millis),
        "call ended"
    );
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(CALLS_ENDED, "outcome" => outcome(summary.outcome)).increment(1);
        if let Some(duration) = accept_to_media {
            metrics::histogram!(ACCEPT_TO_MEDIA).record(duration.as_secs_f64());
        }
    }
}

/// A relay was dropped with these still counted: the gauges forget them.
#[cfg(feature = "metrics")]
pub(crate) fn relay_dropped(sessions: usize, conversations: usize, queued: usize) {
    metrics::gauge!(SESSIONS).decrement(float(sessions));
    metrics::gauge!(CONVERSATIONS).decrement(float(conversations));
    metrics::gauge!(QUEUED_FRAMES).decrement(float(queued));
}

// `serve`.

/// The span of one served session, inside its conversation's.
#[cfg(all(feature = "tokio", feature = "tracing"))]
pub(crate) fn session_span(conversation: &Span, session: SessionId) -> Span {
    tracing::info_span!(target: SERVE, parent: conversation, "session", id = %session)
}

/// The span of one served session (nothing without the `tracing` feature).
#[cfg(all(feature = "tokio", not(feature = "tracing")))]
#[inline]
pub(crate) fn session_span(_: &Span, _: SessionId) -> Span {
    Span
}

/// A served session's task ended, for `why` (`transport_ended`, `transport_failed`,
/// `relay_closed`, …).
#[cfg(feature = "tokio")]
#[inline]
pub(crate) fn session_ended(why: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: SERVE, why, "session ended");
}

// `CallSession`.

/// The span of one `CallSession`, inside the host's span where it was made; its `call` is
/// recorded once known (a visitor's, at the invite).
#[cfg(feature = "tracing")]
pub(crate) fn call_session_span(
    conversation: &ConversationId,
    party: &PartyId,
    role: Role,
    call: Option<&CallId>,
) -> Span {
    tracing::info_span!(
        target: SESSION,
        "call_session",
        conversation = %conversation,
        %party,
        %role,
        call = call.map(tracing::field::display),
    )
}

/// The span of one `CallSession` (nothing without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
#[inline]
pub(crate) fn call_session_span(
    _: &ConversationId,
    _: &PartyId,
    _: Role,
    _: Option<&CallId>,
) -> Span {
    Span
}

/// A visitor's session rang with the call of this invite.
#[inline]
pub(crate) fn call_rang(span: &Span, call: &CallId) {
    #[cfg(feature = "tracing")]
    {
        span.record("call", tracing::field::display(call));
        tracing::info!(target: SESSION, "invited");
    }
}

/// A frame the session could not decode was dropped (its error is not logged: it may quote
/// the frame).
#[inline]
pub(crate) fn undecodable(code: &RejectCode) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: SESSION, code = code.as_str(), "undecodable frame dropped");
}

/// The host's action or media fact was refused.
#[inline]
pub(crate) fn input_refused(error: &CallError) {
    #[cfg(feature = "tracing")]
    {
        let kind = match error {
            CallError::WrongCall { .. } => "wrong_call",
            CallError::NotAllowed { .. } => "not_allowed",
            CallError::WrongPhase { .. } => "wrong_phase",
            CallError::NotAnInvite(_) => "not_an_invite",
            CallError::InvalidLocalDescription(_) => "invalid_local_description",
            _ => "other",
        };
        tracing::debug!(target: SESSION, kind, "input refused");
    }
}

#[inline]
pub(crate) fn transport_failed(error: &TransportError) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: SESSION, kind = transport_error_kind(error), "transport failed");
}

#[inline]
pub(crate) fn transport_ended() {
    #[cfg(feature = "tracing")]
    tracing::info!(target: SESSION, "transport ended during the call");
}

#[inline]
pub(crate) fn reconnected(senders: usize) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: SESSION, senders, "reconnected");
}

#[inline]
pub(crate) fn session_call_ended(summary: &CallSummary) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: SESSION,
        call = %summary.call_id,
        outcome = outcome(summary.outcome),
        reason = summary.reason.code(),
        talk_ms = millis(summary.talk_time),
        "call ended"
    );
}

/// A relay error's kind (its `Display` is safe, but a kind makes a label).
#[cfg(any(feature = "tracing", feature = "metrics"))]
fn relay_error_kind(error: &RelayError) -> &'static str {
    match error {
        RelayError::UnknownConversation(_) => "unknown_conversation",
        RelayError::UnknownSession(_) => "unknown_session",
        RelayError::ReservedParty(_) => "reserved_party",
        RelayError::RoleConflict { .. } => "role_conflict",
    }
}

/// A transport error's kind: its `Display` may carry the underlying error's text.
#[cfg(feature = "tracing")]
fn transport_error_kind(error: &TransportError) -> &'static str {
    match error {
        TransportError::Closed => "closed",
        TransportError::Failed(_) => "failed",
    }
}

/// An outcome as its label (`snake_case`, as serialized).
#[cfg(any(feature = "tracing", feature = "metrics"))]
fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Answered => "answered",
        Outcome::Missed => "missed",
        Outcome::Declined => "declined",
        Outcome::Cancelled => "cancelled",
        Outcome::Failed => "failed",
    }
}

#[cfg(feature = "tracing")]
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
