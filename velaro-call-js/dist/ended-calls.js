// The calls that ended, remembered (the last 64) so that nothing revives them: the twin of
// `velaro_call_state::EndedCalls`. A visitor's client hands it every call frame that comes while
// it has no live call, and rings only for an invite it says starts one. On a link that reorders,
// or in a resume replay, a `call.hangup` or `call.cancel` can overtake its own invite: that
// invite must not ring, nor an invite of a call already over.
import { ENDED_CALLS_CAPACITY } from "./generated/wire.js";
export class EndedCalls {
    #ended = [];
    /** Remembers that `callId` ended, forgetting the oldest when full. */
    bury(callId) {
        if (this.#ended.length >= ENDED_CALLS_CAPACITY)
            this.#ended.shift();
        this.#ended.push(callId);
    }
    /** Whether `callId` is remembered as ended. */
    has(callId) {
        return this.#ended.includes(callId);
    }
    /** A frame that came while there is no live call: whether it is an invite that may ring. A
     *  frame that ends a call (hangup, cancel, another tab's select_answer) is remembered. */
    startsACall(frame) {
        switch (frame.type) {
            case "call.invite":
                return !this.has(frame.call_id);
            case "call.hangup":
            case "call.cancel":
            case "call.select_answer":
                if (!this.has(frame.call_id))
                    this.bury(frame.call_id);
                return false;
            default:
                return false;
        }
    }
}
