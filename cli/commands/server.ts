import type { Command } from 'commander';

/**
 * `coffer server`: runs the server in this process. The one place the CLI reaches into server/, loaded only when
 * this command runs so other commands stay light.
 */
export function registerServer(program: Command): void {
  program
    .command('server')
    .description('Run a Coffer server (default: LevelDB under ./data on 127.0.0.1:8200)')
    .option('--config <file>', 'HCL or JSON configuration file')
    .option('--dev', 'in-memory server, initialised with one key and unsealed')
    .action(async (opts: { config?: string; dev?: boolean }) => {
      const { runServer } = await import('../../server/main.js');
      await runServer({ ...(opts.config ? { configPath: opts.config } : {}), dev: opts.dev === true });
    });
}
