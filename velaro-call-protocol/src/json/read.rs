//! A strict, forward-only JSON reader for the codec's fast path ([`crate::codec`]).
//!
//! Every method returns `None` for anything it does not read exactly as `serde_json` would:
//! the caller then gives the frame to `serde_json`, which says what is wrong. So this reader may
//! refuse more than `serde_json` (a key with an escape, a value nested deeper than
//! [`MAX_DEPTH`]) but never accepts what it refuses, and what it reads is what it reads.

use std::borrow::Cow;

use super::{find_escape, string_end};

/// The deepest nesting [`Reader::skip`] follows, well below `serde_json`'s limit of 128 so that
/// a body read on its own (with the whole limit) never gets further than in its frame.
const MAX_DEPTH: usize = 64;

/// A position in a JSON text.
pub(crate) struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Reader { text, at: 0, depth: 0 }
    }

    /// The whole text being read.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        // Every JSON whitespace byte is at most a space, and our writers put none.
        if let Some(&byte) = bytes.get(self.at)
            && byte > b' '
        {
            return Some(byte);
        }
        while let Some(&byte) = bytes.get(self.at) {
            if !matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `byte` (after whitespace).
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Consumes `literal` (after whitespace) if it is next.
    fn eat_literal(&mut self, literal: &[u8]) -> bool {
        if self.peek().is_none() {
            return false;
        }
        let found = self.bytes().get(self.at..self.at + literal.len()) == Some(literal);
        if found {
            self.at += literal.len();
        }
        found
    }

    /// Where the next value starts, after whitespace.
    pub(crate) fn value_start(&mut self) -> Option<usize> {
        self.peek().map(|_| self.at)
    }

    /// Where the reader is: just after what it read last.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Reads an object, calling `field` with each key and the reader at its value (which
    /// `field` must read). Keys with escapes are not read: `None`.
    pub(crate) fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            let start = self.at;
            let end = find_escape(self.bytes(), start);
            if self.bytes().get(end) != Some(&b'"') {
                return None;
            }
            let key = self.text.get(start..end)?;
            self.at = end + 1;
            self.eat(b':')?;
            field(self, key)?;
            if self.comma_or_close(b'}')? {
                return Some(());
            }
        }
    }

    /// Reads an array, calling `item` with the reader at each item (which `item` must read).
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            item(self)?;
            if self.comma_or_close(b']')? {
                return Some(());
            }
        }
    }

    /// Past the `,` after a member or item (`false`) or past the `close` that ends its object
    /// or array (`true`); `None` on anything else.
    fn comma_or_close(&mut self, close: u8) -> Option<bool> {
        let next = self.peek()?;
        if next != b',' && next != close {
            return None;
        }
        self.at += 1;
        Some(next == close)
    }

    /// Reads a string: borrowed when it has no escapes, unescaped otherwise.
    pub(crate) fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.at;
        let end = find_escape(self.bytes(), start);
        match self.bytes().get(end)? {
            b'"' => {
                self.at = end + 1;
                self.text.get(start..end).map(Cow::Borrowed)
            }
            b'\\' => {
                // The closing quote bounds the text: one allocation, never grown.
                let capacity = string_end(self.bytes(), start - 1).map_or(0, |close| close - start);
                let mut out = String::with_capacity(capacity);
                out.push_str(self.text.get(start..end)?);
                self.at = end;
                self.unescape(&mut out)?;
                Some(Cow::Owned(out))
            }
            _ => None, // a control character
        }
    }

    /// Reads a string into a `String` of its own.
    pub(crate) fn owned_string(&mut self) -> Option<String> {
        self.string().map(Cow::into_owned)
    }

    /// Unescapes from an escape to the closing quote: each escape, then the run of plain bytes
    /// after it copied whole. An SDP's `\r\n` is one step.
    fn unescape(&mut self, out: &mut String) -> Option<()> {
        let bytes = self.bytes();
        loop {
            let at = self.at;
            match bytes.get(at)? {
                b'"' => {
                    self.at = at + 1;
                    return Some(());
                }
                b'\\' => {}
                _ => return None, // a control character
            }
            if bytes.get(at..at + 4) == Some(br"\r\n") {
                out.push_str("\r\n");
                self.at = at + 4;
            } else {
                let (ch, len) = match bytes.get(at + 1)? {
                    b'n' => ('\n', 2),
                    b'r' => ('\r', 2),
                    b't' => ('\t', 2),
                    b'"' => ('"', 2),
                    b'\\' => ('\\', 2),
                    b'/' => ('/', 2),
                    b'b' => ('\u{8}', 2),
                    b'f' => ('\u{c}', 2),
                    b'u' => unicode_escape(bytes.get(at + 2..)?)?,
                    _ => return None,
                };
                out.push(ch);
                self.at = at + len;
            }
            let run = find_escape(bytes, self.at);
            out.push_str(self.text.get(self.at..run)?);
            self.at = run;
        }
    }

    /// Reads a non-negative integer as `serde_json` reads a `u64`: no sign, fraction or
    /// exponent, no leading zero, no overflow.
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let bytes = self.bytes();
        let first = self.peek()?;
        let start = self.at;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut value: u64 = 0;
        let mut at = start;
        while let Some(&byte) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
            at += 1;
        }
        if (first == b'0' && at - start > 1)
            || bytes.get(at).is_some_and(|b| matches!(b, b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.at = at;
        Some(value)
    }

    /// Reads `true` or `false`.
    pub(crate) fn bool(&mut self) -> Option<bool> {
        if self.eat_literal(b"true") {
            Some(true)
        } else if self.eat_literal(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// Consumes `null` if it is next: an `Option` field that is `None`.
    pub(crate) fn null(&mut self) -> bool {
        self.eat_literal(b"null")
    }

    /// Reads `None` for `null`, else the value with `read`: an `Option` field.
    #[allow(clippy::option_option, reason = "the outer `None` gives up, the inner is the value")]
    pub(crate) fn option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.null() { Some(None) } else { read(self).map(Some) }
    }

    /// Skips any value, checking it is JSON as `serde_json` checks what it ignores, and returns
    /// its text.
    pub(crate) fn skip(&mut self) -> Option<&'a str> {
        let start = match self.peek()? {
            b'"' => {
                let start = self.at;
                self.at += 1;
                self.skip_string()?;
                start
            }
            open @ (b'{' | b'[') => {
                let start = self.at;
                if self.depth == MAX_DEPTH {
                    return None;
                }
                self.depth += 1;
                if open == b'{' {
                    self.skip_object()?;
                } else {
                    self.array(|reader| reader.skip().map(drop))?;
                }
                self.depth -= 1;
                start
            }
            b't' | b'f' | b'n' => {
                let start = self.at;
                (self.eat_literal(b"true") || self.eat_literal(b"false") || self.null())
                    .then_some(())?;
                start
            }
            _ => {
                let start = self.at;
                self.skip_number()?;
                start
            }
        };
        self.text.get(start..self.at)
    }

    /// Skips an object, whatever its keys (an escaped one included).
    fn skip_object(&mut self) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            self.skip_string()?;
            self.eat(b':')?;
            self.skip()?;
            if self.comma_or_close(b'}')? {
                return Some(());
            }
        }
    }

    /// Skips the rest of a string after its opening quote: plain bytes, valid escapes (a
    /// `\u` escape's surrogates are not paired up, as `serde_json` does not when it ignores).
    fn skip_string(&mut self) -> Option<()> {
        let bytes = self.bytes();
        loop {
            let at = find_escape(bytes, self.at);
            match bytes.get(at)? {
                b'"' => {
                    self.at = at + 1;
                    return Some(());
                }
                b'\\' => {
                    let len = match bytes.get(at + 1)? {
                        b'n' | b'r' | b't' | b'"' | b'\\' | b'/' | b'b' | b'f' => 2,
                        b'u' => {
                            hex4(bytes.get(at + 2..at + 6)?)?;
                            6
                        }
                        _ => return None,
                    };
                    self.at = at + len;
                }
                _ => return None,
            }
        }
    }

    /// Skips a number of the JSON grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        let bytes = self.bytes();
        let digits = |at: usize| {
            bytes.get(at..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count())
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match digits(at) {
            0 => return None,
            n if n > 1 && bytes.get(at) == Some(&b'0') => return None,
            n => at += n,
        }
        if bytes.get(at) == Some(&b'.') {
            let n = digits(at + 1);
            if n == 0 {
                return None;
            }
            at += 1 + n;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            let n = digits(at);
            if n == 0 {
                return None;
            }
            at += n;
        }
        self.at = at;
        Some(())
    }
}

/// Four hex digits.
fn hex4(digits: &[u8]) -> Option<u32> {
    if digits.len() != 4 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &b| Some(n << 4 | char::from(b).to_digit(16)?))
}

/// The character of a `\u` escape (`escape` starts after the `u`), a surrogate pair taken
/// together, and the escape's length from its backslash. A lone surrogate is `None`, as
/// `serde_json` refuses it in a string it keeps.
fn unicode_escape(escape: &[u8]) -> Option<(char, usize)> {
    let unit = hex4(escape.get(..4)?)?;
    if !(0xd800..0xdc00).contains(&unit) {
        return Some((char::from_u32(unit)?, 6));
    }
    if escape.get(4..6) != Some(br"\u") {
        return None;
    }
    let low = hex4(escape.get(6..10)?)?;
    if !(0xdc00..0xe000).contains(&low) {
        return None;
    }
    Some((char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))?, 12))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// What the reader reads from a JSON string literal, or `None`.
    fn read(json: &str) -> Option<String> {
        let mut reader = Reader::new(json);
        let text = reader.owned_string()?;
        reader.at_end().then_some(text)
    }

    #[test]
    fn strings_unescape_as_serde_json_unescapes_them() {
        let cases = [
            r#""plain""#,
            r#""v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\n""#,
            r#""\"\\\/\b\f\n\r\t""#,
            r#""\u00e9\u0000 \ud83d\udc4d é""#,
            r#""a\r""#,
            r#""\r\\n""#,
        ];
        for json in cases {
            assert_eq!(read(json), Some(serde_json::from_str::<String>(json).unwrap()), "{json}");
        }
        for json in [
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            r#""\x""#,
            "\"\u{1}\"",
            r#""\u12""#,
            r#""open"#,
        ] {
            assert_eq!(read(json), None, "{json}");
            assert!(serde_json::from_str::<String>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn integers_are_read_as_serde_json_reads_a_u64() {
        for json in ["0", "1", "18446744073709551615", " 42 "] {
            let mut reader = Reader::new(json);
            assert_eq!(reader.u64(), Some(serde_json::from_str::<u64>(json).unwrap()), "{json}");
        }
        for json in ["-1", "01", "1.0", "1e2", "18446744073709551616", "x", ""] {
            assert_eq!(Reader::new(json).u64(), None, "{json}");
        }
    }

    #[test]
    fn skipped_values_are_checked() {
        let good = [r#"{"a":[1,-0.5e+3,true,false,null,{}],"b\n":"\u0041"}"#, "[]", "0", "\"\""];
        for json in good {
            let mut reader = Reader::new(json);
            assert_eq!(reader.skip(), Some(json.trim()), "{json}");
        }
        let bad =
            ["[1,]", "{\"a\"}", "01", "1.", "1e", "-", "tru", "[1 2]", "{\"a\":1,}", "\"\\q\""];
        for json in bad {
            assert_eq!(Reader::new(json).skip(), None, "{json}");
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(json).is_err(), "{json}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(Reader::new(&deep).skip(), None);
    }
}
