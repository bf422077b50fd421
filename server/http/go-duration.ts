export { parseDurationSeconds } from '../core/duration.js';

/** Go's `time.Duration.String()` for whole seconds: `24h0m0s`, `1m30s`, `45s`, `0s`. */
export function formatGoDuration(totalSeconds: number): string {
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
