import { chmodSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LightproofError } from '../core/errors.js';

export type SqliteDb = Database.Database;

/** One schema step of one module. Versions start at 1 and only grow; applied steps are never edited. */
export interface Migration {
  module: string;
  version: number;
  sql: string;
}

/**
 * Opens (or creates) a SQLite database for money: WAL so readers never block the writer, and
 * synchronous=FULL so a committed transaction survives power loss, not only a process crash.
 */
export function openSqlite(path: string, migrations: readonly Migration[] = []): SqliteDb {
  const existed = existsSync(path);
  let db: SqliteDb;
  try {
    db = new Database(path, { timeout: 10_000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, migrations);
    // Stores hold preimages and credential hashes: readable by the owner only.
    for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  } catch (cause) {
    if (cause instanceof LightproofError) throw cause;
    const code = (cause as { code?: string }).code ?? '';
    if (existed && /SQLITE_(NOTADB|CORRUPT)/.test(code)) {
      throw new LightproofError(
        'LP_STORE_CORRUPT',
        `${path} is not a readable SQLite database (${code}). Restore it from a backup or move it aside; nothing was changed.`,
        { cause },
      );
    }
    throw new LightproofError(
      'LP_STORE_OPEN_FAILED',
      `Cannot open the database ${path}: ${(cause as Error).message}.`,
      {
        cause,
      },
    );
  }
  return db;
}

function migrate(db: SqliteDb, migrations: readonly Migration[]): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (module, version))',
  );
  const applied = db.prepare('SELECT 1 FROM schema_migrations WHERE module = ? AND version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (module, version) VALUES (?, ?)');
  const newest = db.prepare('SELECT MAX(version) AS v FROM schema_migrations WHERE module = ?');
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.get(m.module, m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.module, m.version);
    }).immediate();
  }
  for (const module of new Set(migrations.map((m) => m.module))) {
    const known = Math.max(...migrations.filter((m) => m.module === module).map((m) => m.version));
    const onDisk = (newest.get(module) as { v: number | null }).v ?? 0;
    if (onDisk > known) {
      throw new LightproofError(
        'LP_STORE_TOO_NEW',
        `The database was written by a newer Lightproof (${module} schema ${onDisk}, this one knows ${known}). Upgrade Lightproof.`,
      );
    }
  }
}
