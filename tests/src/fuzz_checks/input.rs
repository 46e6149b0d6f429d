//! A reader that turns fuzz bytes into choices: the structure-aware targets' `Unstructured`.
//!
//! Hand-written rather than `arbitrary`'s so that the stable replay test needs no dependency
//! beyond the ones `velaro-tests` already has (see `fuzz/README.md`). Like `arbitrary`, it never
//! fails: once the bytes run out every read is 0, so any input is a valid script and a mutation
//! that drops bytes shortens the script instead of breaking it.

/// The unread part of one fuzz input.
#[derive(Debug)]
pub(crate) struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 when none is left.
    pub(crate) fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    /// A coin.
    pub(crate) fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// Two bytes, little-endian.
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// An index below `len` (0 when `len` is 0): one byte for short lists, two for longer ones.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        match len {
            0 => 0,
            1..=256 => usize::from(self.byte()) % len,
            _ => usize::from(self.u16()) % len,
        }
    }

    /// One of `items`, which must not be empty.
    pub(crate) fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.index(items.len())]
    }

    /// Up to `max` raw bytes, as many as a length byte pair says.
    pub(crate) fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = usize::from(self.u16()) % (max + 1);
        let (taken, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zeros_once_the_bytes_run_out() {
        let mut input = Input::new(&[7, 1, 2]);
        assert_eq!(input.byte(), 7);
        assert_eq!(input.u16(), 0x0201);
        assert!(input.is_empty());
        assert_eq!((input.byte(), input.flag(), input.index(5)), (0, false, 0));
        assert_eq!(input.bytes(10), b"");
    }
}
