/** Writes a cursor: `party:seq` entries joined by `,` (empty when nothing was seen). */
export declare function formatResumeCursor(seen: Iterable<readonly [party: string, seq: number]>): string;
/** Reads a cursor; throws a RangeError on an entry that is not `party:seq`. */
export declare function parseResumeCursor(text: string): [party: string, seq: number][];
