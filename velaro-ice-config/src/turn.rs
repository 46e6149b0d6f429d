//! Short-lived TURN credentials from a shared secret (the "TURN REST API" scheme that coturn's
//! `use-auth-secret`/`static-auth-secret` and pion's `turn` long-term-credential helpers accept).
//!
//! The username is `<expiry unix seconds>:<user>` and the password is
//! `base64(HMAC-SHA1(secret, username))`, standard alphabet with padding. A TURN server that knows
//! the secret checks the password and refuses a username whose expiry has passed.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::server::{Credential, MAX_USERNAME_LEN};

/// The shortest secret [`TurnSecret::new`] accepts: 128 bits.
pub const MIN_SECRET_LEN: usize = 16;

/// The shortest credential lifetime [`TurnCredentials::mint`] accepts.
pub const MIN_TTL: Duration = Duration::from_secs(1);

/// The longest credential lifetime [`TurnCredentials::mint`] accepts.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Why credentials could not be minted or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The shared secret is empty.
    #[error("turn secret is empty")]
    EmptySecret,
    /// The shared secret is shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("turn secret is {len} bytes, fewer than {min}")]
    ShortSecret {
        /// Its length in bytes.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The lifetime is outside [`MIN_TTL`]..=[`MAX_TTL`].
    #[error("turn credential ttl of {ttl_secs} s is outside 1 s to 86400 s")]
    TtlOutOfRange {
        /// The requested lifetime in whole seconds.
        ttl_secs: u64,
    },
    /// The user part is empty or holds control characters.
    #[error("turn user must be non-empty text without control characters")]
    InvalidUser,
    /// `<expiry>:<user>` would be [`MAX_USERNAME_LEN`] bytes or more.
    #[error("turn username would be {len} bytes, the limit is {max} (RFC 8489 §14.3)")]
    UsernameTooLong {
        /// The length it would have.
        len: usize,
        /// The largest allowed length.
        max: usize,
    },
    /// `now` lies before 1970, or the expiry does not fit in the calendar.
    #[error("clock is outside the range turn credentials can express")]
    ClockOutOfRange,
    /// The username does not start with decimal expiry seconds.
    #[error("turn username does not start with an expiry timestamp")]
    MalformedUsername,
    /// The username's expiry has passed.
    #[error("turn credentials expired at unix time {expired_at}")]
    Expired {
        /// The expiry, in Unix seconds.
        expired_at: u64,
    },
    /// The password does not match the username under the current or previous secret.
    #[error("turn password does not match the username")]
    BadPassword,
}

/// The secret shared between the credential minter and the TURN server.
///
/// Its `Debug` and `Display` never show the bytes, so it is safe in logs and panics.
#[derive(Clone)]
pub struct TurnSecret(Vec<u8>);

impl TurnSecret {
    /// Wraps a secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, CredentialError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(CredentialError::EmptySecret);
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(CredentialError::ShortSecret { len: secret.len(), min: MIN_SECRET_LEN });
        }
        Ok(TurnSecret(secret))
    }

    /// Wraps a secret of any non-empty length: for published test vectors and existing
    /// deployments whose secret you cannot change yet. Short secrets can be brute-forced.
    pub fn dangerous_allow_short(secret: impl Into<Vec<u8>>) -> Result<Self, CredentialError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(CredentialError::EmptySecret);
        }
        Ok(TurnSecret(secret))
    }

    fn mac(&self) -> Hmac<Sha1> {
        // HMAC accepts keys of every length; the error branch cannot be taken.
        <Hmac<Sha1> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"))
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

impl fmt::Display for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The TURN password for `username`: `base64(HMAC-SHA1(secret, username))`.
///
/// ```
/// use velaro_ice_config::{TurnSecret, turn_password};
///
/// // The vector published with the TURN REST API draft and used by coturn.
/// let secret = TurnSecret::dangerous_allow_short("foobar")?;
/// assert_eq!(turn_password(&secret, "1599491771").expose(), "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=");
/// # Ok::<(), velaro_ice_config::CredentialError>(())
/// ```
pub fn turn_password(secret: &TurnSecret, username: &str) -> Credential {
    let mut mac = secret.mac();
    mac.update(username.as_bytes());
    Credential::new(BASE64.encode(mac.finalize().into_bytes()))
}

/// A TURN username and password valid until [`expires_at`](Self::expires_at).
///
/// `Debug` shows the username and expiry, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    username: String,
    password: Credential,
    expires_at: SystemTime,
}

impl TurnCredentials {
    /// Mints credentials for `user`, valid for `ttl` from `now`.
    ///
    /// `user` is free text (it may contain `:`); the username is `<expiry>:<user>` with the
    /// expiry in whole Unix seconds, and must stay under 509 bytes.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use velaro_ice_config::{TurnCredentials, TurnSecret};
    ///
    /// let secret = TurnSecret::new("a-long-random-secret-from-your-vault")?;
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let creds = TurnCredentials::mint(&secret, "visitor-42", Duration::from_secs(600), now)?;
    /// assert_eq!(creds.username(), "1700000600:visitor-42");
    /// assert!(TurnCredentials::verify(creds.username(), creds.password().expose(), now, &secret, None).is_ok());
    /// # Ok::<(), velaro_ice_config::CredentialError>(())
    /// ```
    pub fn mint(
        secret: &TurnSecret,
        user: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
            return Err(CredentialError::TtlOutOfRange { ttl_secs: ttl.as_secs() });
        }
        if user.is_empty() || user.chars().any(char::is_control) {
            return Err(CredentialError::InvalidUser);
        }
        let now_secs =
            now.duration_since(UNIX_EPOCH).map_err(|_| CredentialError::ClockOutOfRange)?;
        let expiry_secs = now_secs
            .as_secs()
            .checked_add(ttl.as_secs())
            .ok_or(CredentialError::ClockOutOfRange)?;
        let expires_at = UNIX_EPOCH
            .checked_add(Duration::from_secs(expiry_secs))
            .ok_or(CredentialError::ClockOutOfRange)?;
        let username = format!("{expiry_secs}:{user}");
        if username.len() >= MAX_USERNAME_LEN {
            return Err(CredentialError::UsernameTooLong {
                len: username.len(),
                max: MAX_USERNAME_LEN - 1,
            });
        }
        let password = turn_password(secret, &username);
        Ok(TurnCredentials { username, password, expires_at })
    }

    /// Checks credentials as a TURN server would: the password must match under `current` or
    /// `previous` (so a secret can be rotated without cutting live calls), and the expiry in
    /// the username must not have passed at `now`. Returns the expiry.
    ///
    /// The comparison runs in constant time.
    pub fn verify(
        username: &str,
        password: &str,
        now: SystemTime,
        current: &TurnSecret,
        previous: Option<&TurnSecret>,
    ) -> Result<SystemTime, CredentialError> {
        let expiry_text = username.split_once(':').map_or(username, |(expiry, _)| expiry);
        if expiry_text.is_empty() || !expiry_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CredentialError::MalformedUsername);
        }
        let expiry_secs: u64 =
            expiry_text.parse().map_err(|_| CredentialError::MalformedUsername)?;
        let expires_at = UNIX_EPOCH
            .checked_add(Duration::from_secs(expiry_secs))
            .ok_or(CredentialError::MalformedUsername)?;
        let Ok(tag) = BASE64.decode(password) else {
            return Err(CredentialError::BadPassword);
        };
        let matches = |secret: &TurnSecret| {
            let mut mac = secret.mac();
            mac.update(username.as_bytes());
            mac.verify_slice(&tag).is_ok()
        };
        if !matches(current) && !previous.is_some_and(matches) {
            return Err(CredentialError::BadPassword);
        }
        if now >= expires_at {
            return Err(CredentialError::Expired { expired_at: expiry_secs });
        }
        Ok(expires_at)
    }

    /// The username, `<expiry unix seconds>:<user>`.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password (redacted in `Debug`; call [`Credential::expose`] to send it).
    pub fn password(&self) -> &Credential {
        &self.password
    }

    /// When the TURN server starts refusing these credentials.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Whether to mint new credentials: true once `now + margin` reaches the expiry, so a call
    /// about to restart ICE gets credentials that outlive the restart.
    pub fn needs_refresh(&self, now: SystemTime, margin: Duration) -> bool {
        now.checked_add(margin).is_none_or(|deadline| deadline >= self.expires_at)
    }
}

impl fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> TurnSecret {
        TurnSecret::new("0123456789abcdef-test-secret").unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn published_vector() {
        let secret = TurnSecret::dangerous_allow_short("foobar").unwrap();
        assert_eq!(turn_password(&secret, "1599491771").expose(), "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=");
    }

    #[test]
    fn secrets_must_be_long_enough() {
        assert_eq!(TurnSecret::new("").unwrap_err(), CredentialError::EmptySecret);
        assert_eq!(
            TurnSecret::new("short").unwrap_err(),
            CredentialError::ShortSecret { len: 5, min: MIN_SECRET_LEN }
        );
        assert_eq!(
            TurnSecret::dangerous_allow_short("").unwrap_err(),
            CredentialError::EmptySecret
        );
    }

    #[test]
    fn minted_credentials_verify_until_expiry() {
        let creds =
            TurnCredentials::mint(&secret(), "a:b", Duration::from_secs(60), at(1000)).unwrap();
        assert_eq!(creds.username(), "1060:a:b");
        assert_eq!(creds.expires_at(), at(1060));
        let verify = |now| {
            TurnCredentials::verify(
                creds.username(),
                creds.password().expose(),
                now,
                &secret(),
                None,
            )
        };
        assert_eq!(verify(at(1059)), Ok(at(1060)));
        assert_eq!(verify(at(1060)), Err(CredentialError::Expired { expired_at: 1060 }));
    }

    #[test]
    fn verify_accepts_the_previous_secret_during_rotation() {
        let old = secret();
        let new = TurnSecret::new("a-brand-new-secret-after-rotation").unwrap();
        let creds = TurnCredentials::mint(&old, "u", Duration::from_secs(60), at(0)).unwrap();
        let (user, pass) = (creds.username(), creds.password().expose());
        assert_eq!(
            TurnCredentials::verify(user, pass, at(1), &new, None),
            Err(CredentialError::BadPassword)
        );
        assert_eq!(TurnCredentials::verify(user, pass, at(1), &new, Some(&old)), Ok(at(60)));
    }

    #[test]
    fn verify_refuses_tampering() {
        let creds = TurnCredentials::mint(&secret(), "u", Duration::from_secs(60), at(0)).unwrap();
        let pass = creds.password().expose();
        let verify =
            |user: &str, pass: &str| TurnCredentials::verify(user, pass, at(1), &secret(), None);
        assert_eq!(verify("99999:u", pass), Err(CredentialError::BadPassword));
        assert_eq!(verify(creds.username(), "not base64!"), Err(CredentialError::BadPassword));
        assert_eq!(verify(creds.username(), ""), Err(CredentialError::BadPassword));
        assert_eq!(verify("soon:u", pass), Err(CredentialError::MalformedUsername));
        assert_eq!(verify(":u", pass), Err(CredentialError::MalformedUsername));
        assert_eq!(
            verify("99999999999999999999999:u", pass),
            Err(CredentialError::MalformedUsername)
        );
    }

    #[test]
    fn mint_refuses_bad_input() {
        let mint = |user: &str, ttl, now| TurnCredentials::mint(&secret(), user, ttl, now);
        let minute = Duration::from_secs(60);
        assert_eq!(
            mint("u", Duration::from_millis(999), at(0)),
            Err(CredentialError::TtlOutOfRange { ttl_secs: 0 })
        );
        assert_eq!(
            mint("u", MAX_TTL + Duration::from_secs(1), at(0)),
            Err(CredentialError::TtlOutOfRange { ttl_secs: 86_401 })
        );
        assert!(mint("u", MAX_TTL, at(0)).is_ok());
        assert_eq!(mint("", minute, at(0)), Err(CredentialError::InvalidUser));
        assert_eq!(mint("a\nb", minute, at(0)), Err(CredentialError::InvalidUser));
        assert_eq!(
            mint(&"x".repeat(600), minute, at(0)),
            Err(CredentialError::UsernameTooLong { len: 603, max: 508 })
        );
        assert_eq!(
            mint("u", minute, UNIX_EPOCH - Duration::from_secs(1)),
            Err(CredentialError::ClockOutOfRange)
        );
    }

    #[test]
    fn refresh_is_due_within_the_margin() {
        let creds = TurnCredentials::mint(&secret(), "u", Duration::from_secs(600), at(0)).unwrap();
        let margin = Duration::from_secs(60);
        assert!(!creds.needs_refresh(at(539), margin));
        assert!(creds.needs_refresh(at(540), margin));
        assert!(creds.needs_refresh(at(10_000), margin));
    }

    #[test]
    fn debug_never_shows_the_password_or_secret() {
        let secret = secret();
        let creds = TurnCredentials::mint(&secret, "u", Duration::from_secs(60), at(0)).unwrap();
        let shown = format!("{creds:?} {creds:#?} {secret:?} {secret}");
        assert!(!shown.contains(creds.password().expose()), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("1060") || shown.contains("60:u"), "{shown}");
    }
}
