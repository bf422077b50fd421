import type { Clock, Random } from '../../clock.js';
import { CofferError } from '../../errors.js';
import type { BarrierView, LogicalRequest, LogicalResponse, SecretEngine } from '../secret-engine.js';
import { decryptOp, datakeyOp, encryptOp, rewrapOp } from './encryption-ops.js';
import { backupOp, exportOp, restoreOp } from './export-ops.js';
import { configureKey, createKey, deleteKey, readKey, rotateKey, trimKey } from './key-management.js';
import { KeyStore } from './key-store.js';
import { hmacOp, signOp, verifyOp } from './signing-ops.js';
import { destroyKey } from './transit-key.js';
import { hashOp, randomOp } from './utility-ops.js';

/**
 * The transit secrets engine: named keys that never leave the server (unless made exportable) used to encrypt,
 * decrypt, rewrap, make data keys, sign, verify and HMAC, in Vault's wire format; also another server's
 * auto-unseal key service. This class only routes; each family of operations lives in its own module.
 */
export class TransitEngine implements SecretEngine {
  readonly #store: KeyStore;

  constructor(view: BarrierView, clock: Clock, random: Random) {
    this.#store = new KeyStore(view, clock, random);
  }

  async exists(path: string): Promise<boolean> {
    const [kind, name, sub] = path.split('/');
    // Writing keys/<name> or encrypting with an unknown key creates it (Vault's upsert): that is `create`.
    if (!((kind === 'keys' && sub === undefined) || kind === 'encrypt')) return true;
    if (name === undefined || name === '') return false;
    const found = await this.#store.read(name);
    destroyKey(found?.key);
    return found !== undefined;
  }

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const parts = req.path.split('/');
    const [kind, a, b, c] = parts;
    const op = req.operation === 'create' ? 'update' : req.operation;
    const store = this.#store;
    // Vault reads the fields of a GET from the query string.
    const data = op === 'read' ? { ...req.query, ...req.data } : req.data;
    const n = parts.length;
    if (kind === 'keys' && n === 1 && op === 'list') return this.#list();
    if (kind === 'keys' && n === 2 && a) {
      if (op === 'read') return readKey(store, a, data);
      if (op === 'update') return createKey(store, a, data);
      if (op === 'delete') return deleteKey(store, a);
    }
    if (kind === 'keys' && n === 3 && a && op === 'update') {
      if (b === 'rotate') return rotateKey(store, a);
      if (b === 'config') return configureKey(store, a, data);
      if (b === 'trim') return trimKey(store, a, data);
    }
    if (op === 'update' && a && n === 2) {
      if (kind === 'encrypt') return encryptOp(store, a, data);
      if (kind === 'decrypt') return decryptOp(store, a, data);
      if (kind === 'rewrap') return rewrapOp(store, a, data);
    }
    if (kind === 'datakey' && n === 3 && op === 'update' && a && b) return datakeyOp(store, a, b, data);
    if (op === 'update' && a && (n === 2 || n === 3)) {
      if (kind === 'sign') return signOp(store, a, b, data);
      if (kind === 'verify') return verifyOp(store, a, b, data);
      if (kind === 'hmac') return hmacOp(store, a, b, data);
    }
    if (kind === 'hash' && n <= 2 && op === 'update') return hashOp(a, data);
    if (kind === 'random' && n <= 3 && op === 'update')
      return randomOp(
        store.random,
        parts.slice(1).filter((p) => p !== ''),
        data,
      );
    if (kind === 'export' && op === 'read' && a && b && (n === 3 || n === 4)) return exportOp(store, a, b, c, data);
    if (kind === 'backup' && op === 'read' && a && n === 2) return backupOp(store, a);
    if (kind === 'restore' && op === 'update' && n <= 2) return restoreOp(store, a, data);
    throw new CofferError('unsupported_path', 'unsupported path');
  }

  /**
   * Periodic work: rotates the keys whose `auto_rotate_period` has passed (by the injected clock). Keys are also
   * rotated on their next use, so calling this is optional; it makes unused keys rotate on time as well.
   * @returns the names of the keys rotated.
   */
  maintenance(): Promise<string[]> {
    return this.#store.rotateDue();
  }

  async #list(): Promise<LogicalResponse | undefined> {
    const keys = await this.#store.list();
    return keys.length === 0 ? undefined : { data: { keys } };
  }
}
