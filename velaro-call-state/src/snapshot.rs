//! Snapshots: a machine's whole state as plain data, so that another process can carry on
//! from it (a relay cluster compacts a conversation's journal into one).
//!
//! An `Instant` means nothing outside its process, so a snapshot stores every time as a signed
//! offset from the `now` it was taken at, in nanoseconds, and a restore puts it back as
//! `now ± offset` on the restoring process's clock. Restored at the same `now` (for a cluster:
//! the same journal time), every comparison and duration comes out exactly as in the original.

use std::time::{Duration, Instant};

/// Why a snapshot cannot be restored. Fatal to the restore only: nothing was built, and the
/// caller falls back to what it had (for a cluster: replaying the whole journal).
///
/// A snapshot read from a store may be truncated, garbled, from a newer build, or hostile;
/// every such case is one of these, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes are not a snapshot of this shape (truncated, garbled, a wrong type).
    #[error("the snapshot does not decode: {detail}")]
    Decode {
        /// What the decoder said, cut to 200 characters.
        detail: String,
    },
    /// The snapshot's format version is not the one this build reads (a newer build wrote it).
    #[error("snapshot format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// The version the snapshot carries.
        found: u32,
        /// The version this build writes and reads.
        supported: u32,
    },
    /// A time lies beyond what this process's clock can hold once put back at `now ± offset`.
    #[error("{field}: an offset of {offset_ns} ns from now is out of this clock's range")]
    TimeOutOfRange {
        /// The field.
        field: &'static str,
        /// Its offset from `now`, in nanoseconds.
        offset_ns: i64,
    },
    /// A field contradicts the state's invariants or another field (a bound passed, an id
    /// twice, a reference to nothing): the original could never have been in this state.
    #[error("{field}: {detail}")]
    Inconsistent {
        /// The field, with its path (`live.answer.tabs`).
        field: &'static str,
        /// What is wrong with it (bounded: ids are at most 255 characters).
        detail: String,
    },
}

impl SnapshotError {
    /// A decoder's complaint, cut to 200 characters (it may quote the hostile input).
    pub fn decode(detail: impl std::fmt::Display) -> SnapshotError {
        SnapshotError::Decode { detail: detail.to_string().chars().take(200).collect() }
    }

    /// An inconsistent field.
    pub(crate) fn inconsistent(field: &'static str, detail: impl Into<String>) -> SnapshotError {
        SnapshotError::Inconsistent { field, detail: detail.into() }
    }
}

/// `at` as an offset from `now` in nanoseconds (negative: before `now`). Exact within
/// ±292 years of `now`; further is clamped (no live state lies that far).
pub fn offset_ns(at: Instant, now: Instant) -> i64 {
    let nanos = |d: Duration| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX);
    let offset = match at.checked_duration_since(now) {
        Some(after) => nanos(after),
        None => now.checked_duration_since(at).map_or(0, |before| -nanos(before)),
    };
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX })
}

/// The time `offset_ns` from `now` on this process's clock, or why it cannot be held.
pub fn instant_at(
    now: Instant,
    offset_ns: i64,
    field: &'static str,
) -> Result<Instant, SnapshotError> {
    let span = Duration::from_nanos(offset_ns.unsigned_abs());
    let at = if offset_ns >= 0 { now.checked_add(span) } else { now.checked_sub(span) };
    at.ok_or(SnapshotError::TimeOutOfRange { field, offset_ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_exactly_both_ways() {
        #[allow(clippy::disallowed_methods)] // one real instant to start from
        let now = Instant::now();
        for nanos in [0, 1, 999_999_999, 1_000_000_001, 86_400_000_000_123] {
            let later = now + Duration::from_nanos(nanos);
            let off = offset_ns(later, now);
            assert_eq!(off, i64::try_from(nanos).unwrap());
            assert_eq!(instant_at(now, off, "t"), Ok(later));
            let restored_now = later; // restore on the later instant: the past is negative
            let back = offset_ns(now, restored_now);
            assert_eq!(back, -off);
            assert_eq!(instant_at(restored_now, back, "t"), Ok(now));
        }
    }

    #[test]
    fn an_offset_past_the_clock_is_an_error_not_a_panic() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        for off in [i64::MIN, i64::MAX] {
            // Linux holds ±292 years around boot; whichever it cannot hold is an error.
            match instant_at(now, off, "t") {
                Ok(at) => assert_eq!(offset_ns(at, now), off),
                Err(error) => {
                    assert_eq!(error, SnapshotError::TimeOutOfRange { field: "t", offset_ns: off });
                }
            }
        }
        let long = SnapshotError::decode("x".repeat(1000));
        assert!(long.to_string().len() < 260, "{long}");
    }
}
