//! Replay protection for the referee: which sequence numbers a party already had delivered.

/// How many sequence numbers below the highest delivered one are still told apart (an
/// anti-replay window, as in RFC 4303); older ones count as duplicates.
const WINDOW: u64 = 64;

/// One party's delivered sequence numbers in one call: the highest and a bitmap of the 64 at
/// and below it. Sixteen bytes, whatever the traffic.
///
/// Unlike the call machine's dedupe, checking and recording are separate: the referee records
/// a `seq` only once its frame was delivered, so a refused frame sent again is refused again
/// (with a notice) rather than dropped quietly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SeqWindow {
    highest: u64,
    /// Bit `n` set: `highest - n` was delivered. Zero until the first record.
    seen: u64,
}

impl SeqWindow {
    /// A window that has recorded `seq`.
    pub(super) fn starting_at(seq: u64) -> Self {
        let mut window = SeqWindow::default();
        window.record(seq);
        window
    }

    /// Whether `seq` was delivered already (or is too old to tell, which counts as delivered).
    pub(super) fn is_duplicate(&self, seq: u64) -> bool {
        if self.seen == 0 || seq > self.highest {
            return false;
        }
        let age = self.highest - seq;
        age >= WINDOW || self.seen & (1 << age) != 0
    }

    /// Records `seq` as delivered.
    pub(super) fn record(&mut self, seq: u64) {
        if self.seen == 0 {
            self.highest = seq;
            self.seen = 1;
        } else if seq > self.highest {
            let shift = seq - self.highest;
            self.seen = if shift >= WINDOW { 1 } else { (self.seen << shift) | 1 };
            self.highest = seq;
        } else {
            let age = self.highest - seq;
            if age < WINDOW {
                self.seen |= 1 << age;
            }
        }
    }

    /// The window as data (`highest`, `seen`), for a snapshot.
    pub(super) fn parts(self) -> (u64, u64) {
        (self.highest, self.seen)
    }

    /// A window from [`parts`](Self::parts). Any pair is safe: every use checks its shifts.
    pub(super) fn from_parts(highest: u64, seen: u64) -> Self {
        SeqWindow { highest, seen }
    }

    /// The sequence number that follows every one delivered: what a notice written on this
    /// party's behalf carries, so that the recipient's own dedupe takes it.
    pub(super) fn next(&self) -> u64 {
        self.highest.saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seq_once_in_any_order() {
        let mut window = SeqWindow::default();
        assert!(!window.is_duplicate(1), "nothing seen yet");
        window.record(2);
        assert!(window.is_duplicate(2));
        assert!(!window.is_duplicate(1), "reordered, not seen");
        window.record(1);
        assert!(window.is_duplicate(1));
        window.record(100);
        assert!(window.is_duplicate(36), "older than the window");
        assert!(!window.is_duplicate(37));
        window.record(37);
        assert!(window.is_duplicate(37));
        assert_eq!(window.next(), 101);
    }

    #[test]
    fn checking_does_not_record() {
        let window = SeqWindow::starting_at(5);
        assert!(!window.is_duplicate(6));
        assert!(!window.is_duplicate(6));
        assert!(window.is_duplicate(5));
        assert_eq!(SeqWindow::default().next(), 1);
    }
}
