/**
 * Reading a large body for a body worker. Its bytes go into one buffer allocated from the
 * Content-Length and filled chunk by chunk as they arrive, so the copy (and the first touch of the
 * buffer's pages) is spread over the body's data events: collecting the chunks and concatenating
 * them at the end, as body-parser does, copied a megabyte in one turn of the event loop, 10-20 ms
 * on the 2-core machine. The buffer is then handed to the worker without another copy. Errors are
 * body-parser's, which problem.ts already answers; a body with a Content-Encoding is left to
 * body-parser (it inflates).
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

/**
 * Reads the body, at most `limit` bytes, and calls back with it. With a declared length it is read
 * into `stage(length)` (a body pool's staging buffer) when that gives one, else into a Buffer that
 * owns its whole ArrayBuffer: either is transferred to a worker as is.
 */
export function readLargeBody(
  req: Request,
  limit: number,
  done: (error: Error | null, body?: Buffer) => void,
  stage?: (length: number) => Buffer | null,
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
  let buffer =
    (declared !== null ? stage?.(declared) : null) ?? Buffer.allocUnsafeSlow(declared ?? Math.min(limit, 64 * 1024));
  let received = 0;
  function onData(chunk: Buffer): void {
    const needed = received + chunk.length;
    if (needed > limit) {
      tooLarge();
      return;
    }
    if (needed > buffer.length) {
      if (declared !== null) {
        finish(bodyError('request.size.invalid', 400, 'request size did not match content length'));
        req.resume();
        return;
      }
      const grown = Buffer.allocUnsafeSlow(Math.min(limit, Math.max(needed, buffer.length * 2)));
      buffer.copy(grown, 0, 0, received);
      buffer = grown;
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
