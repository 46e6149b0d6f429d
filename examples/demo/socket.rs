//! One page's WebSocket: the host's own frames (`chat.*`, `host.*`) and call frames side by
//! side. Call frames go to the relay through a [`Bridge`]; the host's are handled here.
//!
//! A page is admitted with the join token it got when it was rendered, once: its role, party
//! id and conversation are the token's, never the page's say. So that it can come back after a
//! dropped connection, a connected page always holds a fresh token for its next connect: one
//! in its `host.welcome`, and a new one in a `host.token` every half of a token's lifetime.
//!
//! Everything a page can make the server hold is bounded: a WebSocket frame and message are at
//! most [`MAX_MESSAGE`] bytes (a socket parked mid-frame holds no more), the socket's write
//! buffer (unread pongs included) at most [`MAX_WRITE_BUFFER`], what waits for the page at most
//! [`DemoConfig::max_queued_bytes`](crate::DemoConfig::max_queued_bytes) (an [`Outbox`]),
//! what the page sent and the relay has not read yet at most [`INCOMING`] frames, and its chat
//! lines are rate-limited ([`DemoConfig::chat_rate`](crate::DemoConfig::chat_rate)).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::channel::mpsc::{Receiver, channel};
use futures::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use velaro_call_protocol::limits::MAX_FRAME_LEN;
use velaro_call_protocol::resume::parse_cursor;
use velaro_call_protocol::{ConversationId, Device, PartyId, Role, peek_type};
use velaro_call_state::{Browser, permission_help};
use velaro_ice_config::RtcConfiguration;
use velaro_signaling::{JoinToken, TokenBucket, TokenError, Transport, TransportError};

use crate::App;
use crate::config::JoinTokens;
use crate::hub::{MAX_CHAT_LEN, Speaker};
use crate::outbox::Outbox;

/// The largest WebSocket message, and frame, a page may send: room above the codec's limit, so
/// an oversized call frame gets the relay's typed `too_large` refusal; anything larger closes
/// the socket. The frame limit matters as much as the message limit: a frame is buffered whole
/// before the message limit is checked, so without it a socket could park up to 16 MiB.
const MAX_MESSAGE: usize = 2 * MAX_FRAME_LEN;

/// The socket's write buffer: what it gathers before writing (every frame is flushed anyway).
const WRITE_BUFFER: usize = 128 * 1024;

/// The most the socket's write buffer may hold: a page that sends pings and never reads the
/// pongs would otherwise grow it without end (the pongs that do not fit are dropped, keeping
/// the last one, which is all a ping asks for).
const MAX_WRITE_BUFFER: usize = WRITE_BUFFER + 2 * MAX_MESSAGE;

/// Frames from a page waiting for the relay to read them; past this the page's socket is not
/// read until the relay catches up.
const INCOMING: usize = 64;

/// What a page's socket URL says: the conversation it is for and the join token that admits
/// it there.
#[derive(Debug, Deserialize)]
pub(crate) struct Join {
    /// The join token from the page's render or from the server's last `host.token`.
    #[serde(default)]
    token: Option<String>,
    /// The conversation the socket is for (the token must be for it too).
    #[serde(default)]
    conversation: Option<String>,
    /// After a dropped connection: the last `seq` the page's call saw from each sender, as
    /// `party:seq,party:seq`, so the relay replays what it missed.
    #[serde(default)]
    resume: Option<String>,
    /// No longer read: the role is the token's. Present, the request is refused.
    #[serde(default)]
    role: Option<String>,
    /// No longer read: the party id is the token's. Present, the request is refused.
    #[serde(default)]
    party: Option<String>,
}

/// The invite prompt the agent page sends (the visitor page shows the invite's own text).
const PROMPT: &str = "Your agent would like to start a video call. Accept?";

/// `GET /ws?conversation=…&token=…[&resume=…]`: 401 without a token or with one that is
/// forged, expired or used, 403 with a token for another conversation, 400 for a request that
/// names a role or a party itself. The request is checked whole before the token is used up.
pub(crate) async fn upgrade(
    State(app): State<Arc<App>>,
    Query(join): Query<Join>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(token) = join.token else {
        let detail = "a join token is needed (`token`): a page gets one in its render";
        return (StatusCode::UNAUTHORIZED, detail).into_response();
    };
    if join.role.is_some() || join.party.is_some() {
        let detail = "`role` and `party` may not be given: a page is who its join token says";
        return refuse(detail.to_owned());
    }
    let Some(conversation) = join.conversation else {
        return refuse("conversation: missing".to_owned());
    };
    let conversation = match ConversationId::new(conversation) {
        Ok(id) => id,
        Err(error) => return refuse(format!("conversation: {error}")),
    };
    let resume = match join.resume.as_deref().map(parse_cursor).transpose() {
        Ok(resume) => resume,
        Err(error) => return refuse(format!("resume: {error}")),
    };
    let claims = match app.config.join.admit(&token, &conversation, SystemTime::now()) {
        Ok(claims) => claims,
        Err(error) => return refuse_token(&error),
    };
    let (role, party) = (claims.role, claims.party_id);
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let browser = Browser::from_user_agent(user_agent);
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| {
            run(app, socket, Joined { role, conversation, party, resume, browser })
        })
}

fn refuse(detail: String) -> Response {
    (StatusCode::BAD_REQUEST, detail).into_response()
}

/// 403 for a good token used in the wrong place, 503 when the server cannot record another
/// used token, 401 for every other refusal. The body names the reason, never the token.
fn refuse_token(error: &TokenError) -> Response {
    let status = match error {
        TokenError::WrongConversation { .. } | TokenError::WrongRole { .. } => {
            StatusCode::FORBIDDEN
        }
        TokenError::ReplayGuardFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    (status, error.to_string()).into_response()
}

/// The first frame a page gets: who it is, whether video calls are on, its ICE configuration,
/// the permission help for its browser, and the join token for its next connect.
#[derive(Serialize)]
struct Welcome<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    conversation_id: &'a str,
    party_id: &'a str,
    role: Role,
    video_enabled: bool,
    prompt: &'static str,
    ice: &'a RtcConfiguration,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

/// `host.token`: a fresh join token for the page's next connect (the one it holds expires).
#[derive(Serialize)]
struct Token<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    token: &'a str,
}

#[derive(Serialize)]
struct Help {
    camera: &'static str,
    microphone: &'static str,
    screen: &'static str,
}

impl Help {
    fn for_browser(browser: Browser) -> Help {
        Help {
            camera: permission_help(browser, &Device::Camera),
            microphone: permission_help(browser, &Device::Microphone),
            screen: permission_help(browser, &Device::Screen),
        }
    }
}

/// Fresh ICE configuration (new TURN credentials): asked for before an ICE restart, and sent
/// unasked as a call starts (see [`Bridge`]).
#[derive(Serialize)]
struct Ice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ice: &'a RtcConfiguration,
}

#[derive(Serialize)]
struct HostError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    detail: &'a str,
}

/// The frames the host handles itself.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum HostFrame {
    #[serde(rename = "chat.message")]
    Chat { text: String },
    #[serde(rename = "host.ice_refresh")]
    IceRefresh,
}

/// `Some` when the frame is the host's own (`chat.*` or `host.*`), parsed or not.
fn host_frame(frame: &[u8]) -> Option<Result<HostFrame, serde_json::Error>> {
    // Only `type` is read; the rest of a call frame is decoded by the relay.
    let kind = peek_type(frame)?;
    (kind.starts_with("chat.") || kind.starts_with("host.")).then(|| serde_json::from_slice(frame))
}

fn json(value: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// `host.error`: what the server could not do for the page.
fn error_frame(detail: &str) -> Bytes {
    json(&HostError { kind: "host.error", detail })
}

/// `host.ice` with credentials minted for `party` now, or the `host.error` saying why not.
fn ice_frame(app: &App, role: Role, party: &PartyId) -> Bytes {
    match app.config.rtc_configuration(role, party, SystemTime::now()) {
        Ok(ice) => json(&Ice { kind: "host.ice", ice: &ice }),
        Err(error) => error_frame(&error.to_string()),
    }
}

/// `host.token` with a join token for `party`'s next connect, or the `host.error` saying why
/// there is none.
fn token_frame(
    join: &JoinTokens,
    conversation: &ConversationId,
    role: Role,
    party: &PartyId,
) -> Bytes {
    match join.mint(conversation, role, party, SystemTime::now()) {
        Ok(token) => json(&Token { kind: "host.token", token: token.expose() }),
        Err(error) => error_frame(&error),
    }
}

/// A page's checked identity.
struct Joined {
    role: Role,
    conversation: ConversationId,
    party: PartyId,
    resume: Option<Vec<(PartyId, u64)>>,
    browser: Browser,
}

async fn run(app: Arc<App>, socket: WebSocket, joined: Joined) {
    let Joined { role, conversation, party, resume, browser } = joined;
    let (mut ws_out, mut ws_in) = socket.split();
    let out = Arc::new(Outbox::new(app.config.max_queued_bytes));
    let ice = match app.config.rtc_configuration(role, &party, SystemTime::now()) {
        Ok(ice) => ice,
        Err(error) => {
            let frame = error_frame(&error.to_string());
            let _ = ws_out.send(Message::Text(text(frame))).await;
            return;
        }
    };
    let video_enabled = app.config.video_enabled(&conversation);
    let next_token = app.config.join.mint(&conversation, role, &party, SystemTime::now());
    let welcome = Welcome {
        kind: "host.welcome",
        conversation_id: conversation.as_str(),
        party_id: party.as_str(),
        role,
        video_enabled,
        prompt: PROMPT,
        ice: &ice,
        help: Help::for_browser(browser),
        token: next_token.as_ref().ok().map(JoinToken::expose),
    };
    let _ = out.push(json(&welcome));
    if let Err(error) = &next_token {
        let _ = out.push(error_frame(error));
    }
    let member = app.hub().join(Instant::now(), &conversation, Arc::clone(&out));
    app.open_conversation(conversation.clone(), video_enabled);
    let (mut to_relay, from_page) = channel::<Bytes>(INCOMING);
    let bridge = Bridge {
        app: Arc::clone(&app),
        role,
        party: party.clone(),
        incoming: from_page,
        outgoing: Arc::clone(&out),
    };
    // The served relay closes the bridge (and so this page's queue) when the page falls behind.
    if let Err(error) = app.connect(bridge, &conversation, role, party.clone(), resume).await {
        let _ = out.push(error_frame(&error));
    }

    let writer = async {
        while let Some(frame) = out.next().await {
            if ws_out.send(Message::Text(text(frame))).await.is_err() {
                break;
            }
        }
        let _ = ws_out.close().await;
    };
    let reader = async {
        let rate = app.config.chat_rate;
        // Chat lines get a token bucket, as the relay keeps one for call frames.
        let mut chat = TokenBucket::full(rate, Instant::now());
        let mut told = false;
        while let Some(Ok(message)) = ws_in.next().await {
            let frame = match message {
                Message::Text(frame) => Bytes::from(frame),
                Message::Binary(frame) => frame,
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            match host_frame(&frame) {
                None => {
                    // Waits while the relay is behind: the page's socket is not read meanwhile.
                    if to_relay.send(frame).await.is_err() {
                        break;
                    }
                }
                Some(Ok(HostFrame::Chat { text })) => {
                    if !chat.take(rate, Instant::now()) {
                        // Once per run of dropped lines: the refusals must not flood either.
                        if !std::mem::replace(&mut told, true) {
                            let detail = format!(
                                "chat.message: rate limited ({} lines at once, then {} a \
                                 second); lines are dropped until the rate falls",
                                rate.burst, rate.per_second
                            );
                            let _ = out.push(error_frame(&detail));
                        }
                        continue;
                    }
                    told = false;
                    let text: String = text.chars().take(MAX_CHAT_LEN).collect();
                    if !text.trim().is_empty() {
                        let speaker = Speaker::Party(role, &party);
                        app.say(&conversation, speaker, &text);
                    }
                }
                Some(Ok(HostFrame::IceRefresh)) => {
                    let _ = out.push(ice_frame(&app, role, &party));
                }
                Some(Err(error)) => {
                    let _ = out.push(error_frame(&format!("host frame: {error}")));
                }
            }
        }
    };
    // The page's next token expires: a new one every half of a token's lifetime.
    let refresher = async {
        let mut every = tokio::time::interval(JoinTokens::TTL / 2);
        every.tick().await; // the first tick is now: the welcome carried that one
        loop {
            every.tick().await;
            let _ = out.push(token_frame(&app.config.join, &conversation, role, &party));
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
        () = refresher => {}
        // The page fell behind (its queue overflowed) or the relay disconnected it.
        () = out.closed() => {}
    }
    out.close();
    // Ends the relay session (its `recv` sees the end) and the chat membership.
    drop(to_relay);
    app.hub().leave(Instant::now(), &conversation, member);
}

/// Our frames are JSON we encoded, so UTF-8; anything else would be a bug, sent as nothing.
fn text(frame: Bytes) -> Utf8Bytes {
    Utf8Bytes::try_from(frame).unwrap_or_else(|_| Utf8Bytes::from(""))
}

/// The relay's end of a page's socket: frames the page sent, and the page's outgoing queue
/// (shared with its chat).
///
/// It also mints the page's TURN credentials for each call, so that a page open for longer
/// than their lifetime can still relay: ahead of the `call.invite` that rings a visitor (its
/// peer connection is created when its user accepts) and of the `call.accept` that makes the
/// agent create its own, it sends a `host.ice` with fresh ones (with a TURN server only).
#[derive(Debug)]
struct Bridge {
    app: Arc<App>,
    role: Role,
    party: PartyId,
    incoming: Receiver<Bytes>,
    outgoing: Arc<Outbox>,
}

impl Bridge {
    /// Fresh `host.ice` to send ahead of `frame`, when `frame` starts this page's call.
    fn fresh_ice_before(&self, frame: &[u8]) -> Option<Bytes> {
        self.app.config.turn.as_ref()?;
        let starts_the_call = match self.role {
            Role::Visitor => "call.invite",
            _ => "call.accept",
        };
        let kind = peek_type(frame)?;
        (kind == starts_the_call).then(|| ice_frame(&self.app, self.role, &self.party))
    }
}

#[async_trait]
impl Transport for Bridge {
    /// Waits while the page's queue is half full, so the relay's own queue limit applies.
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        if let Some(ice) = self.fresh_ice_before(&frame) {
            self.outgoing.send(ice).await.map_err(|_| TransportError::Closed)?;
        }
        self.outgoing.send(frame).await.map_err(|_| TransportError::Closed)
    }

    /// Cancel-safe: a channel receive loses nothing when dropped.
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        Ok(self.incoming.next().await)
    }

    /// The relay closes a session that fell behind: the whole socket goes.
    async fn close(&mut self) -> Result<(), TransportError> {
        self.outgoing.close();
        Ok(())
    }
}
