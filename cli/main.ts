#!/usr/bin/env node
import { processOutput } from './io/output.js';
import { runCli } from './program.js';

/** Entry point of the `coffer` command: the only place the CLI reads `process`. */
const code = await runCli(process.argv.slice(2), {
  output: processOutput,
  env: process.env,
  stdin: process.stdin,
  promptOutput: process.stderr,
});
// `coffer server` keeps running; every other command sets the exit code and lets the process end.
if (process.argv[2] !== 'server') process.exitCode = code;
