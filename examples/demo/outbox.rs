//! One page's outgoing queue, bounded: the chat, the host's own frames and the relay's session
//! all write into it, and the page's socket writer drains it.
//!
//! Two ways in. The host's frames ([`push`](Outbox::push)) never wait: when they do not fit,
//! the page has stopped reading and is disconnected (the queue closes and empties), as the
//! relay does with a slow consumer. Call frames ([`send`](Outbox::send)) wait once half the
//! queue is taken, so they push back into the relay's own queue, whose limit
//! ([`RelayConfig::max_queued`](velaro_signaling::RelayConfig::max_queued)) then disconnects the
//! page; the other half stays free for the chat.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

/// The most frames waiting for one page, whatever their size.
const MAX_FRAMES: usize = 4096;

/// The queue is closed: the page is gone or being disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Bytes>,
    bytes: usize,
    closed: bool,
}

impl State {
    /// Whether `len` more bytes fit under `limit`; an empty queue takes any one frame, so that
    /// no frame waits for ever.
    fn fits(&self, len: usize, limit: usize) -> bool {
        self.frames.is_empty()
            || (self.frames.len() < MAX_FRAMES && self.bytes.saturating_add(len) <= limit)
    }
}

/// A page's bounded outgoing queue (see the module docs).
#[derive(Debug)]
pub(crate) struct Outbox {
    limit: usize,
    state: Mutex<State>,
    /// Wakes the writer: a frame came, or the queue closed.
    frame_ready: Notify,
    /// Wakes call frames waiting for room, and whoever waits for the queue to close.
    room_or_closed: Notify,
}

impl Outbox {
    /// A queue that holds at most `limit` bytes (and at most 4,096 frames).
    pub(crate) fn new(limit: usize) -> Outbox {
        Outbox {
            limit,
            state: Mutex::new(State::default()),
            frame_ready: Notify::new(),
            room_or_closed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each update leaves the state whole, so a panic elsewhere cannot break it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame of the host's own. A frame that does not fit closes the queue: the page
    /// stopped reading and is disconnected.
    pub(crate) fn push(&self, frame: Bytes) -> Result<(), Closed> {
        let mut state = self.lock();
        if state.closed {
            return Err(Closed);
        }
        if !state.fits(frame.len(), self.limit) {
            drop(state);
            self.close();
            return Err(Closed);
        }
        state.bytes += frame.len();
        state.frames.push_back(frame);
        drop(state);
        self.frame_ready.notify_one();
        Ok(())
    }

    /// Queues a call frame, waiting while half the queue is taken.
    pub(crate) async fn send(&self, frame: Bytes) -> Result<(), Closed> {
        loop {
            let mut room = pin!(self.room_or_closed.notified());
            room.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return Err(Closed);
                }
                if state.fits(frame.len(), self.limit / 2) {
                    state.bytes += frame.len();
                    state.frames.push_back(frame);
                    drop(state);
                    self.frame_ready.notify_one();
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// The next frame to write; `None` once the queue is closed (what was left is dropped:
    /// closing means disconnect now).
    pub(crate) async fn next(&self) -> Option<Bytes> {
        loop {
            let mut ready = pin!(self.frame_ready.notified());
            ready.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return None;
                }
                if let Some(frame) = state.frames.pop_front() {
                    state.bytes -= frame.len();
                    drop(state);
                    self.room_or_closed.notify_waiters();
                    return Some(frame);
                }
            }
            ready.await;
        }
    }

    /// Closes the queue and drops what it held; every waiter wakes.
    pub(crate) fn close(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.frames = VecDeque::new();
            state.bytes = 0;
        }
        self.frame_ready.notify_waiters();
        self.frame_ready.notify_one();
        self.room_or_closed.notify_waiters();
    }

    /// What waits in the queue, for tests.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> Vec<Bytes> {
        self.lock().frames.iter().cloned().collect()
    }

    /// Resolves once the queue is closed.
    pub(crate) async fn closed(&self) {
        loop {
            let mut closed = pin!(self.room_or_closed.notified());
            closed.as_mut().enable();
            if self.lock().closed {
                return;
            }
            closed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn frame(len: usize) -> Bytes {
        Bytes::from(vec![b'x'; len])
    }

    #[tokio::test]
    async fn a_host_frame_that_does_not_fit_closes_the_queue_and_frees_it() {
        let outbox = Outbox::new(100);
        assert_eq!(outbox.push(frame(60)), Ok(()));
        assert_eq!(outbox.push(frame(40)), Ok(()));
        assert_eq!(outbox.push(frame(1)), Err(Closed), "101 bytes do not fit in 100");
        assert_eq!(outbox.lock().bytes, 0, "what it held is dropped");
        assert_eq!(outbox.next().await, None);
        assert_eq!(outbox.push(frame(1)), Err(Closed));
        assert_eq!(outbox.send(frame(1)).await, Err(Closed));
        outbox.closed().await;
    }

    #[tokio::test]
    async fn call_frames_wait_for_room_once_half_is_taken() {
        let outbox = Arc::new(Outbox::new(100));
        assert_eq!(outbox.send(frame(50)).await, Ok(()));
        let waiting = tokio::spawn({
            let outbox = Arc::clone(&outbox);
            async move { outbox.send(frame(10)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a call frame waits past half the queue");
        assert_eq!(outbox.push(frame(40)), Ok(()), "the host's frames still fit");
        assert_eq!(outbox.next().await, Some(frame(50)));
        assert_eq!(outbox.next().await, Some(frame(40)));
        assert_eq!(waiting.await.expect("task"), Ok(()), "room again");
        assert_eq!(outbox.next().await, Some(frame(10)));
    }

    #[tokio::test]
    async fn closing_wakes_a_waiting_call_frame_and_the_writer() {
        let outbox = Arc::new(Outbox::new(10));
        assert_eq!(outbox.send(frame(10)).await, Ok(()), "an empty queue takes any frame");
        let waiting = tokio::spawn({
            let outbox = Arc::clone(&outbox);
            async move { outbox.send(frame(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox.close();
        assert_eq!(waiting.await.expect("task"), Err(Closed));
        assert_eq!(outbox.next().await, None);
    }
}
