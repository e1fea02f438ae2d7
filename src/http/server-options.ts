/**
 * The HTTP server's own limits and its answer to requests the parser cannot read: timeouts and
 * connection caps from the configuration, and a `clientError` handler that answers with
 * application/problem+json (the same Problem shape as every other error) where the socket allows.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config.ts';
import { ERRORS, type ErrorCode } from '../errors.ts';
import { PROBLEM_CONTENT_TYPE, problemType } from './problem.ts';

type ServerLimits = Pick<
  Config,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections' | 'maxRequestsPerSocket'
>;

/** An HTTP server for `app` with the configured timeouts and caps and the clientError handler. */
export function createHttpServer(app: RequestListener, config: ServerLimits): Server {
  const server = createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default): a slow sender would
      // otherwise hold its connection up to 30 s past them.
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    },
    app,
  );
  server.maxConnections = config.maxConnections;
  server.maxRequestsPerSocket = config.maxRequestsPerSocket;
  server.on('clientError', answerClientError);
  return server;
}

/** What a parser or timeout error becomes. */
function codeOf(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'HPE_HEADERS_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'MALFORMED_REQUEST';
}

const DETAILS: Readonly<Partial<Record<ErrorCode, string>>> = {
  HEADERS_TOO_LARGE: 'the request headers are larger than the server accepts',
  REQUEST_TIMEOUT: 'the request was not received in time (HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS)',
};

/**
 * Node's clientError event: no request or response exists, so the answer is written to the
 * socket directly, and the connection is closed (the parser's state is unknown after an error).
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const responding =
    (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === 'ECONNRESET' || !socket.writable || responding) {
    socket.destroy();
    return;
  }
  const code = codeOf(error);
  const { status, title } = ERRORS[code];
  const detail =
    DETAILS[code] ??
    `the request could not be parsed as HTTP/1.1 (${error.code ?? 'parse error'}: ${String((error as { reason?: unknown }).reason ?? error.message)})`;
  const body = JSON.stringify({ type: problemType(code), title, status, detail, code });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
