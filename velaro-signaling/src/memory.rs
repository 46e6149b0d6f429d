//! An in-memory transport pair for tests, with optional, seeded fault injection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};

use crate::clock::Clock;
use crate::transport::{Transport, TransportError};

/// What the link does to the frames one end sends. All off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Percent of frames lost.
    pub drop_pct: u8,
    /// Percent of frames delivered twice.
    pub duplicate_pct: u8,
    /// Percent of frames held back and delivered after the next one.
    pub reorder_pct: u8,
    /// After this many frames sent (by either end), the link goes down both ways: both ends
    /// see the end of the stream and further sends fail.
    pub disconnect_after: Option<u64>,
    /// Each frame arrives up to this late (uniformly drawn, in order), by `clock`.
    pub max_delay: Option<(Duration, Arc<dyn Clock>)>,
    /// The seed of the fault draws, so a run repeats.
    pub seed: u64,
}

/// A tiny deterministic generator (xorshift64*), for the fault draws.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn chance(&mut self, percent: u8) -> bool {
        percent > 0 && self.next_u64() % 100 < u64::from(percent)
    }
}

/// A frame on its way, and when (by whose clock) it may arrive.
type InFlight = (Option<(Instant, Arc<dyn Clock>)>, Bytes);

/// State both ends share: the link is up or down, how many frames it carried, and both
/// directions' senders, so that taking the link down ends both streams.
struct Link {
    down: AtomicBool,
    sent: std::sync::atomic::AtomicU64,
    directions: [UnboundedSender<InFlight>; 2],
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("down", &self.down)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

/// One end of an in-memory link. Frames arrive whole, in order (unless reordering is
/// injected), exactly once (unless dropping or duplicating is).
#[derive(Debug)]
pub struct MemoryTransport {
    tx: UnboundedSender<InFlight>,
    rx: UnboundedReceiver<InFlight>,
    faults: Faults,
    rng: Rng,
    held: Option<Bytes>,
    /// A frame taken off the channel whose delay has not run out: kept here, so that a
    /// `recv` dropped while it waits (in a `select!`) loses nothing.
    arriving: Option<InFlight>,
    link: Arc<Link>,
    closed: bool,
}

/// A connected pair without faults.
pub fn memory_pair() -> (MemoryTransport, MemoryTransport) {
    memory_pair_with_faults(Faults::default(), Faults::default())
}

/// A connected pair; `a_to_b` applies to what the first end sends, `b_to_a` to the second's.
/// `disconnect_after` counts the frames of both directions together.
pub fn memory_pair_with_faults(
    a_to_b: Faults,
    b_to_a: Faults,
) -> (MemoryTransport, MemoryTransport) {
    let (a_tx, b_rx) = unbounded();
    let (b_tx, a_rx) = unbounded();
    let link = Arc::new(Link {
        down: AtomicBool::new(false),
        sent: std::sync::atomic::AtomicU64::new(0),
        directions: [a_tx.clone(), b_tx.clone()],
    });
    let end = |tx, rx, faults: Faults| MemoryTransport {
        tx,
        rx,
        rng: Rng::new(faults.seed),
        faults,
        held: None,
        arriving: None,
        link: Arc::clone(&link),
        closed: false,
    };
    (end(a_tx, a_rx, a_to_b), end(b_tx, b_rx, b_to_a))
}

impl MemoryTransport {
    fn push(&mut self, frame: Bytes) {
        let deliver_at = self.faults.max_delay.as_ref().map(|(max, clock)| {
            let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
            let delay = if max_ms == 0 { 0 } else { self.rng.next_u64() % (max_ms + 1) };
            (clock.now() + Duration::from_millis(delay), Arc::clone(clock))
        });
        // A closed receiver means the peer is gone; the frame is lost like on a real link.
        let _ = self.tx.unbounded_send((deliver_at, frame));
    }

    /// Takes the link down: both streams end after what is already in flight.
    fn go_down(&self) {
        self.link.down.store(true, Ordering::SeqCst);
        for direction in &self.link.directions {
            direction.close_channel();
        }
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        if self.closed || self.link.down.load(Ordering::SeqCst) {
            return Err(TransportError::Closed);
        }
        let sent = self.link.sent.fetch_add(1, Ordering::SeqCst) + 1;
        if self.faults.disconnect_after.is_some_and(|limit| sent > limit) {
            self.go_down();
            return Err(TransportError::Closed);
        }
        if self.rng.chance(self.faults.drop_pct) {
            return Ok(());
        }
        let copies = if self.rng.chance(self.faults.duplicate_pct) { 2 } else { 1 };
        if self.held.is_none() && self.rng.chance(self.faults.reorder_pct) {
            self.held = Some(frame);
            return Ok(());
        }
        for _ in 0..copies {
            self.push(frame.clone());
        }
        if let Some(held) = self.held.take() {
            self.push(held);
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        if self.arriving.is_none() {
            self.arriving = self.rx.next().await;
        }
        let Some((deliver_at, _)) = &self.arriving else { return Ok(None) };
        if let Some((at, clock)) = deliver_at {
            clock.sleep_until(*at).await;
        }
        Ok(self.arriving.take().map(|(_, frame)| frame))
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        if let Some(held) = self.held.take() {
            self.push(held);
        }
        self.closed = true;
        self.tx.close_channel();
        Ok(())
    }
}
