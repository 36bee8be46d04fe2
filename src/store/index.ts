export {
  openPostgres,
  type PostgresOptions,
  type PostgresResult,
  type PostgresStore,
} from './postgres.js';
export { type Migration, openSqlite, type SqliteDb } from './sqlite.js';
