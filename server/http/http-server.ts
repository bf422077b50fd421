import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { RequestListener } from 'node:http';
import { ListRewritingStream } from './list-method.js';

export interface ListenOptions {
  host: string;
  port: number;
  /** PEM certificate chain and key; plain HTTP when absent. */
  tls?: { cert: Buffer; key: Buffer };
}

export interface RunningListener {
  /** Base URL, e.g. `http://127.0.0.1:8200`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens on one address. Connections arrive at a plain or TLS front server, pass through `ListRewritingStream`
 * (so the `LIST` method works) and are handed to Node's HTTP server.
 */
export async function listen(app: RequestListener, options: ListenOptions): Promise<RunningListener> {
  const httpServer = http.createServer({ keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 300_000 }, app);
  // Requests Node's parser rejects (bad framing, invalid characters, oversized headers) still get Vault's shape.
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = `{"errors":["malformed HTTP request: ${err.code ?? 'parse error'}"]}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
  });
  const streams = new Set<ListRewritingStream>();
  const accept = (socket: net.Socket) => {
    const stream = new ListRewritingStream(socket);
    streams.add(stream);
    stream.on('close', () => streams.delete(stream));
    httpServer.emit('connection', stream);
  };
  const front = options.tls
    ? tls.createServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }, accept)
    : net.createServer(accept);
  front.on('tlsClientError', () => {}); // a failed handshake concerns only that client

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
      for (const stream of streams) stream.destroy();
      httpServer.close(() => {});
      await closed;
    },
  };
}
