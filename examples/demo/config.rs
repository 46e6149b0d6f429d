//! How the demo server runs, and the `RTCConfiguration` it gives each page.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_ice_config::{
    IceServer, IceTransportPolicy, IceUrl, RtcConfiguration, TurnCredentials, TurnSecret,
};
use velaro_signaling::RelayConfig;

/// A TURN server that shares the demo's secret (coturn's `use-auth-secret`).
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// Its URLs, e.g. `turn:127.0.0.1:3478`.
    pub urls: Vec<IceUrl>,
    /// The secret shared with the TURN server (`static-auth-secret`).
    pub secret: TurnSecret,
    /// How long minted credentials stay valid: longer than a call, short enough that a leaked
    /// one soon stops working. Pages ask for fresh ones before an ICE restart.
    pub ttl: Duration,
}

/// How the demo server runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Where to listen; port 0 picks a free one. Keep it on loopback: the demo has no login.
    pub addr: SocketAddr,
    /// The TURN server, if any (without one, pages get no ICE servers: fine on one machine).
    pub turn: Option<TurnConfig>,
    /// The visitor's `iceTransportPolicy`: `Relay` hides its addresses from the agent
    /// (needs `turn`).
    pub visitor_policy: IceTransportPolicy,
    /// The agent's `iceTransportPolicy`.
    pub agent_policy: IceTransportPolicy,
    /// Conversations whose id starts with this are on a plan without video calls: the relay
    /// refuses their invites (`feature_disabled`) and the agent page shows no camera icon.
    pub basic_plan_prefix: String,
    /// The relay's limits.
    pub relay: RelayConfig,
    /// Print the relay's events (calls started and ended, refusals).
    pub verbose: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            turn: None,
            visitor_policy: IceTransportPolicy::All,
            agent_policy: IceTransportPolicy::All,
            basic_plan_prefix: "basic-".to_owned(),
            relay: RelayConfig::default(),
            verbose: false,
        }
    }
}

impl DemoConfig {
    /// Whether the conversation's account has video calls.
    pub fn video_enabled(&self, conversation: &ConversationId) -> bool {
        !conversation.as_str().starts_with(&self.basic_plan_prefix)
    }

    /// The `RTCConfiguration` for one page: the TURN server with credentials minted for this
    /// party at `now`, and the role's transport policy.
    pub fn rtc_configuration(
        &self,
        role: Role,
        party: &PartyId,
        now: SystemTime,
    ) -> Result<RtcConfiguration, Box<dyn Error + Send + Sync>> {
        let policy = match role {
            Role::Visitor => self.visitor_policy,
            _ => self.agent_policy,
        };
        let servers = match &self.turn {
            Some(turn) => {
                let credentials =
                    TurnCredentials::mint(&turn.secret, party.as_str(), turn.ttl, now)?;
                vec![IceServer::turn(turn.urls.clone(), &credentials)?]
            }
            None => Vec::new(),
        };
        Ok(RtcConfiguration::new(servers, policy)?)
    }
}
