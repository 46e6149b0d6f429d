//! Time for the IO edge: the one place the signaling crate reads a clock or sleeps, behind a
//! small trait so the core stays runtime-agnostic (a tokio implementation comes with the
//! `tokio` feature; tests may bring a simulated one).

use std::time::Instant;

use futures::future::BoxFuture;

/// A clock that can also wait.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Instant;

    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;
}

/// The tokio clock: `tokio::time`, so `#[tokio::test(start_paused = true)]` runs in virtual time.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

#[cfg(feature = "tokio")]
impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)))
    }
}
