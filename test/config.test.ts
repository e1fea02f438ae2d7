import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';

describe('loadConfig', () => {
  it('has defaults for everything and freezes the result', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.logLevel, 'info');
    assert.ok(config.solverWorkers >= 1);
    assert.ok(config.defaultTimeLimitMs <= config.maxTimeLimitMs);
    assert.ok(Object.isFrozen(config));
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SOLVER_WORKERS: '3',
      CACHE_MAX_ENTRIES: '10',
      CACHE_MAX_BYTES: '2048',
      URL_MEMO_MAX_BYTES: '4096',
      CACHE_TTL_MS: '5000',
      MAX_BODY_BYTES: '4096',
      MAX_BODY_CONTAINERS: '99',
      MAX_PROBLEM_SIZE: '100',
      MAX_LAYERS: '8',
      MAX_UNITS: '16',
      MAX_LAYER_UNITS: '64',
      MAX_PINS: '5',
      MAX_PLAN_BYTES: '10000',
      MAX_TIME_LIMIT_MS: '2000',
      DEFAULT_TIME_LIMIT_MS: '1000',
      MAX_CONCURRENT_PLANS: '4',
      MAX_QUEUED_PLANS: '0',
      DRAIN_TIMEOUT_MS: '100',
      API_KEYS: ' key-aaaaaaaaaaaaaaaa , key-bbbbbbbbbbbbbbbb ',
      AUTH_READS: 'true',
      RATE_LIMIT_MAX: '7',
      RATE_LIMIT_WINDOW_MS: '2000',
      HEADERS_TIMEOUT_MS: '500',
      REQUEST_TIMEOUT_MS: '900',
      KEEP_ALIVE_TIMEOUT_MS: '300',
      MAX_CONNECTIONS: '50',
      MAX_REQUESTS_PER_SOCKET: '20',
      MAX_UNREAD_BYTES: '65536',
      MAX_PIPELINED_REQUESTS: '3',
      SOLVER_SPARE_WORKERS: '2',
      BODY_WORKERS: '2',
      BODY_WORKER_THRESHOLD_BYTES: '1000',
      MAX_QUEUED_BODIES: '3',
      BODY_TIME_LIMIT_MS: '700',
      TRUST_PROXY: '2',
      REDIS_URL: 'rediss://user:secret@redis.example:6380/2',
      REDIS_KEY_PREFIX: 'blue:',
      REDIS_COMMAND_TIMEOUT_MS: '250',
      REDIS_CONNECT_TIMEOUT_MS: '3000',
      REDIS_LEASE_MS: '5000',
    });
    assert.deepEqual(
      { ...config },
      {
        port: 9000,
        host: '127.0.0.1',
        logLevel: 'warn',
        solverWorkers: 3,
        cacheMaxEntries: 10,
        cacheMaxBytes: 2048,
        urlMemoMaxBytes: 4096,
        cacheTtlMs: 5000,
        maxBodyBytes: 4096,
        maxBodyContainers: 99,
        maxProblemSize: 100,
        maxLayers: 8,
        maxUnits: 16,
        maxLayerUnits: 64,
        maxPins: 5,
        maxPlanBytes: 10000,
        maxTimeLimitMs: 2000,
        defaultTimeLimitMs: 1000,
        maxConcurrentPlans: 4,
        maxQueuedPlans: 0,
        drainTimeoutMs: 100,
        apiKeys: ['key-aaaaaaaaaaaaaaaa', 'key-bbbbbbbbbbbbbbbb'],
        authReads: true,
        rateLimitMax: 7,
        rateLimitWindowMs: 2000,
        headersTimeoutMs: 500,
        requestTimeoutMs: 900,
        keepAliveTimeoutMs: 300,
        maxConnections: 50,
        maxRequestsPerSocket: 20,
        maxUnreadBytes: 65536,
        maxPipelinedRequests: 3,
        spareWorkers: 2,
        bodyWorkers: 2,
        bodyWorkerThresholdBytes: 1000,
        maxQueuedBodies: 3,
        bodyTimeLimitMs: 700,
        trustProxy: 2,
        redisUrl: 'rediss://user:secret@redis.example:6380/2',
        redisKeyPrefix: 'blue:',
        redisCommandTimeoutMs: 250,
        redisConnectTimeoutMs: 3000,
        redisLeaseMs: 5000,
      },
    );
  });

  it('uses the memory store and trusts no proxy unless told', () => {
    const config = loadConfig({});
    assert.equal(config.redisUrl, null);
    assert.equal(config.redisKeyPrefix, 'hplb:');
    assert.equal(config.trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, false);
  });

  it('takes proxies as addresses, subnets and named ranges, and refuses to trust every client', () => {
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.168.1.7' }).trustProxy, [
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '192.168.1.7',
    ]);
    for (const value of ['true', '10.0.0.0/33', 'proxy.example', '17', '10.0.0.1/8/2'])
      assert.throws(() => loadConfig({ TRUST_PROXY: value }), /TRUST_PROXY/, value);
  });

  it('refuses a REDIS_URL that is not a Redis URL without repeating it (it may hold a password)', () => {
    for (const value of ['http://user:hunter2@redis:6379', 'redis://', 'hunter2', 'redis:hunter2']) {
      assert.throws(
        () => loadConfig({ REDIS_URL: value }),
        (e: Error) => e.message.includes('REDIS_URL') && !e.message.includes('hunter2'),
        value,
      );
    }
    assert.throws(() => loadConfig({ REDIS_KEY_PREFIX: 'has space' }), /REDIS_KEY_PREFIX/);
    assert.throws(() => loadConfig({ REDIS_LEASE_MS: '10' }), /REDIS_LEASE_MS/);
  });

  it('refuses short API keys and a non-boolean AUTH_READS', () => {
    assert.throws(() => loadConfig({ API_KEYS: 'short' }), /API_KEYS/);
    assert.throws(() => loadConfig({ AUTH_READS: 'yes' }), /AUTH_READS/);
  });

  it('treats empty variables as unset', () => {
    assert.equal(loadConfig({ PORT: '', LOG_LEVEL: ' ' }).port, 8080);
  });

  it('rejects every invalid value at once, naming each', () => {
    assert.throws(
      () => loadConfig({ PORT: '80a', SOLVER_WORKERS: '0', CACHE_TTL_MS: '-1', LOG_LEVEL: 'loud' }),
      (e: Error) =>
        ['PORT="80a"', 'SOLVER_WORKERS="0"', 'CACHE_TTL_MS="-1"', 'LOG_LEVEL="loud"'].every((s) =>
          e.message.includes(s),
        ),
    );
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT/);
    assert.throws(
      () => loadConfig({ DEFAULT_TIME_LIMIT_MS: '5000', MAX_TIME_LIMIT_MS: '1000' }),
      /must not exceed MAX_TIME_LIMIT_MS/,
    );
  });
});
