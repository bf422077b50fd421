import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CofferError } from '../../errors.js';
import { wipe } from '../../secret-bytes.js';
import { KEY_TYPE_INFO, type KeyType } from './key-types.js';

/** RFC 8410's fixed PKCS#8 prefix for an Ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/**
 * An OpenSSL key object for stored material (a seed for ed25519, PKCS#8 DER otherwise). The DER built for an
 * ed25519 seed is zeroed once OpenSSL has parsed it.
 */
export function privateKeyObject(type: KeyType, material: Uint8Array): KeyObject {
  if (type !== 'ed25519')
    return createPrivateKey({ key: Buffer.from(material.buffer, material.byteOffset, material.byteLength), format: 'der', type: 'pkcs8' });
  const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + material.length);
  der.set(ED25519_PKCS8_PREFIX, 0);
  der.set(material, ED25519_PKCS8_PREFIX.length);
  try {
    return createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
  } finally {
    wipe(der);
  }
}

export function publicKeyObject(type: KeyType, material: Uint8Array): KeyObject {
  return createPublicKey(privateKeyObject(type, material));
}

/** An ed25519 public key as its 32 raw bytes. */
export function ed25519PublicBytes(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
}

const trimPem = (pem: string) => pem.trim();

/** The public key as Vault shows it in `keys/:name`: base64 raw for ed25519, PKIX PEM for ECDSA and RSA. */
export function formattedPublicKey(type: KeyType, material: Uint8Array): string {
  const pub = publicKeyObject(type, material);
  if (type === 'ed25519') return ed25519PublicBytes(pub).toString('base64');
  const pem = pub.export({ format: 'pem', type: 'spki' }) as string;
  // Vault trims the ECDSA PEM but keeps the RSA PEM's final newline.
  return KEY_TYPE_INFO[type].curve ? trimPem(pem) : pem;
}

export type ExportFormat = '' | 'raw' | 'der' | 'pem';

const derBase64 = (der: Buffer) => {
  try {
    return der.toString('base64');
  } finally {
    der.fill(0);
  }
};

/**
 * A public key in Vault's export encodings: the default (and `raw`) is what `keys/:name` shows, `der` is base64
 * PKIX DER, `pem` is PKIX PEM.
 * @throws CofferError `invalid_request` for `raw` on ECDSA/RSA keys, as Vault.
 */
export function exportPublicKey(type: KeyType, material: Uint8Array, format: ExportFormat): string {
  const pub = publicKeyObject(type, material);
  if (type === 'ed25519') {
    if (format === '' || format === 'raw') return ed25519PublicBytes(pub).toString('base64');
    if (format === 'der') return derBase64(pub.export({ format: 'der', type: 'spki' }));
    return trimPem(pub.export({ format: 'pem', type: 'spki' }) as string);
  }
  const curve = KEY_TYPE_INFO[type].curve;
  if (format === 'raw')
    throw new CofferError('invalid_request', `unknown key format for ${curve ? 'ec' : 'rsa'} key; supported values are \`\`, \`der\`, or \`pem\``);
  if (format === 'der') return derBase64(pub.export({ format: 'der', type: 'spki' }));
  const pem = pub.export({ format: 'pem', type: 'spki' }) as string;
  return curve ? trimPem(pem) : pem;
}

/**
 * A private key in Vault's export encodings. Defaults: ed25519 → base64 of seed‖public key (64 bytes), ECDSA →
 * SEC1 `EC PRIVATE KEY` PEM, RSA → PKCS#1 `RSA PRIVATE KEY` PEM; `der` / `pem` give PKCS#8.
 * @throws CofferError `invalid_request` for `raw` on ECDSA/RSA keys.
 */
export function exportPrivateKey(type: KeyType, material: Uint8Array, format: ExportFormat): string {
  const priv = privateKeyObject(type, material);
  if (type === 'ed25519') {
    if (format === '' || format === 'raw') {
      const both = new Uint8Array(64);
      both.set(material, 0);
      both.set(ed25519PublicBytes(createPublicKey(priv)), 32);
      try {
        return Buffer.from(both.buffer).toString('base64');
      } finally {
        wipe(both);
      }
    }
    if (format === 'der') return derBase64(priv.export({ format: 'der', type: 'pkcs8' }));
    return trimPem(priv.export({ format: 'pem', type: 'pkcs8' }) as string);
  }
  const curve = KEY_TYPE_INFO[type].curve;
  if (format === 'raw')
    throw new CofferError('invalid_request', `unknown key format for ${curve ? 'ec' : 'rsa'} key; supported values are \`\`, \`der\`, or \`pem\``);
  if (format === 'der') return derBase64(priv.export({ format: 'der', type: 'pkcs8' }));
  if (format === 'pem') {
    const pem = priv.export({ format: 'pem', type: 'pkcs8' }) as string;
    return curve ? trimPem(pem) : pem;
  }
  return curve ? trimPem(priv.export({ format: 'pem', type: 'sec1' }) as string) : (priv.export({ format: 'pem', type: 'pkcs1' }) as string);
}
