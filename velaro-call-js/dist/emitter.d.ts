export type Listener<T> = (detail: T) => void;
export declare class Emitter<Events extends object> {
    private listeners;
    /** Calls `listener` with every `type` event; returns a function that stops it. */
    on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void;
    protected emit<K extends keyof Events>(type: K, detail: Events[K]): void;
}
