//! What the demo's tests do as a page would: render a page, join with its token, read and send
//! frames. Included by each test binary (`#[path = "support/pages.rs"] mod pages;`); not every
//! binary uses every helper.

#![allow(dead_code)]

use std::time::Duration;

use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error, Message};
use velaro_demo::DemoServer;

/// A page's socket.
pub type Page = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// One plain HTTP/1.1 request; the whole response as text.
pub async fn get(server: &DemoServer, path: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    response
}

/// Who a rendered page is: what the server put in its `<meta>` tags.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub html: String,
    pub party: String,
    pub token: String,
}

/// The `content` of `<meta name="velaro-{name}">` in a page.
pub fn meta(html: &str, name: &str) -> String {
    let tag = format!("<meta name=\"velaro-{name}\" content=\"");
    let start = html.find(&tag).unwrap_or_else(|| panic!("no velaro-{name} in {html}")) + tag.len();
    let end = html[start..].find('"').expect("the attribute ends");
    html[start..start + end].to_owned()
}

/// Renders `path` (e.g. `/visitor?conversation=c`) as a browser would.
pub async fn render(server: &DemoServer, path: &str) -> Rendered {
    let html = get(server, path).await;
    assert!(html.starts_with("HTTP/1.1 200"), "{path}: {html}");
    let (party, token) = (meta(&html, "party"), meta(&html, "token"));
    Rendered { html, party, token }
}

/// Opens `/ws?{query}`; the HTTP status and body when the server refuses it.
pub async fn open(server: &DemoServer, query: &str) -> Result<Page, (u16, String)> {
    let url = format!("ws://{}/ws?{query}", server.addr());
    match tokio_tungstenite::connect_async(url).await {
        Ok((page, _)) => Ok(page),
        Err(Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            Err((response.status().as_u16(), body.into_owned()))
        }
        Err(other) => panic!("{query}: {other:?}"),
    }
}

/// A page as a browser opens it: the server renders `/{role}?conversation=…` with a token, and
/// the page's socket joins with it. Returns the socket and the party id the server gave it.
pub async fn join(server: &DemoServer, role: &str, conversation: &str) -> (Page, String) {
    let page = render(server, &format!("/{role}?conversation={conversation}")).await;
    let query = format!("conversation={conversation}&token={}", page.token);
    (open(server, &query).await.expect("the page connects"), page.party)
}

/// The next frame, as JSON (within 10 s).
pub async fn next<S>(page: &mut S) -> Value
where
    S: Stream<Item = Result<Message, Error>> + Unpin,
{
    let frame = tokio::time::timeout(Duration::from_secs(10), page.next())
        .await
        .expect("a frame within 10 s")
        .expect("the socket is open")
        .expect("a good frame");
    serde_json::from_str(frame.to_text().expect("text")).expect("JSON")
}

/// The frames a page gets up to and including the first of type `kind`.
pub async fn frames_until<S>(page: &mut S, kind: &str) -> Vec<Value>
where
    S: Stream<Item = Result<Message, Error>> + Unpin,
{
    let mut frames = Vec::new();
    loop {
        let frame = next(page).await;
        let done = frame["type"] == kind;
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

/// Sends a frame as text.
pub async fn send<S>(page: &mut S, frame: &Value)
where
    S: Sink<Message, Error = Error> + Unpin,
{
    page.send(Message::text(frame.to_string())).await.expect("sent");
}

/// A call frame of `call-1` in `conversation`, as a page writes it.
pub fn envelope(
    conversation: &str,
    party: &str,
    role: &str,
    seq: u64,
    kind: &str,
    body: Value,
) -> Value {
    json!({"type": kind, "version": 1, "conversation_id": conversation, "call_id": "call-1",
        "party_id": party, "role": role, "seq": seq, "body": body})
}
