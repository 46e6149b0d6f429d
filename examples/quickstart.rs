//! A complete call in one process, with real ICE underneath.
//!
//! An agent and a visitor `CallSession` talk through a served `Relay` over in-memory transports,
//! and two `webrtc-ice` agents on 127.0.0.1 exchange their credentials and candidates only
//! through our `call.description` and `call.candidates` messages, connect, and send test bytes
//! both ways. The transcript shows the whole story; the chat goes on after the call.
//!
//! ```text
//! cargo run --example quickstart
//! cargo run --example quickstart -- --frames | cargo run --example inspect -- --ladder
//! ```
//!
//! With `--frames`, stdout gets the call's signaling instead of the story (which goes to
//! stderr): one frame per line, as `inspect` reads them. Each frame is printed once: the
//! frames each party sent, and those the relay wrote itself (notices, frames on a party's
//! behalf), not the forwarded copies.
//!
//! Exits with status 1 if the call did not connect.

// The example is the IO edge: it owns the runtime, the tasks and the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::mpsc;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::{AudioOnlyReason, DisplaySurface, StreamId};
use velaro_call_protocol::{CallId, ConversationId, PartyId, RELAY_PARTY_ID, Role, decode};
use velaro_call_state::{
    Action, CallConfig, CallRecord, Event, IceState, MediaCommand, MediaEvent, QualityAdvice,
};
use velaro_signaling::{
    CallControl, CallSession, Relay, RelayConfig, RelayEvent, SessionOutput, SessionOutputs,
    TokioClock, Transport, TransportError, memory_pair, serve,
};
use webrtc_ice::agent::Agent;
use webrtc_ice::agent::agent_config::AgentConfig;
use webrtc_ice::mdns::MulticastDnsMode;
use webrtc_ice::network_type::NetworkType;

/// `--frames`: stdout is for the frames, the story goes to stderr.
static FRAMES: AtomicBool = AtomicBool::new(false);

fn say(who: &str, text: &str) {
    if FRAMES.load(Ordering::Relaxed) {
        eprintln!("{who:>9} │ {text}");
    } else {
        println!("{who:>9} │ {text}");
    }
}

/// The frames printed so far, by (sender, role, seq, type): a forwarded copy is not printed
/// again.
type Printed = Arc<Mutex<HashSet<(String, Role, u64, String)>>>;

/// A party's transport that prints (with `--frames`) each frame once, as `inspect` reads them.
struct Printing<T> {
    inner: T,
    printed: Printed,
}

impl<T> Printing<T> {
    fn print(&self, frame: &[u8]) {
        if !FRAMES.load(Ordering::Relaxed) {
            return;
        }
        let Ok(envelope) = decode(frame) else { return };
        let key = (
            envelope.party_id.to_string(),
            envelope.role,
            envelope.seq,
            envelope.message_type().to_owned(),
        );
        // A relay notice's seq counts that party's notices: keep each one.
        let is_notice = envelope.party_id.as_str() == RELAY_PARTY_ID;
        let new = self.printed.lock().map(|mut printed| printed.insert(key)).unwrap_or(false);
        if new || is_notice {
            println!("{}", String::from_utf8_lossy(frame));
        }
    }
}

#[async_trait]
impl<T: Transport> Transport for Printing<T> {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        // Printed before it leaves, so that it comes before its forwarded copy.
        self.print(&frame);
        self.inner.send(frame).await
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        let frame = self.inner.recv().await?;
        if let Some(frame) = &frame {
            self.print(frame);
        }
        Ok(frame)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.inner.close().await
    }
}

/// A minimal SDP carrying a webrtc-ice agent's credentials (the agent has no SDP of its own):
/// audio and video, bundled, with a placeholder DTLS fingerprint.
fn sdp(sdp_type: SdpType, ufrag: &str, pwd: &str) -> SessionDescription {
    let setup = if sdp_type == SdpType::Offer { "actpass" } else { "active" };
    let fingerprint = "sha-256 40:29:A5:E2:37:B0:5E:F2:58:B8:D5:D2:CC:48:72:32:53:F0:86:26:54:03:8D:C1:19:F9:61:08:96:C4:4E:44";
    let section = |kind: &str, mid: u8, pt: u8| {
        format!(
            "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:{ufrag}\r\n\
             a=ice-pwd:{pwd}\r\na=fingerprint:{fingerprint}\r\na=setup:{setup}\r\na=mid:{mid}\r\n\
             a=sendrecv\r\na=rtcp-mux\r\n"
        )
    };
    let text = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n{}{}",
        section("audio", 0, 111),
        section("video", 1, 96)
    );
    SessionDescription::new(sdp_type, text)
}

/// The ICE credentials in an SDP.
fn credentials(sdp: &str) -> Option<(String, String)> {
    let value = |name: &str| {
        sdp.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_end().to_owned())
    };
    Some((value("a=ice-ufrag:")?, value("a=ice-pwd:")?))
}

/// The media layer of one party: a real ICE agent, answering the session's media commands.
async fn media_layer(
    role: Role,
    control: CallControl,
    mut outputs: SessionOutputs,
    connected: mpsc::Sender<Role>,
) {
    let name = if role == Role::Agent { "agent" } else { "visitor" };
    let config = AgentConfig {
        network_types: vec![NetworkType::Udp4],
        multicast_dns_mode: MulticastDnsMode::Disabled,
        include_loopback: true,
        ..AgentConfig::default()
    };
    let ice = match Agent::new(config).await {
        Ok(agent) => Arc::new(agent),
        Err(error) => {
            say(name, &format!("cannot start ICE: {error}"));
            return;
        }
    };
    let (candidates_tx, mut candidates_rx) = mpsc::unbounded_channel();
    ice.on_candidate(Box::new(move |candidate| {
        let tx = candidates_tx.clone();
        Box::pin(async move {
            let _ = tx.send(candidate.map(|c| c.marshal()));
        })
    }));
    let (ufrag, pwd) = ice.get_local_user_credentials().await;
    let mut remote: Option<(String, String)> = None;
    let mut gathering = false;
    let mut dialing = false;
    loop {
        let output = tokio::select! {
            output = outputs.next() => match output { Some(output) => output, None => break },
            Some(line) = candidates_rx.recv() => {
                match line {
                    Some(line) => {
                        if let Ok(candidate) = format!("candidate:{line}").parse() {
                            let init = IceCandidate::new(candidate, Some("0".into()), Some(0))
                                .with_username_fragment(ufrag.clone());
                            control.media(MediaEvent::LocalCandidate(init));
                        }
                    }
                    None => {
                        control.media(MediaEvent::GatheringComplete);
                    }
                }
                continue;
            }
        };
        match output {
            SessionOutput::Media(command) => match command {
                MediaCommand::RequestUserMedia(media) => {
                    let stream_id =
                        StreamId::new(format!("camera-{name}")).unwrap_or_else(|_| unreachable!());
                    control.media(MediaEvent::PermissionGranted { media, stream_id });
                }
                MediaCommand::RequestScreenCapture => {
                    let stream_id =
                        StreamId::new("screen-agent").unwrap_or_else(|_| unreachable!());
                    control.media(MediaEvent::ScreenShareStarted {
                        stream_id,
                        surface: DisplaySurface::Window,
                    });
                }
                MediaCommand::CreateOffer { .. } | MediaCommand::CreateAnswer => {
                    let sdp_type = if matches!(command, MediaCommand::CreateAnswer) {
                        SdpType::Answer
                    } else {
                        SdpType::Offer
                    };
                    control.media(MediaEvent::LocalDescription(sdp(sdp_type, &ufrag, &pwd)));
                    if !gathering {
                        gathering = true;
                        if let Err(error) = ice.gather_candidates() {
                            say(name, &format!("cannot gather: {error}"));
                        }
                    }
                }
                MediaCommand::ApplyRemoteDescription(description) => {
                    remote = credentials(&description.sdp);
                }
                MediaCommand::AddRemoteCandidate(init) => {
                    if let Some(candidate) = &init.candidate {
                        let line = candidate.to_string();
                        let line = line.strip_prefix("candidate:").unwrap_or(&line);
                        if let Ok(parsed) =
                            webrtc_ice::candidate::candidate_base::unmarshal_candidate(line)
                        {
                            let parsed: Arc<dyn webrtc_ice::candidate::Candidate + Send + Sync> =
                                Arc::new(parsed);
                            let _ = ice.add_remote_candidate(&parsed);
                        }
                    }
                }
                MediaCommand::Close => {
                    let _ = ice.close().await;
                }
                _ => {}
            },
            SessionOutput::Event(event) => on_event(name, role, &control, &event),
            SessionOutput::Refused(error) => say(name, &format!("(refused: {error})")),
            _ => {}
        }
        if let (false, Some((remote_ufrag, remote_pwd))) = (dialing, remote.clone()) {
            dialing = true;
            let ice = Arc::clone(&ice);
            let connected = connected.clone();
            let control = control.clone();
            tokio::spawn(async move {
                let (_cancel_tx, cancel_rx) = mpsc::channel(1);
                let conn = if role == Role::Agent {
                    ice.dial(cancel_rx, remote_ufrag, remote_pwd)
                        .await
                        .map(|c| c as Arc<dyn webrtc_util::Conn + Send + Sync>)
                } else {
                    ice.accept(cancel_rx, remote_ufrag, remote_pwd)
                        .await
                        .map(|c| c as Arc<dyn webrtc_util::Conn + Send + Sync>)
                };
                let Ok(conn) = conn else { return };
                let greeting = format!("hello from the {name}");
                let _ = conn.send(greeting.as_bytes()).await;
                let mut buffer = [0u8; 64];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(5), conn.recv(&mut buffer)).await
                {
                    let got =
                        String::from_utf8_lossy(buffer.get(..n).unwrap_or_default()).into_owned();
                    say(name, &format!("ICE connected over 127.0.0.1; received \"{got}\""));
                    let _ = connected.send(role).await;
                    control.media(MediaEvent::Ice(IceState::Connected));
                }
            });
        }
    }
}

fn on_event(name: &str, role: Role, control: &CallControl, event: &Event) {
    match event {
        Event::Prompt { text, .. } => {
            say(name, &format!("prompt: \"{text}\" — accepting"));
            control.act(Action::Accept);
        }
        Event::Ringing => say(name, "the visitor's prompt is on screen (ringing)"),
        Event::Accepted => say(name, "the visitor accepted; offer/answer and candidates follow"),
        Event::Opened => say(name, "media connected: the call overlay opens beside the chat"),
        Event::RemoteMedia(media) => {
            let camera_off = media.streams.values().any(|s| s.video_muted);
            let screen = media.screen().and_then(|(_, s)| s.display_surface.clone());
            let mut state = vec![if camera_off { "camera off" } else { "camera on" }.to_owned()];
            if let Some(surface) = screen {
                state.push(format!("sharing a {surface}"));
            }
            if let Some(audio_only) = &media.audio_only {
                state.push(format!("audio only ({})", audio_only.reason));
            }
            say(name, &format!("the other side: {}", state.join(", ")));
        }
        Event::Quality(QualityAdvice::SwitchToAudioOnly) if role == Role::Agent => {
            say(name, "quality advice: poor for a while — switching to audio only");
            control.act(Action::SwitchToAudioOnly(AudioOnlyReason::Quality));
        }
        Event::Ended { summary, .. } => {
            say(name, &format!("call ended: {}", summary.transcript_line()))
        }
        _ => {}
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => {}
        ["--frames"] => FRAMES.store(true, Ordering::Relaxed),
        ["-h" | "--help"] => {
            println!(
                "usage: quickstart [--frames]\n  --frames  print the call's frames on stdout (the story on stderr)"
            );
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("quickstart: unknown arguments {args:?}\nusage: quickstart [--frames]");
            return ExitCode::from(2);
        }
    }
    let clock = Arc::new(TokioClock);
    let conversation = ConversationId::new("conv-quickstart").unwrap_or_else(|_| unreachable!());
    let agent_party = PartyId::new("agent-tab").unwrap_or_else(|_| unreachable!());
    let visitor_party = PartyId::new("visitor-tab").unwrap_or_else(|_| unreachable!());
    say("chat", "visitor: Hi! The export button does nothing on my screen.");
    say("chat", "agent: Let me have a look with you — I'll start a video call.");

    let (server, mut relay_events) = serve(Relay::new(RelayConfig::default()));
    server.open_conversation(conversation.clone(), true);
    let (agent_link, agent_at_relay) = memory_pair();
    let (visitor_link, visitor_at_relay) = memory_pair();
    let connected = [
        server.connect(agent_at_relay, &conversation, Role::Agent, agent_party.clone(), None),
        server.connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party.clone(), None),
    ];
    if connected.iter().any(Result::is_err) {
        say("relay", "cannot connect the sessions");
        return ExitCode::FAILURE;
    }
    let call_id = CallId::new("call-1").unwrap_or_else(|_| unreachable!());
    let printed = Printed::default();
    let agent_link = Printing { inner: agent_link, printed: printed.clone() };
    let visitor_link = Printing { inner: visitor_link, printed };
    let (mut agent, agent_control, agent_outputs) = CallSession::agent(
        CallConfig::new(conversation.clone(), agent_party),
        call_id,
        agent_link,
        clock.clone(),
    );
    let (mut visitor, visitor_control, visitor_outputs) =
        CallSession::visitor(CallConfig::new(conversation, visitor_party), visitor_link, clock);
    let (connected_tx, mut connected_rx) = mpsc::channel(2);
    let agent_run = tokio::spawn(async move { agent.run().await });
    let visitor_run = tokio::spawn(async move { visitor.run().await });
    let agent_media =
        media_layer(Role::Agent, agent_control.clone(), agent_outputs, connected_tx.clone());
    tokio::spawn(agent_media);
    tokio::spawn(media_layer(Role::Visitor, visitor_control, visitor_outputs, connected_tx));

    let prompt = Prompt::new("Your agent would like to start a video call. Accept?")
        .unwrap_or_else(|_| unreachable!());
    say("agent", "clicks the camera icon: invite");
    agent_control.act(Action::Invite {
        prompt,
        media: MediaKinds::AUDIO_VIDEO,
        ice: None,
        camera_off: false,
    });

    // Both ICE agents must connect within 10 s.
    let mut sides = 0;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    while sides < 2 {
        tokio::select! {
            Some(_) = connected_rx.recv() => sides += 1,
            () = &mut deadline => {
                say("quickstart", "the call did not connect within 10 s");
                return ExitCode::FAILURE;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    say("agent", "turns the camera off, then on again");
    agent_control.act(Action::SetCameraOff(true));
    tokio::time::sleep(Duration::from_millis(100)).await;
    agent_control.act(Action::SetCameraOff(false));
    tokio::time::sleep(Duration::from_millis(100)).await;
    say("agent", "shares a window");
    agent_control.act(Action::StartScreenShare);
    tokio::time::sleep(Duration::from_millis(300)).await;
    say("agent", "the connection gets poor (getStats: 600 ms RTT, 12% loss)");
    for _ in 0..3 {
        agent_control.media(MediaEvent::QualitySample { rtt_ms: 600, loss_pct: 12.0 });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    say("agent", "hangs up");
    agent_control.act(Action::Hangup);

    let (Ok(Ok(agent_summary)), Ok(Ok(_))) = (agent_run.await, visitor_run.await) else {
        say("quickstart", "a session failed");
        return ExitCode::FAILURE;
    };
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), relay_events.next()).await
    {
        if let RelayEvent::CallEnded { report } = event {
            say("chat", &format!("[transcript] {}", report.summary.transcript_line()));
            let record = CallRecord::new(&report, Instant::now(), SystemTime::now());
            let json = serde_json::to_string(&record).unwrap_or_default();
            say("host", &format!("[call record, one JSON line to store and bill] {json}"));
        }
    }
    say("chat", &format!("[agent's view] {}", agent_summary.transcript_line()));
    say("chat", "visitor: Thanks, it works now!  (the conversation goes on)");
    ExitCode::SUCCESS
}
