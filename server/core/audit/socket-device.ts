import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIP, type Socket } from 'node:net';
import { CofferError } from '../errors.js';
import { parseAddress } from '../net-address.js';
import type { AuditSink } from './file-device.js';

export type SocketType = 'tcp' | 'udp' | 'unix';

/**
 * The `socket` device's sink: each line goes to `address` over TCP, UDP or a Unix stream socket. Writes are sent
 * one after another; a failed write reconnects once and retries (Vault's behaviour). A device that hangs is bounded
 * by the broker's per-device `write_timeout`, after which the connection is dropped and made again for the next line.
 */
export class SocketSink implements AuditSink {
  readonly #address: string;
  readonly #type: SocketType;
  #stream: Socket | undefined;
  #udp: UdpSocket | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(address: string, type: SocketType) {
    this.#address = address;
    this.#type = type;
  }

  write(line: string): Promise<void> {
    if (this.#closed) return Promise.reject(new CofferError('internal', 'the audit device is closed'));
    const next = this.#chain.then(async () => {
      try {
        await this.#send(line);
      } catch {
        this.#drop();
        await this.#send(line);
      }
    });
    // A failure fails this line only; the next one starts from a fresh connection.
    this.#chain = next.catch(() => this.#drop());
    return next;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#drop();
    return Promise.resolve();
  }

  #drop(): void {
    this.#stream?.destroy();
    this.#stream = undefined;
    this.#udp?.close();
    this.#udp = undefined;
  }

  async #send(line: string): Promise<void> {
    if (this.#type === 'udp') return this.#sendUdp(line);
    const stream = this.#stream ?? (await this.#connect());
    await new Promise<void>((resolve, reject) => {
      stream.write(line, (err) => (err ? reject(err) : resolve()));
    });
  }

  async #connect(): Promise<Socket> {
    const target = this.#type === 'unix' ? { path: this.#address } : parseAddress(this.#address);
    const stream = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    stream.setNoDelay?.(true);
    await new Promise<void>((resolve, reject) => {
      stream.once('connect', resolve);
      stream.once('error', reject);
    });
    // Later errors surface through the failing write; never as an unhandled 'error' event.
    stream.on('error', () => this.#drop());
    stream.on('close', () => {
      if (this.#stream === stream) this.#stream = undefined;
    });
    this.#stream = stream;
    return stream;
  }

  #sendUdp(line: string): Promise<void> {
    const { host, port } = parseAddress(this.#address);
    const udp = this.#udp ?? createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    if (!this.#udp) {
      udp.on('error', () => this.#drop());
      this.#udp = udp;
    }
    return new Promise<void>((resolve, reject) => udp.send(line, port, host, (err) => (err ? reject(err) : resolve())));
  }
}

/**
 * The sink for a socket device's options.
 * @throws CofferError `invalid_request` without `address` or with an unknown `socket_type`.
 */
export function socketSinkFor(options: Readonly<Record<string, string>>): AuditSink {
  const { address, type } = socketTarget(options);
  return new SocketSink(address, type);
}

/** @throws CofferError `invalid_request` for a missing address, an unknown type or a malformed host:port. */
export function socketTarget(options: Readonly<Record<string, string>>): { address: string; type: SocketType } {
  const address = options.address ?? '';
  if (address === '') throw new CofferError('invalid_request', 'address is required');
  const type = (options.socket_type ?? 'tcp').toLowerCase();
  if (type !== 'tcp' && type !== 'udp' && type !== 'unix')
    throw new CofferError('invalid_request', `unsupported socket_type "${type}": tcp, udp or unix`);
  if (type !== 'unix') {
    try {
      parseAddress(address);
    } catch {
      throw new CofferError('invalid_request', `invalid address ${JSON.stringify(address)}: expected host:port`);
    }
  }
  return { address, type };
}
