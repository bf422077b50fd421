import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { CofferError } from '../errors.js';

/**
 * Password hashing with scrypt from node:crypto (OpenSSL's implementation): a memory-hard KDF maintained with
 * Node itself, so no native add-on to build (bcrypt) and no pure-JS reimplementation (bcryptjs) to trust.
 * Parameters: N=2^15, r=8, p=1 (32 MiB, OWASP's recommended minimum for scrypt), 16-byte salt, 32-byte output.
 * The encoded form names its parameters so they can be raised later without breaking stored hashes.
 */
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const MAX_MEMORY = 128 * N * R * 2;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { N: n, r, p, maxmem: MAX_MEMORY }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** A hash of nothing anyone knows, verified against for unknown users so they cost what a known user costs. */
let dummy: Promise<string> | undefined;

/**
 * Whether `password` matches `encoded`. With `encoded` undefined (no such user) the same work is done against a
 * dummy hash and false returned, so response time does not tell whether a user exists.
 * @throws CofferError `integrity` for a malformed stored hash.
 */
export async function verifyPassword(password: string, encoded: string | undefined): Promise<boolean> {
  const target = encoded ?? (await (dummy ??= hashPassword(randomBytes(16).toString('base64'))));
  const parts = target.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw new CofferError('integrity', 'malformed password hash');
  const [, n, r, p, salt, hash] = parts;
  const expected = Buffer.from(hash!, 'base64');
  const actual = await derive(password, Buffer.from(salt!, 'base64'), Number(n), Number(r), Number(p));
  const same = actual.length === expected.length && timingSafeEqual(actual, expected);
  return same && encoded !== undefined;
}
