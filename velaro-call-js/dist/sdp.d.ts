/** One m-section. */
export interface MediaSection {
    kind: string;
    mid: string | null;
    rejected: boolean;
}
/** What the call machine needs of an SDP. */
export interface SdpSummary {
    media: MediaSection[];
    /** The first ICE ufrag: it changes with each ICE generation. */
    iceUfrag: string;
    bundle: string[];
}
/** Summarizes without checking: for our own browser's descriptions. */
export declare const summarize: (sdp: string) => SdpSummary;
/** Checks a peer's offer or answer: null when it is refused (the call fails `protocol_error`). */
export declare function check(sdp: string): SdpSummary | null;
/** Whether an answer fits its offer: as many m-sections (JSEP §5.3.1). */
export declare function answers(answer: SdpSummary, offer: SdpSummary): boolean;
