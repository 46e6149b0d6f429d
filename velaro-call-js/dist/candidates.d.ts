import { MAX_HELD_CANDIDATES } from "./generated/wire.js";
import type { IceCandidate } from "./generated/wire.js";
/** The most remote candidates held while their description is missing (the Rust machine's
 *  number, generated): the relay caps a call at 100 per direction, so this only bounds a
 *  misbehaving peer. */
export { MAX_HELD_CANDIDATES };
/** Whether a candidate marks the end of candidates (`candidate: ""`). */
export declare const isEndOfCandidates: (candidate: IceCandidate) => boolean;
/** The ICE generation of a candidate: its `usernameFragment`, else the `ufrag` extension of its
 *  candidate line. */
export declare function candidateUfrag(candidate: IceCandidate): string | null;
/** Local candidates waiting to go out. */
export declare class LocalCandidates {
    #private;
    /** A new ICE generation (first offer or ICE restart): batch again. */
    newGeneration(): void;
    /** `true`: send now; `false`: hold (arm the batch timer if it is not armed). */
    gathered(candidate: IceCandidate): boolean;
    /** One message's worth of what is pending; the first batch is then sent. */
    take(): IceCandidate[];
    get isEmpty(): boolean;
}
/** Remote candidates and the generation (ufrag) of the remote description applied last. */
export declare class RemoteCandidates {
    #private;
    /** How many were dropped: overflow or an old generation. */
    dropped: number;
    /** A remote candidate: returned to apply now, or null when held. */
    received(candidate: IceCandidate): IceCandidate | null;
    /** A remote description of generation `ufrag` was applied: its held candidates, in arrival
     *  order; those of other generations are dropped. */
    descriptionApplied(ufrag: string): IceCandidate[];
}
