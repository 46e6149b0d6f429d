/** Loss above this (percent) or RTT above this (ms) is poor for video. */
const POOR_LOSS_PCT = 5;
const POOR_RTT_MS = 400;
/** Good again below both: the gap between the thresholds keeps a borderline link from flapping. */
const GOOD_LOSS_PCT = 2;
const GOOD_RTT_MS = 250;
/** Consecutive samples that change the advice. */
const SUSTAIN = 3;
/** The level of one sample. */
export function qualityLevel(rttMs, lossPct) {
    if (lossPct >= 20)
        return "lost";
    if (lossPct > POOR_LOSS_PCT || rttMs > POOR_RTT_MS)
        return "poor";
    if (lossPct < GOOD_LOSS_PCT && rttMs < GOOD_RTT_MS)
        return "excellent";
    return "good";
}
/** How bad a level is, to take the worse of two (an unknown level counts as good). */
export function qualityRank(level) {
    return level === "excellent" ? 0 : level === "poor" ? 2 : level === "lost" ? 3 : 1;
}
export class QualityMonitor {
    #advising = false;
    #streak = 0;
    /** One sample's level: the new advice when it changes. */
    sample(level) {
        const bad = level === "poor" || level === "lost";
        const towardChange = this.#advising ? level === "excellent" : bad;
        if (!towardChange) {
            this.#streak = 0;
            return null;
        }
        this.#streak += 1;
        if (this.#streak < SUSTAIN)
            return null;
        this.#streak = 0;
        this.#advising = !this.#advising;
        return this.#advising ? "switch_to_audio_only" : "recovered";
    }
}
