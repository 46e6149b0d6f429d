//! Properties of the call machines over random user actions, media facts and link faults,
//! through the deterministic harness: no panic, agreement at the end, no media before consent,
//! timeouts that make progress (asserted inside the harness), and bounded memory.
//!
//! `PROPTEST_CASES` sets the number of cases (2,000 by default, as in CI).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use proptest::prelude::*;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::AudioOnlyReason;
use velaro_call_protocol::{Device, MediaError};
use velaro_call_state::{Action, Call, IceState, MediaEvent, Outcome, Phase};
use velaro_tests::call_pair::{CallPair, Faults};

/// One thing that happens in a scenario.
#[derive(Debug, Clone)]
enum Step {
    Act(usize, Action),
    Media(usize, MediaEvent),
}

fn step() -> impl Strategy<Value = Step> {
    let party = 0usize..3;
    prop_oneof![
        3 => party.clone().prop_map(|p| Step::Act(p, Action::Accept)),
        1 => party.clone().prop_map(|p| Step::Act(p, Action::Decline)),
        1 => Just(Step::Act(0, Action::Cancel)),
        2 => party.clone().prop_map(|p| Step::Act(p, Action::Hangup)),
        1 => (party.clone(), any::<bool>()).prop_map(|(p, m)| Step::Act(p, Action::SetMicrophoneMuted(m))),
        1 => (party.clone(), any::<bool>()).prop_map(|(p, c)| Step::Act(p, Action::SetCameraOff(c))),
        1 => Just(Step::Act(0, Action::StartScreenShare)),
        1 => party.clone().prop_map(|p| Step::Act(p, Action::StopScreenShare)),
        1 => Just(Step::Act(0, Action::SwitchToAudioOnly(AudioOnlyReason::Quality))),
        1 => party.clone().prop_map(|p| Step::Media(p, MediaEvent::Ice(IceState::Disconnected))),
        1 => party.clone().prop_map(|p| Step::Media(p, MediaEvent::Ice(IceState::Failed))),
        1 => party.clone().prop_map(|p| Step::Media(p, MediaEvent::NegotiationNeeded)),
        1 => Just(Step::Media(0, MediaEvent::ScreenShareEnded)),
        1 => (party, 0u32..900, 0.0f64..30.0).prop_map(|(p, rtt, loss)| Step::Media(p, MediaEvent::QualitySample { rtt_ms: rtt, loss_pct: loss })),
    ]
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    tabs: usize,
    faults: Faults,
    visitor_denies: bool,
    agent_denies: bool,
    steps: Vec<(u64, Step)>,
    /// Who hangs up at the end.
    closer: usize,
}

fn scenario(max_drop_pct: u8, reorder: bool) -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        1usize..=2,
        (
            0u64..300,
            0..=max_drop_pct,
            0u8..40,
            prop::bool::weighted(if reorder { 0.5 } else { 0.0 }),
        ),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
        (prop::collection::vec((0u64..4000, step()), 0..12), 0usize..3),
    )
        .prop_map(
            |(
                seed,
                tabs,
                (max_delay_ms, drop_pct, duplicate_pct, reorder),
                visitor_denies,
                agent_denies,
                (steps, closer),
            )| Scenario {
                seed,
                tabs,
                faults: Faults { max_delay_ms, drop_pct, duplicate_pct, reorder },
                visitor_denies,
                agent_denies,
                steps,
                closer,
            },
        )
}

/// The largest state one call may hold at any moment (its buffers are bounded).
const MAX_CALL_MEMORY: usize = 64 * 1024;

/// Plays a scenario to the end: the scripted steps, then everyone hangs up and the clock runs
/// long enough for every timer.
fn play(scenario: &Scenario) -> Result<CallPair, TestCaseError> {
    let mut pair = CallPair::new(scenario.tabs, scenario.faults, scenario.seed);
    if scenario.visitor_denies {
        pair.party_mut(1).media.permissions.deny_user_media =
            Some((Device::Camera, MediaError::NotAllowed));
    }
    if scenario.agent_denies {
        pair.party_mut(0).media.permissions.deny_user_media =
            Some((Device::Microphone, MediaError::NotReadable));
    }
    let prompt = Prompt::new("Video call?").unwrap();
    let _ = pair.act(0, Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None });
    for (delay_ms, step) in &scenario.steps {
        pair.run_for(Duration::from_millis(*delay_ms));
        check_memory(&pair)?;
        match step.clone() {
            Step::Act(party, action) if party < pair.parties.len() => {
                let _ = pair.act(party, action);
            }
            Step::Media(party, event)
                if party < pair.parties.len() && pair.parties[party].call.is_some() =>
            {
                pair.media_event(party, event);
            }
            _ => {}
        }
    }
    pair.run_for(Duration::from_secs(5));
    // One party hangs up; the others must learn it from the link (or their timers).
    // The agent, or the visitor tab it is talking to (another tab's hangup ends nothing).
    let bound = pair.parties[0].call.as_ref().and_then(Call::remote_party).cloned();
    let bound_tab = pair.parties.iter().position(|p| Some(&p.id) == bound.as_ref());
    let closer = match (scenario.closer, bound_tab) {
        (0, _) | (_, None) => 0,
        (_, Some(tab)) => tab,
    };
    let _ = pair.act(closer, Action::Hangup);
    // Long enough for every timer: invite lifetime, ICE connect and reconnect.
    pair.run_for(Duration::from_secs(120));
    check_memory(&pair)?;
    Ok(pair)
}

fn check_memory(pair: &CallPair) -> Result<(), TestCaseError> {
    for party in &pair.parties {
        if let Some(call) = &party.call {
            prop_assert!(
                call.memory_estimate() <= MAX_CALL_MEMORY,
                "{} holds {} bytes",
                party.id,
                call.memory_estimate()
            );
        }
    }
    Ok(())
}

fn outcome(call: &Call) -> Option<Outcome> {
    Some(call.summary()?.outcome)
}

fn talked(outcome: Option<Outcome>) -> bool {
    matches!(outcome, Some(Outcome::Answered | Outcome::Failed))
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Over a link that delays and duplicates but delivers each direction in order (as the
    /// relay with resume does), both parties end and agree on whether the call was answered.
    /// A tab whose accept lost the race may hang up before it learns so: that tab alone
    /// counts its own call as answered.
    #[test]
    fn both_parties_end_in_agreement(scenario in scenario(0, false)) {
        let pair = play(&scenario)?;
        let agent = pair.parties[0].call.as_ref().unwrap();
        prop_assert_eq!(agent.phase(), Phase::Ended);
        for visitor in &pair.parties[1..] {
            prop_assert!(visitor.media_before_consent.is_empty(), "{:?}", visitor.media_before_consent);
            let Some(call) = &visitor.call else {
                // This tab never rang: only possible when the invite never went out.
                prop_assert!(pair.parties[0].sent().is_empty());
                continue;
            };
            prop_assert_eq!(call.phase(), Phase::Ended);
            if agent.remote_party() == Some(&visitor.id) {
                prop_assert_eq!(outcome(agent), outcome(call), "{:?} vs {:?}", agent.summary(), call.summary());
            } else {
                let summary = call.summary().unwrap();
                let own_hangup = summary.ended_by == Some(velaro_call_protocol::Role::Visitor);
                prop_assert!(!talked(outcome(call)) || own_hangup, "an unanswered tab never talked: {summary:?}");
            }
        }
    }

    /// Over a link that also loses and reorders frames: still no panic, no media before consent, bounded
    /// memory, and every call ends by its timers.
    #[test]
    fn lossy_links_still_end_every_call(scenario in scenario(30, true)) {
        let pair = play(&scenario)?;
        for party in &pair.parties {
            prop_assert!(party.media_before_consent.is_empty(), "{}: {:?}", party.id, party.media_before_consent);
            if let Some(call) = &party.call {
                prop_assert_eq!(call.phase(), Phase::Ended, "{} {:?}", party.id, call.summary());
            }
        }
    }
}
