//! The in-memory transport pair, with each fault it can inject.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
mod common;

use common::TestClock;
use velaro_signaling::{
    Faults, SinkStream, Transport, TransportError, memory_pair, memory_pair_with_faults,
};

fn frame(n: u8) -> Bytes {
    Bytes::from(vec![n])
}

async fn send_all(transport: &mut impl Transport, frames: impl IntoIterator<Item = u8>) {
    for n in frames {
        transport.send(frame(n)).await.unwrap();
    }
}

async fn received(transport: &mut impl Transport) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(frame) = transport.recv().await.unwrap() {
        out.push(frame[0]);
    }
    out
}

#[tokio::test]
async fn frames_arrive_whole_and_in_order_both_ways() {
    let (mut a, mut b) = memory_pair();
    send_all(&mut a, 1..=5).await;
    send_all(&mut b, [9, 8]).await;
    a.close().await.unwrap();
    b.close().await.unwrap();
    assert_eq!(received(&mut b).await, [1, 2, 3, 4, 5]);
    assert_eq!(received(&mut a).await, [9, 8]);
    assert!(matches!(a.send(frame(0)).await, Err(TransportError::Closed)));
}

#[tokio::test]
async fn drop_and_duplicate() {
    let lossy = Faults { drop_pct: 100, ..Faults::default() };
    let (mut a, mut b) = memory_pair_with_faults(lossy, Faults::default());
    send_all(&mut a, 1..=3).await;
    a.close().await.unwrap();
    assert!(received(&mut b).await.is_empty());

    let twice = Faults { duplicate_pct: 100, ..Faults::default() };
    let (mut a, mut b) = memory_pair_with_faults(twice, Faults::default());
    send_all(&mut a, [1, 2]).await;
    a.close().await.unwrap();
    assert_eq!(received(&mut b).await, [1, 1, 2, 2]);
}

#[tokio::test]
async fn reorder_swaps_a_held_frame_with_the_next() {
    let swap = Faults { reorder_pct: 100, ..Faults::default() };
    let (mut a, mut b) = memory_pair_with_faults(swap, Faults::default());
    send_all(&mut a, 1..=5).await;
    a.close().await.unwrap();
    assert_eq!(received(&mut b).await, [2, 1, 4, 3, 5], "the last held frame goes out on close");
}

#[tokio::test]
async fn disconnect_ends_both_directions() {
    let cut = Faults { disconnect_after: Some(3), ..Faults::default() };
    let (mut a, mut b) = memory_pair_with_faults(cut, Faults::default());
    send_all(&mut a, [1, 2]).await;
    b.send(frame(7)).await.unwrap();
    assert!(matches!(a.send(frame(3)).await, Err(TransportError::Closed)), "the fourth frame");
    assert_eq!(received(&mut b).await, [1, 2], "what was in flight arrives, then the end");
    assert_eq!(received(&mut a).await, [7]);
    assert!(matches!(b.send(frame(8)).await, Err(TransportError::Closed)));
}

#[tokio::test(start_paused = true)]
async fn delay_holds_frames_back_in_order() {
    let slow = Faults {
        max_delay: Some((Duration::from_millis(500), Arc::new(TestClock))),
        seed: 7,
        ..Faults::default()
    };
    let (mut a, mut b) = memory_pair_with_faults(slow, Faults::default());
    let start = tokio::time::Instant::now();
    send_all(&mut a, 1..=20).await;
    a.close().await.unwrap();
    assert_eq!(received(&mut b).await, (1..=20).collect::<Vec<_>>());
    let waited = start.elapsed();
    assert!(waited > Duration::ZERO && waited <= Duration::from_millis(500), "{waited:?}");
}

#[tokio::test]
async fn faults_repeat_from_their_seed() {
    let run = |seed| async move {
        let faults =
            Faults { drop_pct: 30, duplicate_pct: 20, reorder_pct: 20, seed, ..Faults::default() };
        let (mut a, mut b) = memory_pair_with_faults(faults, Faults::default());
        send_all(&mut a, 0..50).await;
        a.close().await.unwrap();
        received(&mut b).await
    };
    assert_eq!(run(3).await, run(3).await);
    assert_ne!(run(3).await, run(4).await);
}

/// A sink and a stream glued together, as a WebSocket is.
struct Duplex {
    tx: futures::channel::mpsc::Sender<Bytes>,
    rx: futures::channel::mpsc::Receiver<Bytes>,
}

impl futures::Sink<Bytes> for Duplex {
    type Error = futures::channel::mpsc::SendError;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.tx.poll_ready_unpin(cx)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Bytes) -> Result<(), Self::Error> {
        self.tx.start_send_unpin(item)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.tx.poll_flush_unpin(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.tx.poll_close_unpin(cx)
    }
}

impl futures::Stream for Duplex {
    type Item = Result<Bytes, futures::channel::mpsc::SendError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx).map(|frame| frame.map(Ok))
    }
}

#[tokio::test]
async fn any_sink_and_stream_is_a_transport() {
    let (a_tx, b_rx) = futures::channel::mpsc::channel(8);
    let (b_tx, a_rx) = futures::channel::mpsc::channel(8);
    let mut a = SinkStream::new(Duplex { tx: a_tx, rx: a_rx });
    let mut b = SinkStream::new(Duplex { tx: b_tx, rx: b_rx });
    a.send(frame(1)).await.unwrap();
    b.send(frame(2)).await.unwrap();
    assert_eq!(b.recv().await.unwrap(), Some(frame(1)));
    assert_eq!(a.recv().await.unwrap(), Some(frame(2)));
    a.close().await.unwrap();
    assert_eq!(b.recv().await.unwrap(), None);
    assert!(matches!(a.send(frame(3)).await, Err(TransportError::Closed)));
}
