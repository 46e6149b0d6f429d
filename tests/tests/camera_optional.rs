//! Camera optional: every row of the camera and microphone rule table (velaro-call-state's
//! crate docs) for the agent and the visitor, calls started with the camera off, a camera added
//! mid-call, audio only and back from either side, and the property that both sides agree on
//! each other's media state after any sequence of switches. Through the harness: both call
//! machines, the real relay, the fake media layer (whose camera track the calls drive).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use proptest::prelude::*;
use velaro_call_protocol::message::description::SdpType;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::{AudioOnlyReason, MediaBody, StreamPurpose};
use velaro_call_protocol::{Device, MediaError, Message, Reason};
use velaro_call_state::{
    Action, Browser, Call, CallError, Event, MediaCommand, MediaEvent, Outcome, Phase, media_help,
};
use velaro_tests::call_pair::{CallPair, Faults};

const AGENT: usize = 0;
const VISITOR: usize = 1;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn call(pair: &CallPair, index: usize) -> &Call {
    pair.parties[index].call.as_ref().expect("the party has a call")
}

fn phase(pair: &CallPair, index: usize) -> Phase {
    pair.parties[index].call.as_ref().map_or(Phase::Idle, Call::phase)
}

/// What the party sends, as its call says.
fn local(pair: &CallPair, index: usize) -> MediaBody {
    call(pair, index).local_media().expect("an answered call")
}

/// The other side's media state as the party's UI was last told it.
fn seen(pair: &CallPair, index: usize) -> Option<MediaBody> {
    pair.parties[index].events().into_iter().rev().find_map(|event| match event {
        Event::RemoteMedia(media) => Some(media.clone()),
        _ => None,
    })
}

fn marker(media: &MediaBody) -> Option<AudioOnlyReason> {
    media.audio_only.as_ref().map(|marker| marker.reason.clone())
}

/// Whether the camera stream's video is on.
fn camera_sends(media: &MediaBody) -> bool {
    media.streams.values().any(|s| s.purpose == StreamPurpose::Camera && !s.video_muted)
}

fn shares_screen(media: &MediaBody) -> bool {
    media.screen().is_some()
}

/// The party's camera track as its media layer has it: `None` when there is none.
fn track(pair: &CallPair, index: usize) -> Option<bool> {
    pair.parties[index].media.video_enabled
}

fn offers_from(pair: &CallPair, index: usize) -> usize {
    let offers = pair.parties[index].sent().into_iter().filter(|e| {
        matches!(&e.message, Message::Description(d) if d.description.sdp_type == SdpType::Offer)
    });
    offers.count()
}

fn camera_unavailable(pair: &CallPair, index: usize) -> Vec<(MediaError, &'static str)> {
    let events = pair.parties[index].events();
    events
        .into_iter()
        .filter_map(|event| match event {
            Event::CameraUnavailable { error, help } => Some((error.clone(), *help)),
            _ => None,
        })
        .collect()
}

fn invite(pair: &mut CallPair, camera_off: bool) {
    let prompt = Prompt::new("Your agent would like to start a video call. Accept?").unwrap();
    let media = MediaKinds::AUDIO_VIDEO;
    pair.act(AGENT, Action::Invite { prompt, media, ice: None, camera_off }).unwrap();
}

/// Both sides agree on each other's media state, and each media layer's camera track does
/// what its call's `call.media` says.
fn assert_agreement(pair: &CallPair) {
    for (index, peer) in [(AGENT, VISITOR), (VISITOR, AGENT)] {
        let mine = local(pair, index);
        assert_eq!(seen(pair, peer).as_ref(), Some(&mine), "the peer of {index} sees its state");
        assert_eq!(track(pair, index) == Some(true), camera_sends(&mine), "track of {index}");
    }
}

/// What a row of the rule table ends in.
#[derive(Debug, Clone)]
enum Then {
    /// The call goes on with audio, the user told with help starting so.
    Audio(&'static str),
    /// The call cannot start: `media_permission_denied` for this device and error.
    Stops(Device, MediaError),
}

/// Plays one row for the party at `index`: its camera and microphone fail as given.
fn play_row(index: usize, camera: Option<MediaError>, microphone: Option<MediaError>, then: Then) {
    let mut pair = CallPair::new(1, Faults::default(), 17);
    pair.party_mut(index).media.permissions.camera.clone_from(&camera);
    pair.party_mut(index).media.permissions.microphone.clone_from(&microphone);
    invite(&mut pair, false);
    pair.answer_and_connect();
    let row = format!("party {index}, camera {camera:?}, microphone {microphone:?}");
    let peer = 1 - index;
    let asked = |n: usize| -> Vec<MediaKinds> {
        let commands = &pair.parties[n].media.commands;
        commands
            .iter()
            .filter_map(|c| match c {
                MediaCommand::RequestUserMedia(kinds) => Some(*kinds),
                _ => None,
            })
            .collect()
    };
    match then {
        Then::Audio(help) => {
            assert_eq!(
                (phase(&pair, AGENT), phase(&pair, VISITOR)),
                (Phase::Active, Phase::Active)
            );
            assert_eq!(asked(index), [MediaKinds::AUDIO_VIDEO, MediaKinds::AUDIO_ONLY], "{row}");
            let told = camera_unavailable(&pair, index);
            assert_eq!(told.len(), 1, "{row}");
            assert_eq!(Some(&told[0].0), camera.as_ref(), "{row}");
            assert!(told[0].1.starts_with(help), "{row}: {}", told[0].1);
            // Its own state says why there is no video; the peer keeps its own video.
            let mine = local(&pair, index);
            assert_eq!(marker(&mine), Some(AudioOnlyReason::CameraUnavailable), "{row}");
            assert!(!camera_sends(&mine), "{row}");
            assert_eq!(track(&pair, index), None, "{row}: no camera track");
            let theirs = local(&pair, peer);
            assert_eq!((marker(&theirs), camera_sends(&theirs)), (None, true), "{row}");
            assert_agreement(&pair);
            if index == VISITOR {
                let accept =
                    pair.parties[VISITOR].sent().into_iter().find_map(|e| match &e.message {
                        Message::Accept(accept) => Some(accept.media),
                        _ => None,
                    });
                assert_eq!(accept, Some(MediaKinds::AUDIO_ONLY), "{row}: the accept says audio");
            }
        }
        Then::Stops(device, error) => {
            let denied =
                Reason::MediaPermissionDenied { device: device.clone(), error: error.clone() };
            let summary = call(&pair, index).summary().expect("ended");
            // The agent's own failure withdraws its invite; the visitor's declines.
            let outcome = if index == AGENT { Outcome::Cancelled } else { Outcome::Declined };
            assert_eq!((summary.outcome, &summary.reason), (outcome, &denied), "{row}");
            let help = pair.parties[index].events().into_iter().find_map(|e| match e {
                Event::PermissionHelp { device, error, help } => {
                    Some((device.clone(), error.clone(), *help))
                }
                _ => None,
            });
            let expected = media_help(Browser::Other, &device, &error);
            assert_eq!(help, Some((device, error, expected)), "{row}");
            if index == AGENT {
                assert!(!pair.parties[AGENT].sent_types().contains(&"call.invite"), "{row}");
                assert!(pair.parties[VISITOR].call.is_none(), "{row}: the visitor never rang");
            } else {
                let agent = call(&pair, AGENT).summary().expect("the agent learns it");
                assert_eq!(agent.reason, denied, "{row}");
            }
        }
    }
}

#[test]
fn every_row_of_the_rule_table_for_the_agent_and_the_visitor() {
    use MediaError::{Abort, NotAllowed, NotFound, NotReadable, Overconstrained, Security};
    let rows = [
        (Some(NotFound), None, Then::Audio("No camera was found")),
        (Some(NotReadable), None, Then::Audio("Your camera is in use by another application")),
        (Some(Overconstrained), None, Then::Audio("Your camera does not support")),
        (Some(Abort), None, Then::Audio("Your camera could not be started")),
        (Some(MediaError::Other("x-new".into())), None, Then::Audio("Your camera could not")),
        (Some(NotAllowed), None, Then::Stops(Device::Camera, NotAllowed)),
        (Some(Security), None, Then::Stops(Device::Camera, Security)),
        (None, Some(NotFound), Then::Stops(Device::Microphone, NotFound)),
        (None, Some(NotReadable), Then::Stops(Device::Microphone, NotReadable)),
        (None, Some(NotAllowed), Then::Stops(Device::Microphone, NotAllowed)),
        // The camera's fallback finds the microphone missing too: no audio, no call.
        (Some(NotReadable), Some(NotFound), Then::Stops(Device::Microphone, NotFound)),
    ];
    for index in [AGENT, VISITOR] {
        for (camera, microphone, then) in rows.clone() {
            play_row(index, camera, microphone, then);
        }
    }
}

#[test]
fn an_agent_calls_with_its_camera_off_shares_a_screen_and_turns_the_camera_on_later() {
    let mut pair = CallPair::new(1, Faults::default(), 3);
    invite(&mut pair, true);
    pair.answer_and_connect();
    assert_eq!(phase(&pair, AGENT), Phase::Active);
    let commands = &pair.parties[AGENT].media.commands;
    assert_eq!(commands[0], MediaCommand::RequestUserMedia(MediaKinds::AUDIO_ONLY));
    // The invite still asks the visitor for video, and the visitor sends it.
    assert!(camera_sends(&local(&pair, VISITOR)));
    let agent = local(&pair, AGENT);
    assert_eq!((camera_sends(&agent), marker(&agent)), (false, None), "camera off, by choice");
    assert_agreement(&pair);

    pair.act(AGENT, Action::StartScreenShare).unwrap();
    pair.run_for(secs(2));
    assert!(shares_screen(&seen(&pair, VISITOR).unwrap()));

    let offers = offers_from(&pair, AGENT);
    pair.act(AGENT, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(2));
    let asked = pair.parties[AGENT]
        .media
        .commands
        .iter()
        .filter(|c| **c == MediaCommand::RequestUserMedia(MediaKinds::VIDEO_ONLY));
    assert_eq!(asked.count(), 1, "the camera is asked for once");
    assert_eq!(offers_from(&pair, AGENT), offers + 1, "its new track renegotiates");
    let agent = local(&pair, AGENT);
    assert!(camera_sends(&agent) && shares_screen(&agent), "camera and screen both");
    assert_agreement(&pair);
    assert_eq!(phase(&pair, VISITOR), Phase::Active);

    // Off and on again: the track exists now, so no renegotiation and no new request.
    pair.act(AGENT, Action::SetCameraOff(true)).unwrap();
    pair.run_for(secs(1));
    assert!(!camera_sends(&seen(&pair, VISITOR).unwrap()));
    pair.act(AGENT, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(1));
    assert_eq!(offers_from(&pair, AGENT), offers + 1);
    assert_agreement(&pair);
}

#[test]
fn an_invite_that_would_send_nothing_is_refused() {
    let mut pair = CallPair::new(1, Faults::default(), 4);
    let prompt = Prompt::new("Video?").unwrap();
    let video_only = MediaKinds::new(false, true);
    let nothing = Action::Invite { prompt, media: video_only, ice: None, camera_off: true };
    assert_eq!(pair.act(AGENT, nothing), Err(CallError::NoMedia));
    assert!(pair.parties[AGENT].media.commands.is_empty(), "nothing was asked of the browser");
    assert_eq!(phase(&pair, AGENT), Phase::Idle);
}

#[test]
fn audio_only_is_no_one_way_door_from_either_side() {
    let mut pair = CallPair::new(1, Faults::default(), 5);
    pair.connect();
    let offers = (offers_from(&pair, AGENT), offers_from(&pair, VISITOR));
    let markers = |pair: &CallPair| (marker(&local(pair, AGENT)), marker(&local(pair, VISITOR)));
    let quality = Some(AudioOnlyReason::Quality);
    for round in 0..3 {
        // The agent switches the call to audio only: the visitor follows.
        pair.act(AGENT, Action::SwitchToAudioOnly(AudioOnlyReason::Quality)).unwrap();
        pair.run_for(secs(1));
        assert_eq!(markers(&pair), (quality.clone(), quality.clone()), "round {round}");
        assert_eq!((track(&pair, AGENT), track(&pair, VISITOR)), (Some(false), Some(false)));
        assert_agreement(&pair);
        if round == 1 {
            // The visitor turns its camera back on by itself; the agent stays audio only.
            pair.act(VISITOR, Action::SetCameraOff(false)).unwrap();
            pair.run_for(secs(1));
            assert_eq!(markers(&pair), (quality.clone(), None));
            assert_eq!((track(&pair, AGENT), track(&pair, VISITOR)), (Some(false), Some(true)));
            assert_agreement(&pair);
        }
        // The agent's camera on ends audio only for both.
        pair.act(AGENT, Action::SetCameraOff(false)).unwrap();
        pair.run_for(secs(1));
        assert_eq!(markers(&pair), (None, None), "round {round}");
        assert_eq!((track(&pair, AGENT), track(&pair, VISITOR)), (Some(true), Some(true)));
        assert_agreement(&pair);
    }
    // A visitor whose camera was off by choice stays so when audio only ends.
    pair.act(VISITOR, Action::SetCameraOff(true)).unwrap();
    pair.act(AGENT, Action::SwitchToAudioOnly(AudioOnlyReason::Quality)).unwrap();
    pair.run_for(secs(1));
    pair.act(AGENT, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(1));
    assert_eq!(track(&pair, VISITOR), Some(false));
    assert_agreement(&pair);
    // Tracks that exist are switched, never renegotiated.
    assert_eq!((offers_from(&pair, AGENT), offers_from(&pair, VISITOR)), offers);
}

#[test]
fn a_camera_that_fails_mid_call_leaves_the_call_on_audio_until_one_works() {
    let mut pair = CallPair::new(1, Faults::default(), 9);
    pair.party_mut(VISITOR).media.permissions.camera = Some(MediaError::NotFound);
    pair.connect();
    assert_eq!(camera_unavailable(&pair, VISITOR).len(), 1);

    // Still no camera: the visitor is told again, the call goes on.
    pair.act(VISITOR, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(1));
    assert_eq!(camera_unavailable(&pair, VISITOR).len(), 2);
    assert_eq!(phase(&pair, VISITOR), Phase::Active);
    assert_eq!(marker(&seen(&pair, AGENT).unwrap()), Some(AudioOnlyReason::CameraUnavailable));

    // Refused mid-call: help to allow it, and the call still goes on.
    pair.party_mut(VISITOR).media.permissions.camera = Some(MediaError::NotAllowed);
    pair.act(VISITOR, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(1));
    let told = camera_unavailable(&pair, VISITOR);
    let expected = media_help(Browser::Other, &Device::Camera, &MediaError::NotAllowed);
    assert_eq!(told.last(), Some(&(MediaError::NotAllowed, expected)));
    assert_eq!(phase(&pair, VISITOR), Phase::Active);
    // The user's own say: the agent sees the camera off, not unavailable.
    let visitor = seen(&pair, AGENT).unwrap();
    assert_eq!((camera_sends(&visitor), marker(&visitor)), (false, None));

    // A camera plugged in: the next "camera on" adds it, and the agent sees video.
    pair.party_mut(VISITOR).media.permissions.camera = None;
    let offers = offers_from(&pair, VISITOR) + offers_from(&pair, AGENT);
    pair.act(VISITOR, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(2));
    assert_eq!(offers_from(&pair, VISITOR) + offers_from(&pair, AGENT), offers + 1);
    let visitor = seen(&pair, AGENT).unwrap();
    assert_eq!((camera_sends(&visitor), marker(&visitor)), (true, None));
    assert_agreement(&pair);
}

#[test]
fn a_camera_unplugged_mid_call_leaves_the_call_on_audio_and_can_come_back() {
    let mut pair = CallPair::new(1, Faults::default(), 11);
    pair.connect();
    // The agent's camera is unplugged: its track ends by itself.
    pair.party_mut(AGENT).media.video_enabled = None;
    pair.party_mut(AGENT).media.permissions.camera = Some(MediaError::NotFound);
    pair.media_event(AGENT, MediaEvent::CameraEnded);
    pair.run_for(secs(1));
    let told = camera_unavailable(&pair, AGENT);
    assert_eq!(told.len(), 1);
    assert!(told[0].1.starts_with("No camera was found"), "{}", told[0].1);
    assert_eq!(marker(&seen(&pair, VISITOR).unwrap()), Some(AudioOnlyReason::CameraUnavailable));
    assert_eq!(phase(&pair, AGENT), Phase::Active);
    assert!(camera_sends(&local(&pair, VISITOR)), "the visitor keeps its video");
    assert_agreement(&pair);
    // Plugged in again: camera on asks for it and the visitor sees video.
    pair.party_mut(AGENT).media.permissions.camera = None;
    pair.act(AGENT, Action::SetCameraOff(false)).unwrap();
    pair.run_for(secs(2));
    let agent = seen(&pair, VISITOR).unwrap();
    assert_eq!((camera_sends(&agent), marker(&agent)), (true, None));
    assert_agreement(&pair);
}

// --- the property ---

#[derive(Debug, Clone)]
enum Switch {
    Camera(usize, bool),
    Mute(usize, bool),
    AudioOnly,
    ShareScreen,
    StopScreen,
    /// The party's camera starts failing (busy) or works again.
    CameraBusy(usize, bool),
    /// The party's camera is unplugged: its track ends by itself.
    Unplug(usize),
}

fn switch() -> impl Strategy<Value = Switch> {
    let party = prop_oneof![Just(AGENT), Just(VISITOR)];
    prop_oneof![
        4 => (party.clone(), any::<bool>()).prop_map(|(p, off)| Switch::Camera(p, off)),
        1 => (party.clone(), any::<bool>()).prop_map(|(p, m)| Switch::Mute(p, m)),
        2 => Just(Switch::AudioOnly),
        1 => Just(Switch::ShareScreen),
        1 => Just(Switch::StopScreen),
        1 => (party.clone(), any::<bool>()).prop_map(|(p, busy)| Switch::CameraBusy(p, busy)),
        1 => party.prop_map(Switch::Unplug),
    ]
}

#[derive(Debug, Clone)]
struct Switches {
    seed: u64,
    reorder: bool,
    agent_camera_off: bool,
    agent_no_camera: bool,
    visitor_no_camera: bool,
    steps: Vec<(u64, Switch)>,
}

fn switches() -> impl Strategy<Value = Switches> {
    (
        any::<u64>(),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        prop::collection::vec((0u64..400, switch()), 0..24),
    )
        .prop_map(
            |(seed, reorder, agent_camera_off, agent_no_camera, visitor_no_camera, steps)| {
                Switches {
                    seed,
                    reorder,
                    agent_camera_off,
                    agent_no_camera,
                    visitor_no_camera,
                    steps,
                }
            },
        )
}

/// `PROPTEST_CASES`, or 1,000: each case is a whole call.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// After any sequence of camera on/off, mute, audio-only and screen switches, with cameras
    /// failing, unplugged and coming back, over a link that delays, duplicates and reorders: once the
    /// link is quiet, each side's UI shows exactly the other's media state, and each media
    /// layer's camera track sends exactly when its call says so.
    #[test]
    fn both_sides_agree_on_each_others_media_state(run in switches()) {
        let faults = Faults {
            max_delay_ms: 150,
            drop_pct: 0,
            duplicate_pct: 10,
            reorder: run.reorder,
            stale_duplicate_ms: 0,
        };
        let mut pair = CallPair::new(1, faults, run.seed);
        let busy = Some(MediaError::NotReadable);
        if run.agent_no_camera {
            pair.party_mut(AGENT).media.permissions.camera.clone_from(&busy);
        }
        if run.visitor_no_camera {
            pair.party_mut(VISITOR).media.permissions.camera.clone_from(&busy);
        }
        invite(&mut pair, run.agent_camera_off);
        pair.answer_and_connect();
        prop_assert_eq!((phase(&pair, AGENT), phase(&pair, VISITOR)), (Phase::Active, Phase::Active));
        for (delay_ms, step) in &run.steps {
            pair.run_for(Duration::from_millis(*delay_ms));
            // Refusals (a screen share already on, say) change nothing and are fine here.
            let _ = match step {
                Switch::Camera(p, off) => pair.act(*p, Action::SetCameraOff(*off)),
                Switch::Mute(p, muted) => pair.act(*p, Action::SetMicrophoneMuted(*muted)),
                Switch::AudioOnly => {
                    pair.act(AGENT, Action::SwitchToAudioOnly(AudioOnlyReason::Quality))
                }
                Switch::ShareScreen => pair.act(AGENT, Action::StartScreenShare),
                Switch::StopScreen => pair.act(AGENT, Action::StopScreenShare),
                Switch::CameraBusy(p, busy) => {
                    pair.party_mut(*p).media.permissions.camera =
                        busy.then_some(MediaError::NotReadable);
                    Ok(())
                }
                // Only a camera track that exists can end (one that sends, to be sure the
                // call has it and is not still waiting for the browser's grant).
                Switch::Unplug(p) if camera_sends(&local(&pair, *p)) => {
                    pair.party_mut(*p).media.video_enabled = None;
                    pair.media_event(*p, MediaEvent::CameraEnded);
                    Ok(())
                }
                Switch::Unplug(_) => Ok(()),
            };
        }
        pair.run_for(secs(5));
        prop_assert_eq!((phase(&pair, AGENT), phase(&pair, VISITOR)), (Phase::Active, Phase::Active));
        for (index, peer) in [(AGENT, VISITOR), (VISITOR, AGENT)] {
            let mine = local(&pair, index);
            let theirs = seen(&pair, peer);
            prop_assert_eq!(theirs.as_ref(), Some(&mine), "peer of {} agrees", index);
            prop_assert_eq!(track(&pair, index) == Some(true), camera_sends(&mine));
        }
    }
}
