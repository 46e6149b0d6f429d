import type { QualityLevel } from "./generated/wire.js";
/** The level of one sample. */
export declare function qualityLevel(rttMs: number, lossPct: number): QualityLevel;
/** How bad a level is, to take the worse of two (an unknown level counts as good). */
export declare function qualityRank(level: QualityLevel): number;
export type QualityAdvice = "switch_to_audio_only" | "recovered";
export declare class QualityMonitor {
    #private;
    /** One sample's level: the new advice when it changes. */
    sample(level: QualityLevel): QualityAdvice | null;
}
