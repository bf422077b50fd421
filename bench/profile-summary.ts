/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and self time per package
 * or source folder. Usage: `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]`.
 *
 * To profile the servers under load: `COFFER_BENCH_ONLY=http COFFER_BENCH_CONNECTIONS=32
 * COFFER_BENCH_TARGET_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench` (every target is its own process and
 * writes its own profile; the load generator is another process again).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs].filter(([id]) => /^\(idle\)$/.test(byId.get(id)!.callFrame.functionName));

function where(url: string): string {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const src = /\/((?:server|bench|lib)\/[^/]+(?:\/[^/]+)?)\//.exec(url);
  return src ? src[1]! : url === '' ? '(native)' : url.replace(/^.*\//, '');
}

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*?(node_modules\/|server\/|bench\/|node:)/, '$1')}:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const place = url ? where(url) : functionName.startsWith('(') ? functionName : '(native)';
  byPlace.set(place, (byPlace.get(place) ?? 0) + us);
}

const idleUs = idle.reduce((a, [, us]) => a + us, 0);
const busy = total - idleUs;
/** Share of all sampled time, and of the busy time (everything but idle). */
const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} % ${((100 * us) / busy).toFixed(1).padStart(5)} %`;
const top = Number(topArg ?? 25);
process.stdout.write(`profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, idle ${((100 * idleUs) / total).toFixed(1)} %\n\n`);
process.stdout.write('self time by function (share of all samples, share of busy samples)\n');
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(us)}  ${name}\n`);
process.stdout.write('\nself time by package / source folder\n');
for (const [name, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(us)}  ${name}\n`);
