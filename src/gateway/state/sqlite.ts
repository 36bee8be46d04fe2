/**
 * The gateway's state in one SQLite file. Every write runs in a BEGIN IMMEDIATE transaction, so
 * several processes sharing the file take turns on the write lock instead of racing on stale reads.
 */
import { LightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import { type Migration, openSqlite, type SqliteDb } from '../../store/index.js';
import { checkCounts, mintParams, TOKEN_SELECT, type TokenRow, tokenFromRow } from './rows.js';
import type { DebitResult, GatewayState, MintRecord, ServiceRevenue, TokenRecord } from './types.js';

export const SQLITE_GATEWAY_MIGRATIONS: readonly Migration[] = [
  {
    module: 'gateway',
    version: 1,
    sql: `
      CREATE TABLE gateway_tokens (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id TEXT NOT NULL UNIQUE,
        payment_hash TEXT NOT NULL,
        service TEXT NOT NULL,
        price_msat INTEGER NOT NULL CHECK (price_msat >= 0),
        credit_msat INTEGER CHECK (credit_msat >= 0),
        created_at INTEGER NOT NULL,
        paid_at INTEGER,
        used_at INTEGER,
        requests INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX gateway_tokens_payment_hash ON gateway_tokens (payment_hash);
      CREATE INDEX gateway_tokens_newest ON gateway_tokens (created_at DESC, seq DESC);
      CREATE INDEX gateway_tokens_service_newest ON gateway_tokens (service, created_at DESC, seq DESC);
      CREATE TABLE gateway_credit (
        token_id TEXT PRIMARY KEY,
        remaining_msat INTEGER NOT NULL CHECK (remaining_msat >= 0)
      );
      CREATE TABLE gateway_revocations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        token_id TEXT NOT NULL UNIQUE,
        revoked_at INTEGER NOT NULL
      );
      CREATE TABLE gateway_freebies (
        service TEXT NOT NULL,
        client_key TEXT NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (service, client_key)
      );
    `,
  },
];

const INSERT_TOKEN = `INSERT INTO gateway_tokens
  (token_id, payment_hash, service, price_msat, credit_msat, created_at)
  VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (token_id) DO NOTHING`;

export class SqliteGatewayState implements GatewayState {
  private constructor(private readonly db: SqliteDb) {}

  /** Opens (or creates) the state file; throws LP_STORE_CORRUPT for a file that is not SQLite. */
  static open(path: string): SqliteGatewayState {
    const db = openSqlite(path, SQLITE_GATEWAY_MIGRATIONS);
    // Every integer comes back as bigint, so msat amounts above 2^53 survive the round trip.
    db.defaultSafeIntegers(true);
    return new SqliteGatewayState(db);
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  async recordMint(record: MintRecord): Promise<void> {
    const params = mintParams(record);
    this.write(() => this.db.prepare(INSERT_TOKEN).run(...params));
  }

  async recordUse(tokenId: string, at: number, fallback: MintRecord): Promise<{ firstUse: boolean }> {
    const params = mintParams({ ...fallback, tokenId });
    return this.write(() => {
      this.db.prepare(INSERT_TOKEN).run(...params);
      // used_at is written by the first use only, so the conditional update matches exactly once.
      const first = this.db
        .prepare(
          `UPDATE gateway_tokens SET used_at = ?, paid_at = COALESCE(paid_at, ?), requests = requests + 1
           WHERE token_id = ? AND used_at IS NULL`,
        )
        .run(BigInt(at), BigInt(at), tokenId);
      if (first.changes === 1) return { firstUse: true };
      this.db.prepare('UPDATE gateway_tokens SET requests = requests + 1 WHERE token_id = ?').run(tokenId);
      return { firstUse: false };
    });
  }

  async countRequests(counts: ReadonlyMap<string, number>): Promise<void> {
    const batch = checkCounts(counts);
    if (batch.length === 0) return;
    const add = this.db.prepare('UPDATE gateway_tokens SET requests = requests + ? WHERE token_id = ?');
    this.write(() => {
      for (const [tokenId, n] of batch) add.run(BigInt(n), tokenId);
    });
  }

  async markSettled(paymentHash: string, at: number): Promise<TokenRecord | null> {
    const row = this.write(() =>
      this.db
        .prepare(
          `UPDATE gateway_tokens SET paid_at = ? WHERE payment_hash = ? AND paid_at IS NULL
           RETURNING token_id`,
        )
        .get(BigInt(at), paymentHash),
    ) as { token_id: string } | undefined;
    return row ? this.getToken(row.token_id) : null;
  }

  async debit(tokenId: string, initialMsat: Msat, amountMsat: Msat): Promise<DebitResult> {
    const initial = msat(initialMsat);
    const amount = msat(amountMsat);
    return this.write(() => {
      this.db
        .prepare('INSERT INTO gateway_credit (token_id, remaining_msat) VALUES (?, ?) ON CONFLICT DO NOTHING')
        .run(tokenId, initial);
      const drawn = this.db
        .prepare(
          `UPDATE gateway_credit SET remaining_msat = remaining_msat - ?
           WHERE token_id = ? AND remaining_msat >= ? RETURNING remaining_msat`,
        )
        .get(amount, tokenId, amount) as { remaining_msat: bigint } | undefined;
      if (drawn) return { ok: true, remainingMsat: msat(drawn.remaining_msat) };
      return { ok: false, remainingMsat: this.remaining(tokenId) };
    });
  }

  private remaining(tokenId: string): Msat {
    const row = this.db
      .prepare('SELECT remaining_msat FROM gateway_credit WHERE token_id = ?')
      .get(tokenId) as { remaining_msat: bigint };
    return msat(row.remaining_msat);
  }

  async settle(tokenId: string, deltaMsat: bigint): Promise<Msat> {
    const row = this.write(
      () =>
        this.db
          .prepare(
            `UPDATE gateway_credit SET remaining_msat = MAX(remaining_msat - ?, 0)
             WHERE token_id = ? RETURNING remaining_msat`,
          )
          .get(BigInt(deltaMsat), tokenId) as { remaining_msat: bigint } | undefined,
    );
    if (!row) throw noCredit(tokenId);
    return msat(row.remaining_msat);
  }

  async revoke(tokenId: string, at: number): Promise<boolean> {
    const result = this.write(() =>
      this.db
        .prepare(
          'INSERT INTO gateway_revocations (token_id, revoked_at) VALUES (?, ?) ON CONFLICT DO NOTHING',
        )
        .run(tokenId, BigInt(at)),
    );
    return result.changes === 1;
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM gateway_revocations WHERE token_id = ?').get(tokenId) !== undefined;
  }

  async revokedSince(cursor: number): Promise<{ tokenIds: string[]; cursor: number }> {
    // Writers hold the file's write lock, so seq grows in commit order and a cursor never skips a row.
    const rows = this.db
      .prepare('SELECT seq, token_id FROM gateway_revocations WHERE seq > ? ORDER BY seq')
      .all(BigInt(cursor)) as { seq: bigint; token_id: string }[];
    const last = rows.at(-1);
    return { tokenIds: rows.map((r) => r.token_id), cursor: last ? Number(last.seq) : cursor };
  }

  async takeFreebie(service: string, key: string, limit: number): Promise<boolean> {
    if (limit < 1) return false;
    const row = this.write(() =>
      this.db
        .prepare(
          `INSERT INTO gateway_freebies (service, client_key, used) VALUES (?, ?, 1)
           ON CONFLICT (service, client_key) DO UPDATE SET used = used + 1 WHERE used < ?
           RETURNING used`,
        )
        .get(service, key, BigInt(limit)),
    );
    return row !== undefined;
  }

  async getToken(tokenId: string): Promise<TokenRecord | null> {
    const row = this.db.prepare(`${TOKEN_SELECT} WHERE t.token_id = ?`).get(tokenId) as TokenRow | undefined;
    return row ? tokenFromRow(row) : null;
  }

  async listTokens(query: { service?: string; limit: number; offset?: number }): Promise<TokenRecord[]> {
    const { limit, offset } = checkPage(query);
    const filter = query.service === undefined ? '' : 'WHERE t.service = ?';
    const params = query.service === undefined ? [] : [query.service];
    const rows = this.db
      .prepare(`${TOKEN_SELECT} ${filter} ORDER BY t.created_at DESC, t.seq DESC LIMIT ? OFFSET ?`)
      .all(...params, BigInt(limit), BigInt(offset)) as TokenRow[];
    return rows.map(tokenFromRow);
  }

  async revenue(): Promise<ServiceRevenue[]> {
    // Revenue is booked when a request proves the payment (used_at), as ServiceRevenue.paid says;
    // a settled invoice whose token was never used has paidAt but is not yet revenue.
    const rows = this.db
      .prepare(
        `SELECT service, COUNT(*) AS minted, COUNT(used_at) AS paid,
                COALESCE(SUM(CASE WHEN used_at IS NULL THEN 0 ELSE price_msat END), 0) AS revenue,
                COALESCE(SUM(requests), 0) AS requests
         FROM gateway_tokens GROUP BY service ORDER BY service`,
      )
      .all() as { service: string; minted: bigint; paid: bigint; revenue: bigint; requests: bigint }[];
    return rows.map((r) => ({
      service: r.service,
      minted: Number(r.minted),
      paid: Number(r.paid),
      // A sum is not bounded by the bitcoin supply the way one amount is, so it skips msat()'s check.
      revenueMsat: r.revenue as Msat,
      requests: Number(r.requests),
    }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function noCredit(tokenId: string): LightproofError {
  return new LightproofError(
    'LP_STATE_NO_CREDIT',
    `Token ${tokenId} has no credit balance to settle: call debit before settle.`,
    { status: 500 },
  );
}

/** Checks a listTokens page, so a bad limit is a typed error rather than a database error. */
function checkPage(query: { limit: number; offset?: number }): { limit: number; offset: number } {
  const offset = query.offset ?? 0;
  for (const [name, v] of [
    ['limit', query.limit],
    ['offset', offset],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new LightproofError('LP_STATE_BAD_QUERY', `${name} must be a whole number ≥ 0, got ${v}.`);
    }
  }
  return { limit: query.limit, offset };
}
