//! Frames for the structure-aware targets: a fixture of `tests/fixtures/v1/` with some of its
//! fields mutated the way a hostile or buggy client would (ids, `seq`, `type`, control
//! characters in strings, sizes near the limits, truncation).

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use velaro_call_protocol::Message;
use velaro_call_protocol::limits::{
    MAX_CANDIDATES, MAX_FRAME_LEN, MAX_ID_LEN, MAX_PROMPT_LEN, MAX_SDP_LEN, MAX_SEQ,
};

use super::input::Input;

/// The conversation of every fixture.
pub(crate) const CONVERSATION: &str = "conv-8f14e45f";
/// The call of every fixture.
pub(crate) const CALL: &str = "call-2024-05-01.a1b2c3";
/// The agent party of the fixtures.
pub(crate) const AGENT: &str = "agent-tab-1";
/// The visitor party of the fixtures.
pub(crate) const VISITOR: &str = "visitor-tab-2";

/// Every frame of `tests/fixtures/v1/`, compiled in so that a fuzz run reads no files.
const FIXTURES: &[&str] = &[
    include_str!("../../fixtures/v1/invite.json"),
    include_str!("../../fixtures/v1/ringing.json"),
    include_str!("../../fixtures/v1/accept.json"),
    include_str!("../../fixtures/v1/select_answer.json"),
    include_str!("../../fixtures/v1/decline.json"),
    include_str!("../../fixtures/v1/cancel.json"),
    include_str!("../../fixtures/v1/description-offer-chromium.json"),
    include_str!("../../fixtures/v1/description-answer-chromium.json"),
    include_str!("../../fixtures/v1/description-offer-firefox.json"),
    include_str!("../../fixtures/v1/candidates-chromium.json"),
    include_str!("../../fixtures/v1/candidates-firefox.json"),
    include_str!("../../fixtures/v1/media.json"),
    include_str!("../../fixtures/v1/media-audio-only.json"),
    include_str!("../../fixtures/v1/quality.json"),
    include_str!("../../fixtures/v1/hangup.json"),
    include_str!("../../fixtures/v1/rejected.json"),
    include_str!("../../fixtures/v1/compat/body-first-firefox-order.json"),
    include_str!("../../fixtures/v1/compat/hangup-without-body.json"),
    include_str!("../../fixtures/v1/compat/missing-optional.json"),
    include_str!("../../fixtures/v1/compat/unknown-fields.json"),
    include_str!("../../fixtures/v1/compat/unknown-reason.json"),
    include_str!("../../fixtures/v1/compat/unknown-type.json"),
];

/// The fixtures, parsed once.
fn fixtures() -> &'static [Value] {
    static PARSED: OnceLock<Vec<Value>> = OnceLock::new();
    PARSED.get_or_init(|| {
        FIXTURES.iter().map(|text| serde_json::from_str(text).expect("fixtures are json")).collect()
    })
}

/// The invite fixture, as a frame.
pub(crate) fn invite_fixture() -> &'static str {
    FIXTURES[0]
}

/// The envelope's fields in the order our writers put them.
const ORDER: [&str; 8] =
    ["type", "version", "conversation_id", "call_id", "party_id", "role", "seq", "body"];

/// Ids and other short strings a hostile client might claim, and the negotiation ids the call
/// machines write; the last two of [`id`] are at and one over the id limit.
const IDS: &[&str] = &[
    CONVERSATION,
    CALL,
    AGENT,
    VISITOR,
    "visitor-tab-3",
    "relay",
    "unknown",
    "call-2",
    "conv-2",
    "a1",
    "a2",
    "v1",
    "n1",
    "",
    "a b",
    "caf\u{e9}",
    "x\u{7}",
];

const ROLES: &[&str] = &["agent", "visitor", "relay", "", "Agent"];

/// Control and other awkward characters to insert into strings.
const AWKWARD: &[char] = &[
    '\r',
    '\n',
    '\u{7}',
    '\0',
    '\t',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{2028}',
    '"',
    '\\',
    '\u{feff}',
    '\u{e9}',
    '\u{1f642}',
];

/// Lines that fill an SDP: relay candidates without and with a related address (the relay-only
/// filter rewrites both), candidates it drops, an unparsable one and neutral padding.
const SDP_LINES: &[&str] = &[
    "a=candidate:1 1 udp 41885439 198.51.100.9 61234 typ relay",
    "a=candidate:2 1 udp 41885439 198.51.100.9 61235 typ relay raddr 203.0.113.7 rport 50000",
    "a=candidate:3 1 UDP 2122260223 192.168.1.20 5000 typ host generation 0",
    "a=candidate:4 1 udp 1686052607 203.0.113.7 5000 typ srflx raddr 192.168.1.20 rport 5000",
    "a=candidate:5 1 udp 41885439 2001:db8::9 61234 typ relay",
    "a=candidate:6 1 udp 41885439 127.0.0.1 61234 typ relay",
    "a=candidate:broken",
    "a=x-fuzz-padding:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Candidate strings for `call.candidates` bodies, without their `candidate:` prefix.
pub(crate) const CANDIDATES: &[&str] = &[
    "1 1 udp 41885439 198.51.100.9 61234 typ relay",
    "2 1 udp 41885439 198.51.100.9 61235 typ relay raddr 203.0.113.7 rport 50000",
    "3 1 udp 2122260223 192.168.1.20 5000 typ host generation 0 ufrag lZ7j",
    "4 1 tcp 1518280447 203.0.113.7 9 typ srflx raddr 192.168.1.20 rport 0 tcptype active",
    "5 1 udp 2113937151 9c2bcfc6-d912-448b-bb12-741511d3000c.local 34148 typ host",
    "6 1 udp 2122260223 127.0.0.1 43974 typ host generation 0",
    "7 1 udp 41885439 2001:db8::9 61234 typ relay",
];

/// A frame: one of the fixtures with up to seven mutations.
pub(crate) fn mutated_frame(input: &mut Input<'_>) -> Vec<u8> {
    let mut value = input.pick(fixtures()).clone();
    let mut body_first = false;
    let mut edits = Vec::new();
    for _ in 0..input.byte() % 8 {
        match input.byte() % 19 {
            0 => set(&mut value, "seq", seq(input)),
            1 => set(&mut value, "call_id", Value::from(id(input))),
            2 => set(&mut value, "party_id", Value::from(id(input))),
            3 => set(&mut value, "role", Value::from(*input.pick(ROLES))),
            4 => set(&mut value, "type", Value::from(message_type(input))),
            5 => set(&mut value, "conversation_id", Value::from(id(input))),
            6 => insert_awkward(&mut value, input),
            7 => replace_string(&mut value, input),
            8 => replace_number(&mut value, input),
            9 => remove_key(&mut value, input),
            10 => set(&mut value, "version", version(input)),
            11 => fill_sdp(&mut value, input),
            12 => fill_candidates(&mut value, input),
            13 => pad_body(&mut value, input, body_first),
            14 => body_first = !body_first,
            15 => edits.push(Edit::Truncate(input.u16())),
            16 => edits.push(Edit::Insert(input.u16(), input.byte())),
            17 => edits.push(Edit::Whitespace(input.byte() % 8)),
            _ => edits.push(Edit::Trailing),
        }
    }
    let mut frame = serialize(&value, body_first);
    for edit in edits {
        edit.apply(&mut frame);
    }
    frame
}

/// A change to the serialized frame.
#[derive(Debug, Clone, Copy)]
enum Edit {
    /// Keep only this many bytes (modulo the length).
    Truncate(u16),
    /// Insert a byte at an offset (modulo the length).
    Insert(u16, u8),
    /// Surround the frame with JSON whitespace.
    Whitespace(u8),
    /// Data after the document.
    Trailing,
}

impl Edit {
    fn apply(self, frame: &mut Vec<u8>) {
        match self {
            Edit::Truncate(at) => frame.truncate(usize::from(at) % (frame.len() + 1)),
            Edit::Insert(at, byte) => frame.insert(usize::from(at) % (frame.len() + 1), byte),
            Edit::Whitespace(n) => {
                let pad = b" \t\r\n".iter().cycle().take(usize::from(n));
                let mut padded: Vec<u8> = pad.clone().copied().collect();
                padded.append(frame);
                padded.extend(pad);
                *frame = padded;
            }
            Edit::Trailing => frame.extend_from_slice(b"{}"),
        }
    }
}

/// Writes the envelope's fields in our writers' order (`body` first if asked), then any other.
fn serialize(value: &Value, body_first: bool) -> Vec<u8> {
    let Value::Object(map) = value else {
        return serde_json::to_vec(value).expect("json values serialize");
    };
    let mut keys: Vec<&str> = ORDER.iter().copied().filter(|k| map.contains_key(*k)).collect();
    keys.extend(map.keys().map(String::as_str).filter(|k| !ORDER.contains(k)));
    if body_first && let Some(at) = keys.iter().position(|k| *k == "body") {
        let body = keys.remove(at);
        keys.insert(0, body);
    }
    let mut out = b"{".to_vec();
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(key).expect("strings serialize"));
        out.push(b':');
        out.extend(serde_json::to_vec(&map[*key]).expect("json values serialize"));
    }
    out.push(b'}');
    out
}

fn set(value: &mut Value, key: &str, new: Value) {
    if let Value::Object(map) = value {
        map.insert(key.to_owned(), new);
    }
}

/// An id-like string: one of [`IDS`], or one at or one past the id limit.
pub(crate) fn id(input: &mut Input<'_>) -> String {
    let at = input.index(IDS.len() + 2);
    match IDS.get(at) {
        Some(id) => (*id).to_owned(),
        None if at == IDS.len() => "p".repeat(MAX_ID_LEN),
        None => "p".repeat(MAX_ID_LEN + 1),
    }
}

/// A `seq`: the edges of the range and some values of the wrong type.
pub(crate) fn seq(input: &mut Input<'_>) -> Value {
    match input.byte() % 16 {
        0 => json!(0),
        1 => json!(1),
        2 => json!(2),
        3 => json!(3),
        4 => json!(100),
        5 => json!(MAX_SEQ - 1),
        6 => json!(MAX_SEQ),
        7 => json!(MAX_SEQ + 1),
        8 => json!(u64::MAX),
        9 => json!(-1),
        10 => json!(1.5),
        11 => json!("1"),
        12 => Value::Null,
        n => json!(u64::from(n) + u64::from(input.u16())),
    }
}

fn message_type(input: &mut Input<'_>) -> String {
    let at = input.index(Message::TYPES.len() + 3);
    match Message::TYPES.get(at) {
        Some(known) => (*known).to_owned(),
        None if at == Message::TYPES.len() => "call.future".to_owned(),
        None if at == Message::TYPES.len() + 1 => String::new(),
        None => "Call.Invite".to_owned(),
    }
}

fn version(input: &mut Input<'_>) -> Value {
    match input.byte() % 7 {
        0 => json!(0),
        1 => json!(2),
        2 => json!("1"),
        3 => json!(1.0),
        4 => Value::Null,
        5 => json!(u64::MAX),
        _ => json!(1),
    }
}

/// The `n`th leaf (depth first) for which `want` holds; counts `n` down past the others.
fn nth_leaf<'v>(
    value: &'v mut Value,
    n: &mut usize,
    want: fn(&Value) -> bool,
) -> Option<&'v mut Value> {
    if want(value) {
        if *n == 0 {
            return Some(value);
        }
        *n -= 1;
        return None;
    }
    match value {
        Value::Array(items) => items.iter_mut().find_map(|item| nth_leaf(item, n, want)),
        Value::Object(map) => map.values_mut().find_map(|item| nth_leaf(item, n, want)),
        _ => None,
    }
}

fn count_leaves(value: &Value, want: fn(&Value) -> bool) -> usize {
    if want(value) {
        return 1;
    }
    match value {
        Value::Array(items) => items.iter().map(|item| count_leaves(item, want)).sum(),
        Value::Object(map) => map.values().map(|item| count_leaves(item, want)).sum(),
        _ => 0,
    }
}

/// A leaf chosen by the input.
fn leaf<'v>(
    value: &'v mut Value,
    input: &mut Input<'_>,
    want: fn(&Value) -> bool,
) -> Option<&'v mut Value> {
    let mut n = input.index(count_leaves(value, want));
    nth_leaf(value, &mut n, want)
}

/// Inserts a control or otherwise awkward character into a string field.
fn insert_awkward(value: &mut Value, input: &mut Input<'_>) {
    let at = usize::from(input.u16());
    let ch = *input.pick(AWKWARD);
    if let Some(Value::String(text)) = leaf(value, input, Value::is_string) {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert(at, ch);
    }
}

/// Replaces a string field with an empty, long, or otherwise odd one.
fn replace_string(value: &mut Value, input: &mut Input<'_>) {
    let new = match input.byte() % 8 {
        0 => String::new(),
        1 => "relay".to_owned(),
        2 => "x".repeat(MAX_PROMPT_LEN),
        3 => "x".repeat(MAX_PROMPT_LEN + 1),
        4 => "\u{7}".repeat(usize::from(input.byte()) + 1),
        5 => "a b".to_owned(),
        6 => "\u{1f642}".repeat(usize::from(input.u16()) % 300),
        _ => id(input),
    };
    if let Some(leaf) = leaf(value, input, Value::is_string) {
        *leaf = Value::from(new);
    }
}

/// Replaces a number field with a limit's edge, a negative, a fraction or a huge value.
fn replace_number(value: &mut Value, input: &mut Input<'_>) {
    let new = match input.byte() % 20 {
        0 => json!(0),
        1 => json!(1),
        2 => json!(-1),
        3 => json!(15),
        4 => json!(16),
        5 => json!(65535),
        6 => json!(65536),
        7 => json!(9999),
        8 => json!(10_000),
        9 => json!(600_000),
        10 => json!(600_001),
        11 => json!(u64::from(u32::MAX) + 1),
        12 => json!(MAX_SEQ),
        13 => json!(MAX_SEQ + 1),
        14 => json!(u64::MAX),
        15 => json!(0.5),
        16 => json!(100.0),
        17 => json!(100.5),
        18 => json!(1e300),
        _ => json!(-0.0),
    };
    if let Some(leaf) = leaf(value, input, Value::is_number) {
        *leaf = new;
    }
}

/// Removes the `n`th key of any object (depth first).
fn remove_key(value: &mut Value, input: &mut Input<'_>) {
    fn count(value: &Value) -> usize {
        match value {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(map) => map.len() + map.values().map(count).sum::<usize>(),
            _ => 0,
        }
    }
    fn remove(value: &mut Value, n: &mut usize) -> bool {
        match value {
            Value::Array(items) => items.iter_mut().any(|item| remove(item, n)),
            Value::Object(map) => {
                if let Some(key) = map.keys().nth(*n).cloned() {
                    map.remove(&key);
                    return true;
                }
                *n -= map.len();
                map.values_mut().any(|item| remove(item, n))
            }
            _ => false,
        }
    }
    let mut n = input.index(count(value));
    remove(value, &mut n);
}

/// Appends one kind of line to a description's SDP until it is near 32 KiB (at most 4 KiB
/// under the limit, or a little over it).
fn fill_sdp(value: &mut Value, input: &mut Input<'_>) {
    let line = *input.pick(SDP_LINES);
    let ending = if input.flag() { "\n" } else { "\r\n" };
    let target = MAX_SDP_LEN + 64 - usize::from(input.u16()) % 4160;
    if let Some(Value::String(sdp)) = value.pointer_mut("/body/description/sdp") {
        while sdp.len() + line.len() + ending.len() <= target {
            sdp.push_str(line);
            sdp.push_str(ending);
        }
    }
}

/// A candidate string: a prefix (or none), one of [`CANDIDATES`], and padding up to a length
/// from 1,000 to 1,029 bytes, around the 1,024-byte limit.
pub(crate) fn candidate_text(input: &mut Input<'_>) -> String {
    let prefix = *input.pick(&["candidate:", "", "a=candidate:"]);
    let mut text = format!("{prefix}{}", input.pick(CANDIDATES));
    let target = match input.byte() % 4 {
        0 => 0,
        1 => 200,
        _ => 1000 + usize::from(input.byte() % 30),
    };
    if target > text.len() + 9 {
        text.push_str(" x-pad ");
        text.push_str(&"a".repeat(target - text.len()));
    }
    text
}

/// Replaces a body's candidates with up to 65 copies of one candidate, so that the frame's
/// size walks up to and past the frame limit.
fn fill_candidates(value: &mut Value, input: &mut Input<'_>) {
    let count = input.index(MAX_CANDIDATES + 2);
    let entry = json!({
        "candidate": candidate_text(input),
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "lZ7j",
    });
    if let Some(body) = value.get_mut("body").and_then(Value::as_object_mut) {
        body.insert("candidates".to_owned(), Value::Array(vec![entry; count]));
    }
}

/// Adds a field to the body that brings the frame to within 512 bytes of the frame limit,
/// either side: kept byte for byte when the type is unknown, ignored otherwise.
fn pad_body(value: &mut Value, input: &mut Input<'_>, body_first: bool) {
    let target = MAX_FRAME_LEN - 512 + usize::from(input.u16()) % 1024;
    let len = serialize(value, body_first).len();
    let pad = "a".repeat(target.saturating_sub(len + r#","pad":"""#.len()));
    match value.get_mut("body") {
        Some(Value::Object(body)) => {
            body.insert("pad".to_owned(), Value::from(pad));
        }
        _ => {
            let mut body = Map::new();
            body.insert("pad".to_owned(), Value::from(pad));
            set(value, "body", Value::Object(body));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_input_gives_the_first_fixture_in_our_field_order() {
        let frame = mutated_frame(&mut Input::new(&[]));
        let expected: Value = serde_json::from_str(FIXTURES[0]).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&frame).unwrap(), expected);
        assert!(frame.starts_with(br#"{"type":"call.invite","version":1,"#));
    }

    #[test]
    fn every_fixture_decodes() {
        for text in FIXTURES {
            velaro_call_protocol::decode(text.trim().as_bytes()).unwrap();
        }
    }
}
