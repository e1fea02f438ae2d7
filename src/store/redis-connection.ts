/**
 * The store's two Redis connections (commands, and a subscriber for "plan solved" messages) and
 * what it knows of their health. Every command goes through `attempt`, which never rejects: a
 * refused, failed or timed-out command is counted and answers FAULT, and the store is degraded
 * from then until a command (or a probe) succeeds again. Reconnection is node-redis's own, with
 * exponential backoff; while a connection is down its commands fail at once rather than queue
 * (disableOfflineQueue), so no request waits for Redis to come back.
 */
import { createClient, ErrorReply, RESP_TYPES } from 'redis';
import type { StoreState } from './plan-store.ts';
import { SCRIPTS } from './redis-scripts.ts';
import type { StoreMetricsSink, StoreOperation } from './store-metrics.ts';

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  readonly url: string;
  /** Longest a command may take, sent and answered, ms: past it the command is a fault. */
  readonly commandTimeoutMs: number;
  /** Longest a connection attempt may take, ms. */
  readonly connectTimeoutMs: number;
  /** Reconnection backoff: the first retry's delay, doubled on each failure up to the maximum, ms. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** How often a degraded store pings Redis to learn that it answers again, ms. */
  readonly probeIntervalMs: number;
  readonly metrics: StoreMetricsSink;
  /** Receives each message published on `channel` (the subscriber's connection). */
  readonly channel: string;
  readonly onMessage: (message: string) => void;
}

/** What `attempt` answers when the command failed. */
export const FAULT: unique symbol = Symbol('redis fault');
export type Fault = typeof FAULT;

export type RedisCommands = ReturnType<typeof createCommandClient>;

export interface RedisConnection {
  /** Runs a command; its result, or FAULT (counted under `operation`) when it failed. */
  attempt<T>(operation: StoreOperation, command: (client: RedisCommands) => Promise<T>): Promise<T | Fault>;
  /**
   * Sends a raw command (text in, text out) for a library that speaks Redis itself (rate-limit-redis).
   * It rejects when it fails: a fault of the connection is counted under `operation` and makes
   * the store degraded; an error Redis answered with (NOSCRIPT, say) is the caller's to handle.
   */
  send(operation: StoreOperation, args: readonly string[]): Promise<unknown>;
  state(): StoreState;
  /** Calls `listener` on every change of state; returns the function that stops it. */
  onState(listener: (state: StoreState) => void): () => void;
  close(): Promise<void>;
}

function createCommandClient(options: RedisConnectionOptions) {
  return createClient({
    url: options.url,
    scripts: SCRIPTS,
    disableOfflineQueue: true,
    commandOptions: {
      timeout: options.commandTimeoutMs,
      // The timeout also covers a command already sent to a Redis that stopped answering.
      rejectInFlight: true,
      // Bodies and placements are bytes: bulk strings come back as Buffers, never decoded.
      typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
    },
    socket: {
      connectTimeout: options.connectTimeoutMs,
      // Exponential backoff with jitter, so replicas that lost Redis together do not return in step.
      reconnectStrategy: (retries) =>
        Math.min(options.reconnectMaxMs, options.reconnectMinMs * 2 ** Math.min(retries, 20)) *
        (0.8 + 0.4 * Math.random()),
    },
  });
}

/** Connects in the background: the store answers (degraded) before Redis is reachable. */
export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const client = createCommandClient(options);
  // Subscribing is off every request's path: no command timeout, so a slow Redis only delays it.
  const subscriber = client.duplicate({ commandOptions: {} });
  const listeners = new Set<(state: StoreState) => void>();
  let state: StoreState = 'degraded';
  let closed = false;
  let subscribed = false;
  let probe: NodeJS.Timeout | undefined;

  // Once subscribed, re-subscribing after a reconnection is node-redis's own; a subscription that
  // failed is tried again on the next connection or recovery. A message missed meanwhile costs a
  // waiter at most one lease period (it looks again when the lease would expire).
  function ensureSubscribed(): void {
    if (subscribed || closed || !subscriber.isReady) return;
    subscribed = true;
    subscriber.subscribe(options.channel, options.onMessage).catch(() => {
      subscribed = false;
      options.metrics.storeError('subscribe');
    });
  }

  function setState(next: StoreState): void {
    if (next === state || closed) return;
    state = next;
    if (next === 'degraded') {
      probe = setInterval(ping, options.probeIntervalMs);
      probe.unref();
    } else {
      clearInterval(probe);
      ensureSubscribed();
    }
    // Not inside the command that noticed the change: a listener's error must not become the store's.
    for (const listener of listeners) queueMicrotask(() => listener(next));
  }

  function ping(): void {
    client.ping().then(
      () => setState('ok'),
      () => undefined,
    );
  }

  // node-redis emits every socket error; without a listener Node would throw it.
  client.on('error', () => setState('degraded'));
  client.on('ready', () => setState('ok'));
  subscriber.on('error', () => undefined);
  subscriber.on('ready', ensureSubscribed);
  // Until the first connection the store is degraded, and probes like any other time.
  probe = setInterval(ping, options.probeIntervalMs);
  probe.unref();
  client.connect().catch(() => undefined);
  subscriber.connect().catch(() => undefined);

  return {
    async attempt(operation, command) {
      try {
        const result = await command(client);
        setState('ok');
        return result;
      } catch {
        options.metrics.storeError(operation);
        setState('degraded');
        return FAULT;
      }
    },
    async send(operation, args) {
      try {
        const reply = await client.sendCommand([...args], { typeMapping: {} });
        setState('ok');
        return reply;
      } catch (error) {
        if (error instanceof ErrorReply) setState('ok');
        else {
          options.metrics.storeError(operation);
          setState('degraded');
        }
        throw error;
      }
    },
    state: () => state,
    onState(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearInterval(probe);
      listeners.clear();
      // destroy, not close: close would wait for queued commands, possibly on a Redis that is gone.
      client.destroy();
      subscriber.destroy();
    },
  };
}
