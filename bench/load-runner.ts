/**
 * The load generator, run as its OWN process by bench/run.ts (`node --import tsx bench/load-runner.ts`), so the
 * server under test never shares an event loop with autocannon. It reads one job as JSON on stdin (the token
 * travels there, never in argv), runs autocannon, and prints the result as one JSON line on stdout.
 */
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  method: 'GET' | 'PUT';
  /** Requests go to `${pathPrefix}${n % keys}`. */
  pathPrefix: string;
  keys: number;
  token: string;
  /** JSON body of each write. */
  body?: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** Answers per HTTP status code (to name what went wrong when non2xx > 0). */
  statusCodes: Record<string, number>;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

const job = JSON.parse(await readStdin()) as LoadJob;
let n = 0;
const headers = { 'X-Vault-Token': job.token, 'Content-Type': 'application/json' };
const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.seconds,
  requests: [
    {
      method: job.method,
      headers,
      ...(job.body === undefined ? {} : { body: job.body }),
      setupRequest: (r) => ({ ...r, path: `${job.pathPrefix}${n++ % job.keys}` }),
    },
  ],
});
const out: LoadResult = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  requests: result.requests.total,
  non2xx: result.non2xx,
  errors: result.errors,
  // autocannon reports answers per status code; its type definitions leave the field out.
  statusCodes: Object.fromEntries(
    Object.entries((result as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {}).map(([code, stat]) => [
      code,
      stat.count,
    ]),
  ),
};
process.stdout.write(JSON.stringify(out) + '\n');
