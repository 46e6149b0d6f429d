// A small typed event emitter: no DOM needed, so the client runs in Node's tests as in a page.

export type Listener<T> = (detail: T) => void;

export class Emitter<Events extends object> {
  private listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Calls `listener` with every `type` event; returns a function that stops it. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  protected emit<K extends keyof Events>(type: K, detail: Events[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        (listener as Listener<Events[K]>)(detail);
      } catch (error) {
        // A host's listener that throws must not break the call.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
