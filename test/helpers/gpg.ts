import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throw-away GnuPG home with real keys made by the `gpg` binary (Debian's gnupg). */
export class GpgHome {
  private constructor(readonly dir: string) {}

  static async create(t: TestContext): Promise<GpgHome> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-gpg-'));
    const home = new GpgHome(dir);
    t.after(async () => {
      await run('gpgconf', ['--kill', 'gpg-agent'], { env: home.env }).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    return home;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, GNUPGHOME: this.dir };
  }

  async gpg(args: string[], input?: Buffer): Promise<Buffer> {
    const base = ['--batch', '--yes', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', ''];
    return new Promise((resolve, reject) => {
      const child = execFile('gpg', [...base, ...args], { env: this.env, encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`gpg ${args.join(' ')} failed: ${stderr.toString()}`));
        else resolve(stdout);
      });
      child.stdin!.end(input);
    });
  }

  /** Generates a key with an encryption subkey (ed25519 + cv25519), or a sign-only key. Returns base64 of its binary export. */
  async generateKey(email: string, options: { signOnly?: boolean } = {}): Promise<{ email: string; base64: string; fingerprint: string }> {
    if (options.signOnly) await this.gpg(['--quick-gen-key', `Signer <${email}>`, 'ed25519', 'sign', 'never']);
    else await this.gpg(['--quick-gen-key', `Holder <${email}>`, 'future-default', 'default', 'never']);
    const exported = await this.gpg(['--export', email]);
    const listing = (await this.gpg(['--with-colons', '--fingerprint', email])).toString();
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)![1]!.toLowerCase();
    return { email, base64: exported.toString('base64'), fingerprint };
  }

  /** Decrypts a binary OpenPGP message given as base64, as an operator would with `base64 -d | gpg -dq`. */
  async decryptBase64(message: string): Promise<string> {
    return (await this.gpg(['--quiet', '--decrypt'], Buffer.from(message, 'base64'))).toString('utf8');
  }
}
