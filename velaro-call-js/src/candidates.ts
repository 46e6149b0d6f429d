// Trickle ICE: local candidates batched on the way out, remote ones held until their description
// is applied (the twin of velaro-call-state's `candidates`).
import { MAX_CANDIDATES, MAX_HELD_CANDIDATES } from "./generated/wire.js";
import type { IceCandidate } from "./generated/wire.js";

/** The most remote candidates held while their description is missing (the Rust machine's
 *  number, generated): the relay caps a call at 100 per direction, so this only bounds a
 *  misbehaving peer. */
export { MAX_HELD_CANDIDATES };

/** Whether a candidate marks the end of candidates (`candidate: ""`). */
export const isEndOfCandidates = (candidate: IceCandidate) => candidate.candidate === "";

/** The ICE generation of a candidate: its `usernameFragment`, else the `ufrag` extension of its
 *  candidate line. */
export function candidateUfrag(candidate: IceCandidate): string | null {
  if (candidate.usernameFragment) return candidate.usernameFragment;
  const fields = candidate.candidate.replace(/^a=/, "").split(" ");
  // `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>`,
  // then name/value pairs.
  for (let i = 8; i + 1 < fields.length; i += 2) {
    if (fields[i] === "ufrag") return fields[i + 1] ?? null;
  }
  return null;
}

/** Local candidates waiting to go out. */
export class LocalCandidates {
  #pending: IceCandidate[] = [];
  /** The first batch of this generation went out: later candidates go as they come. */
  #firstBatchSent = false;

  /** A new ICE generation (first offer or ICE restart): batch again. */
  newGeneration(): void {
    this.#pending = [];
    this.#firstBatchSent = false;
  }

  /** `true`: send now; `false`: hold (arm the batch timer if it is not armed). */
  gathered(candidate: IceCandidate): boolean {
    this.#pending.push(candidate);
    return this.#firstBatchSent || this.#pending.length >= MAX_CANDIDATES;
  }

  /** One message's worth of what is pending; the first batch is then sent. */
  take(): IceCandidate[] {
    this.#firstBatchSent = true;
    return this.#pending.splice(0, MAX_CANDIDATES);
  }

  get isEmpty(): boolean {
    return this.#pending.length === 0;
  }
}

/** Remote candidates and the generation (ufrag) of the remote description applied last. */
export class RemoteCandidates {
  #ufrag: string | null = null;
  #held: IceCandidate[] = [];
  /** How many were dropped: overflow or an old generation. */
  dropped = 0;

  /** A remote candidate: returned to apply now, or null when held. */
  received(candidate: IceCandidate): IceCandidate | null {
    const ufrag = candidateUfrag(candidate);
    if (this.#ufrag !== null && (ufrag === null || ufrag === this.#ufrag)) return candidate;
    // Before any description, or of another generation than the applied one.
    this.#hold(candidate);
    return null;
  }

  #hold(candidate: IceCandidate): void {
    if (this.#held.length >= MAX_HELD_CANDIDATES) this.dropped += 1;
    else this.#held.push(candidate);
  }

  /** A remote description of generation `ufrag` was applied: its held candidates, in arrival
   *  order; those of other generations are dropped. */
  descriptionApplied(ufrag: string): IceCandidate[] {
    this.#ufrag = ufrag;
    const ready: IceCandidate[] = [];
    for (const candidate of this.#held.splice(0)) {
      const other = candidateUfrag(candidate);
      if (other !== null && other !== ufrag) this.dropped += 1;
      else ready.push(candidate);
    }
    return ready;
  }
}
