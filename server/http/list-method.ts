import type http from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * Node's HTTP parser (llhttp) rejects the `LIST` method that hvac and node-vault send, before any framework sees
 * the request. A connection is therefore handed to Node's HTTP server as it is (Node then parses it natively, the
 * fast path) until a request fails with an invalid method that is `LIST`: from that request on, the connection passes
 * through a `ListRewritingStream` that turns `LIST /path` into `GET /path` plus a `X-Coffer-List: true` header, and
 * is handed to Node's HTTP server again as a new connection. The router treats that header exactly like
 * `GET ?list=true`.
 *
 * To rewrite only request lines, the stream follows request framing: a head ends at the first empty line and is
 * followed by `Content-Length` bytes of body. A chunked body (which no Vault client sends) switches the rest of
 * that connection to pass-through, as does an oversized head (which the HTTP parser then rejects itself).
 */
export const LIST_MARKER_HEADER = 'x-coffer-list';

const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const LIST_PREFIX = Buffer.from('LIST ');
/** How much of `LIST ` llhttp accepts before it refuses the method. */
const LIST_ACCEPTED_PREFIX = 2;

/** The parts of Node's HTTP server state on a raw socket that a takeover has to reset (not in the typings). */
type NodeSocket = Socket & {
  _httpMessage?: http.ServerResponse | null;
  _paused?: boolean;
  _handle?: { reading: boolean; readStart(): number } | null;
};

/** The events whose listeners Node's HTTP server adds to a connection it is given. */
const SERVER_EVENTS = ['data', 'end', 'timeout', 'close', 'drain', 'pause', 'resume'] as const;

/**
 * A listener's connections: each is handed to Node's HTTP server as it is, and moved onto a `ListRewritingStream`
 * when Node's parser refuses a `LIST` on it.
 */
export class ListConnections {
  readonly #server: http.Server;
  readonly #headersTimeoutMs: number;
  /** Every open connection, so a listener's close can end them; a taken-over connection stays in it. */
  readonly #sockets = new Set<Socket>();
  /** The listeners Node's HTTP server put on each connection: what a takeover removes. */
  readonly #serverListeners = new WeakMap<Socket, Array<[string, (...args: unknown[]) => void]>>();
  /** Connections whose first parser (which refused a `LIST`) is left behind: what it reports now is stale. */
  readonly #takenOver = new WeakSet<Socket>();

  /** `headersTimeoutMs`: the server's request-head limit (0 for none), enforced on taken-over connections too. */
  constructor(server: http.Server, headersTimeoutMs: number) {
    this.#server = server;
    this.#headersTimeoutMs = headersTimeoutMs;
  }

  /** Hands a newly accepted connection to the HTTP server, which parses it natively. */
  accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    const before = new Map(SERVER_EVENTS.map((event) => [event, new Set(socket.listeners(event))]));
    this.#server.emit('connection', socket);
    this.#serverListeners.set(
      socket,
      SERVER_EVENTS.flatMap((event) =>
        socket
          .listeners(event)
          .filter((listener) => !before.get(event)!.has(listener))
          .map((listener) => [event, listener as (...args: unknown[]) => void] as [string, (...args: unknown[]) => void]),
      ),
    );
  }

  /**
   * For the server's `clientError`: true when the error is this module's to handle — a refused `LIST` (the
   * connection is then taken over) or a stale error of a connection already taken over. False: answer it as usual.
   */
  claims(err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: number }, socket: Socket): boolean {
    if (this.#takenOver.has(socket)) return true;
    if (err.code !== 'HPE_INVALID_METHOD' || !this.#sockets.has(socket) || !Buffer.isBuffer(err.rawPacket) || typeof err.bytesParsed !== 'number')
      return false;
    const list = refusedListRequest(err.rawPacket, err.bytesParsed);
    if (list === undefined) return false;
    this.#takeOver(socket, list);
    return true;
  }

  /** Ends every connection (the listener is closing). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /**
   * Moves a connection whose parser refused `LIST` onto a rewriting stream. `refused` holds the bytes from that
   * request's start; nothing after them has been read yet.
   */
  #takeOver(socket: NodeSocket, refused: Buffer): void {
    this.#takenOver.add(socket);
    // The first parser's listeners for reading go (its 'close' listener stays and frees it with the connection; its
    // 'drain' listener still serves the answers in flight). A 'data' listener makes Node stop feeding the socket to
    // that parser natively (as when it hands a socket to an 'upgrade' handler); that must happen while the socket
    // still reads, and only then is it paused.
    for (const [event, listener] of this.#serverListeners.get(socket) ?? [])
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
      if (this.#headersTimeoutMs > 0) timeHeads(stream, this.#headersTimeoutMs);
      this.#server.emit('connection', stream);
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
  }
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

type Framing = { mode: 'head'; pending: Buffer } | { mode: 'body'; remaining: number } | { mode: 'passthrough' };

export class ListRewritingStream extends Duplex {
  readonly #socket: Socket;
  #framing: Framing = { mode: 'head', pending: Buffer.alloc(0) };
  #heads = 0;

  constructor(socket: Socket) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('timeout', () => this.emit('timeout'));
  }

  /**
   * Takes bytes of the connection: what the socket reads, and (once, before the socket is resumed) what was read
   * before this stream took the connection over.
   */
  receive(chunk: Buffer): void {
    const rewritten = this.#rewrite(chunk);
    // A head held back here is invisible to Node's header timeout on a kept-alive connection; the listener
    // times it itself (see http-server.ts).
    this.emit('headprogress', this.#framing.mode === 'head' && this.#framing.pending.length > 0);
    if (!this.push(rewritten)) this.#socket.pause();
  }

  /** Request heads passed on so far. */
  get completedHeads(): number {
    return this.#heads;
  }

  // --- the parts of net.Socket that Node's HTTP server uses ---
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.#socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.#socket.localPort;
  }
  get encrypted(): boolean {
    return (this.#socket as Socket & { encrypted?: boolean }).encrypted === true;
  }
  // eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type -- mirrors net.Socket#address(), declared AddressInfo | {}
  address(): ReturnType<Socket['address']> {
    return this.#socket.address();
  }
  setTimeout(ms: number, callback?: () => void): this {
    this.#socket.setTimeout(ms);
    if (callback) this.once('timeout', callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy(err ?? undefined);
    callback(err);
  }

  /** Rewrites the request heads in `chunk`; everything else passes unchanged. */
  #rewrite(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let input = chunk;
    while (input.length > 0) {
      const f = this.#framing;
      if (f.mode === 'passthrough') {
        out.push(input);
        break;
      }
      if (f.mode === 'body') {
        const take = Math.min(f.remaining, input.length);
        out.push(input.subarray(0, take));
        input = input.subarray(take);
        this.#framing = f.remaining - take === 0 ? { mode: 'head', pending: Buffer.alloc(0) } : { mode: 'body', remaining: f.remaining - take };
        continue;
      }
      const buffered = f.pending.length > 0 ? Buffer.concat([f.pending, input]) : input;
      // Bytes that cannot start a request line (a TLS ClientHello sent to a plain listener) go straight to Node's
      // parser, which answers 400 at once instead of this stream waiting for a head end that never comes.
      const first = buffered.find((b) => b !== 0x0d && b !== 0x0a);
      if (first !== undefined && !((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) {
        out.push(buffered);
        this.#framing = { mode: 'passthrough' };
        break;
      }
      const end = buffered.indexOf(HEAD_END);
      if (end < 0) {
        if (buffered.length > MAX_HEAD_BYTES) {
          out.push(buffered);
          this.#framing = { mode: 'passthrough' };
        } else {
          this.#framing = { mode: 'head', pending: Buffer.from(buffered) };
        }
        break;
      }
      const head = buffered.subarray(0, end + HEAD_END.length);
      input = buffered.subarray(end + HEAD_END.length);
      out.push(rewriteHead(head));
      this.#heads++;
      this.#framing = nextFraming(head);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/**
 * The bytes of the `LIST` request that Node's parser just refused, from its first byte: `raw` is the chunk the
 * parser was reading and `errorAt` the offset of the byte it refused (Node's `rawPacket` and `bytesParsed`). llhttp
 * accepts `LI` (a prefix of `LINK`) and refuses the `S`. When the request began in an earlier chunk, which the
 * parser has already consumed, the `LI` it accepted there is restored. `undefined` when the refused method is not
 * `LIST` (the request is then answered 400).
 *
 * The restored bytes cannot be checked: a malformed method that llhttp refuses at an `S` at the very start of a
 * chunk, followed by `T `, is read as `LIST` (`GE` then `ST /x` becomes `LIST /x` instead of a 400). The client sent
 * all of those bytes, so it only gets what it could have asked for with `LIST` itself: the request is still
 * authenticated and checked against the `list` capability. Refusing those cases instead would break real LISTs whose
 * first bytes end a TCP segment.
 */
export function refusedListRequest(raw: Buffer, errorAt: number): Buffer | undefined {
  const start = errorAt - LIST_ACCEPTED_PREFIX;
  if (start < -LIST_ACCEPTED_PREFIX || errorAt >= raw.length) return undefined;
  const request = start >= 0 ? raw.subarray(start) : Buffer.concat([LIST_PREFIX.subarray(0, -start), raw]);
  const known = request.subarray(0, Math.min(request.length, LIST_PREFIX.length));
  return known.equals(LIST_PREFIX.subarray(0, known.length)) ? request : undefined;
}

function rewriteHead(head: Buffer): Buffer {
  // Empty lines between requests are allowed before a request line.
  let start = 0;
  while (head[start] === 0x0d || head[start] === 0x0a) start++;
  if (!head.subarray(start, start + LIST_PREFIX.length).equals(LIST_PREFIX)) return head;
  const lineEnd = head.indexOf('\r\n', start);
  const requestLine = 'GET ' + head.subarray(start + LIST_PREFIX.length, lineEnd).toString('latin1');
  return Buffer.concat([head.subarray(0, start), Buffer.from(`${requestLine}\r\n${LIST_MARKER_HEADER}: true`, 'latin1'), head.subarray(lineEnd)]);
}

function nextFraming(head: Buffer): Framing {
  const text = head.toString('latin1');
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(text)) return { mode: 'passthrough' };
  const match = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i.exec(text);
  const length = match ? Number(match[1]) : 0;
  return length > 0 ? { mode: 'body', remaining: length } : { mode: 'head', pending: Buffer.alloc(0) };
}
