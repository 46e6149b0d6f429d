//! The HTTP headers and iframe attribute a page needs so the chat widget may reach the
//! signaling server and use the camera, microphone and screen capture.

use std::fmt;
use std::str::FromStr;

use crate::host::{self, Host, HostFault, excerpt};

/// Why an origin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// No `scheme://` prefix.
    #[error("origin `{0}` has no scheme (expected https://host)")]
    MissingScheme(String),
    /// A scheme other than `https`/`wss` (or `http`/`ws` for localhost).
    #[error(
        "origin scheme `{0}` is not allowed (use https or wss; http and ws only for localhost)"
    )]
    UnsupportedScheme(String),
    /// A path, query or fragment after the host: an origin is only scheme, host and port.
    #[error("origin `{0}` must not have a path, query or fragment")]
    NotAnOrigin(String),
    /// A `user@` part.
    #[error("origin must not contain userinfo (`user@host`)")]
    Userinfo,
    /// The host is not a DNS name, IPv4 or bracketed IPv6 address.
    #[error("invalid host `{0}` in origin")]
    InvalidHost(String),
    /// The port is empty, not decimal, 0, or above 65535.
    #[error("invalid port `{0}` in origin")]
    InvalidPort(String),
    /// A wildcard other than one leading `*.` followed by at least two labels
    /// (`https://*.example.com` is fine; `*`, `https://*` and `https://*.com` are not).
    #[error("wildcard origin `{0}` is too broad (allowed: https://*.example.com)")]
    BroadWildcard(String),
}

/// A web origin: scheme, host and optional port, with an optional leading `*.` wildcard.
///
/// Plain `http`/`ws` is accepted only for `localhost` and loopback addresses (browsers treat
/// those as secure contexts, so local demos work).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    secure: bool,
    wildcard: bool,
    host: Host,
    port: Option<u16>,
}

impl Origin {
    /// The origin for HTTP fetches: `https://host[:port]`.
    pub fn http(&self) -> String {
        self.with_scheme(if self.secure { "https" } else { "http" })
    }

    /// The origin for web sockets: `wss://host[:port]`.
    pub fn websocket(&self) -> String {
        self.with_scheme(if self.secure { "wss" } else { "ws" })
    }

    fn with_scheme(&self, scheme: &str) -> String {
        let star = if self.wildcard { "*." } else { "" };
        match self.port {
            Some(port) => format!("{scheme}://{star}{}:{port}", self.host),
            None => format!("{scheme}://{star}{}", self.host),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.http())
    }
}

impl FromStr for Origin {
    type Err = OriginError;

    /// Parses `https://host[:port]` (or `wss://`, and `http://`/`ws://` for localhost); one
    /// trailing `/` is tolerated, since that is how origins are often pasted.
    fn from_str(text: &str) -> Result<Self, OriginError> {
        let (scheme, rest) =
            text.split_once("://").ok_or_else(|| OriginError::MissingScheme(excerpt(text)))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "https" | "wss" => true,
            "http" | "ws" => false,
            _ => return Err(OriginError::UnsupportedScheme(excerpt(scheme))),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(OriginError::NotAnOrigin(excerpt(text)));
        }
        if authority.contains('@') {
            return Err(OriginError::Userinfo);
        }
        let host_error = |fault| match fault {
            HostFault::BadIpv6 | HostFault::BadName => OriginError::InvalidHost(excerpt(authority)),
        };
        let (host_text, port_text) = host::split_host_port(authority).map_err(host_error)?;
        let (wildcard, host_text) = match host_text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host_text),
        };
        if host_text.contains('*') {
            return Err(OriginError::BroadWildcard(excerpt(text)));
        }
        let host = host::parse_host(host_text).map_err(host_error)?;
        if wildcard && !matches!(&host, Host::Domain(name) if name.split('.').count() >= 2) {
            return Err(OriginError::BroadWildcard(excerpt(text)));
        }
        let port = match port_text {
            None => None,
            Some(port) => Some(
                host::parse_nonzero_port(port)
                    .ok_or_else(|| OriginError::InvalidPort(excerpt(port)))?,
            ),
        };
        if !secure && (wildcard || !host.is_local()) {
            return Err(OriginError::UnsupportedScheme(excerpt(scheme)));
        }
        Ok(Origin { secure, wildcard, host, port })
    }
}

/// The features a call needs from the browser.
const FEATURES: [&str; 3] = ["camera", "microphone", "display-capture"];

/// Builds the headers that let a page (or an iframe in it) run a call.
///
/// - [`merge_csp`](Self::merge_csp): adds the signaling origins (`https:` and `wss:`) to the
///   page's `Content-Security-Policy` `connect-src`, leaving other directives alone.
/// - [`permissions_policy`](Self::permissions_policy): the `Permissions-Policy` value granting
///   camera, microphone and display capture to the page itself and to the widget's frame
///   origins.
/// - [`iframe_allow`](Self::iframe_allow): the `allow` attribute of the widget's iframe.
///
/// ```
/// use velaro_ice_config::EmbedPolicy;
///
/// let policy = EmbedPolicy::new(["https://api.velaro.example".parse()?])
///     .with_frame_origins(["https://widget.velaro.example".parse()?]);
/// assert_eq!(
///     policy.merge_csp("default-src 'self'; img-src *"),
///     "default-src 'self'; img-src *; \
///      connect-src 'self' https://api.velaro.example wss://api.velaro.example",
/// );
/// assert_eq!(
///     policy.permissions_policy(),
///     "camera=(self \"https://widget.velaro.example\"), \
///      microphone=(self \"https://widget.velaro.example\"), \
///      display-capture=(self \"https://widget.velaro.example\")",
/// );
/// assert_eq!(policy.iframe_allow(), "camera; microphone; display-capture");
/// # Ok::<(), velaro_ice_config::OriginError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedPolicy {
    signaling: Vec<Origin>,
    frames: Vec<Origin>,
}

impl EmbedPolicy {
    /// A policy for pages that talk to these signaling origins.
    pub fn new(signaling_origins: impl IntoIterator<Item = Origin>) -> Self {
        let mut signaling = Vec::new();
        for origin in signaling_origins {
            push_unique(&mut signaling, origin);
        }
        EmbedPolicy { signaling, frames: Vec::new() }
    }

    /// Also grant camera, microphone and display capture to iframes from these origins (the
    /// chat widget when it is embedded from another origin).
    #[must_use]
    pub fn with_frame_origins(mut self, frame_origins: impl IntoIterator<Item = Origin>) -> Self {
        for origin in frame_origins {
            push_unique(&mut self.frames, origin);
        }
        self
    }

    /// The `connect-src` sources: each signaling origin as `https:` and as `wss:`.
    pub fn connect_src_sources(&self) -> Vec<String> {
        self.signaling.iter().flat_map(|o| [o.http(), o.websocket()]).collect()
    }

    /// Merges [`connect_src_sources`](Self::connect_src_sources) into an existing
    /// `Content-Security-Policy` value.
    ///
    /// - An existing `connect-src` gets the missing sources appended (`'none'` is removed,
    ///   since it would contradict them; a `*` already allows them).
    /// - Without `connect-src`, fetches fall back to `default-src`: a new `connect-src` starts
    ///   with `default-src`'s sources so nothing that worked before breaks.
    /// - Without either, connections are unrestricted and the value is returned unchanged.
    ///
    /// Other directives keep their order and text; empty directives are dropped.
    pub fn merge_csp(&self, existing: &str) -> String {
        let mut directives: Vec<Vec<String>> = existing
            .split(';')
            .map(|d| d.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|d| !d.is_empty())
            .collect();
        let named =
            |d: &Vec<String>, name: &str| d.first().is_some_and(|n| n.eq_ignore_ascii_case(name));
        let index = match directives.iter().position(|d| named(d, "connect-src")) {
            Some(index) => index,
            None => match directives.iter().find(|d| named(d, "default-src")) {
                Some(default) => {
                    let mut connect = default.clone();
                    if let Some(name) = connect.first_mut() {
                        "connect-src".clone_into(name);
                    }
                    directives.push(connect);
                    directives.len() - 1
                }
                None => return join_csp(&directives),
            },
        };
        if let Some(connect) = directives.get_mut(index)
            && !connect.iter().skip(1).any(|s| s == "*")
        {
            connect.retain(|s| !s.eq_ignore_ascii_case("'none'"));
            for source in self.connect_src_sources() {
                if !connect.iter().skip(1).any(|s| s.eq_ignore_ascii_case(&source)) {
                    connect.push(source);
                }
            }
        }
        join_csp(&directives)
    }

    /// The `Permissions-Policy` header value: each feature for `self` and the frame origins.
    pub fn permissions_policy(&self) -> String {
        let mut allowlist = String::from("self");
        for origin in &self.frames {
            allowlist.push_str(" \"");
            allowlist.push_str(&origin.http());
            allowlist.push('"');
        }
        FEATURES.map(|feature| format!("{feature}=({allowlist})")).join(", ")
    }

    /// The iframe `allow` attribute: the features for the frame's own origin (`'src'`, the
    /// default when no origin is listed).
    pub fn iframe_allow(&self) -> String {
        FEATURES.join("; ")
    }
}

fn push_unique(list: &mut Vec<Origin>, origin: Origin) {
    if !list.contains(&origin) {
        list.push(origin);
    }
}

fn join_csp(directives: &[Vec<String>]) -> String {
    directives.iter().map(|d| d.join(" ")).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> Origin {
        text.parse().unwrap()
    }

    fn policy() -> EmbedPolicy {
        EmbedPolicy::new([
            origin("https://api.velaro.example"),
            origin("wss://API.velaro.example/"),
        ])
    }

    #[test]
    fn parses_and_normalizes_origins() {
        assert_eq!(origin("wss://Api.Example.com:8443").http(), "https://api.example.com:8443");
        assert_eq!(origin("https://api.example.com/").websocket(), "wss://api.example.com");
        assert_eq!(origin("http://127.0.0.1:8080").websocket(), "ws://127.0.0.1:8080");
        assert_eq!(origin("http://localhost:3000").http(), "http://localhost:3000");
        assert_eq!(origin("https://[2001:db8::1]").http(), "https://[2001:db8::1]");
        assert_eq!(origin("https://*.velaro.example").websocket(), "wss://*.velaro.example");
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        let cases = [
            ("api.example.com", OriginError::MissingScheme("api.example.com".into())),
            ("ftp://api.example.com", OriginError::UnsupportedScheme("ftp".into())),
            ("http://api.example.com", OriginError::UnsupportedScheme("http".into())),
            (
                "https://api.example.com/v1",
                OriginError::NotAnOrigin("https://api.example.com/v1".into()),
            ),
            (
                "https://api.example.com?x",
                OriginError::NotAnOrigin("https://api.example.com?x".into()),
            ),
            ("https://u@api.example.com", OriginError::Userinfo),
            ("https://bad_host", OriginError::InvalidHost("bad_host".into())),
            ("https://[::1", OriginError::InvalidHost("[::1".into())),
            ("https://api.example.com:0", OriginError::InvalidPort("0".into())),
            ("https://*", OriginError::BroadWildcard("https://*".into())),
            ("https://*.com", OriginError::BroadWildcard("https://*.com".into())),
            (
                "https://a.*.example.com",
                OriginError::BroadWildcard("https://a.*.example.com".into()),
            ),
            ("http://*.app.localhost", OriginError::UnsupportedScheme("http".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Origin>(), Err(expected), "{text}");
        }
    }

    #[test]
    fn connect_sources_are_https_and_wss_without_duplicates() {
        assert_eq!(
            policy().connect_src_sources(),
            ["https://api.velaro.example", "wss://api.velaro.example"]
        );
    }

    #[test]
    fn merges_into_existing_connect_src() {
        let merged = policy().merge_csp(
            "default-src 'self'; connect-src 'self' https://api.velaro.example; img-src data:",
        );
        assert_eq!(
            merged,
            "default-src 'self'; connect-src 'self' https://api.velaro.example \
             wss://api.velaro.example; img-src data:"
        );
        assert_eq!(policy().merge_csp(&merged), merged, "merging twice changes nothing");
    }

    #[test]
    fn connect_src_none_is_replaced_and_star_is_kept() {
        assert_eq!(
            policy().merge_csp("connect-src 'none'"),
            "connect-src https://api.velaro.example wss://api.velaro.example"
        );
        assert_eq!(policy().merge_csp("connect-src *;;"), "connect-src *");
    }

    #[test]
    fn without_connect_src_inherits_default_src() {
        assert_eq!(
            policy().merge_csp("default-src 'self' https://cdn.example"),
            "default-src 'self' https://cdn.example; connect-src 'self' https://cdn.example \
             https://api.velaro.example wss://api.velaro.example"
        );
        assert_eq!(policy().merge_csp("img-src *"), "img-src *", "unrestricted stays unrestricted");
        assert_eq!(policy().merge_csp(""), "");
    }

    #[test]
    fn permissions_policy_for_self_only() {
        assert_eq!(
            policy().permissions_policy(),
            "camera=(self), microphone=(self), display-capture=(self)"
        );
    }
}
