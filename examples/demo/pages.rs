//! The pages, their scripts, and the headers that let them use the camera.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use velaro_ice_config::EmbedPolicy;

use crate::App;

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
/// `visitor-only` in the one template.
fn chat_page(role: &str, title: &str) -> String {
    include_str!("web/chat.html").replace("{{role}}", role).replace("{{title}}", title)
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

/// `/agent?conversation=…`: the support agent's chat, with the camera icon.
pub(crate) async fn agent(State(app): State<Arc<App>>) -> Response {
    page(&app, chat_page("agent", "Agent console"))
}

/// `/visitor?conversation=…`: the website visitor's chat widget.
pub(crate) async fn visitor(State(app): State<Arc<App>>) -> Response {
    page(&app, chat_page("visitor", "Chat with us"))
}

/// `/static/{file}`: the scripts and the style sheet (no build step).
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "velaro-call.js" => (include_str!("web/velaro-call.js"), "text/javascript"),
        "chat.js" => (include_str!("web/chat.js"), "text/javascript"),
        "demo.css" => (include_str!("web/demo.css"), "text/css"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut response = ([(header::CONTENT_TYPE, kind)], body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
