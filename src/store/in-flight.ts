/**
 * Calls for one key while an earlier call for it is in flight share that call's promise: one read,
 * or one normalisation and solve, whatever the number of callers. The key is forgotten once its
 * promise settles, so a later call starts afresh.
 */
export type InFlight<V> = (
  key: string,
  start: () => Promise<V>,
) => { readonly promise: Promise<V>; readonly joined: boolean };

export function createInFlight<V>(): InFlight<V> {
  const pending = new Map<string, Promise<V>>();
  return (key, start) => {
    const earlier = pending.get(key);
    if (earlier) return { promise: earlier, joined: true };
    const promise = start();
    pending.set(key, promise);
    const forget = (): void => void pending.delete(key);
    promise.then(forget, forget);
    return { promise, joined: false };
  };
}
