import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Vault's default token helper: the token lives in `~/.vault-token`, readable only by its owner. */
export function tokenFile(env: NodeJS.ProcessEnv): string | undefined {
  return env.HOME ? path.join(env.HOME, '.vault-token') : undefined;
}

export function readStoredToken(env: NodeJS.ProcessEnv): string | undefined {
  const file = tokenFile(env);
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(env: NodeJS.ProcessEnv, token: string): void {
  const file = tokenFile(env);
  if (!file) throw new Error('HOME is not set: cannot store the token');
  writeFileSync(file, token, { mode: 0o600 });
}
