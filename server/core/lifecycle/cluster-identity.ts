import type { Barrier, BarrierOp } from '../barrier/barrier.js';
import type { Random } from '../clock.js';
import { CofferError } from '../errors.js';

const CLUSTER_PATH = 'core/cluster';

export interface ClusterInfo {
  readonly name: string;
  readonly id: string;
}

/** The cluster's name and id, made at init and stored behind the barrier; known only while unsealed. */
export class ClusterIdentity {
  readonly #barrier: Barrier;
  #info: ClusterInfo | undefined;

  constructor(barrier: Barrier) {
    this.#barrier = barrier;
  }

  /** A new identity, as the barrier write for the init batch. */
  static initialEntry(random: Random, name?: string): BarrierOp {
    // Vault's rule: the configured `cluster_name` names the cluster when it is set up; afterwards the stored name stays.
    const info: ClusterInfo = { name: name ?? `coffer-cluster-${Buffer.from(random.bytes(4)).toString('hex')}`, id: random.uuid() };
    return { type: 'put', path: CLUSTER_PATH, value: new TextEncoder().encode(JSON.stringify(info)) };
  }

  get info(): ClusterInfo | undefined {
    return this.#info ? { ...this.#info } : undefined;
  }

  /** @throws CofferError `integrity` for an entry of the wrong shape. */
  async load(): Promise<void> {
    const raw = await this.#barrier.get(CLUSTER_PATH);
    if (!raw) {
      this.#info = undefined;
      return;
    }
    const j = JSON.parse(new TextDecoder().decode(raw)) as Partial<ClusterInfo>;
    if (typeof j.name !== 'string' || typeof j.id !== 'string') throw new CofferError('integrity', 'the stored cluster identity is malformed');
    this.#info = { name: j.name, id: j.id };
  }

  clear(): void {
    this.#info = undefined;
  }
}
