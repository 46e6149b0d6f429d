import type { IncomingFrame } from "./wire.js";
export declare class EndedCalls {
    #private;
    /** Remembers that `callId` ended, forgetting the oldest when full. */
    bury(callId: string): void;
    /** Whether `callId` is remembered as ended. */
    has(callId: string): boolean;
    /** A frame that came while there is no live call: whether it is an invite that may ring. A
     *  frame that ends a call (hangup, cancel, another tab's select_answer) is remembered. */
    startsACall(frame: IncomingFrame): boolean;
}
