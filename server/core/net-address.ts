import net from 'node:net';

/** Splits `host:port` (IPv6 as `[::1]:8200`). */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address.trim());
  if (!match) throw new Error(`invalid listener address "${address}" (expected host:port)`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`invalid listener port in "${address}"`);
  return { host: (match[1] ?? match[2])!, port };
}

/** Whether `host` (a name or an IP address, IPv6 with or without brackets) is this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  host = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}
