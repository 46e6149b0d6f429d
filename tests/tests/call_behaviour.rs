//! Every behaviour the call machines promise, each as a named test: through the harness (agent,
//! visitor tabs, simulated clock and link, fake media) or on one `Call` fed by hand.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use velaro_call_protocol::message::answer::AcceptBody;
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode, RejectedBody};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{AudioOnlyReason, DisplaySurface, StreamId};
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, Message, NegotiationId, PartyId, Reason,
    Role,
};
use velaro_call_state::{
    Action, Browser, Call, CallConfig, CallError, Event, IceState, MediaCommand, MediaEvent,
    Outcome, Output, Phase, PromptEnd, QualityAdvice, TrackKind,
};
use velaro_tests::call_pair::{CallPair, Faults};
use velaro_tests::fixtures::browser_sdp;

const PROMPT: &str = "Your agent would like to start a video call. Accept?";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn phase(pair: &CallPair, index: usize) -> Phase {
    pair.parties[index].call.as_ref().map_or(Phase::Idle, Call::phase)
}

fn outcome(pair: &CallPair, index: usize) -> Option<Outcome> {
    Some(pair.parties[index].call.as_ref()?.summary()?.outcome)
}

fn invite(pair: &mut CallPair) {
    let prompt = Prompt::new(PROMPT).unwrap().with_locale("en").unwrap();
    pair.act(
        0,
        Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false },
    )
    .unwrap();
}

fn connected_pair() -> CallPair {
    let mut pair = CallPair::new(1, Faults::default(), 1);
    pair.connect();
    assert_eq!((phase(&pair, 0), phase(&pair, 1)), (Phase::Active, Phase::Active));
    pair
}

fn media_commands(pair: &CallPair, index: usize) -> &[MediaCommand] {
    &pair.parties[index].media.commands
}

// --- one Call fed by hand ---

#[allow(clippy::disallowed_methods)] // tests start from one real instant
fn start() -> Instant {
    Instant::now()
}

fn ids() -> (ConversationId, CallId) {
    (ConversationId::new("conv-1").unwrap(), CallId::new("call-1").unwrap())
}

fn from_agent(seq: u64, message: impl Into<Message>) -> Envelope {
    let (conversation, call) = ids();
    Envelope::new(conversation, call, PartyId::new("agent-1").unwrap(), Role::Agent, seq, message)
}

fn from_visitor(seq: u64, message: impl Into<Message>) -> Envelope {
    let (conversation, call) = ids();
    Envelope::new(
        conversation,
        call,
        PartyId::new("visitor-1").unwrap(),
        Role::Visitor,
        seq,
        message,
    )
}

/// Chromium's offer or answer as a peer of ICE generation `ufrag`.
fn sdp(sdp_type: SdpType, ufrag: &str) -> SessionDescription {
    let (file, captured) = match sdp_type {
        SdpType::Offer => ("chromium-offer-av.json", "a=ice-ufrag:lZ7j"),
        SdpType::Answer => ("chromium-answer-av.json", "a=ice-ufrag:LvlJ"),
    };
    let text = browser_sdp(file).replace(captured, &format!("a=ice-ufrag:{ufrag}"));
    SessionDescription::new(sdp_type, text)
}

fn candidate(ufrag: &str, port: u16) -> IceCandidate {
    let line = format!("candidate:{port} 1 udp 2122260223 192.0.2.1 {port} typ host ufrag {ufrag}");
    IceCandidate::new(line.parse().unwrap(), Some("0".into()), Some(0))
}

fn drain(call: &mut Call) -> Vec<Output> {
    std::iter::from_fn(|| call.poll_output()).collect()
}

fn visitor_call(now: Instant) -> Call {
    let (conversation, _) = ids();
    let config = CallConfig::new(conversation, PartyId::new("visitor-1").unwrap())
        .with_browser(Browser::Chrome);
    let invite = InviteBody::new(Prompt::new(PROMPT).unwrap(), MediaKinds::AUDIO_VIDEO);
    Call::visitor(config, &from_agent(1, invite), now).unwrap()
}

fn granted() -> MediaEvent {
    MediaEvent::PermissionGranted {
        media: MediaKinds::AUDIO_VIDEO,
        stream_id: StreamId::new("cam").unwrap(),
    }
}

/// A visitor call that accepted and got permission.
fn consented_visitor(now: Instant) -> Call {
    let mut call = visitor_call(now);
    call.handle_action(now, Action::Accept).unwrap();
    call.handle_media(now, granted()).unwrap();
    drain(&mut call);
    call
}

fn offer(seq: u64, id: &str, ufrag: &str) -> Envelope {
    from_agent(
        seq,
        DescriptionBody::new(sdp(SdpType::Offer, ufrag), NegotiationId::new(id).unwrap()),
    )
}

// --- invite and prompt ---

#[test]
fn happy_call_connects_both_ways_and_hangup_keeps_the_chat() {
    let mut pair = connected_pair();
    assert!(pair.agent().events().contains(&&Event::Opened));
    assert!(pair.visitor(1).events().contains(&&Event::Opened));
    pair.run_for(secs(252));
    pair.act(0, Action::Hangup).unwrap();
    pair.run_for(secs(1));
    assert_eq!((phase(&pair, 0), phase(&pair, 1)), (Phase::Ended, Phase::Ended));
    assert_eq!(
        (outcome(&pair, 0), outcome(&pair, 1)),
        (Some(Outcome::Answered), Some(Outcome::Answered))
    );
    let summary = pair.agent().call.as_ref().unwrap().summary().unwrap().clone();
    assert_eq!(summary.ended_by, Some(Role::Agent));
    assert_eq!(summary.reason, Reason::UserHangup);
    assert!(
        summary.transcript_line().starts_with("Video call ended (4 min"),
        "{}",
        summary.transcript_line()
    );
    assert_eq!(pair.agent().sent_types().first(), Some(&"call.invite"));
    assert_eq!(pair.agent().sent_types().last(), Some(&"call.hangup"));
    // Closing the call closes media only; nothing here can end the conversation.
    assert!(media_commands(&pair, 1).contains(&MediaCommand::Close));
}

#[test]
fn only_the_agent_invites() {
    let now = start();
    let mut visitor = visitor_call(now);
    let prompt = Prompt::new("hi?").unwrap();
    let refused = visitor.handle_action(
        now,
        Action::Invite { prompt, media: MediaKinds::AUDIO_ONLY, ice: None, camera_off: false },
    );
    assert_eq!(refused, Err(CallError::NotAllowed { input: "invite", role: Role::Visitor }));
    // An "invite" from a visitor cannot start a visitor's call either.
    let (conversation, _) = ids();
    let config = CallConfig::new(conversation.clone(), PartyId::new("visitor-2").unwrap());
    let forged =
        from_visitor(1, InviteBody::new(Prompt::new("x").unwrap(), MediaKinds::AUDIO_ONLY));
    assert!(matches!(Call::visitor(config, &forged, now), Err(CallError::NotAllowed { .. })));
    let mut agent =
        Call::agent(CallConfig::new(conversation, PartyId::new("agent-1").unwrap()), ids().1, now);
    assert_eq!(
        agent.handle_action(now, Action::Accept),
        Err(CallError::NotAllowed { input: "accept", role: Role::Agent })
    );
}

#[test]
fn the_prompt_shows_the_invites_text_and_rings() {
    let mut pair = CallPair::new(1, Faults::default(), 2);
    invite(&mut pair);
    pair.run_for(Duration::from_millis(100));
    let prompt = pair.visitor(1).events().into_iter().find_map(|e| match e {
        Event::Prompt { text, locale, media } => Some((text.clone(), locale.clone(), *media)),
        _ => None,
    });
    assert_eq!(prompt, Some((PROMPT.to_owned(), Some("en".to_owned()), MediaKinds::AUDIO_VIDEO)));
    assert_eq!(pair.visitor(1).sent_types(), ["call.ringing"]);
    assert!(pair.agent().events().contains(&&Event::Ringing));
}

#[test]
fn the_prompt_goes_away_when_the_agent_cancels() {
    let mut pair = CallPair::new(1, Faults::default(), 3);
    invite(&mut pair);
    pair.run_for(secs(1));
    pair.act(0, Action::Cancel).unwrap();
    pair.run_for(secs(1));
    assert!(pair.visitor(1).events().contains(&&Event::StopPrompting(PromptEnd::Cancelled)));
    assert_eq!(
        (outcome(&pair, 0), outcome(&pair, 1)),
        (Some(Outcome::Cancelled), Some(Outcome::Cancelled))
    );
}

#[test]
fn the_invite_expires_by_the_visitors_own_clock_from_arrival() {
    // The invite spends 5 s on the link; the visitor still rings its full 60 s from arrival.
    let mut pair = CallPair::new(1, Faults { max_delay_ms: 0, ..Faults::default() }, 4);
    invite(&mut pair);
    pair.run_for(Duration::from_millis(10));
    let arrived = pair.elapsed();
    pair.run_for(secs(59));
    assert_eq!(phase(&pair, 1), Phase::Prompting);
    pair.run_until(arrived + secs(61));
    assert!(pair.visitor(1).events().contains(&&Event::StopPrompting(PromptEnd::Expired)));
    assert_eq!(
        (outcome(&pair, 0), outcome(&pair, 1)),
        (Some(Outcome::Missed), Some(Outcome::Missed))
    );
    let now = start();
    let mut visitor = visitor_call(now);
    assert_eq!(visitor.poll_timeout(), Some(now + secs(60)));
    visitor.handle_timeout(now + secs(60));
    assert!(drain(&mut visitor).contains(&Output::Event(Event::StopPrompting(PromptEnd::Expired))));
}

#[test]
fn another_tab_answering_stops_this_tabs_prompt() {
    let mut pair = CallPair::new(2, Faults::default(), 5);
    invite(&mut pair);
    pair.run_for(secs(1));
    assert_eq!((phase(&pair, 1), phase(&pair, 2)), (Phase::Prompting, Phase::Prompting));
    pair.act(1, Action::Accept).unwrap();
    pair.run_for(secs(2));
    assert_eq!(phase(&pair, 1), Phase::Active);
    assert!(
        pair.visitor(2).events().contains(&&Event::StopPrompting(PromptEnd::AnsweredElsewhere))
    );
    assert_eq!(outcome(&pair, 2), Some(Outcome::Cancelled));
    assert_eq!(pair.agent().call.as_ref().unwrap().remote_party(), Some(&pair.visitor(1).id));
}

// --- consent and permissions ---

#[test]
fn no_media_before_consent() {
    let now = start();
    let mut visitor = visitor_call(now);
    drain(&mut visitor);
    // An offer and candidates that arrive early reach nothing.
    visitor.handle_message(now, offer(2, "a1", "agnt")).unwrap();
    let early =
        from_agent(3, CandidatesBody::new(vec![candidate("agnt", 1), candidate("agnt", 2)]));
    visitor.handle_message(now, early).unwrap();
    assert!(drain(&mut visitor).is_empty(), "nothing before consent");
    visitor.handle_action(now, Action::Accept).unwrap();
    assert_eq!(
        drain(&mut visitor),
        [Output::Media(MediaCommand::RequestUserMedia(MediaKinds::AUDIO_VIDEO))]
    );
    visitor.handle_media(now, granted()).unwrap();
    let outputs = drain(&mut visitor);
    let sent: Vec<&str> = outputs
        .iter()
        .filter_map(|o| if let Output::Send(e) = o { Some(e.message_type()) } else { None })
        .collect();
    assert_eq!(sent, ["call.accept"], "no answer, no candidates before the media layer answers");
    let commands: Vec<&MediaCommand> = outputs
        .iter()
        .filter_map(|o| if let Output::Media(c) = o { Some(c) } else { None })
        .collect();
    assert!(matches!(commands[0], MediaCommand::ApplyRemoteDescription(_)));
    assert!(matches!(commands[1], MediaCommand::AddRemoteCandidate(_)));
    assert!(matches!(commands[2], MediaCommand::AddRemoteCandidate(_)));
    assert_eq!(commands[3], &MediaCommand::CreateAnswer);
    // And in a whole call through the harness.
    let pair = connected_pair();
    assert!(pair.visitor(1).media_before_consent.is_empty());
}

#[test]
fn a_visitors_denied_camera_declines_with_the_reason_and_help() {
    let mut pair = CallPair::new(1, Faults::default(), 6);
    pair.party_mut(1).media.permissions.camera = Some(MediaError::NotAllowed);
    invite(&mut pair);
    pair.run_for(secs(1));
    pair.act(1, Action::Accept).unwrap();
    pair.run_for(secs(1));
    let denied =
        Reason::MediaPermissionDenied { device: Device::Camera, error: MediaError::NotAllowed };
    let decline = pair.visitor(1).sent().into_iter().find_map(|e| match &e.message {
        Message::Decline(d) => Some(d.reason.clone()),
        _ => None,
    });
    assert_eq!(decline, Some(denied.clone()));
    assert!(
        pair.visitor(1)
            .events()
            .iter()
            .any(|e| matches!(e, Event::PermissionHelp { device: Device::Camera, .. }))
    );
    let agent_summary = pair.agent().call.as_ref().unwrap().summary().unwrap();
    assert_eq!((agent_summary.outcome, &agent_summary.reason), (Outcome::Declined, &denied));
    assert_eq!(agent_summary.transcript_line(), "Video call declined: camera permission denied");
    // The help text is the visitor's browser's own.
    let now = start();
    let mut visitor = visitor_call(now);
    visitor.handle_action(now, Action::Accept).unwrap();
    visitor
        .handle_media(
            now,
            MediaEvent::PermissionDenied {
                device: Device::Microphone,
                error: MediaError::NotAllowed,
            },
        )
        .unwrap();
    let help = drain(&mut visitor).into_iter().find_map(|o| match o {
        Output::Event(Event::PermissionHelp { help, .. }) => Some(help),
        _ => None,
    });
    assert!(help.unwrap().contains("lock icon"), "Chrome's help");
}

#[test]
fn the_agents_own_denial_stops_the_invite_before_it_is_sent() {
    let mut pair = CallPair::new(1, Faults::default(), 7);
    pair.party_mut(0).media.permissions.microphone = Some(MediaError::NotFound);
    invite(&mut pair);
    pair.run_for(secs(1));
    assert!(pair.agent().sent().is_empty(), "no invite went out");
    assert_eq!(phase(&pair, 0), Phase::Ended);
    assert!(
        pair.agent()
            .events()
            .iter()
            .any(|e| matches!(e, Event::PermissionHelp { device: Device::Microphone, .. }))
    );
    assert!(pair.visitor(1).call.is_none(), "the visitor never rang");
}

#[test]
fn a_denied_screen_share_is_reported_and_the_call_goes_on() {
    let mut pair = connected_pair();
    pair.party_mut(0).media.permissions.deny_screen = true;
    pair.act(0, Action::StartScreenShare).unwrap();
    pair.run_for(secs(1));
    assert!(
        pair.agent()
            .events()
            .iter()
            .any(|e| matches!(e, Event::PermissionHelp { device: Device::Screen, .. }))
    );
    assert_eq!((phase(&pair, 0), phase(&pair, 1)), (Phase::Active, Phase::Active));
    // And it can be tried again.
    pair.party_mut(0).media.permissions.deny_screen = false;
    pair.act(0, Action::StartScreenShare).unwrap();
}

#[test]
fn only_the_agent_shares_a_screen() {
    let mut pair = connected_pair();
    assert_eq!(
        pair.act(1, Action::StartScreenShare),
        Err(CallError::NotAllowed { input: "screen share", role: Role::Visitor })
    );
    assert_eq!(
        pair.act(1, Action::SwitchToAudioOnly(AudioOnlyReason::Quality)),
        Err(CallError::NotAllowed { input: "audio only", role: Role::Visitor })
    );
}

// --- negotiation ---

#[test]
fn offer_and_answer_carry_one_negotiation_id() {
    let pair = connected_pair();
    let ids = |index: usize| -> Vec<(SdpType, String)> {
        pair.parties[index]
            .sent()
            .into_iter()
            .filter_map(|e| match &e.message {
                Message::Description(d) => {
                    Some((d.description.sdp_type, d.negotiation_id.to_string()))
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(ids(0), [(SdpType::Offer, "a1".to_owned())]);
    assert_eq!(ids(1), [(SdpType::Answer, "a1".to_owned())]);
}

#[test]
fn screen_share_renegotiates_and_the_visitor_sees_the_surface() {
    let mut pair = connected_pair();
    pair.act(0, Action::StartScreenShare).unwrap();
    pair.run_for(secs(1));
    let remote = pair.visitor(1).events().into_iter().rev().find_map(|e| match e {
        Event::RemoteMedia(media) => Some(media.clone()),
        _ => None,
    });
    let (stream, state) = remote.as_ref().unwrap().screen().unwrap();
    assert_eq!(
        (stream.as_str(), state.display_surface.clone()),
        ("screen-agent-1", Some(DisplaySurface::Window))
    );
    let offers = pair.agent().sent().into_iter().filter(|e| matches!(&e.message, Message::Description(d) if d.description.sdp_type == SdpType::Offer)).count();
    assert_eq!(offers, 2, "the first offer and the screen share's");
    // The browser's own "Stop sharing" is propagated.
    pair.media_event(0, MediaEvent::ScreenShareEnded);
    pair.run_for(secs(1));
    let last = pair.visitor(1).events().into_iter().rev().find_map(|e| match e {
        Event::RemoteMedia(media) => Some(media.clone()),
        _ => None,
    });
    assert!(last.unwrap().screen().is_none(), "the screen entry is gone");
    assert_eq!((phase(&pair, 0), phase(&pair, 1)), (Phase::Active, Phase::Active));
}

#[test]
fn at_most_one_negotiation_in_flight_and_the_next_waits() {
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, offer(2, "a1", "agnt")).unwrap();
    drain(&mut visitor);
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    drain(&mut visitor);
    // Two needs at once: one offer, the other deferred until the answer comes.
    visitor.handle_media(now, MediaEvent::NegotiationNeeded).unwrap();
    visitor.handle_media(now, MediaEvent::NegotiationNeeded).unwrap();
    assert_eq!(
        drain(&mut visitor),
        [Output::Media(MediaCommand::CreateOffer { ice_restart: false })]
    );
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Offer, "vstr"))).unwrap();
    drain(&mut visitor);
    let answer = from_agent(
        3,
        DescriptionBody::new(sdp(SdpType::Answer, "agnt"), NegotiationId::new("v1").unwrap()),
    );
    visitor.handle_message(now, answer).unwrap();
    let outputs = drain(&mut visitor);
    assert!(matches!(outputs[0], Output::Media(MediaCommand::ApplyRemoteDescription(_))));
    assert_eq!(
        outputs.last(),
        Some(&Output::Media(MediaCommand::CreateOffer { ice_restart: false })),
        "the deferred need"
    );
}

#[test]
fn glare_the_polite_visitor_rolls_back_and_the_agents_offer_wins() {
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, offer(2, "a1", "agnt")).unwrap();
    drain(&mut visitor);
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    visitor.handle_media(now, MediaEvent::NegotiationNeeded).unwrap();
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Offer, "vstr"))).unwrap();
    drain(&mut visitor);
    // The agent offered at the same time.
    visitor.handle_message(now, offer(3, "a2", "agnt")).unwrap();
    let commands: Vec<MediaCommand> = drain(&mut visitor)
        .into_iter()
        .filter_map(|o| if let Output::Media(c) = o { Some(c) } else { None })
        .collect();
    assert_eq!(commands[0], MediaCommand::Rollback);
    assert!(matches!(commands[1], MediaCommand::ApplyRemoteDescription(_)));
    assert_eq!(commands.last(), Some(&MediaCommand::CreateAnswer));
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    let outputs = drain(&mut visitor);
    assert!(outputs.iter().any(|o| matches!(o, Output::Send(e) if matches!(&e.message, Message::Description(d) if d.negotiation_id.as_str() == "a2"))));
    assert_eq!(
        outputs.last(),
        Some(&Output::Media(MediaCommand::CreateOffer { ice_restart: false })),
        "its own need, retried"
    );

    // The impolite agent ignores the visitor's colliding offer.
    let (conversation, call) = ids();
    let mut agent =
        Call::agent(CallConfig::new(conversation, PartyId::new("agent-1").unwrap()), call, now);
    agent
        .handle_action(
            now,
            Action::Invite {
                prompt: Prompt::new("?").unwrap(),
                media: MediaKinds::AUDIO_VIDEO,
                ice: None,
                camera_off: false,
            },
        )
        .unwrap();
    agent.handle_media(now, granted()).unwrap();
    agent.handle_message(now, from_visitor(1, AcceptBody::new(MediaKinds::AUDIO_VIDEO))).unwrap();
    agent.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Offer, "agnt"))).unwrap();
    drain(&mut agent);
    let colliding = from_visitor(
        2,
        DescriptionBody::new(sdp(SdpType::Offer, "vstr"), NegotiationId::new("v1").unwrap()),
    );
    agent.handle_message(now, colliding).unwrap();
    assert!(drain(&mut agent).is_empty(), "ignored");
}

// --- trickle ICE ---

#[test]
fn local_candidates_are_batched_then_flow_and_always_end() {
    let pair = connected_pair();
    let batches: Vec<(usize, bool)> = pair
        .agent()
        .sent()
        .into_iter()
        .filter_map(|e| match &e.message {
            Message::Candidates(c) => Some((
                c.candidates.len(),
                c.candidates.iter().any(IceCandidate::is_end_of_candidates),
            )),
            _ => None,
        })
        .collect();
    // The fake browser gathers three within 200 ms, then completes at 400 ms.
    assert_eq!(batches, [(3, false), (1, true)]);
    // After the first batch, candidates go as they come.
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, offer(2, "a1", "agnt")).unwrap();
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    drain(&mut visitor);
    visitor.handle_media(now, MediaEvent::LocalCandidate(candidate("vstr", 1))).unwrap();
    assert!(drain(&mut visitor).is_empty(), "held for the batch");
    assert_eq!(visitor.poll_timeout(), Some(now + Duration::from_millis(200)));
    visitor.handle_timeout(now + Duration::from_millis(200));
    assert_eq!(drain(&mut visitor).len(), 1);
    visitor.handle_media(now, MediaEvent::LocalCandidate(candidate("vstr", 2))).unwrap();
    assert_eq!(drain(&mut visitor).len(), 1, "sent at once");
    visitor.handle_media(now, MediaEvent::GatheringComplete).unwrap();
    let Some(Output::Send(end)) = visitor.poll_output() else { panic!() };
    let Message::Candidates(body) = &end.message else { panic!() };
    assert_eq!(body.candidates, [IceCandidate::end_of_candidates(Some("vstr".into()))]);
}

#[test]
fn remote_candidates_before_their_description_wait_and_keep_their_order() {
    let now = start();
    let mut visitor = consented_visitor(now);
    let early = from_agent(
        2,
        CandidatesBody::new(vec![candidate("agnt", 7), candidate("agnt", 8), candidate("agnt", 9)]),
    );
    visitor.handle_message(now, early).unwrap();
    assert!(drain(&mut visitor).is_empty());
    visitor.handle_message(now, offer(3, "a1", "agnt")).unwrap();
    let ports: Vec<u16> = drain(&mut visitor)
        .into_iter()
        .filter_map(|o| match o {
            Output::Media(MediaCommand::AddRemoteCandidate(c)) => Some(c.candidate.unwrap().port()),
            _ => None,
        })
        .collect();
    assert_eq!(ports, [7, 8, 9]);
}

#[test]
fn an_old_generations_candidates_are_dropped_after_an_ice_restart() {
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, offer(2, "a1", "old1")).unwrap();
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    drain(&mut visitor);
    visitor.handle_message(now, offer(3, "a2", "new1")).unwrap(); // the agent's ICE restart
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vst2"))).unwrap();
    drain(&mut visitor);
    let late = from_agent(4, CandidatesBody::new(vec![candidate("old1", 1), candidate("new1", 2)]));
    visitor.handle_message(now, late).unwrap();
    let applied: Vec<u16> = drain(&mut visitor)
        .into_iter()
        .filter_map(|o| match o {
            Output::Media(MediaCommand::AddRemoteCandidate(c)) => Some(c.candidate.unwrap().port()),
            _ => None,
        })
        .collect();
    assert_eq!(applied, [2], "only the current generation's");
}

// --- ICE ---

#[test]
fn ice_disconnected_for_two_seconds_makes_the_agent_restart() {
    let mut pair = connected_pair();
    pair.media_event(0, MediaEvent::Ice(IceState::Disconnected));
    pair.media_event(1, MediaEvent::Ice(IceState::Disconnected));
    assert_eq!(phase(&pair, 0), Phase::Reconnecting);
    assert!(pair.agent().events().contains(&&Event::Reconnecting));
    pair.run_for(Duration::from_millis(1900));
    assert!(!media_commands(&pair, 0).contains(&MediaCommand::CreateOffer { ice_restart: true }));
    pair.run_for(Duration::from_millis(200));
    assert!(media_commands(&pair, 0).contains(&MediaCommand::CreateOffer { ice_restart: true }));
    assert!(
        !media_commands(&pair, 1).contains(&MediaCommand::CreateOffer { ice_restart: true }),
        "the visitor waits"
    );
    pair.run_for(secs(2));
    assert_eq!(
        (phase(&pair, 0), phase(&pair, 1)),
        (Phase::Active, Phase::Active),
        "the restart reconnected"
    );
    assert!(pair.agent().events().contains(&&Event::Reconnected));
}

#[test]
fn ice_not_back_within_thirty_seconds_ends_ice_timeout() {
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, offer(2, "a1", "agnt")).unwrap();
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    visitor.handle_media(now, MediaEvent::Ice(IceState::Connected)).unwrap();
    visitor.handle_media(now, MediaEvent::Ice(IceState::Disconnected)).unwrap();
    drain(&mut visitor);
    visitor.handle_timeout(now + secs(29));
    assert_eq!(visitor.phase(), Phase::Reconnecting);
    visitor.handle_timeout(now + secs(30));
    assert_eq!(visitor.phase(), Phase::Ended);
    assert_eq!(visitor.summary().unwrap().reason, Reason::IceTimeout);
    assert!(drain(&mut visitor).iter().any(|o| matches!(o, Output::Send(e) if matches!(&e.message, Message::Hangup(h) if h.reason == Reason::IceTimeout))));
}

#[test]
fn ice_never_connected_within_thirty_seconds_of_the_answer_ends_ice_failed() {
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, offer(2, "a1", "agnt")).unwrap();
    visitor.handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "vstr"))).unwrap();
    visitor.handle_timeout(now + secs(1)); // the offer is acknowledged to the relay
    assert_eq!(visitor.poll_timeout(), Some(now + secs(30)));
    visitor.handle_timeout(now + secs(30));
    let summary = visitor.summary().unwrap();
    assert_eq!((summary.reason.clone(), summary.outcome), (Reason::IceFailed, Outcome::Failed));
}

// --- media state ---

#[test]
fn call_media_waits_for_media_to_connect_and_carries_what_changed_meanwhile() {
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_action(now, Action::SetMicrophoneMuted(true)).unwrap();
    let sent_media = |outputs: &[Output]| -> Vec<Envelope> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(e) if e.message_type() == "call.media" => Some(e.clone()),
                _ => None,
            })
            .collect()
    };
    let connecting = drain(&mut visitor);
    assert!(sent_media(&connecting).is_empty(), "not before media connected: {connecting:?}");
    // The offer, the answer and ICE: media connects.
    visitor.handle_message(now, offer(2, "a1", "agentufrag")).unwrap();
    drain(&mut visitor);
    visitor
        .handle_media(now, MediaEvent::LocalDescription(sdp(SdpType::Answer, "tabufrag")))
        .unwrap();
    assert!(sent_media(&drain(&mut visitor)).is_empty());
    visitor.handle_media(now + secs(2), MediaEvent::Ice(IceState::Connected)).unwrap();
    let opened = sent_media(&drain(&mut visitor));
    assert_eq!(opened.len(), 1, "the first call.media says media connected");
    let Message::Media(media) = &opened[0].message else { panic!() };
    let camera = media.streams.values().next().unwrap();
    assert!(camera.audio_muted && !camera.video_muted, "the mute made while connecting");
}

#[test]
fn mute_and_camera_off_reach_the_other_side_without_renegotiation() {
    let mut pair = connected_pair();
    let offers_before =
        pair.agent().sent_types().iter().filter(|t| **t == "call.description").count();
    pair.act(1, Action::SetMicrophoneMuted(true)).unwrap();
    pair.act(1, Action::SetCameraOff(true)).unwrap();
    pair.run_for(secs(1));
    assert!(
        media_commands(&pair, 1)
            .contains(&MediaCommand::SetTrackEnabled { kind: TrackKind::Audio, enabled: false })
    );
    let last = pair.agent().events().into_iter().rev().find_map(|e| match e {
        Event::RemoteMedia(m) => Some(m.clone()),
        _ => None,
    });
    let camera = last.unwrap().streams.values().next().cloned().unwrap();
    assert!(camera.audio_muted && camera.video_muted);
    assert_eq!(
        pair.agent().sent_types().iter().filter(|t| **t == "call.description").count(),
        offers_before
    );
}

#[test]
fn audio_only_stops_video_on_both_sides_and_keeps_audio() {
    let mut pair = connected_pair();
    pair.act(0, Action::SwitchToAudioOnly(AudioOnlyReason::Quality)).unwrap();
    pair.run_for(secs(1));
    for index in [0, 1] {
        let commands = media_commands(&pair, index);
        assert!(
            commands.contains(&MediaCommand::SetTrackEnabled {
                kind: TrackKind::Video,
                enabled: false
            }),
            "{index}"
        );
        assert!(
            !commands.contains(&MediaCommand::SetTrackEnabled {
                kind: TrackKind::Audio,
                enabled: false
            }),
            "{index}"
        );
    }
    let visitor_state = pair.visitor(1).sent().into_iter().rev().find_map(|e| match &e.message {
        Message::Media(m) => Some(m.clone()),
        _ => None,
    });
    assert_eq!(visitor_state.unwrap().audio_only.map(|a| a.reason), Some(AudioOnlyReason::Quality));
    assert_eq!((phase(&pair, 0), phase(&pair, 1)), (Phase::Active, Phase::Active));
}

#[test]
fn sustained_poor_quality_advises_audio_only_once() {
    let mut pair = connected_pair();
    let advice = |pair: &CallPair| -> Vec<Event> {
        pair.agent()
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Quality(_)))
            .cloned()
            .collect()
    };
    // The visitor's end is poor; the agent's own samples look fine.
    for _ in 0..5 {
        pair.media_event(1, MediaEvent::QualitySample { rtt_ms: 600, loss_pct: 12.0 });
        pair.run_for(secs(1));
    }
    for sample in 1..=5 {
        pair.media_event(0, MediaEvent::QualitySample { rtt_ms: 40, loss_pct: 0.0 });
        pair.run_for(secs(1));
        let expected = if sample >= 3 {
            vec![Event::Quality(QualityAdvice::SwitchToAudioOnly)]
        } else {
            vec![]
        };
        assert_eq!(advice(&pair), expected, "sample {sample}: sustained, once, no flapping");
    }
    // Recovery needs the visitor's report too.
    pair.media_event(1, MediaEvent::QualitySample { rtt_ms: 40, loss_pct: 0.0 });
    pair.run_for(secs(1));
    for _ in 0..3 {
        pair.media_event(0, MediaEvent::QualitySample { rtt_ms: 40, loss_pct: 0.0 });
        pair.run_for(secs(1));
    }
    assert_eq!(advice(&pair).last(), Some(&Event::Quality(QualityAdvice::Recovered)));
    let reports = pair.visitor(1).sent_types().iter().filter(|t| **t == "call.quality").count();
    assert_eq!(
        reports, 2,
        "a report when the level changes (poor, then excellent), not every sample"
    );
}

// --- ending ---

#[test]
fn the_first_terminal_transition_wins_and_ended_absorbs_everything() {
    let mut pair = connected_pair();
    pair.act(0, Action::Hangup).unwrap();
    pair.act(1, Action::Hangup).unwrap();
    pair.run_for(secs(2));
    let agent = pair.agent().call.as_ref().unwrap().summary().unwrap().clone();
    let visitor = pair.visitor(1).call.as_ref().unwrap().summary().unwrap().clone();
    assert_eq!(
        (agent.ended_by, visitor.ended_by),
        (Some(Role::Agent), Some(Role::Visitor)),
        "each its own first"
    );
    assert_eq!((agent.outcome, visitor.outcome), (Outcome::Answered, Outcome::Answered));
    let ended_events = |index: usize| {
        pair.parties[index].events().iter().filter(|e| matches!(e, Event::Ended { .. })).count()
    };
    assert_eq!((ended_events(0), ended_events(1)), (1, 1));
    // Everything after the end is absorbed without output.
    let now = pair.now;
    let call = pair.party_mut(1).call.as_mut().unwrap();
    call.handle_action(now, Action::SetMicrophoneMuted(true)).unwrap();
    call.handle_media(now, MediaEvent::Ice(IceState::Failed)).unwrap();
    call.handle_message(now, from_agent(99, HangupBody::new(Reason::IceFailed))).unwrap();
    call.handle_timeout(now + secs(3600));
    assert_eq!(call.poll_output(), None);
    assert_eq!(call.poll_timeout(), None);
    assert_eq!(call.summary().unwrap().reason, Reason::UserHangup);
}

#[test]
fn duplicated_and_replayed_frames_change_nothing_twice() {
    let mut pair =
        CallPair::new(1, Faults { duplicate_pct: 100, max_delay_ms: 30, ..Faults::default() }, 8);
    pair.connect();
    pair.act(0, Action::Hangup).unwrap();
    pair.run_for(secs(2));
    assert_eq!(
        (outcome(&pair, 0), outcome(&pair, 1)),
        (Some(Outcome::Answered), Some(Outcome::Answered))
    );
    let prompts =
        pair.visitor(1).events().iter().filter(|e| matches!(e, Event::Prompt { .. })).count();
    assert_eq!(prompts, 1);
    let offers_applied = media_commands(&pair, 1)
        .iter()
        .filter(|c| matches!(c, MediaCommand::ApplyRemoteDescription(_)))
        .count();
    assert_eq!(offers_applied, 1);
    // A replayed frame of the ended call is absorbed.
    let now = start();
    let mut visitor = consented_visitor(now);
    visitor.handle_message(now, from_agent(5, HangupBody::new(Reason::UserHangup))).unwrap();
    drain(&mut visitor);
    visitor.handle_message(now, from_agent(5, HangupBody::new(Reason::UserHangup))).unwrap();
    visitor.handle_message(now, offer(6, "a9", "agnt")).unwrap();
    assert!(drain(&mut visitor).is_empty());
}

#[test]
fn frames_of_another_call_are_refused() {
    let now = start();
    let mut visitor = visitor_call(now);
    let mut other = from_agent(2, HangupBody::new(Reason::UserHangup));
    other.call_id = CallId::new("call-2").unwrap();
    assert!(matches!(visitor.handle_message(now, other), Err(CallError::WrongCall { .. })));
    assert_eq!(visitor.phase(), Phase::Prompting);
}

#[test]
fn a_peer_sending_a_broken_sdp_ends_the_call_as_a_protocol_error() {
    let now = start();
    let mut visitor = consented_visitor(now);
    let broken = from_agent(
        2,
        DescriptionBody::new(
            SessionDescription::new(SdpType::Offer, "v=0\r\n"),
            NegotiationId::new("a1").unwrap(),
        ),
    );
    visitor.handle_message(now, broken).unwrap();
    assert_eq!(visitor.summary().unwrap().reason, Reason::ProtocolError);
}

// --- memory ---

#[test]
fn an_idle_live_call_holds_under_2_kib() {
    let mut pair = connected_pair();
    pair.run_for(secs(60));
    for index in [0, 1] {
        let call = pair.parties[index].call.as_ref().unwrap();
        assert_eq!(call.phase(), Phase::Active);
        let bytes = call.memory_estimate();
        assert!(
            bytes <= 2048,
            "{}: {bytes} bytes (size_of {})",
            pair.parties[index].id,
            size_of::<Call>()
        );
    }
}

// --- acknowledging to the relay ---

/// The `call.ack`s among `outputs`: their `seq` and what they acknowledge.
fn acks(outputs: &[Output]) -> Vec<(u64, Vec<(PartyId, u64)>)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Send(Envelope { seq, message: Message::Ack(ack), .. }) => {
                Some((*seq, ack.seen.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn frames_are_acknowledged_once_per_burst_and_a_relay_without_acks_ends_them_quietly() {
    let now = start();
    let ms = Duration::from_millis;
    let agent = PartyId::new("agent-1").unwrap();
    let mut visitor = consented_visitor(now);
    let candidates = |port| CandidatesBody::new(vec![candidate("agnt", port)]);
    // The invite came at `now`; the offer and a candidate join it in one ack a second after
    // the offer.
    visitor.handle_message(now + ms(500), offer(2, "a1", "agnt")).unwrap();
    visitor.handle_message(now + ms(600), from_agent(3, candidates(5000))).unwrap();
    visitor.handle_timeout(now + ms(1499));
    assert_eq!(acks(&drain(&mut visitor)), vec![]);
    visitor.handle_timeout(now + ms(1500));
    let sent = acks(&drain(&mut visitor));
    assert_eq!(
        sent.iter().map(|(_, seen)| seen.clone()).collect::<Vec<_>>(),
        [vec![(agent.clone(), 3)]]
    );
    // Nothing new, nothing to acknowledge; a duplicate is nothing new.
    visitor.handle_message(now + secs(2), from_agent(3, candidates(5000))).unwrap();
    visitor.handle_timeout(now + secs(5));
    assert_eq!(acks(&drain(&mut visitor)), vec![]);
    // A new frame is acknowledged in its turn.
    visitor.handle_message(now + secs(5), from_agent(4, candidates(5001))).unwrap();
    visitor.handle_timeout(now + secs(6));
    let sent = acks(&drain(&mut visitor));
    let [(ack_seq, seen)] = sent.as_slice() else { panic!("one ack: {sent:?}") };
    assert_eq!(seen, &vec![(agent.clone(), 4)]);

    // A relay that predates acks refuses this one: no news for the user, and no more acks.
    // (Any refusal of an ack ends them: the relay has said it does not want them.)
    let (conversation, call) = ids();
    let refusal = RejectedBody::new(
        RejectCode::UnknownType,
        "message type call.ack is not relayed".to_owned(),
        Some(*ack_seq),
    );
    let notice = Envelope::new(conversation, call, PartyId::relay(), Role::Visitor, 1, refusal);
    visitor.handle_message(now + secs(6), notice).unwrap();
    assert_eq!(drain(&mut visitor), vec![], "the refusal of an ack is not an event");
    visitor.handle_message(now + secs(7), from_agent(5, candidates(5002))).unwrap();
    visitor.handle_timeout(now + secs(20));
    assert_eq!(acks(&drain(&mut visitor)), vec![]);
    assert_eq!(visitor.phase(), Phase::Connecting, "the call goes on");
}
