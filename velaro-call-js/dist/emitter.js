// A small typed event emitter: no DOM needed, so the client runs in Node's tests as in a page.
export class Emitter {
    listeners = new Map();
    /** Calls `listener` with every `type` event; returns a function that stops it. */
    on(type, listener) {
        let set = this.listeners.get(type);
        if (!set)
            this.listeners.set(type, (set = new Set()));
        set.add(listener);
        return () => set.delete(listener);
    }
    emit(type, detail) {
        for (const listener of this.listeners.get(type) ?? []) {
            try {
                listener(detail);
            }
            catch (error) {
                // A host's listener that throws must not break the call.
                queueMicrotask(() => {
                    throw error;
                });
            }
        }
    }
}
