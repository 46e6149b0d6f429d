//! How the relay behaves: its limits, and the token bucket that enforces the rate.

use std::time::{Duration, Instant};

use velaro_call_state::velaro_call_protocol::velaro_ice_config::CandidateFilter;

/// A token bucket: `burst` frames at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The most frames a session may send in a burst.
    pub burst: u32,
    /// Frames per second a session may keep sending.
    pub per_second: u32,
}

/// How the relay behaves. The defaults (`RelayConfig::default()`):
///
/// | field | default | why |
/// |---|---|---|
/// | [`rate`](Self::rate) | a burst of 64 frames, then 20 per second, per session | trickle ICE sends a few dozen frames at once; a call's steady state is a frame every few seconds |
/// | [`max_queued`](Self::max_queued) | 256 frames per session | a whole call's frames twice over; a page further behind is closed and resumes |
/// | [`grace`](Self::grace) | 20 s | a reload or a network change comes back well within it; media (peer to peer) keeps flowing meanwhile |
/// | [`visitor_candidates`](Self::visitor_candidates) | `None` | visitors' candidates go to the agent as they are |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The limit on each session's incoming frames (default: a burst of 64, 20 per second).
    /// Trickle ICE sends bursts of a few dozen; a frame over the rate is refused
    /// (`rate_limited`), not queued.
    pub rate: RateLimit,
    /// The most frames waiting for one session (default: 256); a session that falls further
    /// behind is a slow consumer and is disconnected rather than buffered without bound.
    pub max_queued: usize,
    /// How long a party whose last session dropped keeps its calls and the frames it missed,
    /// waiting for it to come back (default: 20 s); past it, its live call ends
    /// `signaling_lost`.
    pub grace: Duration,
    /// A privacy filter for what visitors send: their candidates (trickled and inside SDP) pass
    /// through it before the agent sees them. `None` (the default) forwards them as they are;
    /// `CandidatePolicy::RelayOnly` hides the visitor's addresses even from a client that
    /// ignores `iceTransportPolicy: "relay"`.
    pub visitor_candidates: Option<CandidateFilter>,
}

impl RelayConfig {
    /// Sets the per-session rate limit.
    #[must_use]
    pub fn with_rate(mut self, rate: RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// Filters visitors' candidates (see [`RelayConfig::visitor_candidates`]).
    #[must_use]
    pub fn with_visitor_candidates(mut self, filter: CandidateFilter) -> Self {
        self.visitor_candidates = Some(filter);
        self
    }

    /// Sets the grace period for a dropped party.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets how many frames may wait for one session.
    #[must_use]
    pub fn with_max_queued(mut self, max_queued: usize) -> Self {
        self.max_queued = max_queued;
        self
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            rate: RateLimit { burst: 64, per_second: 20 },
            max_queued: 256,
            grace: Duration::from_secs(20),
            visitor_candidates: None,
        }
    }
}

/// A token bucket for a [`RateLimit`]: `burst` tokens at first, refilled at `per_second`. The
/// relay keeps one per session for call frames; a host can limit its own frames (chat lines)
/// with the same one, so that both behave alike.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn full(rate: RateLimit, now: Instant) -> TokenBucket {
        TokenBucket { tokens: f64::from(rate.burst), at: now }
    }

    /// The bucket as data (tokens left, when it last refilled), for a snapshot.
    pub(super) fn parts(&self) -> (f64, Instant) {
        (self.tokens, self.at)
    }

    /// A bucket from [`parts`](Self::parts).
    pub(super) fn from_parts(tokens: f64, at: Instant) -> TokenBucket {
        TokenBucket { tokens, at }
    }

    /// Takes one token after refilling the bucket for the time passed; `false` when none is
    /// left (the frame is over the rate).
    pub fn take(&mut self, rate: RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at);
        self.at = self.at.max(now);
        let refill = elapsed.as_secs_f64() * f64::from(rate.per_second);
        self.tokens = (self.tokens + refill).min(f64::from(rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_refills_at_its_rate() {
        let rate = RateLimit { burst: 2, per_second: 4 };
        #[allow(clippy::disallowed_methods)] // a fixed start; the test moves time itself
        let start = Instant::now();
        let mut bucket = TokenBucket::full(rate, start);
        assert!(bucket.take(rate, start) && bucket.take(rate, start));
        assert!(!bucket.take(rate, start), "the burst is spent");
        assert!(bucket.take(rate, start + Duration::from_millis(250)), "one token in 250 ms");
        assert!(!bucket.take(rate, start + Duration::from_millis(250)));
        assert!(!bucket.take(rate, start), "time never runs backwards for the bucket");
    }
}
