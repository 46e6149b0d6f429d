//! `sdp::check`'s own line grammar against `sdp_types::Session::parse`, the parser it replaced:
//! over every captured browser description and many mutations of them, whatever `check` takes,
//! sdp-types parses too (the check may be stricter, never looser), and where the grammar passes,
//! `check` answers exactly as the sdp-types based check did (same error, or same summary).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use velaro_call_protocol::limits::{MAX_M_SECTIONS, MAX_SDP_LEN};
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::sdp::{self, Direction, MediaKind, MediaSection, SdpError, SdpSummary};

/// Every description among the browser fixtures (the others are candidate lists).
const FIXTURES: [&str; 6] = [
    "chromium-offer-av.json",
    "chromium-answer-av.json",
    "firefox-offer-av.json",
    "chromium-offer-recvonly.json",
    "chromium-offer-screen-renegotiation.json",
    "chromium-answer-screen-renegotiation.json",
];

fn browser(name: &str) -> SessionDescription {
    let path = format!("{}/../tests/fixtures/browser/{name}", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sdp_type = if json["type"] == "offer" { SdpType::Offer } else { SdpType::Answer };
    SessionDescription::new(sdp_type, json["sdp"].as_str().unwrap())
}

/// The check as it was, on `sdp_types::Session::parse`: the reference. `None` when sdp-types
/// does not parse the SDP.
fn reference_check(description: &SessionDescription) -> Option<Result<SdpSummary, SdpError>> {
    let sdp = &description.sdp;
    if sdp.len() > MAX_SDP_LEN {
        return Some(Err(SdpError::TooLarge { len: sdp.len(), max: MAX_SDP_LEN }));
    }
    let count = usize::from(sdp.starts_with("m=")) + sdp.matches("\nm=").count();
    if count > MAX_M_SECTIONS {
        return Some(Err(SdpError::TooManyMSections { count, max: MAX_M_SECTIONS }));
    }
    let session = sdp_types::Session::parse(sdp.as_bytes()).ok()?;
    Some(reference_semantics(description.sdp_type, &session))
}

fn reference_semantics(
    sdp_type: SdpType,
    session: &sdp_types::Session,
) -> Result<SdpSummary, SdpError> {
    let session_attr = |name| session.get_first_attribute_value(name).flatten();
    for (index, section) in session.medias.iter().enumerate() {
        let attr =
            |name| section.get_first_attribute_value(name).flatten().or_else(|| session_attr(name));
        let ice = |text: &str, min| {
            (min..=256).contains(&text.len())
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        };
        let ufrag = attr("ice-ufrag").ok_or(SdpError::MissingIceUfrag { index })?;
        if !ice(ufrag, 4) {
            return Err(SdpError::InvalidIceUfrag { index });
        }
        let pwd = attr("ice-pwd").ok_or(SdpError::MissingIcePwd { index })?;
        if !ice(pwd, 22) {
            return Err(SdpError::InvalidIcePwd { index });
        }
        if attr("fingerprint").is_none() {
            return Err(SdpError::MissingFingerprint { index });
        }
    }
    // The summary, read off the parsed session.
    let mut summary = SdpSummary {
        sdp_type,
        media: Vec::new(),
        ice_ufrag: String::new(),
        candidate_count: 0,
        bundle: Vec::new(),
    };
    let direction_of = |name: &str| match name {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    };
    let note_common = |summary: &mut SdpSummary, name: &str, value: &str| match name {
        "ice-ufrag" if summary.ice_ufrag.is_empty() => value.clone_into(&mut summary.ice_ufrag),
        "candidate" => summary.candidate_count += 1,
        _ => {}
    };
    let mut session_direction = Direction::SendRecv;
    for attribute in &session.attributes {
        let value = attribute.value.as_deref().unwrap_or_default();
        if let Some(direction) = direction_of(&attribute.attribute) {
            session_direction = direction;
        } else if attribute.attribute == "group" {
            if let Some(mids) = value.strip_prefix("BUNDLE") {
                summary.bundle.extend(mids.split_ascii_whitespace().map(str::to_owned));
            }
        } else {
            note_common(&mut summary, &attribute.attribute, value);
        }
    }
    for section in &session.medias {
        let mut media = MediaSection {
            kind: MediaKind::parse(&section.media)
                .unwrap_or_else(|_| MediaKind::Other(section.media.clone())),
            direction: session_direction,
            mid: None,
            rejected: section.port == 0,
        };
        for attribute in &section.attributes {
            let value = attribute.value.as_deref().unwrap_or_default();
            if let Some(direction) = direction_of(&attribute.attribute) {
                media.direction = direction;
            } else if attribute.attribute == "mid" && media.mid.is_none() {
                media.mid = Some(value.to_owned());
            } else {
                note_common(&mut summary, &attribute.attribute, value);
            }
        }
        summary.media.push(media);
    }
    if !summary.media.iter().any(|m| matches!(m.kind, MediaKind::Audio | MediaKind::Video)) {
        return Err(SdpError::NoAudioOrVideo);
    }
    if let Some(mid) = summary
        .bundle
        .iter()
        .find(|mid| !summary.media.iter().any(|m| m.mid.as_deref() == Some(mid.as_str())))
    {
        return Err(SdpError::UnknownBundleMid { mid: mid.clone() });
    }
    Ok(summary)
}

/// How `check` and the reference compare on one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Both refuse the grammar.
    BothRefuse,
    /// Both take the grammar and give the same answer.
    Same,
    /// `check` refuses the grammar, sdp-types parses it: we are stricter.
    Stricter,
}

/// Compares `check` with the reference on `sdp`, panicking where `check` is looser or answers
/// differently; returns the outcome and, when stricter, `check`'s message.
fn compare(sdp_type: SdpType, sdp: &str) -> (Outcome, String) {
    let description = SessionDescription::new(sdp_type, sdp);
    let ours = sdp::check(&description);
    match (&ours, reference_check(&description)) {
        (Err(SdpError::Parse(_)), None) => (Outcome::BothRefuse, String::new()),
        (Err(SdpError::Parse(message)), Some(_)) => (Outcome::Stricter, message.clone()),
        (_, None) => panic!("check takes what sdp-types does not parse: {ours:?}\n{sdp:?}"),
        (_, Some(reference)) => {
            assert_eq!(ours, reference, "{sdp:?}");
            (Outcome::Same, String::new())
        }
    }
}

/// One edit of an SDP's lines (`index`es are taken modulo the line count).
#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    /// Moves a line to another place.
    Move(usize, usize),
    /// Changes a line's type letter.
    Retype(usize, char),
    /// Cuts the SDP at a byte offset (taken modulo its length, on a char boundary).
    Truncate(usize),
    /// Inserts text at a byte offset.
    Insert(usize, String),
    /// Rewrites a line's ending: CRLF, LF, CR, none, or doubled.
    Ending(usize, u8),
    /// Replaces one byte of a line's value with another character.
    Replace(usize, usize, char),
}

/// Splits `sdp` into lines with their endings, so edits can rejoin them.
fn split(sdp: &str) -> Vec<(String, String)> {
    sdp.split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches(['\r', '\n']);
            (body.to_owned(), line[body.len()..].to_owned())
        })
        .collect()
}

fn join(lines: &[(String, String)]) -> String {
    lines.iter().flat_map(|(body, end)| [body.as_str(), end.as_str()]).collect()
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(sdp: &str, mutation: &Mutation) -> String {
    let mut lines = split(sdp);
    let n = lines.len().max(1);
    match mutation {
        Mutation::Drop(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::Duplicate(i) if !lines.is_empty() => {
            let line = lines[i % n].clone();
            lines.insert(i % n, line);
        }
        Mutation::Swap(i, j) if !lines.is_empty() => lines.swap(i % n, j % n),
        Mutation::Move(i, j) if !lines.is_empty() => {
            let line = lines.remove(i % n);
            lines.insert(j % n.max(1).min(lines.len() + 1), line);
        }
        Mutation::Retype(i, letter) if !lines.is_empty() => {
            let body = &mut lines[i % n].0;
            let rest = body.get(1..).unwrap_or_default().to_owned();
            *body = format!("{letter}{rest}");
        }
        Mutation::Truncate(at) => {
            let text = join(&lines);
            let at = floor_boundary(&text, at % (text.len() + 1));
            return text[..at].to_owned();
        }
        Mutation::Insert(at, garbage) => {
            let mut text = join(&lines);
            let at = floor_boundary(&text, at % (text.len() + 1));
            text.insert_str(at, garbage);
            return text;
        }
        Mutation::Ending(i, kind) if !lines.is_empty() => {
            const ENDINGS: [&str; 6] = ["\r\n", "\n", "\r", "", "\r\n\r\n", "\n\n"];
            ENDINGS[usize::from(*kind) % 6].clone_into(&mut lines[i % n].1);
        }
        Mutation::Replace(i, at, with) if !lines.is_empty() => {
            let body = &mut lines[i % n].0;
            let at = floor_boundary(body, at % (body.len() + 1));
            if let Some(old) = body[at..].chars().next() {
                body.replace_range(at..at + old.len_utf8(), &with.to_string());
            }
        }
        _ => {}
    }
    join(&lines)
}

/// Type letters: the RFC's, others, and bytes that are no letter at all.
const LETTERS: &str = "vosiuepcbtrzkamxyAM0 =:\t-é";

fn mutation() -> impl Strategy<Value = Mutation> {
    let letter = proptest::sample::select(LETTERS.chars().collect::<Vec<_>>());
    let garbage = prop_oneof![
        "[\\x00\r\n =:/a-z0-9]{1,6}",
        "\\PC{1,4}",
        "(\r?\n)?[a-z]=[ -~]{0,12}(\r?\n)?",
    ];
    let replacement = prop_oneof![
        proptest::sample::select(vec![' ', ':', '/', '\0', '\r', '\n', '\t', '-', '+', '0', 'x']),
        any::<char>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Move(i, j)),
        (any::<usize>(), letter).prop_map(|(i, c)| Mutation::Retype(i, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), garbage).prop_map(|(at, text)| Mutation::Insert(at, text)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, kind)| Mutation::Ending(i, kind)),
        (any::<usize>(), any::<usize>(), replacement)
            .prop_map(|(i, at, c)| Mutation::Replace(i, at, c)),
    ]
}

#[test]
fn every_fixture_passes_both_and_answers_the_same() {
    for name in FIXTURES {
        let description = browser(name);
        for sdp in [description.sdp.clone(), description.sdp.replace("\r\n", "\n")] {
            let checked = sdp::check(&SessionDescription::new(description.sdp_type, &*sdp));
            assert!(checked.is_ok(), "{name}: {checked:?}");
            assert_eq!(compare(description.sdp_type, &sdp).0, Outcome::Same, "{name}");
        }
    }
}

/// Every single-line edit of every fixture, deterministically: drop, duplicate, move to the
/// front, back and next place, retype to each letter, each ending, and cuts at every line end.
/// Prints how often `check` is stricter than sdp-types, and why, grouped by its message.
#[test]
fn single_line_edits_of_every_fixture() {
    let mut outcomes = BTreeMap::new();
    let mut stricter = BTreeMap::<String, (usize, String)>::new();
    let mut total = 0;
    for name in FIXTURES {
        let description = browser(name);
        let lines = split(&description.sdp).len();
        let mut edits = Vec::new();
        for i in 0..lines {
            edits.extend([Mutation::Drop(i), Mutation::Duplicate(i), Mutation::Swap(i, i + 1)]);
            edits.extend([Mutation::Move(i, 0), Mutation::Move(i, lines - 1)]);
            edits.extend(LETTERS.chars().map(|c| Mutation::Retype(i, c)));
            edits.extend((0..6).map(|kind| Mutation::Ending(i, kind)));
            edits.extend([Mutation::Replace(i, 2, '\0'), Mutation::Replace(i, 1, ' ')]);
        }
        for at in description.sdp.match_indices('\n').map(|(at, _)| at) {
            edits.extend([Mutation::Truncate(at), Mutation::Truncate(at + 1)]);
        }
        for edit in &edits {
            let sdp = apply(&description.sdp, edit);
            let (outcome, message) = compare(description.sdp_type, &sdp);
            *outcomes.entry(outcome).or_insert(0) += 1;
            total += 1;
            if outcome == Outcome::Stricter {
                // Group by the message without its line number and line type.
                let reason = message.split_once(": ").map_or(message.as_str(), |(_, r)| r);
                let reason = reason
                    .strip_prefix('`')
                    .and_then(|r| r.split_once("` "))
                    .map_or(reason, |(_, r)| r);
                let entry = stricter.entry(reason.to_owned()).or_insert((0, String::new()));
                entry.0 += 1;
                if entry.1.is_empty() {
                    entry.1 = format!("{name} {edit:?}: {message}");
                }
            }
        }
    }
    eprintln!("{total} single-line edits: {outcomes:?}");
    for (reason, (count, example)) in &stricter {
        eprintln!("stricter ×{count}: {reason}\n    e.g. {example}");
    }
    assert!(outcomes.get(&Outcome::Same).copied().unwrap_or(0) > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Up to four random edits of a fixture, with CRLF or LF: whatever `check` takes, sdp-types
    /// parses, and `check` answers as the sdp-types based check did.
    #[test]
    fn check_is_never_looser_than_sdp_types(
        fixture in 0..FIXTURES.len(),
        lf in any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..5),
    ) {
        let description = browser(FIXTURES[fixture]);
        let start = if lf { description.sdp.replace("\r\n", "\n") } else { description.sdp.clone() };
        let sdp = mutations.iter().fold(start, |sdp, mutation| apply(&sdp, mutation));
        compare(description.sdp_type, &sdp);
    }

    /// Arbitrary short texts made of SDP-ish lines.
    #[test]
    fn check_is_never_looser_than_sdp_types_on_made_up_lines(
        lines in proptest::collection::vec("[vosiuepcbtrzkam]=[ -~]{0,24}", 0..12),
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let sdp: String = lines.iter().flat_map(|line| [line.as_str(), end]).collect();
        compare(SdpType::Offer, &sdp);
    }
}
