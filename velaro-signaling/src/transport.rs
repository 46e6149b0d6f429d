//! How frames travel: the [`Transport`] trait, and an adapter for any `Sink` + `Stream` of frames
//! (a WebSocket from tokio-tungstenite or axum plugs in with a `map`).

use std::error::Error as StdError;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};

/// Why a transport failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The transport was closed (by us, or the peer went away).
    #[error("transport closed")]
    Closed,
    /// The underlying connection failed.
    #[error("transport failed: {0}")]
    Failed(#[source] Box<dyn StdError + Send + Sync>),
}

/// A connection that carries whole frames both ways: one call message per frame.
///
/// Implement it for your connection type, or use one of ours: [`SinkStream`] (any `Sink` +
/// `Stream` of frames, a WebSocket), [`channel_transport`](crate::channel_transport) (a host
/// that carries call frames on a connection it shares with its chat) or
/// [`memory_pair`](crate::memory_pair) (tests). A `Box<dyn Transport>` is a transport too: a
/// function that picks the kind at run time returns one (rather than an `impl Transport`, whose
/// hidden type is one per function).
#[async_trait]
pub trait Transport: Send {
    /// Sends one frame.
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError>;

    /// Receives the next frame; `Ok(None)` when the peer ended the stream.
    ///
    /// Must be cancel-safe: a `recv` dropped before it completes (one branch of a `select!`)
    /// loses no frame.
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError>;

    /// Closes the connection; later sends fail with [`TransportError::Closed`].
    async fn close(&mut self) -> Result<(), TransportError>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        (**self).send(frame).await
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        (**self).recv().await
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        (**self).close().await
    }
}

/// Any `Sink<Bytes>` + `Stream<Item = Result<Bytes, E>>` as a [`Transport`].
///
/// ```
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use velaro_signaling::{SinkStream, Transport};
///
/// // A WebSocket would map its text messages to `Bytes` the same way.
/// # async fn demo<S, E>(socket: S) -> Result<(), velaro_signaling::TransportError>
/// # where
/// #     S: futures::Sink<Bytes, Error = E> + futures::Stream<Item = Result<Bytes, E>> + Send + Unpin,
/// #     E: std::error::Error + Send + Sync + 'static,
/// # {
/// let mut transport = SinkStream::new(socket);
/// transport.send(Bytes::from_static(b"{}")).await?;
/// let _reply = transport.recv().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SinkStream<S> {
    inner: S,
    closed: bool,
}

impl<S> SinkStream<S> {
    /// Wraps a sink-and-stream of frames.
    pub fn new(inner: S) -> Self {
        SinkStream { inner, closed: false }
    }

    /// The wrapped connection.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

#[async_trait]
impl<S, E> Transport for SinkStream<S>
where
    S: Sink<Bytes, Error = E> + Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: StdError + Send + Sync + 'static,
{
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        if self.closed {
            return Err(TransportError::Closed);
        }
        self.inner.send(frame).await.map_err(|e| TransportError::Failed(Box::new(e)))
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        match self.inner.next().await {
            Some(Ok(frame)) => Ok(Some(frame)),
            Some(Err(error)) => Err(TransportError::Failed(Box::new(error))),
            None => Ok(None),
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.closed = true;
        self.inner.close().await.map_err(|e| TransportError::Failed(Box::new(e)))
    }
}
