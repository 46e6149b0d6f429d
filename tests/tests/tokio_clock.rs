//! `velaro-signaling`'s `tokio` feature: `TokioClock` follows tokio's (virtual) time.

use std::time::Duration;

use velaro_signaling::{Clock, TokioClock};

#[tokio::test(start_paused = true)]
async fn sleeps_until_the_deadline_in_virtual_time() {
    let clock = TokioClock;
    let start = clock.now();
    clock.sleep_until(start + Duration::from_secs(20)).await;
    let slept = clock.now() - start;
    assert!(slept >= Duration::from_secs(20) && slept < Duration::from_secs(21), "{slept:?}");
    // A deadline in the past completes at once.
    clock.sleep_until(start).await;
    assert_eq!(clock.now() - start, slept);
}
