// Replay protection: each remote party's frames are applied at most once (the twin of
// velaro-call-state's `dedupe`): per party, the highest seq and which of the 64 below it came.
const WINDOW = 64;
/** The most remote parties remembered; beyond it the oldest entry is forgotten. */
const MAX_PARTIES = 8;
export class Dedupe {
    #windows = [];
    /** Records `seq` from `party`: false when it was seen before (or is too old to tell). */
    firstTime(party, seq) {
        const entry = this.#windows.find((w) => w.party === party);
        if (!entry) {
            if (this.#windows.length === MAX_PARTIES)
                this.#windows.shift();
            this.#windows.push({ party, highest: seq, seen: new Set([seq]) });
            return true;
        }
        if (seq > entry.highest) {
            entry.highest = seq;
            entry.seen.add(seq);
            for (const old of entry.seen)
                if (seq - old >= WINDOW)
                    entry.seen.delete(old);
            return true;
        }
        if (entry.highest - seq >= WINDOW || entry.seen.has(seq))
            return false;
        entry.seen.add(seq);
        return true;
    }
    /** The highest seq taken from each party, in the order they first spoke. */
    highest() {
        return this.#windows.map((w) => [w.party, w.highest]);
    }
}
