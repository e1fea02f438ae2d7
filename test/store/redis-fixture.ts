/**
 * A real redis-server for one describe block and the stores its tests open on it: started before
 * the block, every store closed and the server stopped after it. Call inside the describe callback.
 */
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { createClient } from 'redis';
import type { RedisStoreOptions } from '../../src/store/redis-options.ts';
import { createRedisStore, type RedisPlanStore } from '../../src/store/redis-store.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { RecordingMetrics, untilState } from './store-helpers.ts';

export interface RedisFixture {
  /** The server (to stop, kill, freeze and restart it). */
  readonly server: RedisServer;
  /** A client of its own, for what a test reads or sets in Redis behind the stores' backs. */
  admin(): Promise<ReturnType<typeof createClient>>;
  /** A fresh key prefix: stores on one prefix are replicas of one deployment. */
  prefix(): string;
  /** A connected store on `keyPrefix` with the fixture's options, then `options`. */
  open(keyPrefix: string, options?: Partial<RedisStoreOptions>): Promise<RedisPlanStore>;
  /** Two connected stores on one fresh prefix (two replicas), each with its own metrics. */
  replicas(options?: Partial<RedisStoreOptions>): Promise<{
    a: { store: RedisPlanStore; metrics: RecordingMetrics };
    b: { store: RedisPlanStore; metrics: RecordingMetrics };
    keyPrefix: string;
  }>;
}

export function redisFixture(defaults: Partial<RedisStoreOptions>): RedisFixture {
  let server: RedisServer | undefined;
  let admin: ReturnType<typeof createClient> | undefined;
  const stores: RedisPlanStore[] = [];
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    admin?.destroy();
    await server?.stop();
  });
  const started = (): RedisServer => {
    if (!server) throw new Error('the Redis fixture is used before its server started');
    return server;
  };
  const open = async (keyPrefix: string, options: Partial<RedisStoreOptions> = {}): Promise<RedisPlanStore> => {
    const store = createRedisStore({ url: started().url, ttlMs: 60_000, keyPrefix, ...defaults, ...options });
    stores.push(store);
    await untilState(store, 'ok');
    return store;
  };
  const prefix = (): string => `test-${randomUUID()}:`;
  return {
    get server() {
      return started();
    },
    async admin() {
      if (!admin) {
        admin = createClient({ url: started().url });
        await admin.connect();
      }
      return admin;
    },
    prefix,
    open,
    async replicas(options = {}) {
      const keyPrefix = prefix();
      const replica = async () => {
        const metrics = new RecordingMetrics();
        return { store: await open(keyPrefix, { metrics, ...options }), metrics };
      };
      return { a: await replica(), b: await replica(), keyPrefix };
    },
  };
}
