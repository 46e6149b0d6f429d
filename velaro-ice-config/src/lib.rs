//! Everything a Velaro call needs before it can start: ICE servers and the browser's
//! `RTCConfiguration`, short-lived TURN credentials, ICE candidate parsing with a privacy
//! filter, and the web headers that let a chat widget use the camera.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use velaro_ice_config::{
//!     Candidate, CandidateFilter, CandidatePolicy, EmbedPolicy, IceServer, IceTransportPolicy,
//!     RtcConfiguration, TurnCredentials, TurnSecret,
//! };
//!
//! // Server side, per call: mint TURN credentials and hand the browser its configuration.
//! let secret = TurnSecret::new(b"shared-with-coturn-static-auth-secret".to_vec())?;
//! let now = UNIX_EPOCH + Duration::from_secs(1_764_000_000); // the caller's clock
//! let creds = TurnCredentials::mint(&secret, "visitor-42", Duration::from_secs(3600), now)?;
//! let config = RtcConfiguration::new(
//!     vec![IceServer::turn(vec!["turns:turn.example.com".parse()?], &creds)?],
//!     IceTransportPolicy::Relay, // visitors' addresses stay private
//! )?;
//! let json = serde_json::to_string(&config)?; // → new RTCPeerConnection(json)
//! assert!(json.contains(r#""username":"1764003600:visitor-42""#));
//! assert!(!format!("{config:?}").contains(creds.password().expose()));
//!
//! // Relay side: check trickled candidates and hide what the policy hides.
//! let filter = CandidateFilter::new(CandidatePolicy::from(config.ice_transport_policy()));
//! let host: Candidate = "candidate:1 1 udp 2122260223 192.168.1.20 5000 typ host".parse()?;
//! assert!(filter.apply(host).is_err());
//!
//! // Web side: headers for the page that hosts the chat widget.
//! let embed = EmbedPolicy::new(["https://api.example.com".parse()?]);
//! assert_eq!(
//!     embed.merge_csp("default-src 'self'"),
//!     "default-src 'self'; connect-src 'self' https://api.example.com wss://api.example.com"
//! );
//! assert_eq!(embed.permissions_policy(), "camera=(self), microphone=(self), display-capture=(self)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate does no IO and reads no clock: time comes in as `now` arguments.
//!
//! # Features
//! - `webrtc-ice`: conversions to `webrtc_ice::url::Url` (`IceUrl::to_webrtc_ice`,
//!   `RtcConfiguration::to_webrtc_ice_urls`) for Rust peers built on `webrtc-ice`. Off by
//!   default: it pulls in tokio, ring and more.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod candidate;
mod embed;
mod host;
mod policy;
mod serde_str;
mod server;
mod shared;
mod turn;
mod url;
#[cfg(feature = "webrtc-ice")]
mod webrtc_ice;

pub use candidate::{
    AddressClass, Candidate, CandidateAddress, CandidateError, CandidateKind, CandidateTransport,
    Extension, IpFamily, MAX_CANDIDATE_LEN, MAX_EXTENSIONS, TcpType,
};
pub use embed::{EmbedPolicy, Origin, OriginError};
pub use host::{Host, MAX_DNS_NAME_LEN};
pub use policy::{CandidateFilter, CandidatePolicy, DropReason, FilteredSdp, MAX_SDP_LINE_GROWTH};
pub use server::{
    ConfigError, Credential, IceServer, IceTransportPolicy, MAX_CREDENTIAL_LEN, MAX_ICE_SERVERS,
    MAX_URLS_PER_SERVER, MAX_USERNAME_LEN, RtcConfiguration,
};
pub use shared::SharedStr;
pub use turn::{
    CredentialError, MAX_TTL, MIN_SECRET_LEN, MIN_TTL, TurnCredentials, TurnSecret, turn_password,
};
pub use url::{
    DEFAULT_PORT, DEFAULT_TLS_PORT, IceUrl, MAX_URL_LEN, Scheme, TurnTransport, UrlError,
};
