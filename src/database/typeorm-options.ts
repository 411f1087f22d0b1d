import { Client, ClientConfig } from 'pg';
import { DataSourceOptions } from 'typeorm';
import { LYRICS_ENTITIES, LYRICS_MIGRATIONS } from '../lyrics';

export interface DatabaseOptions {
  url: string;
  migrationsRun: boolean;
}

/**
 * pg emits 'error' on a pooled connection that dies (the server restarts) even after TypeORM has let go of it;
 * with no listener left, Node would crash the process. Queries in flight still fail and TypeORM still sees the
 * first error; this only keeps a late one from being fatal.
 */
class PooledClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

/**
 * The one description of our TypeORM data source, shared by the app and the migration CLI
 * (src/database/data-source.ts), so that both see the same entities and migrations.
 */
export function typeOrmOptions({ url, migrationsRun }: DatabaseOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: LYRICS_ENTITIES,
    migrations: LYRICS_MIGRATIONS,
    migrationsRun,
    migrationsTransactionMode: 'each',
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+; uuid-ossp would need an extension.
    uuidExtension: 'pgcrypto',
    applicationName: 'nestjs-kie-lyrics',
    // No JIT: the claims' estimated costs (a recursive scan of owners, each with a lateral of its due rows) pass
    // jit_above_cost although they run in a millisecond or two, and compiling them took 50 ms to a second per run
    // (where the server has JIT: Debian's PostgreSQL does, the embedded one does not).
    extra: { Client: PooledClient, options: '-c jit=off' },
  };
}
