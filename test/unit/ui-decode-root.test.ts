import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRootToken } from '../../server/http/ui/api.js';

/** What the server does at the end of generate-root: the token XORed with the OTP, base64 without padding. */
function encode(token: string, otp: string, alphabet: 'base64' | 'base64url' = 'base64'): string {
  const t = Buffer.from(token);
  const o = Buffer.from(otp);
  return Buffer.from(t.map((b, i) => b ^ o[i]!))
    .toString(alphabet)
    .replace(/=+$/, '');
}

test('the operator page decodes a generate-root token: base64 with or without padding, either alphabet, XOR with the OTP', () => {
  const token = 'hvs.AbCdEfGhIjKlMnOpQrStUvWx';
  const otp = 'Zq8uR2xW7pLm3Nc9Vb1Tg5Hy6Jk0';
  assert.equal(otp.length, token.length);
  assert.equal(decodeRootToken(encode(token, otp), otp), token);
  assert.equal(decodeRootToken(encode(token, otp) + '=', otp), token);
  assert.equal(decodeRootToken(encode(token, otp, 'base64url'), otp), token);
});

test('a one-time password of the wrong length is refused instead of decoding garbage', () => {
  assert.throws(() => decodeRootToken(encode('hvs.short', 'abcdefghi'), 'abcdefgh'), /one-time password/);
});
