// The resume cursor (RESUME.md): after its connection dropped, a client tells the relay the
// highest `seq` its call took from each sender, as `party:seq,party:seq`, and the relay replays
// every frame for it that the cursor does not cover.
import { MAX_SEQ } from "./generated/wire.js";
const ID = /^[0-9A-Za-z._~-]{1,255}$/;
/** Writes a cursor: `party:seq` entries joined by `,` (empty when nothing was seen). */
export function formatResumeCursor(seen) {
    const entries = [];
    for (const [party, seq] of seen) {
        if (!ID.test(party) || !Number.isSafeInteger(seq) || seq < 1 || seq > MAX_SEQ) {
            throw new RangeError(`not a resume entry: ${party}:${seq}`);
        }
        entries.push(`${party}:${seq}`);
    }
    return entries.join(",");
}
/** Reads a cursor; throws a RangeError on an entry that is not `party:seq`. */
export function parseResumeCursor(text) {
    return text
        .split(",")
        .filter((entry) => entry !== "")
        .map((entry) => {
        const colon = entry.lastIndexOf(":");
        const party = entry.slice(0, colon);
        const digits = entry.slice(colon + 1);
        const seq = Number(digits);
        if (colon < 0 || !ID.test(party) || !/^\d{1,16}$/.test(digits) || seq < 1 || seq > MAX_SEQ) {
            throw new RangeError(`\`${entry}\` is not party:seq`);
        }
        return [party, seq];
    });
}
