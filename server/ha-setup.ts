import type { PostgresqlStorageConfig } from './config/load-config.js';
import { PostgresqlBackend } from './core/storage/postgresql/postgresql-backend.js';

/** Opens `storage "postgresql"` (creating its tables when missing). @throws CofferError `storage` / `config`. */
export async function openPostgresql(config: PostgresqlStorageConfig): Promise<PostgresqlBackend> {
  return PostgresqlBackend.open({
    connectionUrl: config.connectionUrl,
    ...(config.table ? { table: config.table } : {}),
    ...(config.haTable ? { haTable: config.haTable } : {}),
    ...(config.maxParallel ? { maxParallel: config.maxParallel } : {}),
  });
}
