//! A transport over a pair of bounded channels, for a host that carries call frames on a
//! connection of its own (one WebSocket for chat and calls, say): the host reads its socket,
//! hands the call frames to [`ChannelPeer::to_relay`], and writes what comes out of
//! [`ChannelPeer::from_relay`].

use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::mpsc::{Receiver, Sender, channel};
use futures::{SinkExt as _, StreamExt as _};

use crate::transport::{Transport, TransportError};

/// The [`Transport`] end of a [`channel_transport`]: give it to the relay
/// (`RelayServer::connect`) or to a `CallSession`.
#[derive(Debug)]
pub struct ChannelTransport {
    incoming: Receiver<Bytes>,
    outgoing: Sender<Bytes>,
}

/// The host's end of a [`channel_transport`]: two halves it can move into different tasks
/// (the one that reads its socket, the one that writes it). They are `futures` channels
/// (`futures::channel::mpsc`): a `Sink` and a `Stream` of frames.
#[derive(Debug)]
pub struct ChannelPeer {
    /// Frames for the transport's `recv`: the call frames the host read from its connection.
    /// Dropping it ends the session (its `recv` sees the end of the stream).
    pub to_relay: Sender<Bytes>,
    /// What the transport's `send` wrote, for the host to write to its connection. It ends
    /// when the transport is closed (the relay closes a session that fell behind) or dropped.
    pub from_relay: Receiver<Bytes>,
}

/// A [`ChannelTransport`] and its host's [`ChannelPeer`]. In each direction a send returns at
/// once while fewer than `capacity` frames (at least 1) wait, and past that waits until the
/// other side takes one: a host whose socket stops taking frames holds up the relay's writer
/// for that session, and the relay's own queue limit (`RelayConfig::max_queued`) then closes
/// the session instead of buffering without bound.
///
/// ```
/// # futures::executor::block_on(async {
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use velaro_signaling::{Transport, channel_transport};
///
/// let (mut transport, mut peer) = channel_transport(64);
/// // The host's socket reader: a call frame arrived on the shared connection.
/// peer.to_relay.send(Bytes::from_static(br#"{"type":"call.hangup"}"#)).await?;
/// assert_eq!(transport.recv().await?, Some(Bytes::from_static(br#"{"type":"call.hangup"}"#)));
/// // The relay answers: the host's socket writer sends it on.
/// transport.send(Bytes::from_static(b"{}")).await?;
/// assert_eq!(peer.from_relay.next().await, Some(Bytes::from_static(b"{}")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn channel_transport(capacity: usize) -> (ChannelTransport, ChannelPeer) {
    // A futures channel's send completes while at most `buffer` frames wait.
    let buffer = capacity.max(1);
    let (to_relay, incoming) = channel(buffer);
    let (outgoing, from_relay) = channel(buffer);
    (ChannelTransport { incoming, outgoing }, ChannelPeer { to_relay, from_relay })
}

#[async_trait]
impl Transport for ChannelTransport {
    /// Waits while the host's side is full; fails once the host dropped its receiver.
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.outgoing.send(frame).await.map_err(|_| TransportError::Closed)
    }

    /// Cancel-safe: a channel receive dropped before it completes loses nothing.
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        Ok(self.incoming.next().await)
    }

    /// Ends the host's `from_relay` stream (after the frames already in it).
    async fn close(&mut self) -> Result<(), TransportError> {
        self.outgoing.close_channel();
        self.incoming.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::{SinkExt as _, StreamExt as _};

    use super::*;

    #[test]
    fn frames_go_both_ways_in_order() {
        block_on(async {
            let (mut transport, mut peer) = channel_transport(4);
            for n in 0..3u8 {
                peer.to_relay.send(Bytes::from(vec![n])).await.unwrap();
                transport.send(Bytes::from(vec![n + 10])).await.unwrap();
            }
            for n in 0..3u8 {
                assert_eq!(transport.recv().await.unwrap(), Some(Bytes::from(vec![n])));
                assert_eq!(peer.from_relay.next().await, Some(Bytes::from(vec![n + 10])));
            }
        });
    }

    #[test]
    fn a_full_direction_makes_its_sender_wait() {
        block_on(async {
            let (mut transport, mut peer) = channel_transport(2);
            transport.send(Bytes::from_static(b"1")).await.unwrap();
            transport.send(Bytes::from_static(b"2")).await.unwrap();
            let mut third = std::pin::pin!(transport.send(Bytes::from_static(b"3")));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            let first_poll = std::future::Future::poll(third.as_mut(), &mut context);
            assert!(first_poll.is_pending(), "two frames wait: the third waits");
            assert_eq!(peer.from_relay.next().await, Some(Bytes::from_static(b"1")));
            third.await.unwrap();
            assert_eq!(peer.from_relay.next().await, Some(Bytes::from_static(b"2")));
            assert_eq!(peer.from_relay.next().await, Some(Bytes::from_static(b"3")));
        });
    }

    #[test]
    fn closing_ends_the_hosts_stream_and_dropping_the_host_ends_the_sessions() {
        block_on(async {
            let (mut transport, mut peer) = channel_transport(4);
            transport.send(Bytes::from_static(b"last")).await.unwrap();
            transport.close().await.unwrap();
            assert_eq!(peer.from_relay.next().await, Some(Bytes::from_static(b"last")));
            assert_eq!(peer.from_relay.next().await, None, "closed after what was in it");
            assert!(transport.send(Bytes::from_static(b"x")).await.is_err());

            let (mut transport, peer) = channel_transport(4);
            drop(peer);
            assert_eq!(transport.recv().await.unwrap(), None);
            assert!(matches!(
                transport.send(Bytes::from_static(b"x")).await,
                Err(TransportError::Closed)
            ));
        });
    }
}
