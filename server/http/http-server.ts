import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { RequestListener } from 'node:http';
import { ListConnections } from './list-method.js';

export interface ListenOptions {
  host: string;
  port: number;
  /** PEM certificate chain and key; plain HTTP when absent. */
  tls?: { cert: Buffer; key: Buffer };
  /** Timeouts and the connection cap; each one left out takes its value from `DEFAULT_LISTENER_LIMITS`. */
  limits?: Partial<ListenerLimits>;
}

/**
 * What one client may hold on a listener before it has authenticated anything. Milliseconds; 0 means no limit.
 * The timeouts are Vault's listener options (`http_read_header_timeout`, `http_read_timeout`,
 * `http_write_timeout`, `http_idle_timeout`) with Vault's defaults; `maxConnections` is Coffer's own.
 */
export interface ListenerLimits {
  /** From accepting a connection (or the end of the previous response) to a complete request head. */
  readHeaderTimeoutMs: number;
  /** From the start of a request to its last body byte. */
  readTimeoutMs: number;
  /** From the request head to the end of the response. */
  writeTimeoutMs: number;
  /** How long a kept-alive connection may sit between requests. */
  idleTimeoutMs: number;
  /** Open connections at once on this listener; further ones are closed as soon as they are accepted. */
  maxConnections: number;
}

export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  readHeaderTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
  writeTimeoutMs: 0,
  idleTimeoutMs: 300_000,
  maxConnections: 4096,
};

export interface RunningListener {
  /** Base URL, e.g. `http://127.0.0.1:8200`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens on one address. Connections arrive at a plain or TLS front server and are handed to Node's HTTP server as
 * they are, which parses them natively. The first `LIST` request on a connection fails in Node's parser; from that
 * request on, the connection passes through a `ListRewritingStream` (see list-method.ts) and is handed over again.
 */
export async function listen(app: RequestListener, options: ListenOptions): Promise<RunningListener> {
  const limits = { ...DEFAULT_LISTENER_LIMITS, ...options.limits };
  // Node refuses a headers timeout above the request timeout; like Go, a zero header timeout falls back to the
  // read timeout.
  const requestTimeout = limits.readTimeoutMs;
  const headersTimeout =
    limits.readHeaderTimeoutMs === 0
      ? requestTimeout
      : requestTimeout === 0
        ? limits.readHeaderTimeoutMs
        : Math.min(limits.readHeaderTimeoutMs, requestTimeout);
  const httpServer = http.createServer(
    {
      keepAliveTimeout: limits.idleTimeoutMs,
      headersTimeout,
      requestTimeout,
      // Node looks for expired requests only this often (30 s by default), which would stretch a 10 s limit to 40 s.
      connectionsCheckingInterval: checkingIntervalMs(headersTimeout, requestTimeout),
    },
    app,
  );
  if (limits.writeTimeoutMs > 0) {
    httpServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const timer = setTimeout(() => req.socket.destroy(), limits.writeTimeoutMs);
      res.on('close', () => clearTimeout(timer));
    });
  }
  const connections = new ListConnections(httpServer, headersTimeout);
  // Requests Node's parser rejects (bad framing, invalid characters, oversized headers) still get Vault's shape.
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    // A refused LIST moves the connection onto the rewriting stream; stale errors of a moved connection are dropped.
    if (connections.claims(err, socket)) return;
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = `{"errors":["malformed HTTP request: ${err.code ?? 'parse error'}"]}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  });
  const front = options.tls
    ? tls.createServer(
        // The HTTP timeouts start once the handshake is done; a client that never finishes it gets the same time.
        { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', ...(headersTimeout > 0 ? { handshakeTimeout: headersTimeout } : {}) },
        (socket) => connections.accept(socket),
      )
    : net.createServer((socket) => connections.accept(socket));
  front.on('tlsClientError', () => {}); // a failed handshake concerns only that client
  // net.Server closes connections beyond the cap right after accepting them.
  if (limits.maxConnections > 0) front.maxConnections = limits.maxConnections;

  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(options.port, options.host, () => {
      front.off('error', reject);
      resolve();
    });
  });
  // Starts Node's own request/headers timeout checks, which normally begin when the HTTP server listens.
  httpServer.emit('listening');

  const port = (front.address() as net.AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      connections.destroyAll();
      httpServer.close(() => {});
      await closed;
    },
  };
}

/** Often enough that a timeout fires within a quarter of its length (at most 1 s late), never more than 10 times a second. */
function checkingIntervalMs(headersTimeout: number, requestTimeout: number): number {
  const shortest = Math.min(...[headersTimeout, requestTimeout].filter((ms) => ms > 0));
  return Number.isFinite(shortest) ? Math.max(100, Math.min(1000, Math.floor(shortest / 4))) : 30_000;
}
