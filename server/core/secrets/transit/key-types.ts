import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { MAX_OPERATIONS_LIMIT } from '../../barrier/keyring.js';
import { CofferError } from '../../errors.js';

/** The key types transit offers, under Vault's names. */
export const KEY_TYPES = [
  'aes128-gcm96',
  'aes256-gcm96',
  'chacha20-poly1305',
  'ed25519',
  'ecdsa-p256',
  'ecdsa-p384',
  'ecdsa-p521',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
] as const;

export type KeyType = (typeof KEY_TYPES)[number];

export const DEFAULT_KEY_TYPE: KeyType = 'aes256-gcm96';

/** What a key type can do, as `GET keys/:name` reports it. */
export interface KeyTypeInfo {
  symmetric: boolean;
  encryption: boolean;
  signing: boolean;
  derivation: boolean;
  /** Encryptions allowed under one version before it must be rotated (random 96-bit nonces); 0 = no limit. */
  encryptionLimit: number;
  /** Symmetric key length in bytes. */
  keyBytes?: number;
  /** node:crypto's cipher name for symmetric keys. */
  cipher?: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  /** Curve name as Vault reports it (`P-256`) and as node:crypto calls it. */
  curve?: { vault: string; node: string; bits: number };
  rsaBits?: number;
}

const SYMMETRIC = { symmetric: true, encryption: true, signing: false, derivation: true, encryptionLimit: MAX_OPERATIONS_LIMIT } as const;
const RSA = { symmetric: false, encryption: true, signing: true, derivation: false, encryptionLimit: 0 } as const;
const ECDSA = { symmetric: false, encryption: false, signing: true, derivation: false, encryptionLimit: 0 } as const;

export const KEY_TYPE_INFO: Record<KeyType, KeyTypeInfo> = {
  'aes128-gcm96': { ...SYMMETRIC, keyBytes: 16, cipher: 'aes-128-gcm' },
  'aes256-gcm96': { ...SYMMETRIC, keyBytes: 32, cipher: 'aes-256-gcm' },
  // ChaCha20-Poly1305 with random 96-bit nonces has the same birthday bound as GCM, so the same limit applies.
  'chacha20-poly1305': { ...SYMMETRIC, keyBytes: 32, cipher: 'chacha20-poly1305' },
  ed25519: { symmetric: false, encryption: false, signing: true, derivation: true, encryptionLimit: 0, keyBytes: 32 },
  'ecdsa-p256': { ...ECDSA, curve: { vault: 'P-256', node: 'prime256v1', bits: 256 } },
  'ecdsa-p384': { ...ECDSA, curve: { vault: 'P-384', node: 'secp384r1', bits: 384 } },
  'ecdsa-p521': { ...ECDSA, curve: { vault: 'P-521', node: 'secp521r1', bits: 521 } },
  'rsa-2048': { ...RSA, rsaBits: 2048 },
  'rsa-3072': { ...RSA, rsaBits: 3072 },
  'rsa-4096': { ...RSA, rsaBits: 4096 },
};

export function isKeyType(value: unknown): value is KeyType {
  return typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value);
}

/** @throws CofferError `invalid_request` with Vault's message for an unknown type. */
export function parseKeyType(value: unknown): KeyType {
  const type = value === undefined || value === null || value === '' ? DEFAULT_KEY_TYPE : value;
  if (!isKeyType(type)) throw new CofferError('invalid_request', `unknown key type ${String(type)}`);
  return type;
}

const generatePair = promisify(generateKeyPair);

/**
 * New private key material for `type`: raw key bytes for symmetric keys, the 32-byte seed for ed25519 and PKCS#8
 * DER for ECDSA and RSA. `randomBytes` supplies symmetric keys and ed25519 seeds (the injected source); ECDSA and
 * RSA keys come from OpenSSL's generator, off the event loop (an RSA-4096 key takes a noticeable time).
 */
export async function generateKeyMaterial(type: KeyType, randomBytes: (n: number) => Uint8Array): Promise<Uint8Array> {
  const info = KEY_TYPE_INFO[type];
  if (info.symmetric || type === 'ed25519') return randomBytes(info.keyBytes!);
  const pair = info.curve
    ? await generatePair('ec', { namedCurve: info.curve.node })
    : await generatePair('rsa', { modulusLength: info.rsaBits!, publicExponent: 0x10001 });
  const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
  const out = new Uint8Array(der);
  der.fill(0);
  return out;
}
