//! `RTCIceServer` and `RTCConfiguration`, with exactly the JSON browsers take.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::turn::TurnCredentials;
use crate::url::{IceUrl, UrlError};

/// Usernames must be shorter than this many bytes (RFC 8489 §14.3: fewer than 509).
pub const MAX_USERNAME_LEN: usize = 509;

/// The most servers one configuration may list; more only slows gathering down.
pub const MAX_ICE_SERVERS: usize = 32;

/// The most URLs one server may list.
pub const MAX_URLS_PER_SERVER: usize = 16;

/// The longest credential we carry, in bytes (a minted one is 28).
pub const MAX_CREDENTIAL_LEN: usize = 1024;

/// Why an ICE server or configuration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One of the URLs is invalid.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// `urls` is empty.
    #[error("ice server has no urls")]
    NoUrls,
    /// `urls` lists more than [`MAX_URLS_PER_SERVER`] URLs.
    #[error("ice server lists {count} urls, more than {max}")]
    TooManyUrls {
        /// How many it lists.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A `turn:`/`turns:` URL on a server without both a username and a credential.
    #[error("turn url `{url}` needs a username and a credential")]
    MissingTurnCredentials {
        /// The URL that needs them.
        url: String,
    },
    /// The username is [`MAX_USERNAME_LEN`] bytes or longer.
    #[error("ice server username is {len} bytes, the limit is {max}")]
    UsernameTooLong {
        /// Its length.
        len: usize,
        /// The largest allowed length.
        max: usize,
    },
    /// The credential is longer than [`MAX_CREDENTIAL_LEN`] bytes.
    #[error("ice server credential is {len} bytes, more than {max}")]
    CredentialTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_ICE_SERVERS`] servers.
    #[error("configuration lists {count} ice servers, more than {max}")]
    TooManyServers {
        /// How many it lists.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// A password or other credential: `Debug` shows `<redacted>`, so it never reaches a log by
/// accident. Serializes as the plain string, since browsers need it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credential(String);

impl Credential {
    /// Wraps a credential.
    pub fn new(credential: impl Into<String>) -> Self {
        Credential(credential.into())
    }

    /// The credential itself, for sending it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One STUN or TURN server: the `RTCIceServer` dictionary.
///
/// Serializes as `{"urls":[…],"username":…,"credential":…}` (absent fields omitted); accepts
/// `urls` as a string or an array, as browsers do. Every value is checked on construction and on
/// deserialize: at least one URL, and a username and credential whenever a TURN URL is listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    urls: Vec<IceUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<Credential>,
}

impl IceServer {
    /// A server with the given URLs and optional username and credential.
    pub fn new(
        urls: Vec<IceUrl>,
        username: Option<String>,
        credential: Option<Credential>,
    ) -> Result<Self, ConfigError> {
        if urls.is_empty() {
            return Err(ConfigError::NoUrls);
        }
        if urls.len() > MAX_URLS_PER_SERVER {
            return Err(ConfigError::TooManyUrls { count: urls.len(), max: MAX_URLS_PER_SERVER });
        }
        if let Some(name) = &username
            && name.len() >= MAX_USERNAME_LEN
        {
            return Err(ConfigError::UsernameTooLong {
                len: name.len(),
                max: MAX_USERNAME_LEN - 1,
            });
        }
        if let Some(credential) = &credential
            && credential.expose().len() > MAX_CREDENTIAL_LEN
        {
            return Err(ConfigError::CredentialTooLong {
                len: credential.expose().len(),
                max: MAX_CREDENTIAL_LEN,
            });
        }
        if (username.is_none() || credential.is_none())
            && let Some(turn) = urls.iter().find(|url| url.scheme().is_turn())
        {
            return Err(ConfigError::MissingTurnCredentials { url: turn.to_string() });
        }
        Ok(IceServer { urls, username, credential })
    }

    /// A STUN server without credentials. Refuses TURN URLs, which need credentials.
    pub fn stun(urls: Vec<IceUrl>) -> Result<Self, ConfigError> {
        IceServer::new(urls, None, None)
    }

    /// A TURN server with freshly minted REST credentials.
    pub fn turn(urls: Vec<IceUrl>, credentials: &TurnCredentials) -> Result<Self, ConfigError> {
        IceServer::new(
            urls,
            Some(credentials.username().to_owned()),
            Some(credentials.password().clone()),
        )
    }

    /// The URLs, at least one.
    pub fn urls(&self) -> &[IceUrl] {
        &self.urls
    }

    /// The username, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The credential, if any.
    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }
}

/// The wire form of `RTCIceServer` before validation.
#[derive(Deserialize)]
#[serde(expecting = "an ICE server object (RTCIceServer)")]
struct RawIceServer {
    #[serde(deserialize_with = "string_or_array")]
    urls: Vec<IceUrl>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    credential: Option<Credential>,
}

/// `urls` is `DOMString or sequence<DOMString>`. A hand-written visitor (rather than an untagged
/// enum) keeps the URL parser's own error message.
fn string_or_array<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IceUrl>, D::Error> {
    struct Urls;
    impl<'de> Visitor<'de> for Urls {
        type Value = Vec<IceUrl>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an ice server url or an array of them")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            text.parse().map(|url| vec![url]).map_err(E::custom)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut urls = Vec::new();
            while let Some(url) = seq.next_element()? {
                if urls.len() == MAX_URLS_PER_SERVER {
                    return Err(de::Error::custom(ConfigError::TooManyUrls {
                        count: MAX_URLS_PER_SERVER + 1,
                        max: MAX_URLS_PER_SERVER,
                    }));
                }
                urls.push(url);
            }
            Ok(urls)
        }
    }
    deserializer.deserialize_any(Urls)
}

impl<'de> Deserialize<'de> for IceServer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawIceServer::deserialize(deserializer)?;
        IceServer::new(raw.urls, raw.username, raw.credential).map_err(serde::de::Error::custom)
    }
}

/// Which candidates the browser may use: `iceTransportPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IceTransportPolicy {
    /// Every candidate type.
    #[default]
    All,
    /// Only TURN relay candidates: hides the user's IP addresses from the other party.
    Relay,
}

/// The `RTCConfiguration` dictionary, limited to the ICE fields a call needs.
///
/// Serializes as `{"iceServers":[…],"iceTransportPolicy":"all"|"relay"}`, ready for
/// `new RTCPeerConnection(config)`. Unknown fields (`bundlePolicy`, `certificates`, …) are
/// ignored on input.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use velaro_ice_config::{IceServer, IceTransportPolicy, RtcConfiguration, TurnCredentials, TurnSecret};
///
/// let secret = TurnSecret::new("a-long-random-secret-from-your-vault")?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let creds = TurnCredentials::mint(&secret, "visitor-42", Duration::from_secs(600), now)?;
/// let config = RtcConfiguration::new(
///     vec![
///         IceServer::stun(vec!["stun:turn.example.com".parse()?])?,
///         IceServer::turn(vec!["turns:turn.example.com?transport=tcp".parse()?], &creds)?,
///     ],
///     IceTransportPolicy::Relay,
/// )?;
/// let json = serde_json::to_string(&config)?;
/// assert!(json.starts_with(r#"{"iceServers":[{"urls":["stun:turn.example.com"]},"#));
/// assert!(json.ends_with(r#""iceTransportPolicy":"relay"}"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtcConfiguration {
    ice_servers: Vec<IceServer>,
    ice_transport_policy: IceTransportPolicy,
}

impl RtcConfiguration {
    /// A configuration with at most [`MAX_ICE_SERVERS`] servers.
    pub fn new(
        ice_servers: Vec<IceServer>,
        ice_transport_policy: IceTransportPolicy,
    ) -> Result<Self, ConfigError> {
        if ice_servers.len() > MAX_ICE_SERVERS {
            return Err(ConfigError::TooManyServers {
                count: ice_servers.len(),
                max: MAX_ICE_SERVERS,
            });
        }
        Ok(RtcConfiguration { ice_servers, ice_transport_policy })
    }

    /// The servers.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// The transport policy.
    pub fn ice_transport_policy(&self) -> IceTransportPolicy {
        self.ice_transport_policy
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(expecting = "an RTCConfiguration object")]
struct RawRtcConfiguration {
    #[serde(default)]
    ice_servers: Vec<IceServer>,
    #[serde(default)]
    ice_transport_policy: IceTransportPolicy,
}

impl<'de> Deserialize<'de> for RtcConfiguration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRtcConfiguration::deserialize(deserializer)?;
        RtcConfiguration::new(raw.ice_servers, raw.ice_transport_policy)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> IceUrl {
        text.parse().unwrap()
    }

    fn turn_server() -> IceServer {
        IceServer::new(
            vec![url("turn:t.example.com?transport=udp"), url("turns:t.example.com")],
            Some("1700000000:alice".into()),
            Some(Credential::new("c2VjcmV0")),
        )
        .unwrap()
    }

    #[test]
    fn serializes_exact_browser_json() {
        let config = RtcConfiguration::new(
            vec![IceServer::stun(vec![url("stun:s.example.com:19302")]).unwrap(), turn_server()],
            IceTransportPolicy::Relay,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            concat!(
                r#"{"iceServers":[{"urls":["stun:s.example.com:19302"]},"#,
                r#"{"urls":["turn:t.example.com?transport=udp","turns:t.example.com"],"#,
                r#""username":"1700000000:alice","credential":"c2VjcmV0"}],"#,
                r#""iceTransportPolicy":"relay"}"#
            )
        );
    }

    #[test]
    fn accepts_browser_input_shapes() {
        let config: RtcConfiguration = serde_json::from_str(
            r#"{"iceServers":[{"urls":"stun:s.example.com"},
                {"urls":["turn:t.example.com"],"username":"u","credential":"p","credentialType":"password"}],
                "bundlePolicy":"max-bundle"}"#,
        )
        .unwrap();
        assert_eq!(config.ice_transport_policy(), IceTransportPolicy::All);
        assert_eq!(config.ice_servers().len(), 2);
        assert_eq!(config.ice_servers()[0].urls(), &[url("stun:s.example.com")]);
        assert_eq!(config.ice_servers()[1].credential().unwrap().expose(), "p");
        let empty: RtcConfiguration = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, RtcConfiguration::default());
    }

    #[test]
    fn refuses_invalid_servers() {
        let turn = || vec![url("turn:t.example.com")];
        assert_eq!(IceServer::stun(vec![]), Err(ConfigError::NoUrls));
        assert_eq!(
            IceServer::stun(turn()),
            Err(ConfigError::MissingTurnCredentials { url: "turn:t.example.com".into() })
        );
        assert_eq!(
            IceServer::new(turn(), Some("u".into()), None),
            Err(ConfigError::MissingTurnCredentials { url: "turn:t.example.com".into() })
        );
        assert_eq!(
            IceServer::new(turn(), Some("u".repeat(509)), Some(Credential::new("p"))),
            Err(ConfigError::UsernameTooLong { len: 509, max: 508 })
        );
        assert!(IceServer::new(turn(), Some("u".repeat(508)), Some(Credential::new("p"))).is_ok());
        assert_eq!(
            IceServer::new(turn(), Some("u".into()), Some(Credential::new("p".repeat(1025)))),
            Err(ConfigError::CredentialTooLong { len: 1025, max: 1024 })
        );
        assert_eq!(
            IceServer::stun(vec![url("stun:s.example.com"); 17]),
            Err(ConfigError::TooManyUrls { count: 17, max: 16 })
        );
        assert_eq!(
            RtcConfiguration::new(vec![turn_server(); 33], IceTransportPolicy::All),
            Err(ConfigError::TooManyServers { count: 33, max: 32 })
        );
    }

    #[test]
    fn deserialize_reports_what_is_wrong() {
        let cases = [
            (r#"{"urls":[]}"#, "no urls"),
            (r#"{"urls":"turn:t.example.com"}"#, "needs a username"),
            (r#"{"urls":"turn://t.example.com","username":"u","credential":"p"}"#, "`//`"),
            (r#"{"urls":"stun:s.example.com?transport=udp"}"#, "take no query"),
        ];
        for (json, needle) in cases {
            let err = serde_json::from_str::<IceServer>(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
        let err = serde_json::from_str::<RtcConfiguration>(r#"{"iceTransportPolicy":"none"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }

    #[test]
    fn debug_hides_the_credential() {
        let shown = format!("{:?}", turn_server());
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
