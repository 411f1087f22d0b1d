import { DataSourceOptions } from 'typeorm';

export interface DatabaseOptions {
  url: string;
  migrationsRun: boolean;
}

/**
 * The one description of our TypeORM data source, shared by the app and the migration CLI
 * (src/database/data-source.ts), so that both see the same entities and migrations.
 */
export function typeOrmOptions({ url, migrationsRun }: DatabaseOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [],
    migrations: [],
    migrationsRun,
    migrationsTransactionMode: 'each',
    synchronize: false,
    applicationName: 'nestjs-kie-lyrics',
  };
}
