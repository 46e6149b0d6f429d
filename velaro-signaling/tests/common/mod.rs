//! What the signaling tests share.

use futures::future::BoxFuture;
use velaro_signaling::Clock;

/// tokio's clock, so paused tests run in virtual time (the crate's own `TokioClock` needs the
/// `tokio` feature; the `velaro-tests` package covers it).
#[derive(Debug)]
pub(crate) struct TestClock;

impl Clock for TestClock {
    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)))
    }
}
