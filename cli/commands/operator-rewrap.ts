import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { VaultClient } from '../client/vault-client.js';
import { formatJson, formatKeyValueTable } from '../io/output.js';
import { addClientOptions, clientFor, formatOf, LocalError, runApi, type ClientOptions, type CommandContext } from './command-context.js';

interface JobStatus {
  job_id: string;
  state: string;
  phase: string;
  target_term: number;
  source_terms: number[];
  entries: { total: number; rewrapped: number; skipped_current: number; skipped_filtered: number; skipped_concurrent: number; failed: number };
  remaining_by_term: Record<string, number>;
  progress: { percent: number; entries_per_second: number; eta_seconds: number | null };
  failures_total: number;
  last_error: string | null;
}

const TERMINAL = new Set(['completed', 'completed_with_failures', 'failed', 'canceled']);

interface RewrapOptions extends ClientOptions {
  status?: boolean;
  watch?: boolean;
  pause?: boolean;
  resume?: boolean;
  cancel?: boolean;
  job?: string;
  interval?: string;
}

export function renderJob(job: JobStatus): string {
  const e = job.entries;
  return formatKeyValueTable([
    ['Job ID', job.job_id],
    ['State', job.state],
    ['Phase', job.phase],
    ['Target Term', job.target_term],
    ['Source Terms', job.source_terms.join(', ')],
    ['Progress', `${job.progress.percent}%`],
    [
      'Entries',
      `${e.total} total, ${e.rewrapped} rewrapped, ${e.skipped_current + e.skipped_filtered + e.skipped_concurrent} skipped, ${e.failed} failed`,
    ],
    [
      'Remaining By Term',
      Object.entries(job.remaining_by_term)
        .map(([t, n]) => `${t}:${n}`)
        .join(' ') || 'none',
    ],
    ['Rate', `${job.progress.entries_per_second} entries/s`],
    ['ETA', job.progress.eta_seconds === null ? 'n/a' : `${job.progress.eta_seconds}s`],
    ['Failures', job.failures_total],
  ]);
}

/** A one-line progress bar for a terminal: `[#####.....]  50.0%  running`. */
export function progressBar(job: JobStatus, width = 30): string {
  const filled = Math.round((Math.min(100, job.progress.percent) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${job.progress.percent.toFixed(1).padStart(5)}%  ${job.state}`;
}

async function latestJobId(client: VaultClient): Promise<string> {
  const list = (await client.request<{ data: { jobs: Array<{ job_id: string }> } }>('GET', 'sys/rewrap/jobs')).body!;
  const id = list.data.jobs[0]?.job_id;
  if (!id) throw new LocalError('no rewrap job exists');
  return id;
}

/** `coffer operator rewrap`: start a job from a YAML spec, or show, watch, pause, resume or cancel one. */
export function registerOperatorRewrap(operator: Command, ctx: CommandContext): void {
  addClientOptions(operator.command('rewrap [spec-file]'))
    .description('Re-encrypt stored entries under the active key term (a YAML spec file starts a job)')
    .option('--status', 'show the status of the job (the latest one unless --job is given)')
    .option('--watch', 'follow the job until it ends, with a progress bar on a terminal')
    .option('--pause', 'pause the job')
    .option('--resume', 'resume the paused job')
    .option('--cancel', 'cancel the job (entries already rewrapped stay rewrapped)')
    .option('--job <id>', 'the job to act on (default: the latest)')
    .option('--interval <seconds>', 'seconds between polls with --watch', '2')
    .action(async (file: string | undefined, opts: RewrapOptions) => {
      const client = clientFor(ctx, opts);
      const format = formatOf(ctx, opts);
      await runApi(ctx, 'running rewrap', async () => {
        const actions = [opts.pause, opts.resume, opts.cancel].filter(Boolean).length;
        if (actions > 1) throw new LocalError('use only one of --pause, --resume and --cancel');
        let id = opts.job;
        if (file !== undefined) {
          if (actions > 0 || opts.status)
            throw new LocalError('a spec file starts a new job: do not combine it with --status/--pause/--resume/--cancel');
          const text = await readFile(file, 'utf8').catch((err: unknown) => {
            throw new LocalError(`cannot read ${file}: ${(err as Error).message}`);
          });
          let spec: unknown;
          try {
            spec = parseYaml(text) as unknown;
          } catch (err) {
            throw new LocalError(`${file}: ${(err as Error).message}`);
          }
          // The server checks the spec and names the faulty field.
          const started = (await client.request<{ job_id: string; target_term: number }>('POST', 'sys/rewrap/jobs', { spec })).body!;
          id = started.job_id;
          if (!opts.watch) {
            ctx.output.out(
              format === 'json' ? formatJson(started) : `Success! Started rewrap job ${started.job_id} (target term ${started.target_term})\n`,
            );
            return;
          }
        }
        id ??= await latestJobId(client);
        const action = opts.pause ? 'pause' : opts.resume ? 'resume' : opts.cancel ? 'cancel' : undefined;
        if (action) await client.request('PUT', `sys/rewrap/jobs/${encodeURIComponent(id)}/${action}`);
        const read = async () => (await client.request<{ data: JobStatus }>('GET', `sys/rewrap/jobs/${encodeURIComponent(id)}`)).body!.data;
        let job = await read();
        if (opts.watch) {
          const tty = (ctx.promptOutput as { isTTY?: boolean }).isTTY === true;
          const intervalMs = Math.max(0.2, Number(opts.interval) || 2) * 1000;
          while (!TERMINAL.has(job.state)) {
            if (tty) ctx.promptOutput.write(`\r${progressBar(job)}`);
            await new Promise((r) => setTimeout(r, intervalMs));
            job = await read();
          }
          if (tty) ctx.promptOutput.write(`\r${progressBar(job)}\n`);
        }
        ctx.output.out(format === 'json' ? formatJson(job) : renderJob(job));
        if (job.state === 'failed' || job.state === 'completed_with_failures') ctx.setExitCode(2);
      });
    });
}
