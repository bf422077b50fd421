/** Kept for the modules that import durations from here; the parser lives in go-duration.ts. */
export { parseDurationSeconds } from './go-duration.js';
