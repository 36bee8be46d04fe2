export { type Migration, openSqlite, type SqliteDb } from './sqlite.js';
