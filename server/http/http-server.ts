import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { RequestListener } from 'node:http';
import { ListRewritingStream, refusedListRequest } from './list-method.js';

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

/** The parts of Node's HTTP server state on a raw socket that a takeover has to reset (not in the typings). */
type NodeSocket = net.Socket & {
  _httpMessage?: http.ServerResponse | null;
  _paused?: boolean;
  _handle?: { reading: boolean; readStart(): number } | null;
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
  /** Every open connection, so close() can end them; a connection taken over by a rewriting stream stays in it. */
  const sockets = new Set<net.Socket>();
  /** The listeners Node's HTTP server put on each raw connection: what a takeover removes. */
  const serverListeners = new WeakMap<net.Socket, Array<[string, (...args: unknown[]) => void]>>();
  /** Connections whose first parser (which refused a `LIST`) is left behind: what it reports now is stale. */
  const takenOver = new WeakSet<net.Socket>();
  /**
   * Moves a connection whose parser refused `LIST` onto a rewriting stream. `refused` holds the bytes from that
   * request's start; nothing after them has been read yet.
   */
  const takeOver = (socket: NodeSocket, refused: Buffer) => {
    takenOver.add(socket);
    // The first parser's listeners for reading go (its 'close' listener stays and frees it with the connection; its
    // 'drain' listener still serves the answers in flight). A 'data' listener makes Node stop feeding the socket to
    // that parser natively (as when it hands a socket to an 'upgrade' handler); that must happen while the socket
    // still reads, and only then is it paused.
    for (const [event, listener] of serverListeners.get(socket) ?? [])
      if (event !== 'close' && event !== 'drain') socket.removeListener(event, listener);
    const held: Buffer[] = [refused];
    const hold = (chunk: Buffer) => void held.push(chunk);
    socket.on('data', hold);
    socket.pause();
    // The stream's answers must follow those to the requests before the LIST (pipelined), so it takes over once they
    // have gone out.
    const whenIdle = () => {
      if (socket.destroyed) return;
      const inFlight = socket._httpMessage;
      if (inFlight && !inFlight.writableFinished) return void inFlight.once('finish', () => setImmediate(whenIdle));
      socket.removeListener('data', hold);
      // The first parser's keep-alive timer would otherwise go on running under the stream's first request; the
      // stream's server sets its own timers through the stream.
      socket.setTimeout(0);
      const stream = new ListRewritingStream(socket);
      if (headersTimeout > 0) timeHeads(stream, headersTimeout);
      httpServer.emit('connection', stream);
      stream.receive(Buffer.concat(held));
      // Node stops reading a consumed socket whose client does not read its answers, and only its own resume hook
      // (gone with the parser) would start it again.
      socket._paused = false;
      socket.resume();
      if (socket._handle && !socket._handle.reading) {
        socket._handle.reading = true;
        socket._handle.readStart();
      }
    };
    setImmediate(whenIdle);
  };
  // Requests Node's parser rejects (bad framing, invalid characters, oversized headers) still get Vault's shape.
  httpServer.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: number }, socket: net.Socket) => {
    if (takenOver.has(socket)) return;
    const list =
      err.code === 'HPE_INVALID_METHOD' && sockets.has(socket) && Buffer.isBuffer(err.rawPacket) && typeof err.bytesParsed === 'number'
        ? refusedListRequest(err.rawPacket, err.bytesParsed)
        : undefined;
    if (list !== undefined) return takeOver(socket, list);
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = `{"errors":["malformed HTTP request: ${err.code ?? 'parse error'}"]}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  });
  const accept = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const events = ['data', 'end', 'timeout', 'close', 'drain', 'pause', 'resume'] as const;
    const before = new Map(events.map((event) => [event, new Set(socket.listeners(event))]));
    httpServer.emit('connection', socket);
    serverListeners.set(
      socket,
      events.flatMap((event) =>
        socket
          .listeners(event)
          .filter((listener) => !before.get(event)!.has(listener))
          .map((listener) => [event, listener as (...args: unknown[]) => void] as [string, (...args: unknown[]) => void]),
      ),
    );
  };
  const front = options.tls
    ? tls.createServer(
        // The HTTP timeouts start once the handshake is done; a client that never finishes it gets the same time.
        { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', ...(headersTimeout > 0 ? { handshakeTimeout: headersTimeout } : {}) },
        accept,
      )
    : net.createServer(accept);
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
      for (const socket of sockets) socket.destroy();
      httpServer.close(() => {});
      await closed;
    },
  };
}

/**
 * Node times a request head from the first byte its parser sees, but `ListRewritingStream` holds a head back until
 * it is complete. For the first request through the stream Node starts its clock when the stream is handed over (and
 * answers 408); for the next ones on a kept-alive connection it would never start, and a client trickling a head
 * would hold the connection for as long as it keeps sending. So from the second head on, the time from its first
 * byte to its end is limited here.
 */
function timeHeads(stream: ListRewritingStream, timeoutMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  stream.on('headprogress', (inProgress: boolean) => {
    if (inProgress && !timer && stream.completedHeads > 0) {
      timer = setTimeout(() => stream.destroy(), timeoutMs);
    } else if (!inProgress && timer) {
      clearTimeout(timer);
      timer = undefined;
    }
  });
  stream.on('close', () => clearTimeout(timer));
}

/** Often enough that a timeout fires within a quarter of its length (at most 1 s late), never more than 10 times a second. */
function checkingIntervalMs(headersTimeout: number, requestTimeout: number): number {
  const shortest = Math.min(...[headersTimeout, requestTimeout].filter((ms) => ms > 0));
  return Number.isFinite(shortest) ? Math.max(100, Math.min(1000, Math.floor(shortest / 4))) : 30_000;
}
