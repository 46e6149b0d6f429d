export declare class Dedupe {
    #private;
    /** Records `seq` from `party`: false when it was seen before (or is too old to tell). */
    firstTime(party: string, seq: number): boolean;
    /** The highest seq taken from each party, in the order they first spoke. */
    highest(): [party: string, seq: number][];
}
