/**
 * The store's multi-step Redis operations as Lua scripts, so that each is atomic and costs one
 * round trip. node-redis sends them by SHA1 and resends the text when Redis answers NOSCRIPT
 * (after a restart, whose script cache is empty).
 */
import { type CommandParser, defineScript } from 'redis';

/** claim's answer: the plan is stored, the caller now holds the lease, or another holds it. */
export const CLAIM_DONE = 0;
export const CLAIM_OWNER = 1;
const CLAIM_HELD = 2;

/**
 * Writes a plan record unless one of the same version is there (the first solve of an id stays
 * the one every replica serves, so ETags agree across replicas; a record of another version is
 * replaced), renews its TTL, and maps the lookup key, if any.
 * KEYS: plan[, lookup]. ARGV: ttlMs, id, then the record's field/value pairs, 'v' and its value first.
 */
const WRITE_PLAN = `
if redis.call('HGET', KEYS[1], ARGV[3]) ~= ARGV[4] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1]) end
return 1`;

/**
 * Renews a stored plan's TTL and maps the lookup key, without resending the record; 0 when the
 * record is gone (the caller then writes it whole). KEYS: plan[, lookup]. ARGV: ttlMs, id.
 */
const TOUCH_PLAN = `
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1]) end
return 1`;

/**
 * {CLAIM_DONE} when the plan is stored; {CLAIM_OWNER} when the lease was free and is now the
 * caller's; {CLAIM_HELD, pttl} when another holds it for pttl more ms.
 * KEYS: lease, plan. ARGV: token, leaseMs.
 */
const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {${CLAIM_DONE}} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {${CLAIM_OWNER}} end
return {${CLAIM_HELD}, redis.call('PTTL', KEYS[1])}`;

/** Extends the lease if it is still the caller's: 1, else 0. KEYS: lease. ARGV: token, leaseMs. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/**
 * Deletes the lease only if it is still the caller's (compare-and-delete: a lease that expired and
 * was taken over is left to its new owner), then tells every replica to look at the plan again.
 * KEYS: lease. ARGV: token, channel, id.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/**
 * A script called the way Redis runs it, with its KEYS and then its ARGV (each script above names
 * both), answering R. The key count goes with the keys: the plan scripts take one or two.
 */
function script<R>(SCRIPT: string) {
  return defineScript({
    SCRIPT,
    parseCommand(parser: CommandParser, keys: readonly string[], args: readonly (string | Buffer)[]) {
      parser.push(String(keys.length));
      for (const key of keys) parser.pushKey(key);
      for (const arg of args) parser.push(arg);
    },
    transformReply: undefined as unknown as () => R,
  });
}

export const SCRIPTS = {
  writePlan: script<number>(WRITE_PLAN),
  touchPlan: script<number>(TOUCH_PLAN),
  claim: script<number[]>(CLAIM),
  renew: script<number>(RENEW),
  release: script<number>(RELEASE),
};
