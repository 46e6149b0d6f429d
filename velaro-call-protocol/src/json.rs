//! The JSON jobs of the hot path that `serde_json` does byte by byte: escaping a long string
//! (an SDP: a line ending every ~35 bytes), finding where a frame's body is, and reading the
//! frames of a call ([`read`]).

pub(crate) mod read;

use std::ops::Range;

use bytes::BufMut;

/// What each byte becomes inside a JSON string: 0 (itself), a letter `x` (`\x`), or `u`
/// (`\u00XX`). The same escapes `serde_json` writes, so both writers give the same bytes.
#[allow(clippy::indexing_slicing, reason = "evaluated at compile time: a bad index does not build")]
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// What `byte` becomes in a JSON string (see [`ESCAPE`]).
fn escape_of(byte: u8) -> u8 {
    ESCAPE.get(usize::from(byte)).copied().unwrap_or(0)
}

/// Writes `text` as a JSON string, quotes included: runs without escapes are copied whole.
pub(crate) fn write_str(out: &mut impl BufMut, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.put_u8(b'"');
    let bytes = text.as_bytes();
    let mut run = 0;
    loop {
        let at = find_escape(bytes, run);
        if at > run {
            out.put_slice(bytes.get(run..at).unwrap_or_default());
        }
        let Some(&byte) = bytes.get(at) else { break };
        run = at + 1;
        // An SDP's line ending, in one go.
        if byte == b'\r' && bytes.get(run) == Some(&b'\n') {
            out.put_slice(br"\r\n");
            run += 1;
            continue;
        }
        let escape = escape_of(byte);
        out.put_u8(b'\\');
        out.put_u8(escape);
        if escape == b'u' {
            let hex = |nibble: u8| HEX.get(usize::from(nibble & 0x0f)).copied().unwrap_or(b'0');
            out.put_slice(&[b'0', b'0', hex(byte >> 4), hex(byte)]);
        }
    }
    out.put_u8(b'"');
}

/// The first byte at or after `from` that a JSON string escapes (`"`, `\`, a control
/// character), or `bytes.len()`. Eight bytes at a time: a byte is flagged when subtracting
/// borrows through its top bit (only bytes above the first flagged one can be flagged wrongly).
#[inline]
fn find_escape(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const TOP: u64 = ONES << 7;
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word;
    let equal = |word: u64, byte: u8| below(word ^ (ONES * u64::from(byte)), 1);
    let Some(rest) = bytes.get(from..) else {
        return bytes.len();
    };
    let (words, tail) = rest.as_chunks::<8>();
    let mut at = from;
    for &chunk in words {
        let word = u64::from_le_bytes(chunk);
        let found = (below(word, 0x20) | equal(word, b'"') | equal(word, b'\\')) & TOP;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + tail.iter().position(|&byte| escape_of(byte) != 0).unwrap_or(tail.len())
}

/// Writes an id as a JSON string: its grammar (`[0-9A-Za-z._~-]`) has nothing to escape.
pub(crate) fn write_id(out: &mut impl BufMut, id: &[u8]) {
    out.put_u8(b'"');
    out.put_slice(id);
    out.put_u8(b'"');
}

/// Writes `value` in decimal.
pub(crate) fn write_u64(out: &mut impl BufMut, value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        if let Some(digit) = digits.get_mut(start) {
            // `rest % 10` is below 10.
            *digit = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    out.put_slice(digits.get(start..).unwrap_or_default());
}

/// Where the value of the top-level key `body` is in `text`, a JSON object `serde_json` has
/// already read without error (so its syntax is not checked again here). When `body_last`
/// (the decoder saw no key after it), the value ends where the object does and is not scanned.
/// `None` when there is no such key, or when a key is written with escapes (`"b\u006fdy"`):
/// the caller then writes the body from its decoded message instead.
pub(crate) fn body_span(text: &str, body_last: bool) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_space(bytes, at);
        if bytes.get(at) != Some(&b'"') {
            return None; // `}`: the object ended without a body
        }
        let key_end = string_end(bytes, at)?;
        let key = bytes.get(at + 1..key_end - 1)?;
        if key.contains(&b'\\') {
            return None;
        }
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, at + 1);
        if key == b"body" && body_last {
            let object = text.trim_end().strip_suffix('}')?;
            return Some(start..object.trim_end().len());
        }
        let end = value_end(bytes, start)?;
        if key == b"body" {
            return Some(start..end);
        }
        at = skip_space(bytes, end);
        if bytes.get(at) != Some(&b',') {
            return None;
        }
        at += 1;
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        at += 1;
    }
    at
}

/// The end (one past the closing quote) of the string opening at `start`: the first quote
/// after it not escaped by an odd run of backslashes (strings rarely hold quotes, and an SDP's
/// line endings are escapes, so looking for quotes alone is the fast way).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        at += memchr::memchr(b'"', bytes.get(at..)?)?;
        let before = bytes.get(start + 1..at)?;
        let backslashes = before.iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 0 {
            return Some(at + 1);
        }
        at += 1;
    }
}

/// The end of the value starting at `start`: a string, an object or array (nesting counted,
/// strings skipped), or a number or literal.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = start;
            loop {
                match bytes.get(at)? {
                    b'"' => {
                        at = string_end(bytes, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let rest = bytes.get(start..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(rest.len());
            Some(start + len)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..128).map(char::from).collect();
        for text in ["", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n", "\"quoted\" \\ é 👍", &every_ascii]
        {
            let mut ours = Vec::new();
            write_str(&mut ours, text);
            assert_eq!(ours, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn escapes_are_found_at_every_offset() {
        for len in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert_eq!(find_escape(&bytes, 0), at);
                    assert_eq!(find_escape(&bytes, at), at);
                    assert_eq!(find_escape(&bytes, at + 1), len);
                }
                assert_eq!(find_escape(&vec![0xff; len], 0), len, "high bytes pass");
            }
        }
    }

    #[test]
    fn numbers_are_decimal() {
        for value in [0, 7, 10, 12_345, u64::MAX] {
            let mut ours = Vec::new();
            write_u64(&mut ours, value);
            assert_eq!(ours, value.to_string().into_bytes());
        }
    }

    #[test]
    fn the_body_is_found_wherever_it_is() {
        fn span(text: &str, body_last: bool) -> Option<&str> {
            body_span(text, body_last).map(|range| &text[range])
        }
        let last = [
            (r#"{"type":"x","body":{"a":"}\"{"}}"#, r#"{"a":"}\"{"}"#),
            (r#"{"a":"body","n":-1.5e3,"t":true,"body":null}"#, "null"),
            ("{\"body\" :\t[1,{\"b\":[]}] \n}\r\n", r#"[1,{"b":[]}]"#),
        ];
        for (text, body) in last {
            assert_eq!(span(text, false), Some(body), "scanned: {text}");
            assert_eq!(span(text, true), Some(body), "as the last key: {text}");
        }
        assert_eq!(span(r#" { "body" : [1,{"b":[]}] , "seq":1}"#, false), Some(r#"[1,{"b":[]}]"#));
        assert_eq!(span(r#"{"seq":1}"#, false), None);
        assert_eq!(span("{}", false), None);
        assert_eq!(
            span(r#"{"b\u006fdy":{}}"#, true),
            None,
            "an escaped key is left to the decoder"
        );
    }
}
