//! Replay protection: each remote party's frames are applied at most once.

use velaro_call_protocol::PartyId;

/// How many sequence numbers below the highest seen are still told apart (an anti-replay
/// window, as in IPsec): older ones count as duplicates.
const WINDOW: u64 = 64;

/// The window of one remote party: the highest `seq` seen and a bitmap of the 64 below it.
#[derive(Debug, Clone)]
struct Window {
    party: PartyId,
    highest: u64,
    seen: u64,
}

/// Seen sequence numbers, per remote party. Bounded: a call talks to one agent device and at
/// most a few visitor tabs; beyond [`MAX_PARTIES`] the oldest party's window is forgotten.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dedupe {
    windows: Vec<Window>,
}

/// The most remote parties a call remembers.
const MAX_PARTIES: usize = 8;

impl Dedupe {
    /// The highest `seq` seen from each party.
    pub(crate) fn highest(&self) -> impl Iterator<Item = (&PartyId, u64)> {
        self.windows.iter().map(|w| (&w.party, w.highest))
    }

    pub(crate) fn heap_estimate(&self) -> usize {
        self.windows.capacity() * size_of::<Window>()
            + self.windows.iter().map(|w| w.party.as_str().len()).sum::<usize>()
    }

    /// Records `seq` from `party`; `false` if it was seen before (or is too old to tell).
    pub(crate) fn first_time(&mut self, party: &PartyId, seq: u64) -> bool {
        let Some(window) = self.windows.iter_mut().find(|w| &w.party == party) else {
            if self.windows.len() == MAX_PARTIES {
                self.windows.remove(0);
            }
            self.windows.push(Window { party: party.clone(), highest: seq, seen: 1 });
            return true;
        };
        if seq > window.highest {
            let shift = seq - window.highest;
            window.seen = if shift >= WINDOW { 1 } else { (window.seen << shift) | 1 };
            window.highest = seq;
            return true;
        }
        let age = window.highest - seq;
        if age >= WINDOW {
            return false;
        }
        let bit = 1 << age;
        let fresh = window.seen & bit == 0;
        window.seen |= bit;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seq_once_in_any_order() {
        let mut dedupe = Dedupe::default();
        let a = PartyId::new("a").unwrap();
        let b = PartyId::new("b").unwrap();
        assert!(dedupe.first_time(&a, 2));
        assert!(dedupe.first_time(&a, 1), "reordered");
        assert!(!dedupe.first_time(&a, 2), "duplicate");
        assert!(!dedupe.first_time(&a, 1), "duplicate");
        assert!(dedupe.first_time(&b, 1), "another party");
        assert!(dedupe.first_time(&a, 100));
        assert!(!dedupe.first_time(&a, 36), "older than the window");
        assert!(dedupe.first_time(&a, 37));
        assert!(!dedupe.first_time(&a, 37));
    }
}
