import type { BodyByType, FrameHeader, MessageType } from "./generated/wire.js";
export * from "./generated/wire.js";
/** One frame of a known type, its body typed by its `type`. */
export type Frame<T extends MessageType = MessageType> = {
    [K in T]: FrameHeader & {
        type: K;
        body: BodyByType[K];
    };
}[T];
/** A frame as it arrives: any type (a newer peer's too); `body` absent reads as `{}`. */
export interface IncomingFrame extends FrameHeader {
    type: string;
    body?: unknown;
}
