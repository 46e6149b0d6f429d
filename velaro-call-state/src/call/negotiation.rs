//! Perfect negotiation in an answered call: our offers and answers, the peer's, glare (the
//! visitor is polite and rolls its own offer back, the agent impolite and ignores the
//! visitor's), one exchange in flight with the next one deferred, and the local ICE candidates
//! of each generation (batched, then trickled, then ended with our own marker).

use std::time::Instant;

use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::sdp::{self, SdpError, SdpSummary};
use velaro_call_protocol::{NegotiationId, Reason, Role};

use super::candidates::{Gathered, LocalCandidates, RemoteCandidates};
use super::outbox::Outbox;
use super::state::State;
use super::{Call, CallError};
use crate::output::MediaCommand;
use crate::timer::{Timer, TimerTable};

/// The negotiation state of an answered call.
#[derive(Debug, Default)]
pub(super) struct Negotiation {
    signaling: Signaling,
    /// How many offers we made: the number in our negotiation ids (`a1`, `v2`, …).
    offers: u32,
    /// What waits for the exchange in flight to settle.
    deferred: Deferred,
    /// The local ICE generation's ufrag, for our end-of-candidates marker; `None` until the
    /// media layer gave its first description (there is no ICE before it).
    local_ufrag: Option<String>,
    local_candidates: LocalCandidates,
}

/// Offer/answer progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Signaling {
    /// Nothing in flight.
    #[default]
    Stable,
    /// We asked the media layer for an offer.
    CreatingOffer { id: NegotiationId },
    /// Our offer is out; the answer must match it.
    AwaitingAnswer { id: NegotiationId, offer: SdpSummary },
    /// We applied a remote offer and asked for an answer.
    Answering { id: NegotiationId },
}

/// A renegotiation wanted while another exchange was in flight: it runs once that one settles.
/// An ICE restart includes a plain offer, so a need only ever grows (the order of the variants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Deferred {
    /// Nothing waits.
    #[default]
    Nothing,
    /// An offer waits.
    Offer,
    /// An offer that restarts ICE waits.
    IceRestart,
}

impl Deferred {
    fn add(&mut self, ice_restart: bool) {
        let need = if ice_restart { Deferred::IceRestart } else { Deferred::Offer };
        *self = (*self).max(need);
    }
}

/// The peer broke the protocol with a description: the call fails `protocol_error`.
#[derive(Debug)]
struct ProtocolViolation;

/// The media layer gave a local description that was not asked for (or not of that type).
#[derive(Debug)]
struct NotAskedFor;

impl Negotiation {
    /// Whether ICE exists: the media layer gave a local description.
    pub(super) fn has_ice(&self) -> bool {
        self.local_ufrag.is_some()
    }

    /// Starts an offer now if nothing is in flight, or defers it until the current exchange
    /// settles.
    pub(super) fn renegotiate(&mut self, ice_restart: bool, out: &mut Outbox) {
        if self.signaling != Signaling::Stable {
            self.deferred.add(ice_restart);
            return;
        }
        self.offers += 1;
        let prefix = if out.role == Role::Agent { "a" } else { "v" };
        // Always a valid id: a letter and digits.
        let id = NegotiationId::new(format!("{prefix}{}", self.offers))
            .unwrap_or_else(|_| unreachable!("`a1`-style ids are valid"));
        self.signaling = Signaling::CreatingOffer { id };
        out.media(MediaCommand::CreateOffer { ice_restart });
    }

    /// The exchange in flight is done: what was deferred runs.
    fn settled(&mut self, out: &mut Outbox) {
        self.signaling = Signaling::Stable;
        match std::mem::take(&mut self.deferred) {
            Deferred::Nothing => {}
            Deferred::Offer => self.renegotiate(false, out),
            Deferred::IceRestart => self.renegotiate(true, out),
        }
    }

    /// The offer or answer our media layer created: it goes out, if it was asked for.
    fn on_local_description(
        &mut self,
        description: SessionDescription,
        summary: SdpSummary,
        timers: &mut TimerTable,
        out: &mut Outbox,
    ) -> Result<(), NotAskedFor> {
        let id = match (&self.signaling, description.sdp_type) {
            (Signaling::CreatingOffer { id }, SdpType::Offer)
            | (Signaling::Answering { id }, SdpType::Answer) => id.clone(),
            _ => return Err(NotAskedFor),
        };
        if self.local_ufrag.as_deref() != Some(summary.ice_ufrag.as_str()) {
            self.local_candidates.new_generation();
            timers.stop(Timer::CandidateBatch);
            self.local_ufrag = Some(summary.ice_ufrag.clone());
        }
        let sdp_type = description.sdp_type;
        out.send(DescriptionBody::new(description, id.clone()));
        if sdp_type == SdpType::Offer {
            self.signaling = Signaling::AwaitingAnswer { id, offer: summary };
        } else {
            self.settled(out);
        }
        Ok(())
    }

    /// The peer's offer or answer, checked.
    fn on_remote_description(
        &mut self,
        body: DescriptionBody,
        remote: &mut RemoteCandidates,
        out: &mut Outbox,
    ) -> Result<(), ProtocolViolation> {
        let summary = sdp::check(&body.description).map_err(|_| ProtocolViolation)?;
        match body.description.sdp_type {
            SdpType::Offer => {
                let glare = matches!(
                    self.signaling,
                    Signaling::CreatingOffer { .. } | Signaling::AwaitingAnswer { .. }
                );
                if glare && out.role == Role::Agent {
                    // Impolite: our offer wins; the visitor rolls its own back.
                    return Ok(());
                }
                if glare {
                    out.media(MediaCommand::Rollback);
                    self.deferred.add(false);
                }
                if matches!(self.signaling, Signaling::Answering { .. }) {
                    return Ok(());
                }
                out.media(MediaCommand::ApplyRemoteDescription(body.description));
                apply_held_candidates(remote, &summary.ice_ufrag, out);
                self.signaling = Signaling::Answering { id: body.negotiation_id };
                out.media(MediaCommand::CreateAnswer);
            }
            SdpType::Answer => {
                let Signaling::AwaitingAnswer { id, offer } = &self.signaling else {
                    return Ok(());
                };
                if id != &body.negotiation_id {
                    return Ok(()); // an answer to an older offer
                }
                if summary.check_answers(offer).is_err() {
                    return Err(ProtocolViolation);
                }
                out.media(MediaCommand::ApplyRemoteDescription(body.description));
                apply_held_candidates(remote, &summary.ice_ufrag, out);
                self.settled(out);
            }
        }
        Ok(())
    }

    /// A local candidate: held for the first batch of its generation, then sent as it comes.
    fn on_local_candidate(
        &mut self,
        now: Instant,
        candidate: IceCandidate,
        timers: &mut TimerTable,
        out: &mut Outbox,
    ) {
        match self.local_candidates.gathered(candidate) {
            Gathered::SendNow => self.flush_candidates(out),
            Gathered::Hold if !timers.is_armed(Timer::CandidateBatch) => {
                timers.set(Timer::CandidateBatch, now + out.config.timings.candidate_batch);
            }
            Gathered::Hold => {}
        }
    }

    /// Sends what is held and the end-of-candidates marker of this generation (Chromium only
    /// fires a `null` candidate, so the marker is ours to write).
    fn on_gathering_complete(&mut self, timers: &mut TimerTable, out: &mut Outbox) {
        timers.stop(Timer::CandidateBatch);
        self.flush_candidates(out);
        let end = IceCandidate::end_of_candidates(self.local_ufrag.clone());
        out.send(CandidatesBody::new(vec![end]));
    }

    /// Sends the held local candidates, one message's worth at a time.
    pub(super) fn flush_candidates(&mut self, out: &mut Outbox) {
        while !self.local_candidates.is_empty() {
            let batch = self.local_candidates.take();
            out.send(CandidatesBody::new(batch));
        }
    }

    pub(super) fn heap_estimate(&self) -> usize {
        let offer = match &self.signaling {
            Signaling::AwaitingAnswer { offer, .. } => {
                offer.media.capacity() * size_of::<sdp::MediaSection>()
                    + offer.ice_ufrag.capacity()
                    + offer.bundle.capacity() * size_of::<String>()
            }
            _ => 0,
        };
        offer
            + self.local_ufrag.as_ref().map_or(0, String::capacity)
            + self.local_candidates.heap_estimate()
    }
}

/// Applies the remote candidates held for the description of generation `ufrag`.
fn apply_held_candidates(remote: &mut RemoteCandidates, ufrag: &str, out: &mut Outbox) {
    for candidate in remote.description_applied(ufrag) {
        out.media(MediaCommand::AddRemoteCandidate(candidate));
    }
}

impl Call {
    /// The local media layer's offer or answer.
    pub(super) fn on_local_description(
        &mut self,
        description: SessionDescription,
    ) -> Result<(), CallError> {
        // Our own media layer's description: summarized, not re-validated (the peer checks it).
        let summary = sdp::summarize(&description);
        if summary.ice_ufrag.is_empty() {
            let error = SdpError::MissingIceUfrag { index: 0 };
            return Err(CallError::InvalidLocalDescription(error));
        }
        let input = "local description";
        let call = self.state.expect_in_call(input)?;
        call.negotiation
            .on_local_description(description, summary, &mut self.timers, &mut self.out)
            .map_err(|NotAskedFor| call.refuse(input))
    }

    /// The peer's offer or answer. The visitor holds an offer that comes before consent (no
    /// media before consent); the agent takes descriptions only from the visitor it selected,
    /// so not before the answer.
    pub(super) fn on_remote_description(&mut self, now: Instant, body: DescriptionBody) {
        let call = match &mut self.state {
            State::InCall(call) => call,
            State::Prompting { held_offer, .. } | State::AwaitingPermission { held_offer, .. } => {
                if body.description.sdp_type == SdpType::Offer {
                    *held_offer = Some(body);
                }
                return;
            }
            _ => return,
        };
        let checked = call.negotiation.on_remote_description(
            body,
            &mut self.remote_candidates,
            &mut self.out,
        );
        if checked.is_err() {
            self.fail(now, Reason::ProtocolError);
        }
    }

    /// A local ICE candidate (or the end-of-candidates marker).
    pub(super) fn on_local_candidate(
        &mut self,
        now: Instant,
        candidate: IceCandidate,
    ) -> Result<(), CallError> {
        let negotiation = &mut self.state.expect_ice("local candidate")?.negotiation;
        if candidate.is_end_of_candidates() {
            negotiation.on_gathering_complete(&mut self.timers, &mut self.out);
        } else {
            negotiation.on_local_candidate(now, candidate, &mut self.timers, &mut self.out);
        }
        Ok(())
    }

    /// Gathering finished for the current ICE generation.
    pub(super) fn on_gathering_complete(&mut self) -> Result<(), CallError> {
        let negotiation = &mut self.state.expect_ice("gathering complete")?.negotiation;
        negotiation.on_gathering_complete(&mut self.timers, &mut self.out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
    use velaro_call_protocol::message::media::StreamId;
    use velaro_call_protocol::{CallId, ConversationId, Envelope, PartyId};

    use super::*;
    use crate::{Action, CallConfig, MediaEvent, Phase};

    #[test]
    fn a_deferred_need_only_grows() {
        let mut deferred = Deferred::default();
        deferred.add(false);
        assert_eq!(deferred, Deferred::Offer);
        deferred.add(true);
        assert_eq!(deferred, Deferred::IceRestart);
        deferred.add(false);
        assert_eq!(deferred, Deferred::IceRestart, "a plain offer does not undo a restart");
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // a test needs one real instant to start from
    fn the_agent_takes_no_description_before_the_answer() {
        let now = Instant::now();
        let conversation = ConversationId::new("conv-1").unwrap();
        let call_id = CallId::new("call-1").unwrap();
        let config = CallConfig::new(conversation.clone(), PartyId::new("agent-1").unwrap());
        let mut agent = Call::agent(config, call_id.clone(), now);
        let prompt = Prompt::new("?").unwrap();
        let invite =
            Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false };
        agent.handle_action(now, invite).unwrap();
        let stream_id = StreamId::new("cam").unwrap();
        let granted = MediaEvent::PermissionGranted { media: MediaKinds::AUDIO_VIDEO, stream_id };
        agent.handle_media(now, granted).unwrap();
        while agent.poll_output().is_some() {}
        // A tab's description that overtook its accept (the relay refuses those) is not for
        // the call yet: not applied, and not judged either.
        for (seq, sdp_type) in [(2, SdpType::Offer), (3, SdpType::Answer)] {
            let description = SessionDescription::new(sdp_type, "v=0\r\n");
            let body = DescriptionBody::new(description, NegotiationId::new("v1").unwrap());
            let visitor = PartyId::new("visitor-1").unwrap();
            let envelope = Envelope::new(
                conversation.clone(),
                call_id.clone(),
                visitor,
                Role::Visitor,
                seq,
                body,
            );
            assert_eq!(agent.handle_message(now, envelope), Ok(()));
            assert_eq!(agent.poll_output(), None, "{sdp_type:?}");
            assert_eq!(agent.phase(), Phase::Ringing);
        }
    }
}
