import { BlockList, isIP } from 'node:net';
import { CofferError } from '../errors.js';

/**
 * Validates a list of CIDR blocks (or bare addresses, taken as /32 or /128) as Vault's `*_bound_cidrs` fields take
 * them: a list or a comma-separated string. @throws CofferError `invalid_request` naming `field` for a bad block.
 */
export function parseCidrs(value: unknown, field: string): string[] {
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  const out: string[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === '') continue;
    const [address, prefix] = item.split('/');
    const family = isIP(address ?? '');
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32) || (prefix !== undefined && !/^\d+$/.test(prefix))) {
      throw new CofferError('invalid_request', `invalid CIDR block "${item}" in ${field}`);
    }
    out.push(`${address}/${bits}`);
  }
  return out;
}

/** Whether `address` (as a socket reports it; IPv4-mapped IPv6 is unwrapped) lies in one of `cidrs`. Empty = any. */
export function cidrsAllow(cidrs: readonly string[], address: string | undefined): boolean {
  if (cidrs.length === 0) return true;
  if (!address) return false;
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const family = isIP(plain);
  if (family === 0) return false;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/');
    const netFamily = isIP(net!) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(net!, Number(bits), netFamily);
  }
  return list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
}
