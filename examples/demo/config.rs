//! How the demo server runs, the `RTCConfiguration` it gives each page, and the join tokens
//! that say who each page is.

use std::error::Error;
use std::fmt;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_ice_config::{
    CandidateFilter, CandidatePolicy, IceServer, IceTransportPolicy, IceUrl, RtcConfiguration,
    TurnCredentials, TurnSecret,
};
use velaro_signaling::{
    Expect, JoinClaims, JoinKey, JoinKeys, JoinNonce, JoinToken, RateLimit, RelayConfig,
    ReplayGuard, TokenError,
};

/// A TURN server that shares the demo's secret (coturn's `use-auth-secret`).
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// Its URLs, e.g. `turn:127.0.0.1:3478`.
    pub urls: Vec<IceUrl>,
    /// The secret shared with the TURN server (`static-auth-secret`).
    pub secret: TurnSecret,
    /// How long minted credentials stay valid: longer than a call, short enough that a leaked
    /// one soon stops working. A page can stay open far longer (agent consoles stay open all
    /// day), so credentials are minted for every call, not once per page: the server sends
    /// fresh ones as a call starts, and pages ask for fresh ones before an ICE restart.
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
    /// (needs `turn`). The one setting for both ends: with `Relay`, the relay also drops every
    /// candidate but a relay one from what visitors send (see
    /// [`relay_config`](Self::relay_config)), so a browser that ignores the policy, or a forged
    /// page, cannot give the agent the visitor's addresses either.
    pub visitor_policy: IceTransportPolicy,
    /// The agent's `iceTransportPolicy`.
    pub agent_policy: IceTransportPolicy,
    /// Conversations whose id starts with this are on a plan without video calls: the relay
    /// refuses their invites (`feature_disabled`) and the agent page shows no camera icon.
    pub basic_plan_prefix: String,
    /// The relay's limits (its visitor candidate filter follows
    /// [`visitor_policy`](Self::visitor_policy)). Its grace is also how long an empty chat
    /// room keeps its history for a page that comes back.
    pub relay: RelayConfig,
    /// The limit on each page's chat lines, a token bucket like the relay's for call frames.
    /// Lines past it are dropped and the page is told with a `host.error`.
    pub chat_rate: RateLimit,
    /// The most bytes waiting to be written to one page. A page that falls further behind
    /// (it stopped reading, while the chat goes on) is disconnected rather than buffered
    /// without bound; it reconnects and resumes. Call frames wait in the relay's own queue
    /// ([`RelayConfig::max_queued`]) once half of this is taken, so the relay disconnects a page
    /// that stops reading them.
    pub max_queued_bytes: usize,
    /// Print the relay's events (calls started and ended, refusals).
    pub verbose: bool,
    /// Where to append one JSON line per ended call ([`CallRecord`]: parties, wall-clock
    /// times, outcome, talk time, media used), to store and bill from; `None` writes none.
    ///
    /// [`CallRecord`]: velaro_call_state::CallRecord
    pub records: Option<PathBuf>,
    /// The join tokens that tell the server who each page is: a random key unless
    /// [`with_join_keys`](Self::with_join_keys) set one. Clones share the key and the record
    /// of used tokens, so start each server from its own `DemoConfig::default()`.
    pub join: JoinTokens,
    /// With `Some`, the server is one node of a relay cluster on Redis (the server's `--redis`
    /// and `--node`): its pages' sockets go through a
    /// [`ClusterNode`](velaro_signaling::cluster::ClusterNode) and its chat through Redis.
    /// Every node needs the same join key: [`with_join_keys`](Self::with_join_keys), with
    /// `VELARO_JOIN_KEY` or the cluster's [`shared_join_key`](crate::shared_join_key).
    pub cluster: Option<crate::ClusterSettings>,
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
            chat_rate: RateLimit { burst: 20, per_second: 5 },
            max_queued_bytes: 1024 * 1024,
            verbose: false,
            records: None,
            join: JoinTokens::random(),
            cluster: None,
        }
    }
}

impl DemoConfig {
    /// Signs the pages' join tokens with `keys` (the server's `VELARO_JOIN_KEY`) rather than
    /// a random key, so that tokens outlive a restart (and tests can mint their own).
    #[must_use]
    pub fn with_join_keys(self, keys: JoinKeys) -> DemoConfig {
        DemoConfig { join: JoinTokens::new(Ok(keys)), ..self }
    }

    /// Whether the conversation's account has video calls.
    pub fn video_enabled(&self, conversation: &ConversationId) -> bool {
        !conversation.as_str().starts_with(&self.basic_plan_prefix)
    }

    /// The relay's configuration: [`relay`](Self::relay), with a relay-only filter on the
    /// visitors' candidates when [`visitor_policy`](Self::visitor_policy) is `Relay`. When every
    /// TURN server is on this machine (a demo on one computer) its relay candidates carry a
    /// loopback address, which the filter then lets through; it still drops every host,
    /// server-reflexive and peer-reflexive candidate and blanks the related addresses.
    pub fn relay_config(&self) -> RelayConfig {
        if self.visitor_policy != IceTransportPolicy::Relay {
            return self.relay;
        }
        let mut filter = CandidateFilter::new(CandidatePolicy::from(self.visitor_policy));
        let on_this_machine = self.turn.as_ref().is_some_and(|turn| {
            !turn.urls.is_empty() && turn.urls.iter().all(|url| url.host().is_local())
        });
        if on_this_machine {
            filter = filter.dangerous_allow_unroutable();
        }
        self.relay.with_visitor_candidates(filter)
    }

    /// The `RTCConfiguration` for one page: the TURN server with credentials minted for this
    /// party at `now`, and the role's transport policy. Mint one per call (and per ICE
    /// restart): credentials outlive a call, not a page.
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

/// The demo's join tokens: the server is the host, so it mints each page's token when it
/// renders the page (the path gives the role, the query the conversation, the server a party
/// id), and admits a WebSocket only with a token it minted, once.
///
/// Clones share the keys and the [`ReplayGuard`].
#[derive(Clone)]
pub struct JoinTokens(Arc<JoinState>);

struct JoinState {
    /// `Err` when no random key could be made: every page then says why.
    keys: Result<JoinKeys, String>,
    used: Mutex<ReplayGuard>,
}

impl JoinTokens {
    /// How long a token lasts: from the page render to its socket's connect, and from one
    /// connect to the next (a connected page gets a fresh token every half of this).
    pub const TTL: Duration = Duration::from_secs(10 * 60);
    /// The most tokens used within one [`TTL`](Self::TTL): past that, connects are refused
    /// until the oldest expire (about 200 bytes each).
    pub const MAX_USED: usize = 100_000;

    fn new(keys: Result<JoinKeys, String>) -> JoinTokens {
        let used = Mutex::new(ReplayGuard::new(Self::MAX_USED));
        JoinTokens(Arc::new(JoinState { keys, used }))
    }

    /// A fresh random key (from `/dev/urandom`), good until the server stops.
    fn random() -> JoinTokens {
        let key = random_bytes::<32>()
            .map_err(|error| format!("no random join key (/dev/urandom: {error})"))
            .and_then(|secret| JoinKey::new("random", secret).map_err(|e| e.to_string()));
        JoinTokens::new(key.map(JoinKeys::new))
    }

    fn keys(&self) -> Result<&JoinKeys, String> {
        self.0.keys.as_ref().map_err(Clone::clone)
    }

    /// A token for `party` to join `conversation` as `role`, valid for [`TTL`](Self::TTL).
    pub(crate) fn mint(
        &self,
        conversation: &ConversationId,
        role: Role,
        party: &PartyId,
        now: SystemTime,
    ) -> Result<JoinToken, String> {
        let keys = self.keys()?;
        let random = random_bytes::<18>().map_err(|e| format!("no random nonce: {e}"))?;
        let nonce = JoinNonce::from_bytes(&random).map_err(|e| e.to_string())?;
        let claims =
            JoinClaims::new(conversation.clone(), role, party.clone(), nonce, Self::TTL, now)
                .map_err(|e| e.to_string())?;
        Ok(keys.mint(&claims))
    }

    /// Admits a WebSocket for `conversation` with `token`: the token must be one this server
    /// minted, for that conversation, unexpired and unused; it is used up.
    pub(crate) fn admit(
        &self,
        token: &str,
        conversation: &ConversationId,
        now: SystemTime,
    ) -> Result<JoinClaims, TokenError> {
        // Without a key nothing was minted: every token is unknown.
        let Ok(keys) = self.keys() else {
            return Err(TokenError::UnknownKey { key_id: "random".to_owned() });
        };
        let claims = keys.verify(token, Expect::conversation(conversation), now)?;
        // Each check is one insertion: the guard stays consistent even if a holder panicked.
        let mut used = self.0.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.check_and_remember(&claims, now)?;
        Ok(claims)
    }
}

impl Default for JoinTokens {
    /// A random key.
    fn default() -> Self {
        JoinTokens::random()
    }
}

impl fmt::Debug for JoinTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let used = self.0.used.lock().map_or(0, |used| used.len());
        f.debug_struct("JoinTokens")
            .field("keys", &self.0.keys)
            .field("used", &used)
            .finish_non_exhaustive()
    }
}

/// A page's party id, made by the server: the role and 16 random hex digits.
pub(crate) fn new_party(role: Role) -> io::Result<PartyId> {
    let hex: String = random_bytes::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
    let role = match role {
        Role::Agent => "agent",
        Role::Visitor => "visitor",
    };
    PartyId::new(format!("{role}-{hex}")).map_err(io::Error::other)
}

/// `N` bytes from the operating system's random number generator. The demo reads
/// `/dev/urandom` (Linux, macOS and the BSDs) rather than add a crate for it.
pub(crate) fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use velaro_ice_config::{Candidate, DropReason};

    use super::*;

    fn config(turn_url: &str, visitor_policy: IceTransportPolicy) -> DemoConfig {
        let turn = TurnConfig {
            urls: vec![turn_url.parse().expect("url")],
            secret: TurnSecret::new("config-test-secret-0123456789").expect("secret"),
            ttl: Duration::from_secs(600),
        };
        DemoConfig { turn: Some(turn), visitor_policy, ..DemoConfig::default() }
    }

    fn candidate(text: &str) -> Candidate {
        text.parse().expect("candidate")
    }

    #[test]
    fn relay_only_visitors_get_a_relay_only_filter_in_the_relay() {
        let host = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host";
        let relay = "candidate:3 1 udp 41885439 203.0.113.5 3478 typ relay raddr 198.51.100.20 \
                     rport 54321";
        let loopback_relay = "candidate:4 1 udp 41885439 127.0.0.1 50000 typ relay raddr \
                              192.168.1.20 rport 54321";

        let all = config("turn:turn.example.com", IceTransportPolicy::All).relay_config();
        assert_eq!(all.visitor_candidates, None, "visitors' candidates pass as they are");

        let remote = config("turns:turn.example.com", IceTransportPolicy::Relay).relay_config();
        let filter = remote.visitor_candidates.expect("a filter");
        assert_eq!(filter.policy(), CandidatePolicy::RelayOnly);
        assert_eq!(filter.apply(candidate(host)), Err(DropReason::NotRelay));
        let kept = filter.apply(candidate(relay)).expect("relay candidates pass");
        assert!(kept.to_string().ends_with("raddr 0.0.0.0 rport 0"), "{kept}");
        assert_eq!(filter.apply(candidate(loopback_relay)), Err(DropReason::Unroutable));

        // A TURN server on this machine allocates loopback relay candidates: they pass, the
        // rest is filtered as before.
        let local = config("turn:127.0.0.1:3478", IceTransportPolicy::Relay).relay_config();
        let filter = local.visitor_candidates.expect("a filter");
        assert_eq!(filter.apply(candidate(host)), Err(DropReason::NotRelay));
        let kept = filter.apply(candidate(loopback_relay)).expect("a local TURN's candidates");
        assert!(kept.to_string().ends_with("raddr 0.0.0.0 rport 0"), "{kept}");
    }
}
