//! `call.invite`: the agent asks the visitor to start a video call.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use velaro_ice_config::RtcConfiguration;

use crate::limits::{
    DEFAULT_INVITE_LIFETIME, MAX_CAPABILITIES, MAX_INVITE_LIFETIME, MAX_LOCALE_LEN, MAX_PROMPT_LEN,
    MIN_INVITE_LIFETIME,
};
use crate::value::{ValueError, check_text, check_token, open_enum};

/// What the visitor sees: "Your agent would like to start a video call. Accept?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "a prompt object")]
pub struct Prompt {
    /// The question shown to the visitor, at most 1024 bytes, in the visitor's language.
    pub text: String,
    /// The BCP 47 language tag of `text` (`en`, `pt-BR`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl Prompt {
    /// A prompt with checked text and no locale.
    pub fn new(text: impl Into<String>) -> Result<Self, ValueError> {
        let prompt = Prompt { text: text.into(), locale: None };
        prompt.check()?;
        Ok(prompt)
    }

    /// Sets the BCP 47 locale of the text.
    pub fn with_locale(mut self, locale: impl Into<String>) -> Result<Self, ValueError> {
        self.locale = Some(locale.into());
        self.check()?;
        Ok(self)
    }

    pub(crate) fn check(&self) -> Result<(), ValueError> {
        check_text("prompt text", &self.text, MAX_PROMPT_LEN)?;
        if self.text.trim().is_empty() {
            return Err(ValueError::Empty { what: "prompt text" });
        }
        if let Some(locale) = &self.locale {
            check_token("locale", locale, MAX_LOCALE_LEN, |b| {
                b.is_ascii_alphanumeric() || b == b'-'
            })?;
        }
        Ok(())
    }
}

/// Which media a party asks for or will send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "a media kinds object (audio, video)")]
pub struct MediaKinds {
    /// Microphone audio.
    pub audio: bool,
    /// Camera video.
    pub video: bool,
}

impl MediaKinds {
    /// Audio and video: a video call.
    pub const AUDIO_VIDEO: MediaKinds = MediaKinds { audio: true, video: true };
    /// Audio only.
    pub const AUDIO_ONLY: MediaKinds = MediaKinds { audio: true, video: false };
    /// The camera alone: what a call asks for when its user turns a camera on mid-call.
    pub const VIDEO_ONLY: MediaKinds = MediaKinds { audio: false, video: true };

    /// Media of the given kinds.
    pub fn new(audio: bool, video: bool) -> Self {
        MediaKinds { audio, video }
    }
}

open_enum! {
    /// A feature the inviting client supports, so the other side knows what it may use.
    Capability, "capability" {
        /// Trickle ICE with batched `call.candidates`.
        Trickle = "trickle",
        /// Renegotiation after the first offer/answer (perfect negotiation).
        Renegotiation = "renegotiation",
        /// Screen sharing.
        ScreenShare = "screen_share",
        /// Switching to audio only.
        AudioOnly = "audio_only",
        /// `call.quality` reports.
        Quality = "quality",
    }
}

/// The body of `call.invite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.invite (an object)")]
pub struct InviteBody {
    /// The question shown to the visitor.
    pub prompt: Prompt,
    /// The media the agent asks the visitor for.
    pub media: MediaKinds,
    /// How long the invite rings, in milliseconds: 10 000 to 600 000. The visitor judges it by
    /// its own clock from arrival, never by the sender's wall clock.
    pub lifetime_ms: u64,
    /// Features the agent's client supports (at most 32).
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// The ICE configuration for the recipient; the relay may inject one with fresh TURN
    /// credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice: Option<RtcConfiguration>,
}

impl InviteBody {
    /// An invite with the default lifetime (60 s), every capability this version has, and no
    /// ICE configuration.
    pub fn new(prompt: Prompt, media: MediaKinds) -> Self {
        InviteBody {
            prompt,
            media,
            lifetime_ms: duration_ms(DEFAULT_INVITE_LIFETIME),
            capabilities: Capability::KNOWN
                .iter()
                .filter_map(|c| Capability::parse(c).ok())
                .collect(),
            ice: None,
        }
    }

    /// Sets the lifetime; refused outside 10 s to 10 min.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<Self, ValueError> {
        self.lifetime_ms = duration_ms(lifetime);
        self.check()?;
        Ok(self)
    }

    /// Sets the ICE configuration the recipient should use.
    #[must_use]
    pub fn with_ice(mut self, ice: RtcConfiguration) -> Self {
        self.ice = Some(ice);
        self
    }

    /// The lifetime as a `Duration`.
    pub fn lifetime(&self) -> Duration {
        Duration::from_millis(self.lifetime_ms)
    }

    /// Whether the inviter supports a capability.
    pub fn supports(&self, capability: &Capability) -> bool {
        self.capabilities.contains(capability)
    }

    pub(crate) fn check(&self) -> Result<(), ValueError> {
        self.prompt.check()?;
        let (min, max) = (duration_ms(MIN_INVITE_LIFETIME), duration_ms(MAX_INVITE_LIFETIME));
        if !(min..=max).contains(&self.lifetime_ms) {
            return Err(ValueError::OutOfRange {
                what: "lifetime_ms",
                value: self.lifetime_ms,
                min,
                max,
            });
        }
        if self.capabilities.len() > MAX_CAPABILITIES {
            return Err(ValueError::OutOfRange {
                what: "number of capabilities",
                value: self.capabilities.len() as u64,
                min: 0,
                max: MAX_CAPABILITIES as u64,
            });
        }
        Ok(())
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_checks_text_and_locale() {
        assert!(Prompt::new("Your agent would like to start a video call. Accept?").is_ok());
        assert_eq!(Prompt::new("  "), Err(ValueError::Empty { what: "prompt text" }));
        assert_eq!(
            Prompt::new("x".repeat(1025)),
            Err(ValueError::TooLong { what: "prompt text", len: 1025, max: 1024 })
        );
        let prompt = Prompt::new("Aceita?").unwrap();
        assert_eq!(prompt.clone().with_locale("pt-BR").unwrap().locale.as_deref(), Some("pt-BR"));
        assert_eq!(
            prompt.with_locale("pt_BR"),
            Err(ValueError::InvalidChar { what: "locale", ch: '_', at: 2 })
        );
    }

    #[test]
    fn lifetime_is_bounded() {
        let invite = InviteBody::new(Prompt::new("Call?").unwrap(), MediaKinds::AUDIO_VIDEO);
        assert_eq!(invite.lifetime(), Duration::from_secs(60));
        assert!(invite.supports(&Capability::ScreenShare));
        assert_eq!(
            invite.clone().with_lifetime(Duration::from_secs(9)),
            Err(ValueError::OutOfRange {
                what: "lifetime_ms",
                value: 9000,
                min: 10_000,
                max: 600_000
            })
        );
        assert!(invite.with_lifetime(Duration::from_secs(600)).is_ok());
    }
}
