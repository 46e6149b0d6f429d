//! Audio-only advice from quality samples, with hysteresis so the advice does not flap.

use velaro_call_protocol::message::media::QualityLevel;

use crate::output::QualityAdvice;
use crate::tuning::{
    GOOD_LOSS_PCT, GOOD_RTT_MS, LOST_LOSS_PCT, POOR_LOSS_PCT, POOR_RTT_MS, QUALITY_SUSTAIN,
};

/// The level of one sample.
pub(crate) fn level(rtt_ms: u32, loss_pct: f64) -> QualityLevel {
    if loss_pct >= LOST_LOSS_PCT {
        QualityLevel::Lost
    } else if loss_pct > POOR_LOSS_PCT || rtt_ms > POOR_RTT_MS {
        QualityLevel::Poor
    } else if loss_pct < GOOD_LOSS_PCT && rtt_ms < GOOD_RTT_MS {
        QualityLevel::Excellent
    } else {
        QualityLevel::Good
    }
}

/// How bad a level is, for taking the worse of two: 0 (excellent) to 3 (lost); unknown
/// levels count as good.
pub(crate) fn rank(level: &QualityLevel) -> u8 {
    match level {
        QualityLevel::Excellent => 0,
        QualityLevel::Poor => 2,
        QualityLevel::Lost => 3,
        _ => 1,
    }
}

/// The advice state.
#[derive(Debug, Clone, Default)]
pub(crate) struct QualityMonitor {
    advising: bool,
    streak: u8,
}

impl QualityMonitor {
    /// Feeds one sample's level; returns a new advice when it changes.
    pub(crate) fn sample(&mut self, level: &QualityLevel) -> Option<QualityAdvice> {
        let bad = matches!(level, QualityLevel::Poor | QualityLevel::Lost);
        let good = matches!(level, QualityLevel::Excellent);
        let toward_change = if self.advising { good } else { bad };
        if !toward_change {
            self.streak = 0;
            return None;
        }
        self.streak = self.streak.saturating_add(1);
        if self.streak < QUALITY_SUSTAIN {
            return None;
        }
        self.streak = 0;
        self.advising = !self.advising;
        Some(if self.advising {
            QualityAdvice::SwitchToAudioOnly
        } else {
            QualityAdvice::Recovered
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_samples() {
        assert_eq!(level(50, 0.1), QualityLevel::Excellent);
        assert_eq!(level(300, 3.0), QualityLevel::Good);
        assert_eq!(level(500, 0.0), QualityLevel::Poor);
        assert_eq!(level(50, 8.0), QualityLevel::Poor);
        assert_eq!(level(50, 30.0), QualityLevel::Lost);
    }

    #[test]
    fn sustained_poor_advises_once_and_good_recovers() {
        let mut monitor = QualityMonitor::default();
        let poor = QualityLevel::Poor;
        assert_eq!(monitor.sample(&poor), None);
        assert_eq!(monitor.sample(&poor), None);
        assert_eq!(monitor.sample(&poor), Some(QualityAdvice::SwitchToAudioOnly));
        assert_eq!(monitor.sample(&poor), None, "no repeat");
        assert_eq!(monitor.sample(&QualityLevel::Excellent), None);
        assert_eq!(monitor.sample(&QualityLevel::Good), None, "middling resets the streak");
        for _ in 0..2 {
            assert_eq!(monitor.sample(&QualityLevel::Excellent), None);
        }
        assert_eq!(monitor.sample(&QualityLevel::Excellent), Some(QualityAdvice::Recovered));
    }

    #[test]
    fn alternating_samples_never_flap() {
        let mut monitor = QualityMonitor::default();
        for i in 0..100 {
            let level = if i % 2 == 0 { QualityLevel::Poor } else { QualityLevel::Excellent };
            assert_eq!(monitor.sample(&level), None);
        }
    }
}
