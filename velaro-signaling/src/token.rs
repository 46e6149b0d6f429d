//! Join tokens: minted by the host's backend, verified by the relay side before
//! [`Relay::connect`](crate::Relay::connect). The format and the flow are on [`JoinKeys`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use velaro_call_state::velaro_call_protocol::{ConversationId, PartyId, Role};

/// The version prefix of every token this module mints and accepts.
const VERSION: &str = "v1";

/// Why a join token was not minted, or was refused.
///
/// The refusals (from [`Malformed`](Self::Malformed) to
/// [`ReplayGuardFull`](Self::ReplayGuardFull)) mean the connection must not be admitted; none
/// of them affects the conversation or other sessions. The rest are the caller's misuse of
/// the API. No message echoes a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The text is not a token this version mints: too long, not four dot-separated parts,
    /// another version, bad base64url, or (after a good signature) a payload it cannot read.
    #[error("join token is malformed: {what}")]
    Malformed {
        /// What was wrong.
        what: &'static str,
    },
    /// The token names a key id that is neither the current nor the previous key.
    #[error("join token key id `{key_id}` is not a known key")]
    UnknownKey {
        /// The key id the token names (it passed the key id grammar, so it is short and
        /// printable).
        key_id: String,
    },
    /// The signature does not match: the token was made or changed without the key.
    #[error("join token signature does not match")]
    Forged,
    /// The token's expiry has passed.
    #[error("join token expired at unix time {expired_at}")]
    Expired {
        /// Its expiry, in Unix seconds.
        expired_at: u64,
    },
    /// The token is for another conversation than the one the connection is for.
    #[error("join token is for conversation `{found}`, not `{expected}`")]
    WrongConversation {
        /// The conversation the connection is for.
        expected: ConversationId,
        /// The conversation in the token.
        found: ConversationId,
    },
    /// The token is for the other role.
    #[error("join token is for the {found} role, not the {expected} role")]
    WrongRole {
        /// The role the connection is for.
        expected: Role,
        /// The role in the token.
        found: Role,
    },
    /// The token was already used (its nonce is in the [`ReplayGuard`]).
    #[error("join token was already used")]
    Replayed,
    /// The [`ReplayGuard`] holds as many unexpired nonces as it may: it refuses new tokens
    /// rather than forget a nonce whose token could then be replayed.
    #[error("join replay guard is full ({capacity} unexpired tokens): try again later")]
    ReplayGuardFull {
        /// Its capacity.
        capacity: usize,
    },
    /// The caller's misuse: a key secret shorter than [`JoinKey::MIN_SECRET_LEN`].
    #[error("join key secret is {len} bytes, fewer than {min}")]
    ShortSecret {
        /// Its length in bytes.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The caller's misuse: a key id that is not 1 to [`JoinKey::MAX_ID_LEN`] of
    /// `[0-9A-Za-z_-]`.
    #[error("join key id must be 1 to 16 characters of [0-9A-Za-z_-]")]
    InvalidKeyId,
    /// The caller's misuse: the previous key has the current key's id.
    #[error("previous join key has the same id as the current one")]
    DuplicateKeyId,
    /// The caller's misuse: a nonce that is not [`JoinNonce::MIN_LEN`] to
    /// [`JoinNonce::MAX_LEN`] of `[0-9A-Za-z_-]` (or, from bytes, not 12 to 48 bytes).
    #[error("join nonce must be 16 to 64 characters of [0-9A-Za-z_-] ({len} given)")]
    InvalidNonce {
        /// The length given (characters, or bytes for [`JoinNonce::from_bytes`]).
        len: usize,
    },
    /// The caller's misuse: a lifetime outside [`JoinClaims::MIN_TTL`] to
    /// [`JoinClaims::MAX_TTL`].
    #[error("join token ttl of {ttl_secs} s is outside 1 s to 86400 s")]
    TtlOutOfRange {
        /// The lifetime asked for, in whole seconds.
        ttl_secs: u64,
    },
    /// `now` lies before 1970, or the expiry does not fit in the calendar.
    #[error("clock is outside the range join tokens can express")]
    ClockOutOfRange,
}

/// One signing key: a secret of at least [`MIN_SECRET_LEN`](Self::MIN_SECRET_LEN) bytes and a
/// short id that tokens carry, so that a verifier knows which key to check them with.
///
/// `Debug` shows the id, never the secret.
#[derive(Clone)]
pub struct JoinKey {
    id: String,
    secret: Arc<[u8]>,
}

impl JoinKey {
    /// The shortest secret [`new`](Self::new) accepts: 256 bits, HMAC-SHA256's full strength.
    pub const MIN_SECRET_LEN: usize = 32;
    /// The longest key id.
    pub const MAX_ID_LEN: usize = 16;

    /// A key with the id `id` (1 to [`MAX_ID_LEN`](Self::MAX_ID_LEN) of `[0-9A-Za-z_-]`, e.g.
    /// the month it was made) and a secret of at least
    /// [`MIN_SECRET_LEN`](Self::MIN_SECRET_LEN) random bytes.
    pub fn new(id: impl Into<String>, secret: impl AsRef<[u8]>) -> Result<JoinKey, TokenError> {
        let id = id.into();
        if !is_key_id(&id) {
            return Err(TokenError::InvalidKeyId);
        }
        let secret = secret.as_ref();
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(TokenError::ShortSecret { len: secret.len(), min: Self::MIN_SECRET_LEN });
        }
        Ok(JoinKey { id, secret: Arc::from(secret) })
    }

    /// Its id, as tokens carry it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The signature of `signed` (the token up to its last dot).
    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of every length; the error branch cannot be taken.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
        mac.update(signed.as_bytes());
        mac
    }
}

impl fmt::Debug for JoinKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

fn is_key_id(id: &str) -> bool {
    (1..=JoinKey::MAX_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// The keys that mint and verify join tokens. The host's backend mints a token when it
/// renders a chat page, and the relay side verifies it before
/// [`Relay::connect`](crate::Relay::connect), so that a page joins only the conversation, with
/// the role and the party id, that the backend gave it.
///
/// A token is a bearer secret signed with HMAC-SHA256 under a key shared by the minter and the
/// verifier. It binds a conversation, a role, a party id, an expiry (Unix seconds) and a
/// nonce; [`verify`](Self::verify) checks the signature (in constant time), the expiry and
/// what the socket expects ([`Expect`]), and [`ReplayGuard::check_and_remember`] makes each
/// token good for one connect. Like
/// [`TurnCredentials`](crate::velaro_ice_config::TurnCredentials), nothing here reads a clock
/// or a random number generator: time comes in as `now`, nonces from the caller's RNG.
///
/// # Format
/// `v1.<key id>.<payload>.<signature>`, where `<payload>` is base64url (no padding) of the
/// claims as compact JSON (`{"c":conversation,"r":role,"p":party,"e":expiry,"n":nonce}`) and
/// `<signature>` is base64url of `HMAC-SHA256(key, "v1.<key id>.<payload>")`. The version
/// prefix is signed, so it versions the payload too. Every token is at most
/// [`JoinToken::MAX_LEN`] bytes; [`JoinKeys::verify`] refuses a longer input before it looks
/// at it, and parses the payload only once the signature matched.
///
/// # The flow
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use velaro_signaling::prelude::*;
/// use velaro_signaling::{JoinKey, JoinNonce};
///
/// # #[allow(clippy::disallowed_methods)]
/// let now = SystemTime::now(); // your server's clock
/// // Both sides load the key from your secret store (at least 32 random bytes).
/// let keys = JoinKeys::new(JoinKey::new("2025-01", [7u8; 32])?);
/// let chat = ConversationId::new("conv-42")?;
///
/// // The backend, rendering the visitor's chat page (its user is signed in to conv-42):
/// let nonce = JoinNonce::from_bytes(&[42u8; 18])?; // 18 bytes from your OS's RNG
/// let party = PartyId::new("visitor-tab-1")?;
/// let ttl = Duration::from_secs(300); // from the render to the socket's connect, with room
/// let claims = JoinClaims::new(chat.clone(), Role::Visitor, party, nonce, ttl, now)?;
/// let token = keys.mint(&claims);
/// let for_the_page: &str = token.expose(); // into the page; never into a log
///
/// // The relay side, when the page's socket for conv-42 arrives with the token:
/// let mut used = ReplayGuard::new(10_000);
/// let claims = keys.verify(for_the_page, Expect::conversation(&chat), now)?;
/// used.check_and_remember(&claims, now)?;
/// let mut relay = Relay::new(RelayConfig::default());
/// relay.open_conversation(claims.conversation_id.clone(), true);
/// # #[allow(clippy::disallowed_methods)]
/// let now_instant = Instant::now();
/// let party = claims.party_id.clone();
/// let session = relay.connect(now_instant, &claims.conversation_id, claims.role, party)?;
///
/// // The same token again: refused.
/// let again = keys.verify(for_the_page, Expect::conversation(&chat), now)?;
/// assert_eq!(used.check_and_remember(&again, now), Err(TokenError::Replayed));
/// # let _ = session;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// What a token proves and what it does not is in `ARCHITECTURE.md` ("Join tokens: threat
/// model").
///
/// # Keys and rotation
/// Tokens are minted with the current key and verified with the key their id names, current
/// or previous, so that a key can be rotated without refusing the tokens already handed out.
/// To rotate: give every verifier the new key as current and the old one as previous (a
/// verifier does not care which slot a key is in), then let the minters use the new key; drop
/// the previous key once the longest token lifetime has passed.
#[derive(Debug, Clone)]
pub struct JoinKeys {
    current: JoinKey,
    previous: Option<JoinKey>,
}

impl JoinKeys {
    /// One key, no previous one.
    pub fn new(current: JoinKey) -> JoinKeys {
        JoinKeys { current, previous: None }
    }

    /// The current key and the previous one, whose ids must differ.
    pub fn with_previous(current: JoinKey, previous: JoinKey) -> Result<JoinKeys, TokenError> {
        if current.id == previous.id {
            return Err(TokenError::DuplicateKeyId);
        }
        Ok(JoinKeys { current, previous: Some(previous) })
    }

    /// Makes `next` the current key and the current key the previous one (the previous key
    /// is dropped). `next` must have a new id.
    pub fn rotate(&mut self, next: JoinKey) -> Result<(), TokenError> {
        if next.id == self.current.id {
            return Err(TokenError::DuplicateKeyId);
        }
        self.previous = Some(std::mem::replace(&mut self.current, next));
        Ok(())
    }

    /// The key tokens are minted with.
    pub fn current(&self) -> &JoinKey {
        &self.current
    }

    /// The key still accepted from before the last rotation.
    pub fn previous(&self) -> Option<&JoinKey> {
        self.previous.as_ref()
    }

    /// A token carrying `claims`, signed with the current key.
    pub fn mint(&self, claims: &JoinClaims) -> JoinToken {
        let payload = BASE64URL.encode(claims.to_json());
        let signed = format!("{VERSION}.{}.{payload}", self.current.id);
        let signature = BASE64URL.encode(self.current.mac(&signed).finalize().into_bytes());
        JoinToken(format!("{signed}.{signature}"))
    }

    /// Checks `token` as the relay side admits a connection: at most
    /// [`JoinToken::MAX_LEN`] bytes, this version, a known key, a matching signature
    /// (compared in constant time), then the conversation and role the connection expects
    /// and the expiry (a token is refused from its expiry second on). Returns the claims to
    /// connect with; pass them to a [`ReplayGuard`] to make the token single-use.
    pub fn verify(
        &self,
        token: &str,
        expect: Expect<'_>,
        now: SystemTime,
    ) -> Result<JoinClaims, TokenError> {
        let malformed = |what| TokenError::Malformed { what };
        if token.len() > JoinToken::MAX_LEN {
            return Err(malformed("longer than 1024 bytes"));
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(malformed("no signature"))?;
        let mut parts = signed.split('.');
        let (Some(version), Some(key_id), Some(payload), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not four dot-separated parts"));
        };
        if version != VERSION {
            return Err(malformed("unknown version"));
        }
        if !is_key_id(key_id) {
            return Err(malformed("bad key id"));
        }
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.id == key_id)
            .ok_or_else(|| TokenError::UnknownKey { key_id: key_id.to_owned() })?;
        let signature = BASE64URL.decode(signature).map_err(|_| malformed("bad signature"))?;
        key.mac(signed).verify_slice(&signature).map_err(|_| TokenError::Forged)?;
        // Only now, with the signature checked, is the payload read.
        let payload = BASE64URL.decode(payload).map_err(|_| malformed("bad payload"))?;
        let claims = JoinClaims::from_json(&payload).ok_or(malformed("unreadable payload"))?;
        if claims.conversation_id != *expect.conversation {
            return Err(TokenError::WrongConversation {
                expected: expect.conversation.clone(),
                found: claims.conversation_id,
            });
        }
        if let Some(expected) = expect.role
            && claims.role != expected
        {
            return Err(TokenError::WrongRole { expected, found: claims.role });
        }
        if claims.is_expired(now) {
            return Err(TokenError::Expired { expired_at: claims.expires_at });
        }
        Ok(claims)
    }
}

/// What the connection being admitted is for: its conversation (the host always knows which
/// conversation a socket joins, from its route or its request), and its role when the
/// endpoint serves one role only.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The conversation the connection is for.
    pub conversation: &'a ConversationId,
    /// The role the endpoint serves, or `None` when the token's role decides.
    pub role: Option<Role>,
}

impl<'a> Expect<'a> {
    /// A connection for `conversation`, either role.
    pub fn conversation(conversation: &'a ConversationId) -> Expect<'a> {
        Expect { conversation, role: None }
    }

    /// Only tokens for `role`.
    #[must_use]
    pub fn role(self, role: Role) -> Expect<'a> {
        Expect { role: Some(role), ..self }
    }
}

/// A random, single-use token id: 16 to 64 characters of `[0-9A-Za-z_-]`, from the caller's
/// random number generator (this crate reads none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JoinNonce(String);

impl JoinNonce {
    /// The shortest nonce.
    pub const MIN_LEN: usize = 16;
    /// The longest nonce.
    pub const MAX_LEN: usize = 64;

    /// Wraps a nonce the caller made.
    pub fn new(nonce: impl Into<String>) -> Result<JoinNonce, TokenError> {
        let nonce = nonce.into();
        let url_safe = nonce.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&nonce.len()) || !url_safe {
            return Err(TokenError::InvalidNonce { len: nonce.chars().count() });
        }
        Ok(JoinNonce(nonce))
    }

    /// The base64url text of 12 to 48 random bytes (16 to 64 characters); 16 bytes or more
    /// make a collision between two tokens' nonces out of the question.
    pub fn from_bytes(random: &[u8]) -> Result<JoinNonce, TokenError> {
        if !(12..=48).contains(&random.len()) {
            return Err(TokenError::InvalidNonce { len: random.len() });
        }
        JoinNonce::new(BASE64URL.encode(random))
    }

    /// The nonce as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a token says: who may join which conversation as what, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinClaims {
    /// The conversation the bearer may join.
    pub conversation_id: ConversationId,
    /// The role it joins with.
    pub role: Role,
    /// The party id it joins as.
    pub party_id: PartyId,
    /// The first Unix second at which the token is refused.
    pub expires_at: u64,
    /// The token's single-use id.
    pub nonce: JoinNonce,
}

impl JoinClaims {
    /// The shortest lifetime [`new`](Self::new) accepts: 1 s.
    pub const MIN_TTL: Duration = Duration::from_secs(1);
    /// The longest lifetime [`new`](Self::new) accepts: 24 h. Keep it short: a token is a bearer
    /// secret, and it only has to last from the page render to the socket's connect.
    pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

    /// Claims for a token valid for `ttl` (whole seconds) from `now`: it expires at
    /// ⌊`now`⌋ + `ttl` in Unix seconds.
    pub fn new(
        conversation_id: ConversationId,
        role: Role,
        party_id: PartyId,
        nonce: JoinNonce,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<JoinClaims, TokenError> {
        if !(Self::MIN_TTL..=Self::MAX_TTL).contains(&ttl) {
            return Err(TokenError::TtlOutOfRange { ttl_secs: ttl.as_secs() });
        }
        let now = now.duration_since(UNIX_EPOCH).map_err(|_| TokenError::ClockOutOfRange)?;
        let expires_at =
            now.as_secs().checked_add(ttl.as_secs()).ok_or(TokenError::ClockOutOfRange)?;
        UNIX_EPOCH
            .checked_add(Duration::from_secs(expires_at))
            .ok_or(TokenError::ClockOutOfRange)?;
        Ok(JoinClaims { conversation_id, role, party_id, expires_at, nonce })
    }

    /// The expiry as a time.
    pub fn expires_at_time(&self) -> SystemTime {
        UNIX_EPOCH.checked_add(Duration::from_secs(self.expires_at)).unwrap_or(UNIX_EPOCH)
    }

    /// Whether the token is refused at `now`: from its expiry second on.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(self.expires_at))
            .is_none_or(|expiry| now >= expiry)
    }

    /// The compact JSON payload. Every field's grammar needs no escaping (ids and nonces are
    /// `[0-9A-Za-z._~-]`, roles lowercase words), so this is exact JSON.
    fn to_json(&self) -> String {
        let role = match self.role {
            Role::Agent => "agent",
            Role::Visitor => "visitor",
        };
        format!(
            r#"{{"c":"{}","r":"{role}","p":"{}","e":{},"n":"{}"}}"#,
            self.conversation_id, self.party_id, self.expires_at, self.nonce.0
        )
    }

    fn from_json(payload: &[u8]) -> Option<JoinClaims> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Payload {
            c: ConversationId,
            r: Role,
            p: PartyId,
            e: u64,
            n: String,
        }
        let Payload { c, r, p, e, n } = serde_json::from_slice(payload).ok()?;
        let nonce = JoinNonce::new(n).ok()?;
        Some(JoinClaims { conversation_id: c, role: r, party_id: p, expires_at: e, nonce })
    }
}

/// A minted token's text: a bearer secret, so its `Debug` is redacted and it has no
/// `Display`. [`expose`](Self::expose) it to hand it to the page.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken(String);

impl JoinToken {
    /// The longest token: [`JoinKeys::verify`] refuses longer text before reading it. The
    /// longest claims (255-byte ids, a 64-character nonce, a 16-character key id) make a
    /// token of about 910 bytes.
    pub const MAX_LEN: usize = 1024;

    /// The token's text, to hand to the page (and to nothing that logs).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinToken(<redacted>)")
    }
}

/// The nonces of the tokens already used, each kept until its token expires, so that a token
/// admits one connection only. Sans IO and bounded: at most `capacity` nonces.
///
/// When it is full (after forgetting the expired ones) it refuses new tokens
/// ([`TokenError::ReplayGuardFull`]) rather than forget a nonce early, which would let that
/// token be replayed: failing closed. Only verified tokens reach it, so only the host's own
/// backend can fill it; size it for the most tokens used within one token lifetime.
///
/// One guard sees the connects of one process: relays behind a load balancer need one shared
/// guard (or the nonce's check in a shared store) for a replay to one server to be seen by
/// another.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    capacity: usize,
    seen: HashMap<String, u64>,
    by_expiry: BTreeSet<(u64, String)>,
}

impl ReplayGuard {
    /// A guard that remembers at most `capacity` unexpired nonces (about 200 bytes each).
    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard { capacity, seen: HashMap::new(), by_expiry: BTreeSet::new() }
    }

    /// Admits the token of `claims` once: refuses it if its nonce was seen before
    /// ([`TokenError::Replayed`]), if it expired at `now`, or if the guard is full; otherwise
    /// remembers the nonce until the token expires. Call it after [`JoinKeys::verify`].
    pub fn check_and_remember(
        &mut self,
        claims: &JoinClaims,
        now: SystemTime,
    ) -> Result<(), TokenError> {
        if claims.is_expired(now) {
            return Err(TokenError::Expired { expired_at: claims.expires_at });
        }
        self.forget_expired(now);
        if self.seen.contains_key(claims.nonce.as_str()) {
            return Err(TokenError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(TokenError::ReplayGuardFull { capacity: self.capacity });
        }
        let nonce = claims.nonce.as_str().to_owned();
        self.by_expiry.insert((claims.expires_at, nonce.clone()));
        self.seen.insert(nonce, claims.expires_at);
        Ok(())
    }

    /// How many nonces it remembers.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The most nonces it remembers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets the nonces whose tokens have expired at `now` ([`JoinKeys::verify`] refuses
    /// those tokens anyway).
    fn forget_expired(&mut self, now: SystemTime) {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        while let Some((expires_at, _)) = self.by_expiry.first()
            && *expires_at <= now
        {
            if let Some((_, nonce)) = self.by_expiry.pop_first() {
                self.seen.remove(&nonce);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_claims_fit_the_length_bound() {
        let keys = JoinKeys::new(JoinKey::new("k".repeat(16), [1u8; 32]).unwrap());
        let claims = JoinClaims {
            conversation_id: ConversationId::new("c".repeat(255)).unwrap(),
            role: Role::Visitor,
            party_id: PartyId::new("p".repeat(255)).unwrap(),
            expires_at: u64::MAX,
            nonce: JoinNonce::new("n".repeat(64)).unwrap(),
        };
        let token = keys.mint(&claims);
        assert!(token.expose().len() <= JoinToken::MAX_LEN, "{}", token.expose().len());
        assert!(token.expose().len() > 900);
    }

    #[test]
    fn the_payload_is_the_documented_json() {
        let claims = JoinClaims {
            conversation_id: ConversationId::new("conv-1").unwrap(),
            role: Role::Agent,
            party_id: PartyId::new("agent-1").unwrap(),
            expires_at: 1_700_000_000,
            nonce: JoinNonce::new("abcdefghijklmnop").unwrap(),
        };
        let json = claims.to_json();
        assert_eq!(
            json,
            r#"{"c":"conv-1","r":"agent","p":"agent-1","e":1700000000,"n":"abcdefghijklmnop"}"#
        );
        assert_eq!(JoinClaims::from_json(json.as_bytes()), Some(claims));
    }
}
