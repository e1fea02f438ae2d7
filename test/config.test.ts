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
      PORT: '9000', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SOLVER_WORKERS: '3', CACHE_MAX_ENTRIES: '10', CACHE_TTL_MS: '5000',
      MAX_BODY_BYTES: '4096', MAX_PROBLEM_SIZE: '100', MAX_TIME_LIMIT_MS: '2000', DEFAULT_TIME_LIMIT_MS: '1000',
      MAX_CONCURRENT_PLANS: '4', MAX_QUEUED_PLANS: '0', DRAIN_TIMEOUT_MS: '100',
    });
    assert.deepEqual({ ...config }, {
      port: 9000, host: '127.0.0.1', logLevel: 'warn', solverWorkers: 3, cacheMaxEntries: 10, cacheTtlMs: 5000,
      maxBodyBytes: 4096, maxProblemSize: 100, maxTimeLimitMs: 2000, defaultTimeLimitMs: 1000,
      maxConcurrentPlans: 4, maxQueuedPlans: 0, drainTimeoutMs: 100,
    });
  });

  it('treats empty variables as unset', () => {
    assert.equal(loadConfig({ PORT: '', LOG_LEVEL: ' ' }).port, 8080);
  });

  it('rejects every invalid value at once, naming each', () => {
    assert.throws(
      () => loadConfig({ PORT: '80a', SOLVER_WORKERS: '0', CACHE_TTL_MS: '-1', LOG_LEVEL: 'loud' }),
      (e: Error) => ['PORT="80a"', 'SOLVER_WORKERS="0"', 'CACHE_TTL_MS="-1"', 'LOG_LEVEL="loud"'].every((s) => e.message.includes(s)),
    );
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT/);
    assert.throws(() => loadConfig({ DEFAULT_TIME_LIMIT_MS: '5000', MAX_TIME_LIMIT_MS: '1000' }), /must not exceed MAX_TIME_LIMIT_MS/);
  });
});
