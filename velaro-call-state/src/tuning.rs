//! The numbers a `Call` decides by besides its [`Timings`](crate::Timings): public so that other
//! implementations of the same machine (the browser package `@velaro/call` generates its
//! constants from them) take them from here rather than copy them.

/// The most remote candidates a call holds while their description is missing. The relay caps
/// a call at 100 per direction, so this only bounds a misbehaving peer.
pub const MAX_HELD_CANDIDATES: usize = 128;

/// A quality sample with this much packet loss (percent) or more is `lost`.
pub const LOST_LOSS_PCT: f64 = 20.0;
/// Loss above this (percent) or RTT above this (ms) is `poor` for video.
pub const POOR_LOSS_PCT: f64 = 5.0;
/// RTT above this (ms) is `poor` for video.
pub const POOR_RTT_MS: u32 = 400;
/// Loss below this (percent) and RTT below [`GOOD_RTT_MS`] is `excellent`: the gap to the poor
/// thresholds keeps a borderline link from toggling the advice.
pub const GOOD_LOSS_PCT: f64 = 2.0;
/// RTT below this (ms), with loss below [`GOOD_LOSS_PCT`], is `excellent`.
pub const GOOD_RTT_MS: u32 = 250;
/// Consecutive samples (about one a second) that change the agent's audio-only advice.
pub const QUALITY_SUSTAIN: u8 = 3;
