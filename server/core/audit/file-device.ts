import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CofferError } from '../errors.js';
import { fileMode } from './audit-options.js';

/** Where one device's formatted lines go. */
export interface AuditSink {
  /** Resolves once the line was handed to the operating system. @throws on a failed write. */
  write(line: string): Promise<void>;
  close(): Promise<void>;
}

/** Writes to the server process's standard output (injected: the core does not touch `process`). */
export type StdoutWriter = (text: string) => Promise<void>;

interface Pending {
  text: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The `file` device's sink: appends lines to `file_path`, creating it (and its directory, 0700) with `mode`.
 * Lines waiting while a write is in flight go out together in the next write. Before each write the path is checked
 * to still name the open file: a rotated-away file is re-created, and a path that no longer can be a file
 * (replaced by a directory, parent gone) fails the write — an audit line written into an unlinked inode is lost,
 * so it must not count as logged. A failed write is retried once after re-opening.
 */
export class FileSink implements AuditSink {
  readonly #path: string;
  /** 0 = leave the file's mode as it is. */
  readonly #mode: number;
  #handle: { fh: FileHandle; dev: number; ino: number } | undefined;
  #queue: Pending[] = [];
  #writing = false;
  /** Once closed (the device was disabled or the server sealed), a late write must not re-open the file. */
  #closed = false;

  constructor(filePath: string, mode: number) {
    this.#path = filePath;
    this.#mode = mode;
  }

  write(line: string): Promise<void> {
    if (this.#closed) return Promise.reject(new CofferError('internal', 'the audit device is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ text: line, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#release();
  }

  async #release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.fh.close().catch(() => undefined);
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      try {
        await this.#append(batch.map((p) => p.text).join(''));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.#writing = false;
  }

  async #append(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    try {
      await this.#writeAll(await this.#current(), bytes);
    } catch {
      await this.#release();
      await this.#writeAll(await this.#current(), bytes);
    }
  }

  async #writeAll(fh: FileHandle, bytes: Buffer): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += (await fh.write(bytes, offset)).bytesWritten;
  }

  /** The open handle, re-opened when the path no longer names the file it has open. */
  async #current(): Promise<FileHandle> {
    if (this.#closed) throw new CofferError('internal', 'the audit device is closed');
    if (this.#handle) {
      const now = await stat(this.#path).catch(() => undefined);
      if (now?.dev === this.#handle.dev && now.ino === this.#handle.ino) return this.#handle.fh;
      await this.#release();
    }
    await mkdir(path.dirname(this.#path), { recursive: true, mode: 0o700 });
    const fh = await open(this.#path, 'a', this.#mode === 0 ? 0o600 : this.#mode);
    try {
      if (this.#mode !== 0) await fh.chmod(this.#mode);
      const st = await fh.stat();
      if (this.#closed) throw new CofferError('internal', 'the audit device is closed');
      this.#handle = { fh, dev: st.dev, ino: st.ino };
      return fh;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }
}

/** `file_path = "discard"`: a device that logs nothing and always succeeds (for tests and benchmarks). */
export const DISCARD_SINK: AuditSink = { write: () => Promise.resolve(), close: () => Promise.resolve() };

/**
 * The sink for a file device's options: `stdout` and `discard` (any case) are special, anything else is a path.
 * @throws CofferError `invalid_request` without `file_path` or with a refused mode.
 */
export function fileSinkFor(options: Readonly<Record<string, string>>, stdout: StdoutWriter): AuditSink {
  const filePath = options.file_path ?? options.path;
  if (filePath === undefined || filePath === '') throw new CofferError('invalid_request', 'file_path is required');
  const mode = fileMode(options);
  if (filePath.toLowerCase() === 'discard') return DISCARD_SINK;
  if (filePath.toLowerCase() === 'stdout') return { write: stdout, close: () => Promise.resolve() };
  if (!path.isAbsolute(filePath)) throw new CofferError('invalid_request', `file_path must be absolute: ${JSON.stringify(filePath)}`);
  return new FileSink(filePath, mode);
}
