//! `call.media` (who sends what: mute, camera, screen share, audio only) and `call.quality`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::limits::{MAX_STREAM_ID_LEN, MAX_STREAMS};
use crate::value::{ValueError, check_token, open_enum};

/// A media stream id: the `MediaStream.id` (msid) the stream has in the SDP. 1 to 64
/// token characters (RFC 8830), so Firefox's `{uuid}` ids fit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    /// Validates and wraps a stream id.
    pub fn new(id: impl Into<String>) -> Result<Self, ValueError> {
        let id = id.into();
        check_token("stream id", &id, MAX_STREAM_ID_LEN, is_token_char)?;
        Ok(StreamId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 4566 token-char.
fn is_token_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StreamId::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

open_enum! {
    /// What a stream carries.
    StreamPurpose, "stream purpose" {
        /// The party's camera and microphone.
        Camera = "camera",
        /// A shared screen, window or tab.
        Screen = "screen",
    }
}

open_enum! {
    /// What a screen share shows: the `displaySurface` of the captured track's settings.
    DisplaySurface, "display surface" {
        /// A whole screen.
        Monitor = "monitor",
        /// One application window.
        Window = "window",
        /// One browser tab.
        Browser = "browser",
    }
}

open_enum! {
    /// Why a party sends no video. The marker is the sender's own: `quality` is the agent's
    /// choice for the whole call (the visitor follows it), `camera_unavailable` says only that
    /// the sender has no working camera (the other side keeps its video).
    AudioOnlyReason, "audio only reason" {
        /// The connection is too poor for video: the agent switched the call to audio only.
        Quality = "quality",
        /// The sender's camera is missing, busy or could not start (a refused one is just off).
        CameraUnavailable = "camera_unavailable",
    }
}

/// The state of one stream a party sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "a stream object")]
pub struct StreamState {
    /// Camera or screen.
    pub purpose: StreamPurpose,
    /// The audio track is muted (or absent).
    #[serde(default)]
    pub audio_muted: bool,
    /// The video track is off (or absent).
    #[serde(default)]
    pub video_muted: bool,
    /// For a screen stream: what is shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_surface: Option<DisplaySurface>,
}

impl StreamState {
    /// A camera stream with the given mute states.
    pub fn camera(audio_muted: bool, video_muted: bool) -> Self {
        StreamState {
            purpose: StreamPurpose::Camera,
            audio_muted,
            video_muted,
            display_surface: None,
        }
    }

    /// A screen share of `surface` (video only).
    pub fn screen(surface: DisplaySurface) -> Self {
        StreamState {
            purpose: StreamPurpose::Screen,
            audio_muted: true,
            video_muted: false,
            display_surface: Some(surface),
        }
    }
}

/// The audio-only marker of `call.media`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "an audio_only object")]
pub struct AudioOnly {
    /// Why the call is audio only.
    pub reason: AudioOnlyReason,
}

impl AudioOnly {
    /// Audio only, for `reason`.
    pub fn new(reason: AudioOnlyReason) -> Self {
        AudioOnly { reason }
    }
}

/// The body of `call.media`: the sender's complete media state, not a change. A stream that is
/// no longer listed has ended, so a screen share ends when its entry disappears (also when the
/// browser's own "Stop sharing" button ended it). Changing it needs no renegotiation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.media (an object)")]
pub struct MediaBody {
    /// Every stream the sender sends, by stream id (at most 8). Duplicate ids are refused.
    #[serde(default, deserialize_with = "unique_streams")]
    pub streams: BTreeMap<StreamId, StreamState>,
    /// Present when the sender sends no video for a reason the other side should show: the
    /// call is audio only (`quality`), or the sender has no working camera.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_only: Option<AudioOnly>,
}

impl MediaBody {
    /// A media state with these streams and no audio-only marker.
    pub fn new(streams: BTreeMap<StreamId, StreamState>) -> Self {
        MediaBody { streams, audio_only: None }
    }

    /// Marks the call audio only.
    #[must_use]
    pub fn with_audio_only(mut self, reason: AudioOnlyReason) -> Self {
        self.audio_only = Some(AudioOnly::new(reason));
        self
    }

    /// The screen share, if any.
    pub fn screen(&self) -> Option<(&StreamId, &StreamState)> {
        self.streams.iter().find(|(_, s)| s.purpose == StreamPurpose::Screen)
    }

    pub(crate) fn check(&self) -> Result<(), ValueError> {
        if self.streams.len() > MAX_STREAMS {
            return Err(ValueError::OutOfRange {
                what: "number of streams",
                value: self.streams.len() as u64,
                min: 0,
                max: MAX_STREAMS as u64,
            });
        }
        Ok(())
    }
}

/// A map that refuses a key seen twice (a plain `BTreeMap` would keep the last silently) and
/// stops reading past the limit.
fn unique_streams<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<StreamId, StreamState>, D::Error> {
    struct Streams;
    impl<'de> Visitor<'de> for Streams {
        type Value = BTreeMap<StreamId, StreamState>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of streams by stream id")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut streams = BTreeMap::new();
            while let Some(id) = map.next_key::<StreamId>()? {
                if streams.contains_key(&id) {
                    return Err(serde::de::Error::custom(format_args!("duplicate field `{id}`")));
                }
                if streams.len() == MAX_STREAMS {
                    return Err(serde::de::Error::invalid_length(
                        MAX_STREAMS + 1,
                        &"at most 8 streams",
                    ));
                }
                let state = map.next_value()?;
                streams.insert(id, state);
            }
            Ok(streams)
        }
    }
    deserializer.deserialize_map(Streams)
}

open_enum! {
    /// How the call's connection is doing, as the sender measures it.
    QualityLevel, "quality level" {
        /// No noticeable problem.
        Excellent = "excellent",
        /// Small problems.
        Good = "good",
        /// Video suffers; audio only may help.
        Poor = "poor",
        /// Media stopped arriving.
        Lost = "lost",
    }
}

/// The body of `call.quality`: optional reports that drive the audio-only advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.quality (an object)")]
pub struct QualityBody {
    /// The overall level.
    pub level: QualityLevel,
    /// Round-trip time in milliseconds, if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
    /// Packet loss in percent (0 to 100), if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_pct: Option<f64>,
}

impl QualityBody {
    /// A report of `level` without measurements.
    pub fn new(level: QualityLevel) -> Self {
        QualityBody { level, rtt_ms: None, loss_pct: None }
    }

    /// Adds measurements; `loss_pct` must be a number from 0 to 100.
    pub fn with_measurements(mut self, rtt_ms: u32, loss_pct: f64) -> Result<Self, ValueError> {
        self.rtt_ms = Some(rtt_ms);
        self.loss_pct = Some(loss_pct);
        self.check()?;
        Ok(self)
    }

    pub(crate) fn check(&self) -> Result<(), ValueError> {
        match self.loss_pct {
            Some(loss) if !(0.0..=100.0).contains(&loss) => Err(ValueError::OutOfRange {
                what: "loss_pct",
                // Saturating float-to-int conversion: only for the message.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                value: loss as u64,
                min: 0,
                max: 100,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_take_firefox_braces() {
        assert!(StreamId::new("{6c9fe6a9-5c2b-4d4b-9d1a-4f3f5b0d2a11}").is_ok());
        assert_eq!(
            StreamId::new("a\"b"),
            Err(ValueError::InvalidChar { what: "stream id", ch: '"', at: 1 })
        );
    }

    #[test]
    fn duplicate_stream_ids_are_refused() {
        let json = r#"{"streams":{"s1":{"purpose":"camera"},"s1":{"purpose":"screen"}}}"#;
        let err = serde_json::from_str::<MediaBody>(json).unwrap_err();
        assert!(err.to_string().contains("duplicate field `s1`"), "{err}");
    }

    #[test]
    fn loss_is_a_percentage() {
        assert!(QualityBody::new(QualityLevel::Poor).with_measurements(250, 12.5).is_ok());
        assert!(QualityBody::new(QualityLevel::Poor).with_measurements(250, 101.0).is_err());
        assert!(QualityBody::new(QualityLevel::Poor).with_measurements(250, f64::NAN).is_err());
    }
}
