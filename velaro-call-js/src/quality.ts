// Quality levels from samples, and the audio-only advice with hysteresis (the twin of
// velaro-call-state's `quality`).
import type { QualityLevel } from "./generated/wire.js";
// The thresholds are the Rust machine's (`velaro_call_state::tuning`), generated: poor above
// either, excellent below both (the gap keeps a borderline link from flapping), and a streak of
// samples to change the advice.
import {
  GOOD_LOSS_PCT,
  GOOD_RTT_MS,
  LOST_LOSS_PCT,
  POOR_LOSS_PCT,
  POOR_RTT_MS,
  QUALITY_SUSTAIN as SUSTAIN,
} from "./generated/wire.js";

/** The level of one sample. */
export function qualityLevel(rttMs: number, lossPct: number): QualityLevel {
  if (lossPct >= LOST_LOSS_PCT) return "lost";
  if (lossPct > POOR_LOSS_PCT || rttMs > POOR_RTT_MS) return "poor";
  if (lossPct < GOOD_LOSS_PCT && rttMs < GOOD_RTT_MS) return "excellent";
  return "good";
}

/** How bad a level is, to take the worse of two (an unknown level counts as good). */
export function qualityRank(level: QualityLevel): number {
  return level === "excellent" ? 0 : level === "poor" ? 2 : level === "lost" ? 3 : 1;
}

export type QualityAdvice = "switch_to_audio_only" | "recovered";

export class QualityMonitor {
  #advising = false;
  #streak = 0;

  /** One sample's level: the new advice when it changes. */
  sample(level: QualityLevel): QualityAdvice | null {
    const bad = level === "poor" || level === "lost";
    const towardChange = this.#advising ? level === "excellent" : bad;
    if (!towardChange) {
      this.#streak = 0;
      return null;
    }
    this.#streak += 1;
    if (this.#streak < SUSTAIN) return null;
    this.#streak = 0;
    this.#advising = !this.#advising;
    return this.#advising ? "switch_to_audio_only" : "recovered";
  }
}
