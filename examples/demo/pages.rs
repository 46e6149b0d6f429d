//! The pages, their scripts, and the headers that let them use the camera.
//!
//! The server is the host here: it renders each chat page with the page's identity in it (a
//! join token for the conversation in the query and the role of the path, and a party id of
//! its own making), and the page's socket is admitted with that token only. A page's script
//! can choose neither its role nor its party id.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_ice_config::EmbedPolicy;
use velaro_signaling::JoinToken;

use crate::App;
use crate::config::new_party;

/// The policy the demo's pages would have without calls: our own scripts and styles only.
const BASE_CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
                        object-src 'none'; frame-ancestors 'self'";

/// `Content-Security-Policy` and `Permissions-Policy` for every page, from [`EmbedPolicy`].
#[derive(Debug)]
pub(crate) struct SecurityHeaders {
    csp: HeaderValue,
    permissions: HeaderValue,
}

impl SecurityHeaders {
    /// The headers for pages served from (and signaling to) `addr`.
    pub(crate) fn for_origin(addr: SocketAddr) -> io::Result<SecurityHeaders> {
        let origin = format!("http://{addr}").parse().map_err(io::Error::other)?;
        let policy = EmbedPolicy::new([origin]);
        let value = |text: String| HeaderValue::from_str(&text).map_err(io::Error::other);
        Ok(SecurityHeaders {
            csp: value(policy.merge_csp(BASE_CSP))?,
            permissions: value(policy.permissions_policy())?,
        })
    }
}

/// The chat page, for either role: each side's own controls are marked `agent-only` or
/// `visitor-only` in the one template. Who the page is goes into `<meta>` tags that `chat.js`
/// reads (not a script: the CSP allows none inline). Ids and tokens need no escaping: their
/// grammars are `[0-9A-Za-z._~-]`.
fn chat_page(
    role: Role,
    conversation: &ConversationId,
    party: &PartyId,
    token: &JoinToken,
) -> String {
    let (role, title) = match role {
        Role::Agent => ("agent", "Agent console"),
        Role::Visitor => ("visitor", "Chat with us"),
    };
    let identity = format!(
        "<meta name=\"velaro-conversation\" content=\"{conversation}\">\n  \
         <meta name=\"velaro-party\" content=\"{party}\">\n  \
         <meta name=\"velaro-token\" content=\"{}\">\n</head>",
        token.expose()
    );
    include_str!("web/chat.html")
        .replace("{{role}}", role)
        .replace("{{title}}", title)
        .replacen("</head>", &identity, 1)
}

fn page(app: &App, html: impl IntoResponse) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, app.headers.csp.clone());
    headers.insert("permissions-policy", app.headers.permissions.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `/`: links to both sides of one conversation.
pub(crate) async fn index(State(app): State<Arc<App>>) -> Response {
    page(&app, include_str!("web/index.html"))
}

/// What a chat page's URL may say: the conversation (`demo` when absent). Anything else in
/// it (a `role`, a `party`) is not read.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    conversation: Option<String>,
}

/// `/agent?conversation=…`: the support agent's chat, with the camera icon. The demo has no
/// login, so the path stands in for one: a real host renders this page only for its signed-in
/// agents.
pub(crate) async fn agent(State(app): State<Arc<App>>, Query(query): Query<PageQuery>) -> Response {
    chat(&app, Role::Agent, query)
}

/// `/visitor?conversation=…`: the website visitor's chat widget.
pub(crate) async fn visitor(
    State(app): State<Arc<App>>,
    Query(query): Query<PageQuery>,
) -> Response {
    chat(&app, Role::Visitor, query)
}

/// A chat page for `role`, with a new party id and a join token minted for it now.
fn chat(app: &App, role: Role, query: PageQuery) -> Response {
    let conversation = query.conversation.unwrap_or_else(|| "demo".to_owned());
    let conversation = match ConversationId::new(conversation) {
        Ok(id) => id,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, format!("conversation: {error}")).into_response();
        }
    };
    let party = match new_party(role) {
        Ok(party) => party,
        Err(error) => return unavailable(&format!("no party id: {error}")),
    };
    match app.config.join.mint(&conversation, role, &party, SystemTime::now()) {
        Ok(token) => page(app, chat_page(role, &conversation, &party, &token)),
        Err(error) => unavailable(&error),
    }
}

fn unavailable(detail: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("cannot render the page: {detail}")).into_response()
}

/// `/static/{file}`: the page's script and the style sheet (no build step).
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "chat.js" => static_file(include_str!("web/chat.js"), "text/javascript"),
        "demo.css" => static_file(include_str!("web/demo.css"), "text/css"),
        _ => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The browser package `@velaro/call` as built: `velaro-call-js/dist`, committed (its `npm
/// test` fails when it is stale), so the demo needs no npm step. Every module of it, by its path
/// under `dist/`; `chat.js` imports `index.js`, which imports the others by relative paths.
pub(crate) const PACKAGE_MODULES: &[(&str, &str)] = &[
    ("candidates.js", include_str!("../../velaro-call-js/dist/candidates.js")),
    ("client.js", include_str!("../../velaro-call-js/dist/client.js")),
    ("dedupe.js", include_str!("../../velaro-call-js/dist/dedupe.js")),
    ("emitter.js", include_str!("../../velaro-call-js/dist/emitter.js")),
    ("ended-calls.js", include_str!("../../velaro-call-js/dist/ended-calls.js")),
    ("index.js", include_str!("../../velaro-call-js/dist/index.js")),
    ("machine.js", include_str!("../../velaro-call-js/dist/machine.js")),
    ("quality.js", include_str!("../../velaro-call-js/dist/quality.js")),
    ("resume.js", include_str!("../../velaro-call-js/dist/resume.js")),
    ("sdp.js", include_str!("../../velaro-call-js/dist/sdp.js")),
    ("texts.js", include_str!("../../velaro-call-js/dist/texts.js")),
    ("wire.js", include_str!("../../velaro-call-js/dist/wire.js")),
    ("generated/wire.js", include_str!("../../velaro-call-js/dist/generated/wire.js")),
];

/// `/static/call/{path}`: a module of the browser package.
pub(crate) async fn package_module(Path(path): Path<String>) -> Response {
    match PACKAGE_MODULES.iter().find(|(name, _)| *name == path) {
        Some((_, body)) => static_file(body, "text/javascript"),
        None => (StatusCode::NOT_FOUND, "no such module").into_response(),
    }
}

fn static_file(body: &'static str, kind: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, kind)], body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
