//! Conversions to `webrtc-ice` types (feature `webrtc-ice`), for Rust peers built on it.

use webrtc_ice::url::{ProtoType, SchemeType, Url};

use crate::host::Host;
use crate::server::{Credential, IceServer, RtcConfiguration};
use crate::url::{IceUrl, Scheme, TurnTransport};

impl IceUrl {
    /// This URL as a `webrtc_ice::url::Url`, with the given credentials (empty for STUN).
    pub fn to_webrtc_ice(&self, username: &str, password: &str) -> Url {
        Url {
            scheme: match self.scheme() {
                Scheme::Stun => SchemeType::Stun,
                Scheme::Stuns => SchemeType::Stuns,
                Scheme::Turn => SchemeType::Turn,
                Scheme::Turns => SchemeType::Turns,
            },
            // webrtc-ice keeps IPv6 hosts without brackets.
            host: match self.host() {
                Host::Domain(name) => name.clone(),
                Host::Ipv4(v4) => v4.to_string(),
                Host::Ipv6(v6) => v6.to_string(),
            },
            port: self.port(),
            username: username.to_owned(),
            password: password.to_owned(),
            proto: match self.transport() {
                TurnTransport::Udp => ProtoType::Udp,
                TurnTransport::Tcp => ProtoType::Tcp,
            },
        }
    }
}

impl IceServer {
    /// Every URL of this server as a `webrtc_ice::url::Url` carrying its credentials.
    pub fn to_webrtc_ice_urls(&self) -> Vec<Url> {
        let username = self.username().unwrap_or_default();
        let password = self.credential().map(Credential::expose).unwrap_or_default();
        self.urls().iter().map(|url| url.to_webrtc_ice(username, password)).collect()
    }
}

impl RtcConfiguration {
    /// The URL list for `webrtc_ice::agent::agent_config::AgentConfig::urls`.
    pub fn to_webrtc_ice_urls(&self) -> Vec<Url> {
        self.ice_servers().iter().flat_map(IceServer::to_webrtc_ice_urls).collect()
    }
}
