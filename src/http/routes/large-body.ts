/**
 * Reading a large body for a body worker: chunk by chunk into one buffer of its declared length
 * (of the body limit when none is declared), normally a body pool's staging buffer, which the
 * worker hands back with the answer. body-parser collected the chunks and concatenated them at
 * the end, and the pool copied that again: two fresh megabytes filled in one turn of the event
 * loop, 4 ms each on the 2-core machine (the first touch of their pages), against 0.05 ms for a
 * staging buffer used before. Errors are body-parser's, which problem.ts already answers; a body
 * with a Content-Encoding is left to body-parser (it inflates).
 */
import type { Request } from 'express';

/** An error shaped as body-parser's (type, status), for problem.ts. */
function bodyError(type: string, status: number, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { type, status, ...extra });
}

/** Whether the reader below handles this request's body (no Content-Encoding). */
export function readsIncrementally(req: Request): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding === undefined || encoding.toLowerCase() === 'identity';
}

/** A buffer of `length` bytes that owns its whole ArrayBuffer (transferable as is). */
const freshBuffer = (length: number): Buffer => Buffer.allocUnsafeSlow(length);

/**
 * Reads the body, at most `limit` bytes, and calls back with it: read into `stage(length)` of its
 * declared length, or of `limit` when none is declared (BodyPool.stage gives a staging buffer).
 */
export function readLargeBody(
  req: Request,
  limit: number,
  done: (error: Error | null, body?: Buffer) => void,
  stage: (length: number) => Buffer = freshBuffer,
): void {
  const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
  let finished = false;
  const finish = (error: Error | null, body?: Buffer): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    req.off('error', onError);
    done(error, body);
  };
  /** Too large: the rest is read and dropped, so that the connection can carry the answer. */
  const tooLarge = (): void => {
    const error = bodyError('entity.too.large', 413, 'request entity too large', { limit });
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    req.resume();
    if (req.complete) finish(error);
    else {
      req.once('end', () => finish(error));
      req.once('close', () => finish(error));
    }
  };
  if (declared !== null && declared > limit) {
    tooLarge();
    return;
  }
  const buffer = stage(declared ?? limit);
  let received = 0;
  function onData(chunk: Buffer): void {
    const needed = received + chunk.length;
    if (needed > limit) {
      tooLarge();
      return;
    }
    // Only a declared length can be passed below the limit.
    if (needed > buffer.length) {
      finish(bodyError('request.size.invalid', 400, 'request size did not match content length'));
      req.resume();
      return;
    }
    chunk.copy(buffer, received);
    received = needed;
  }
  function onEnd(): void {
    if (declared !== null && received !== declared) {
      finish(bodyError('request.size.invalid', 400, 'request size did not match content length'));
      return;
    }
    finish(null, received === buffer.length ? buffer : buffer.subarray(0, received));
  }
  /** Closed before its end: the client went away mid-body. */
  function onClose(): void {
    finish(bodyError('request.aborted', 400, 'request aborted'));
  }
  function onError(error: Error): void {
    finish(error);
  }
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
  req.on('error', onError);
}
