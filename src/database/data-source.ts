import { DataSource } from 'typeorm';
import { typeOrmOptions } from './typeorm-options';

/**
 * The data source the TypeORM CLI loads (`npm run migration:run`, `migration:generate`). It reads DATABASE_URL
 * only: the CLI never starts an embedded database. To migrate the one `npm start` runs, point it there
 * (postgres://postgres@127.0.0.1:54329/lyrics by default) while the service is up.
 */
const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error('DATABASE_URL is required for the migration CLI');
}

export default new DataSource(typeOrmOptions({ url, migrationsRun: false }));
