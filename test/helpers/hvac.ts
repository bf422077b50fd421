import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** The first python3 that can import hvac (Debian's python3-hvac installs for /usr/bin/python3). */
export async function pythonWithHvac(): Promise<string | undefined> {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      await run(python, ['-c', 'import hvac']);
      return python;
    } catch {
      // try the next one
    }
  }
  return undefined;
}
