import { randomBytes, randomUUID } from 'node:crypto';

/** Time source, injected so TTLs and automatic rotation are testable without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Randomness source, injected for the same reason. Production uses the OS CSPRNG. */
export interface Random {
  bytes(n: number): Uint8Array;
  uuid(): string;
}

export const systemRandom: Random = {
  bytes: (n) => new Uint8Array(randomBytes(n)),
  uuid: () => randomUUID(),
};

/** RFC3339 with nine fractional digits, as Vault prints install times (JS time has millisecond precision). */
export function rfc3339Nano(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}
