import type { HaCoordinator } from '../core/ha/ha-coordinator.js';

/** What the HTTP layer reads of the HA coordinator. */
export type HaView = Pick<HaCoordinator, 'role' | 'activeSince' | 'apiAddr' | 'nodeId' | 'leader' | 'members' | 'stepDown'>;

/**
 * Paths every node answers itself, as Vault does: the seal/unseal/init/health/leader family (each node has its own
 * seal state), HA status and metrics. Everything else on a standby goes to the active node.
 */
const LOCAL_PATHS = new Set(['sys/init', 'sys/seal-status', 'sys/seal', 'sys/unseal', 'sys/leader', 'sys/health', 'sys/ha-status', 'sys/metrics']);

export type StandbyAnswer = { redirect: string } | { status: number; error: string };

/**
 * A standby's answer to a request for `path` (`url` = the path and raw query as sent): a 307 to the same path
 * and query on the active node's `api_addr`, or Vault's 503 when no node is active. Undefined when this node
 * answers itself (active, sealed, or a local path).
 */
export async function standbyAnswer(ha: HaView, path: string, url: string): Promise<StandbyAnswer | undefined> {
  if (ha.role !== 'standby' || LOCAL_PATHS.has(path)) return undefined;
  let leader;
  try {
    leader = await ha.leader();
  } catch {
    return { status: 500, error: 'local node not active but active cluster node not found' };
  }
  if (!leader || leader.node_id === ha.nodeId) return { status: 503, error: 'no active Vault instance found' };
  let base: URL;
  try {
    // Vault defaults a scheme-less api_addr to https.
    base = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(leader.api_addr) ? leader.api_addr : `https://${leader.api_addr}`);
  } catch {
    return { status: 500, error: 'local node not active but active cluster node not found' };
  }
  return { redirect: `${base.protocol}//${base.host}${url}` };
}
