//! `inspect --ladder`: a signaling log drawn as a call ladder, one column per party and one for
//! the relay, one arrow per frame (as sngrep draws a SIP dialog).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use velaro_call_protocol::message::candidates::CandidatesBody;
use velaro_call_protocol::message::description::SdpType;
use velaro_call_protocol::message::media::{MediaBody, StreamPurpose, StreamState};
use velaro_call_protocol::resume::format_cursor;
use velaro_call_protocol::{Envelope, Message, RELAY_PARTY_ID, Role};

use crate::{Verdict, escaped};

/// The narrowest gap between two columns.
const MIN_GAP: usize = 18;
/// Labels longer than this are cut (with `…`): a ladder is read on a terminal.
const MAX_LABEL: usize = 80;
/// Width of the line-number column.
const LINE_WIDTH: usize = 5;

/// One frame of the log as the ladder draws it.
struct Row {
    line: usize,
    call: Option<String>,
    kind: RowKind,
}

enum RowKind {
    /// A frame that decoded, drawn as an arrow between two columns.
    Arrow { from: usize, to: usize, label: String },
    /// A frame that did not decode, drawn across the ladder.
    Refused(String),
}

/// The columns: the agent's parties, the relay, the visitor's parties, in order of appearance.
struct Lanes {
    agents: Vec<String>,
    visitors: Vec<String>,
}

impl Lanes {
    fn learn(&mut self, envelope: &Envelope) {
        let party = envelope.party_id.as_str();
        if party == RELAY_PARTY_ID {
            return;
        }
        let list = if envelope.role == Role::Agent { &mut self.agents } else { &mut self.visitors };
        if !list.iter().any(|known| known == party) {
            list.push(party.to_owned());
        }
    }

    fn names(&self) -> Vec<(String, &'static str)> {
        let agents = self.agents.iter().map(|a| (a.clone(), "agent"));
        let visitors = self.visitors.iter().map(|v| (v.clone(), "visitor"));
        agents.chain([(RELAY_PARTY_ID.to_owned(), "")]).chain(visitors).collect()
    }

    fn relay(&self) -> usize {
        self.agents.len()
    }

    fn of(&self, role: Role, party: &str) -> usize {
        match role {
            Role::Agent => self.agents.iter().position(|a| a == party).unwrap_or(0),
            Role::Visitor => {
                let index = self.visitors.iter().position(|v| v == party).unwrap_or(0);
                self.relay() + 1 + index
            }
        }
    }

    /// Where a frame goes: a relay notice to the one party of its role (the relay lane when
    /// the role has several: the log does not say which); an ack to the relay; any other frame
    /// to the one party of the other role (to the relay when there are several or none).
    fn target(&self, envelope: &Envelope) -> usize {
        let role = envelope.role;
        let only = |role: Role| {
            let list = if role == Role::Agent { &self.agents } else { &self.visitors };
            match list.as_slice() {
                [party] => Some(self.of(role, party)),
                _ => None,
            }
        };
        if envelope.party_id.as_str() == RELAY_PARTY_ID {
            return only(role).unwrap_or_else(|| self.relay());
        }
        if matches!(envelope.message, Message::Ack(_)) {
            return self.relay();
        }
        let other = if role == Role::Agent { Role::Visitor } else { Role::Agent };
        only(other).unwrap_or_else(|| self.relay())
    }
}

/// The ladder of every frame in `frames` (each with its line number).
pub(crate) fn draw(frames: &[(usize, Verdict)]) -> String {
    let mut lanes = Lanes { agents: Vec::new(), visitors: Vec::new() };
    for (_, verdict) in frames {
        if let Verdict::Decoded(envelope) = verdict {
            lanes.learn(envelope);
        }
    }
    let rows: Vec<Row> = frames
        .iter()
        .map(|(line, verdict)| match verdict {
            Verdict::Decoded(envelope) => {
                let from = if envelope.party_id.as_str() == RELAY_PARTY_ID {
                    lanes.relay()
                } else {
                    lanes.of(envelope.role, envelope.party_id.as_str())
                };
                let label = cut(&label(envelope), MAX_LABEL);
                let kind = RowKind::Arrow { from, to: lanes.target(envelope), label };
                Row { line: *line, call: Some(envelope.call_id.to_string()), kind }
            }
            Verdict::Failed(text) => {
                Row { line: *line, call: None, kind: RowKind::Refused(text.clone()) }
            }
        })
        .collect();
    let names = lanes.names();
    let gap = rows.iter().fold(MIN_GAP, |gap, row| match &row.kind {
        RowKind::Arrow { from, to, label } => {
            let span = from.abs_diff(*to).max(1);
            gap.max((label.chars().count() + 4).div_ceil(span))
        }
        RowKind::Refused(_) => gap,
    });
    let mut out = String::new();
    let column = |lane: usize| LINE_WIDTH + 2 + gap / 2 + lane * gap;
    let width = column(names.len() - 1) + 1;
    let mut header = vec![' '; width];
    let mut roles = vec![' '; width];
    for (lane, (name, role)) in names.iter().enumerate() {
        place_centered(&mut header, column(lane), &cut(name, gap - 2));
        if !role.is_empty() {
            place_centered(&mut roles, column(lane), &format!("({role})"));
        }
    }
    push_line(&mut out, &header);
    push_line(&mut out, &roles);
    let lanes_only = || {
        let mut line = vec![' '; width];
        for lane in 0..names.len() {
            set(&mut line, column(lane), '│');
        }
        line
    };
    let mut call: Option<&str> = None;
    for row in &rows {
        if let Some(this) = row.call.as_deref()
            && call != Some(this)
        {
            let mut line = lanes_only();
            place(&mut line, LINE_WIDTH + 2, &format!("── call {} ", escaped(this, true)));
            push_line(&mut out, &line);
            call = Some(this);
        }
        let number: Vec<char> = format!("{:>LINE_WIDTH$}", row.line).chars().collect();
        match &row.kind {
            RowKind::Arrow { from, to, label } => {
                let (left, right) = (column(*from.min(to)), column(*from.max(to)));
                let mut text = lanes_only();
                place(&mut text, 0, &number.iter().collect::<String>());
                place(&mut text, left + 2, label);
                push_line(&mut out, &text);
                let mut arrow = lanes_only();
                if from == to {
                    place(&mut arrow, left + 1, "──┐ (to itself)");
                } else {
                    for at in left + 1..right {
                        set(&mut arrow, at, '─');
                    }
                    if from < to {
                        set(&mut arrow, right - 1, '►');
                    } else {
                        set(&mut arrow, left + 1, '◄');
                    }
                }
                push_line(&mut out, &arrow);
            }
            RowKind::Refused(text) => {
                let mut line = lanes_only();
                place(&mut line, 0, &number.iter().collect::<String>());
                place(&mut line, LINE_WIDTH + 2, &format!("✗ {}", cut(text, width)));
                push_line(&mut out, &line);
            }
        }
    }
    out
}

/// The label of a frame's arrow: its type, `seq`, and the fields one reads a ladder for.
fn label(envelope: &Envelope) -> String {
    let mut label = format!("{} #{}", escaped(envelope.message_type(), true), envelope.seq);
    let detail = match &envelope.message {
        Message::Invite(invite) => media_kinds(invite.media.audio, invite.media.video),
        Message::Accept(accept) => media_kinds(accept.media.audio, accept.media.video),
        Message::SelectAnswer(select) => format!("selected {}", select.selected_party_id),
        Message::Decline(decline) => decline.reason.code().to_owned(),
        Message::Cancel(cancel) => cancel.reason.code().to_owned(),
        Message::Hangup(hangup) => hangup.reason.code().to_owned(),
        Message::Description(description) => {
            let sdp = &description.description.sdp;
            let sections = sdp.lines().filter(|line| line.starts_with("m=")).count();
            let kind = match description.description.sdp_type {
                SdpType::Offer => "offer",
                SdpType::Answer => "answer",
            };
            format!("{kind} ({sections} m-sections, {} B)", sdp.len())
        }
        Message::Candidates(candidates) => candidate_summary(candidates),
        Message::Media(media) => media_summary(media),
        Message::Quality(quality) => {
            let mut text = quality.level.as_str().to_owned();
            if let Some(rtt) = quality.rtt_ms {
                let _ = write!(text, " rtt {rtt} ms");
            }
            if let Some(loss) = quality.loss_pct {
                let _ = write!(text, " loss {loss}%");
            }
            text
        }
        Message::Rejected(rejected) => {
            let refused =
                rejected.rejected_seq.map(|seq| format!(" (of #{seq})")).unwrap_or_default();
            label.insert_str(0, "✗ ");
            format!("{}{refused}", rejected.code.as_str())
        }
        Message::Ack(ack) => format!("seen {}", format_cursor(&ack.seen)),
        Message::Ringing(_) => String::new(),
        _ => "(unknown type: a relay refuses it)".to_owned(),
    };
    if !detail.is_empty() {
        label.push(' ');
        label.push_str(&escaped(&detail, false));
    }
    label
}

fn media_kinds(audio: bool, video: bool) -> String {
    match (audio, video) {
        (true, true) => "audio+video".to_owned(),
        (true, false) => "audio".to_owned(),
        (false, true) => "video".to_owned(),
        (false, false) => "no media".to_owned(),
    }
}

/// `3 candidates (2 host, 1 relay) + end`.
fn candidate_summary(body: &CandidatesBody) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ends = 0;
    for candidate in &body.candidates {
        match &candidate.candidate {
            Some(candidate) => *kinds.entry(candidate.kind().as_str()).or_default() += 1,
            None => ends += 1,
        }
    }
    let count: usize = kinds.values().sum();
    let mut text = String::new();
    if count > 0 {
        let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        let plural = if count == 1 { "" } else { "s" };
        let _ = write!(text, "{count} candidate{plural} ({})", kinds.join(", "));
    }
    if ends > 0 {
        text.push_str(if count > 0 { " + end" } else { "end of candidates" });
    }
    text
}

/// `mic on, cam off; sharing window; audio only (quality)`.
fn media_summary(body: &MediaBody) -> String {
    let stream = |state: &StreamState| {
        if state.purpose == StreamPurpose::Screen {
            let surface = state.display_surface.as_ref().map_or("screen", |s| s.as_str());
            return format!("sharing {surface}");
        }
        let on_off = |muted: bool| if muted { "off" } else { "on" };
        format!("mic {}, cam {}", on_off(state.audio_muted), on_off(state.video_muted))
    };
    let mut parts: Vec<String> = body.streams.values().map(stream).collect();
    if let Some(audio_only) = &body.audio_only {
        parts.push(format!("audio only ({})", audio_only.reason.as_str()));
    }
    parts.join("; ")
}

/// `text` cut to `max` characters, the last one `…`.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Writes `text` into `line` from `at` on, growing the line when it runs past its end.
fn place(line: &mut Vec<char>, at: usize, text: &str) {
    for (i, ch) in text.chars().enumerate() {
        set(line, at + i, ch);
    }
}

/// Writes `ch` at `at`, padding the line with spaces up to it.
fn set(line: &mut Vec<char>, at: usize, ch: char) {
    if line.len() <= at {
        line.resize(at + 1, ' ');
    }
    if let Some(cell) = line.get_mut(at) {
        *cell = ch;
    }
}

fn place_centered(line: &mut Vec<char>, center: usize, text: &str) {
    let half = text.chars().count() / 2;
    place(line, center.saturating_sub(half), text);
}

fn push_line(out: &mut String, line: &[char]) {
    let text: String = line.iter().collect();
    out.push_str(text.trim_end());
    out.push('\n');
}
