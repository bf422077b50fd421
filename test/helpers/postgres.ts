import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A private PostgreSQL cluster in a temp dir, on a free loopback port, with its Unix socket in that dir. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable` (trust authentication). */
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/**
 * The directory holding `initdb` and `pg_ctl`: on PATH (some images link them into /usr/local/bin), else Debian's
 * /usr/lib/postgresql/<version>/bin (newest version first). Undefined when PostgreSQL is not installed.
 */
export function postgresBinDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  return undefined;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  return postgresBinDir() === undefined
    ? 'PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin): apt-get install postgresql, or run .ci/run'
    : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (Debian's package creates
 * it) and every PostgreSQL command runs through `runuser`.
 */
function asOwner(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

/** Starts a throwaway cluster (initdb + pg_ctl start, no fsync). Call `stop()` to stop it and delete its files. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(postgresSkipReason());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-pg-'));
  if (process.getuid?.() === 0) await chown(dir, ...(await postgresIds()));
  const data = path.join(dir, 'data');
  const exec = async (name: string, args: string[]) => {
    const [cmd, argv] = asOwner(path.join(bin, name), args);
    await run(cmd, argv, { timeout: 60_000 });
  };
  await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await exec('pg_ctl', [
        '-D',
        data,
        '-l',
        path.join(dir, 'log'),
        '-w',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`,
        'start',
      ]);
      break;
    } catch (err) {
      // Another process may have taken the free port between the probe and the start.
      if (attempt >= 2) throw err;
    }
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    port,
    dir,
    stop: async () => {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return [Number(stdout.trim()), Number(gid.trim())];
}
