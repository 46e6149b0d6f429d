//! The call's outward side: who this party is (what addresses every envelope it sends), the
//! next `seq`, and the queue of outputs the caller drains with `poll_output`.
//!
//! It is a field of its own, apart from the phase data, so that a phase's code can hold its
//! own data mutably and queue outputs at the same time.

use std::collections::VecDeque;

use velaro_call_protocol::{CallId, Envelope, Message, Role};

use super::CallConfig;
use crate::output::{Event, MediaCommand, Output};

/// This party as a sender, and its queued outputs.
#[derive(Debug)]
pub(super) struct Outbox {
    /// Agent or visitor.
    pub(super) role: Role,
    /// Who this party is, and its timings.
    pub(super) config: CallConfig,
    /// The call.
    pub(super) call_id: CallId,
    /// The `seq` of the next envelope.
    next_seq: u64,
    queue: VecDeque<Output>,
}

impl Outbox {
    pub(super) fn new(role: Role, config: CallConfig, call_id: CallId) -> Outbox {
        Outbox { role, config, call_id, next_seq: 1, queue: VecDeque::new() }
    }

    /// The `seq` the next envelope gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Queues an envelope to the peer, numbered with the next `seq`.
    pub(super) fn send(&mut self, message: impl Into<Message>) {
        let envelope = Envelope::new(
            self.config.conversation_id.clone(),
            self.call_id.clone(),
            self.config.party_id.clone(),
            self.role,
            self.next_seq,
            message,
        );
        self.next_seq += 1;
        self.queue.push_back(Output::Send(envelope));
    }

    /// Queues a command for the local media layer.
    pub(super) fn media(&mut self, command: MediaCommand) {
        self.queue.push_back(Output::Media(command));
    }

    /// Queues an event for the UI.
    pub(super) fn event(&mut self, event: Event) {
        self.queue.push_back(Output::Event(event));
    }

    /// The next output, or `None` when drained.
    pub(super) fn pop(&mut self) -> Option<Output> {
        crate::queue::pop_output(&mut self.queue)
    }

    /// What the queue holds on the heap (its capacity, not its length).
    pub(super) fn heap_estimate(&self) -> usize {
        self.queue.capacity() * size_of::<Output>()
    }
}
