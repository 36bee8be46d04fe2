import pg from 'pg';
import { LightproofError } from '../core/errors.js';
import type { Migration } from './sqlite.js';

export interface PostgresOptions {
  /** Connections in the pool; default 10. */
  max?: number;
  /** How long to wait for a connection before reporting LP_STORE_UNAVAILABLE; default 10 s. */
  connectTimeoutMs?: number;
  /** Shown in pg_stat_activity, so an operator can tell Lightproof's connections apart. */
  applicationName?: string;
}

/** Rows and the number of rows a statement touched. */
export interface PostgresResult<R> {
  rows: R[];
  rowCount: number;
}

/**
 * A pool whose errors are LightproofErrors that name the server (never the password), and whose
 * BIGINT columns come back as bigint, so msat amounts are never rounded through a JS number.
 */
export interface PostgresStore {
  readonly pool: pg.Pool;
  /** user@host:port/database, for messages. */
  readonly where: string;
  query<R>(sql: string, params?: readonly unknown[]): Promise<PostgresResult<R>>;
  /** Runs `fn` inside BEGIN … COMMIT on one connection; rolls back when it throws. */
  transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const INT8_OID = 20;
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => BigInt(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Any constant works as long as every Lightproof process uses the same one ("LP_MIG" in ASCII). */
const MIGRATION_LOCK = 0x4c50_5f4d_4947n;

/**
 * Connects to PostgreSQL and applies the migrations this process knows. Several processes may start
 * at once: an advisory lock makes them migrate one after another, so each step runs exactly once.
 */
export async function openPostgres(
  url: string,
  migrations: readonly Migration[] = [],
  opts: PostgresOptions = {},
): Promise<PostgresStore> {
  const target = describeUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    application_name: opts.applicationName ?? 'lightproof',
    types: typeParsers,
  });
  // An idle connection that breaks (server restart) must not crash the process; the next query
  // gets a fresh connection or reports LP_STORE_UNAVAILABLE.
  pool.on('error', () => {});
  const store = wrap(pool, target);
  try {
    await store.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await migrate(client, migrations);
    });
  } catch (cause) {
    await pool.end().catch(() => {});
    throw cause instanceof LightproofError ? cause : storeError(cause, target);
  }
  return store;
}

async function migrate(client: pg.PoolClient, migrations: readonly Migration[]): Promise<void> {
  await client.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (module, version))',
  );
  const { rows } = await client.query<{ module: string; version: number }>(
    'SELECT module, version FROM schema_migrations',
  );
  const applied = new Set(rows.map((r) => `${r.module}\u0000${r.version}`));
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(`${m.module}\u0000${m.version}`)) continue;
    await client.query(m.sql);
    await client.query('INSERT INTO schema_migrations (module, version) VALUES ($1, $2)', [
      m.module,
      m.version,
    ]);
  }
  for (const module of new Set(migrations.map((m) => m.module))) {
    const known = Math.max(...migrations.filter((m) => m.module === module).map((m) => m.version));
    const onDisk = Math.max(0, ...rows.filter((r) => r.module === module).map((r) => r.version));
    if (onDisk > known) {
      throw new LightproofError(
        'LP_STORE_TOO_NEW',
        `The database was written by a newer Lightproof (${module} schema ${onDisk}, this one knows ${known}). Upgrade Lightproof.`,
      );
    }
  }
}

function wrap(pool: pg.Pool, target: Target): PostgresStore {
  let closed = false;
  return {
    pool,
    where: target.where,
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<PostgresResult<R>> {
      try {
        const result = await pool.query(sql, [...params]);
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      } catch (cause) {
        throw storeError(cause, target);
      }
    },
    async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (cause) {
        throw storeError(cause, target);
      }
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (cause) {
        // A connection whose ROLLBACK fails is broken; destroy it rather than return it to the pool.
        const rollback = await client.query('ROLLBACK').then(
          () => undefined,
          (err: unknown) => err,
        );
        client.release(rollback instanceof Error ? rollback : undefined);
        throw cause instanceof LightproofError ? cause : storeError(cause, target);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

interface Target {
  host: string;
  port: string;
  database: string;
  user: string;
  where: string;
}

/** What the URL points at, for messages; the password is never part of it. */
function describeUrl(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL itself is not quoted: it may hold a password.
    throw new LightproofError(
      'LP_STORE_BAD_URL',
      'The PostgreSQL URL is not a valid URL; write it as postgres://user:password@host:5432/database.',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new LightproofError(
      'LP_STORE_BAD_URL',
      `The PostgreSQL URL starts with '${parsed.protocol}//'; write it as postgres://user:password@host:5432/database.`,
    );
  }
  const host = parsed.searchParams.get('host') ?? (decodeURIComponent(parsed.hostname) || 'localhost');
  const port = parsed.searchParams.get('port') ?? (parsed.port || '5432');
  const user = decodeURIComponent(parsed.username) || process.env.PGUSER || process.env.USER || '(default)';
  const database = decodeURIComponent(parsed.pathname.slice(1)) || user;
  return { host, port, database, user, where: `${user}@${host}:${port}/${database}` };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT', // a unix socket path that does not exist
]);

/** Turns what pg throws into a LightproofError that says what to check. */
function storeError(cause: unknown, t: Target): LightproofError {
  const code = String((cause as { code?: unknown }).code ?? '');
  const message = cause instanceof Error ? cause.message : String(cause);
  const opts = { cause, status: 503 };
  // pg reports a connect timeout or a dropped connection by message only, with no SQLSTATE.
  const lost = !/^[0-9A-Z]{5}$/.test(code) && /timeout|terminated|Connection ended/i.test(message);
  if (NETWORK_CODES.has(code) || lost) {
    return new LightproofError(
      'LP_STORE_UNAVAILABLE',
      `Cannot reach PostgreSQL at ${t.host}:${t.port} (${code || message}). Check that the server is running, that it listens on that host and port, and that no firewall is in the way.`,
      opts,
    );
  }
  if (code === '28P01' || code === '28000') {
    return new LightproofError(
      'LP_STORE_AUTH_FAILED',
      `PostgreSQL at ${t.host}:${t.port} refused user "${t.user}" for database "${t.database}" (${code}). Check the user and password in the URL and the server's pg_hba.conf.`,
      opts,
    );
  }
  if (code === '3D000') {
    return new LightproofError(
      'LP_STORE_UNAVAILABLE',
      `Database "${t.database}" does not exist on ${t.host}:${t.port}. Create it first: createdb -h ${t.host} -p ${t.port} -U ${t.user} ${t.database}`,
      opts,
    );
  }
  if (code.startsWith('57P') || code === '53300') {
    return new LightproofError(
      'LP_STORE_UNAVAILABLE',
      `PostgreSQL at ${t.host}:${t.port} is not accepting work (${code}: ${message}). Wait for it to finish starting, or raise max_connections if it has too many clients.`,
      opts,
    );
  }
  return new LightproofError(
    'LP_STORE_FAILED',
    `PostgreSQL (${t.where}) failed: ${message}${code ? ` (SQLSTATE ${code})` : ''}. The server log has the details.`,
    { cause, status: 500 },
  );
}
