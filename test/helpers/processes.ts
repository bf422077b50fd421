import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export const CLI = path.resolve('dist/cli/main.js');

/**
 * The environment of every process a test starts: the test runner's own environment without any `VAULT_*`
 * variable and with a fresh, empty HOME (so no `~/.vault-token` of the person running the suite, and no server
 * on 127.0.0.1:8200 reached through their `VAULT_ADDR`), plus what the test sets. A HOME the test gives wins.
 * Returns the environment and a function that removes the temporary HOME.
 */
export function isolatedEnv(extra: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; cleanup: () => void } {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^VAULT_/i.test(key)) env[key] = value;
  let home: string | undefined;
  if (extra.HOME === undefined) {
    home = mkdtempSync(path.join(os.tmpdir(), 'coffer-home-'));
    env.HOME = home;
    env.USERPROFILE = home;
  }
  return { env: { ...env, ...extra }, cleanup: () => home && rmSync(home, { recursive: true, force: true }) };
}

/**
 * Writes `<dir>/<name>.hcl`: LevelDB in `<dir>/<dataName>`, a loopback listener on port 0, `logLevel`, plus
 * `extra` stanzas (seals). Returns the file's path for `-config=`.
 */
export async function writeServerConfig(
  dir: string,
  options: { name?: string; dataName?: string; logLevel?: string; extra?: string } = {},
): Promise<string> {
  const file = path.join(dir, `${options.name ?? 'coffer'}.hcl`);
  const data = path.join(dir, options.dataName ?? 'data');
  await writeFile(
    file,
    `storage "leveldb" { path = "${data}" }\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\nlog_level = "${options.logLevel ?? 'warn'}"\n${options.extra ?? ''}\n`,
  );
  return file;
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves when what the process prints after `from` (an offset into `output()`) matches `pattern`. */
  waitForOutput(pattern: RegExp, from?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `coffer server` from the build as a separate process and waits for its listening line. */
export async function startServerProcess(t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const isolated = isolatedEnv(env);
  const child = spawn(process.execPath, [CLI, 'server', ...args], { env: isolated.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('exit', isolated.cleanup);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = once(child, 'exit');
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /Coffer server listening on (\S+)/.exec(out);
      if (match) {
        child.stderr.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`server exited before listening:\n${out}`)));
  });
  const waitForOutput = (pattern: RegExp, from = 0) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out.slice(from))) {
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          resolve();
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then(() => reject(new Error(`server exited before printing ${pattern}:\n${out}`)));
      check();
    });
  return {
    child,
    url,
    output: () => out,
    waitForOutput,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `coffer` CLI as a process, in an isolated environment (see `isolatedEnv`). */
export async function runCliProcess(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<CliResult> {
  const isolated = isolatedEnv(env);
  const child = spawn(process.execPath, [CLI, ...args], { env: isolated.env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.once('exit', isolated.cleanup);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/**
 * Runs the CLI inside a real pseudo-terminal (util-linux `script`), waits for `prompt` to appear, then types
 * `answer` and Enter. Returns everything the terminal showed.
 */
export async function runCliInTerminal(
  args: string[],
  env: NodeJS.ProcessEnv,
  prompt: string | string[],
  answer: string | string[],
): Promise<CliResult> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const isolated = isolatedEnv({ ...env, TERM: 'dumb' });
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: isolated.env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.once('exit', isolated.cleanup);
  // A dialogue: each prompt, once it appears after the previous answer, gets its answer.
  const prompts = Array.isArray(prompt) ? prompt : [prompt];
  const answers = Array.isArray(answer) ? answer : [answer];
  let screen = '';
  let seen = 0;
  let step = 0;
  child.stdout.on('data', (d) => {
    screen += d;
    const at = step < prompts.length ? screen.indexOf(prompts[step]!, seen) : -1;
    if (at >= 0) {
      seen = at + prompts[step]!.length;
      child.stdin.write(`${answers[step]}\r`);
      step += 1;
    }
  });
  child.stderr.on('data', (d) => (screen += d));
  const [code] = (await once(child, 'exit')) as [number];
  child.stdin.destroy();
  return { code, stdout: screen, stderr: '' };
}
