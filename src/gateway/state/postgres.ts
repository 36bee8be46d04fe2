/**
 * The gateway's state in PostgreSQL, shared by every gateway process of one provider. Each change is
 * one conditional statement (a row lock makes concurrent ones queue and re-check their condition), so
 * no read-then-write can race across processes.
 */
import { LightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import { type Migration, openPostgres, type PostgresOptions, type PostgresStore } from '../../store/index.js';
import { checkCounts, mintParams, TOKEN_SELECT, type TokenRow, tokenFromRow } from './rows.js';
import type { DebitResult, GatewayState, MintRecord, ServiceRevenue, TokenRecord } from './types.js';

export const POSTGRES_GATEWAY_MIGRATIONS: readonly Migration[] = [
  {
    module: 'gateway',
    version: 1,
    sql: `
      CREATE TABLE gateway_tokens (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        token_id TEXT NOT NULL UNIQUE,
        payment_hash TEXT NOT NULL,
        service TEXT NOT NULL,
        price_msat BIGINT NOT NULL CHECK (price_msat >= 0),
        credit_msat BIGINT CHECK (credit_msat >= 0),
        created_at BIGINT NOT NULL,
        paid_at BIGINT,
        used_at BIGINT,
        requests BIGINT NOT NULL DEFAULT 0
      );
      CREATE INDEX gateway_tokens_payment_hash ON gateway_tokens (payment_hash);
      CREATE INDEX gateway_tokens_newest ON gateway_tokens (created_at DESC, seq DESC);
      CREATE INDEX gateway_tokens_service_newest ON gateway_tokens (service, created_at DESC, seq DESC);
      CREATE TABLE gateway_credit (
        token_id TEXT PRIMARY KEY,
        remaining_msat BIGINT NOT NULL CHECK (remaining_msat >= 0)
      );
      CREATE TABLE gateway_revocations (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        token_id TEXT NOT NULL UNIQUE,
        revoked_at BIGINT NOT NULL
      );
      CREATE TABLE gateway_freebies (
        service TEXT NOT NULL,
        client_key TEXT NOT NULL,
        used BIGINT NOT NULL,
        PRIMARY KEY (service, client_key)
      );
    `,
  },
];

const INSERT_TOKEN = `INSERT INTO gateway_tokens
  (token_id, payment_hash, service, price_msat, credit_msat, created_at)
  VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token_id) DO NOTHING`;

// used_at is written by the first use only; under a concurrent update the row lock makes this wait
// and re-check used_at, so exactly one call across all processes matches.
const FIRST_USE = `UPDATE gateway_tokens
  SET used_at = $2, paid_at = COALESCE(paid_at, $2), requests = requests + 1
  WHERE token_id = $1 AND used_at IS NULL`;

const LATER_USE = 'UPDATE gateway_tokens SET requests = requests + 1 WHERE token_id = $1';

const DRAW = `UPDATE gateway_credit SET remaining_msat = remaining_msat - $2
  WHERE token_id = $1 AND remaining_msat >= $2 RETURNING remaining_msat`;

export class PostgresGatewayState implements GatewayState {
  private constructor(private readonly store: PostgresStore) {}

  /** Connects and migrates; throws LP_STORE_UNAVAILABLE naming host and port when it cannot connect. */
  static async open(url: string, opts?: PostgresOptions): Promise<PostgresGatewayState> {
    return new PostgresGatewayState(await openPostgres(url, POSTGRES_GATEWAY_MIGRATIONS, opts));
  }

  async recordMint(record: MintRecord): Promise<void> {
    await this.store.query(INSERT_TOKEN, mintParams(record));
  }

  async recordUse(tokenId: string, at: number, fallback: MintRecord): Promise<{ firstUse: boolean }> {
    const use = async (): Promise<boolean | null> => {
      if ((await this.store.query(FIRST_USE, [tokenId, at])).rowCount === 1) return true;
      if ((await this.store.query(LATER_USE, [tokenId])).rowCount === 1) return false;
      return null;
    };
    let firstUse = await use();
    if (firstUse === null) {
      // Rows are never deleted, so once this insert (or a racing one) has run, use() finds the row.
      await this.store.query(INSERT_TOKEN, mintParams({ ...fallback, tokenId }));
      firstUse = await use();
    }
    return { firstUse: firstUse === true };
  }

  async countRequests(counts: ReadonlyMap<string, number>): Promise<void> {
    const batch = checkCounts(counts);
    if (batch.length === 0) return;
    const ids = batch.map(([id]) => id);
    const adds = batch.map(([, n]) => n);
    // Rows are locked in one order by every flushing process, so two flushes never deadlock.
    await this.store.transaction(async (client) => {
      await client.query(
        'SELECT 1 FROM gateway_tokens WHERE token_id = ANY($1::text[]) ORDER BY token_id FOR UPDATE',
        [ids],
      );
      await client.query(
        `UPDATE gateway_tokens t SET requests = t.requests + c.n
         FROM unnest($1::text[], $2::bigint[]) AS c(token_id, n) WHERE t.token_id = c.token_id`,
        [ids, adds],
      );
    });
  }

  async markSettled(paymentHash: string, at: number): Promise<TokenRecord | null> {
    const { rows } = await this.store.query<{ token_id: string }>(
      `UPDATE gateway_tokens SET paid_at = $2 WHERE payment_hash = $1 AND paid_at IS NULL
       RETURNING token_id`,
      [paymentHash, at],
    );
    const row = rows[0];
    return row ? this.getToken(row.token_id) : null;
  }

  async debit(tokenId: string, initialMsat: Msat, amountMsat: Msat): Promise<DebitResult> {
    const initial = msat(initialMsat);
    const amount = msat(amountMsat);
    let drawn = await this.store.query<{ remaining_msat: bigint }>(DRAW, [tokenId, amount]);
    if (drawn.rowCount === 0) {
      // First use, or not enough left: make sure the balance exists, then try once more.
      await this.store.query(
        'INSERT INTO gateway_credit (token_id, remaining_msat) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [tokenId, initial],
      );
      drawn = await this.store.query<{ remaining_msat: bigint }>(DRAW, [tokenId, amount]);
    }
    const row = drawn.rows[0];
    if (row) return { ok: true, remainingMsat: msat(row.remaining_msat) };
    const left = await this.store.query<{ remaining_msat: bigint }>(
      'SELECT remaining_msat FROM gateway_credit WHERE token_id = $1',
      [tokenId],
    );
    return { ok: false, remainingMsat: msat(left.rows[0]?.remaining_msat ?? 0n) };
  }

  async settle(tokenId: string, deltaMsat: bigint): Promise<Msat> {
    const { rows } = await this.store.query<{ remaining_msat: bigint }>(
      `UPDATE gateway_credit SET remaining_msat = GREATEST(remaining_msat - $2, 0)
       WHERE token_id = $1 RETURNING remaining_msat`,
      [tokenId, BigInt(deltaMsat)],
    );
    const row = rows[0];
    if (!row) {
      throw new LightproofError(
        'LP_STATE_NO_CREDIT',
        `Token ${tokenId} has no credit balance to settle: call debit before settle.`,
        { status: 500 },
      );
    }
    return msat(row.remaining_msat);
  }

  async revoke(tokenId: string, at: number): Promise<boolean> {
    // Revokers take turns (readers are not blocked), so seq is handed out in commit order and a
    // revokedSince cursor can never pass a row that commits later with a smaller seq.
    return this.store.transaction(async (client) => {
      await client.query('LOCK TABLE gateway_revocations IN EXCLUSIVE MODE');
      const result = await client.query(
        'INSERT INTO gateway_revocations (token_id, revoked_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [tokenId, at],
      );
      return result.rowCount === 1;
    });
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    const { rowCount } = await this.store.query('SELECT 1 FROM gateway_revocations WHERE token_id = $1', [
      tokenId,
    ]);
    return rowCount > 0;
  }

  async revokedSince(cursor: number): Promise<{ tokenIds: string[]; cursor: number }> {
    const { rows } = await this.store.query<{ seq: bigint; token_id: string }>(
      'SELECT seq, token_id FROM gateway_revocations WHERE seq > $1 ORDER BY seq',
      [cursor],
    );
    const last = rows.at(-1);
    return { tokenIds: rows.map((r) => r.token_id), cursor: last ? Number(last.seq) : cursor };
  }

  async takeFreebie(service: string, key: string, limit: number): Promise<boolean> {
    if (limit < 1) return false;
    const { rowCount } = await this.store.query(
      `INSERT INTO gateway_freebies AS f (service, client_key, used) VALUES ($1, $2, 1)
       ON CONFLICT (service, client_key) DO UPDATE SET used = f.used + 1 WHERE f.used < $3
       RETURNING used`,
      [service, key, limit],
    );
    return rowCount === 1;
  }

  async getToken(tokenId: string): Promise<TokenRecord | null> {
    const { rows } = await this.store.query<TokenRow>(`${TOKEN_SELECT} WHERE t.token_id = $1`, [tokenId]);
    const row = rows[0];
    return row ? tokenFromRow(row) : null;
  }

  async listTokens(query: { service?: string; limit: number; offset?: number }): Promise<TokenRecord[]> {
    const offset = query.offset ?? 0;
    for (const [name, v] of Object.entries({ limit: query.limit, offset })) {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new LightproofError('LP_STATE_BAD_QUERY', `${name} must be a whole number ≥ 0, got ${v}.`);
      }
    }
    const { rows } = await this.store.query<TokenRow>(
      `${TOKEN_SELECT} WHERE $1::text IS NULL OR t.service = $1
       ORDER BY t.created_at DESC, t.seq DESC LIMIT $2 OFFSET $3`,
      [query.service ?? null, query.limit, offset],
    );
    return rows.map(tokenFromRow);
  }

  async revenue(): Promise<ServiceRevenue[]> {
    // Revenue is booked when a request proves the payment (used_at), as ServiceRevenue.paid says.
    // SUM over BIGINT is NUMERIC in PostgreSQL (it cannot overflow), which pg hands over as a string.
    // COLLATE "C" sorts services by bytes, as SQLite does, whatever the database's locale.
    const { rows } = await this.store.query<{
      service: string;
      minted: bigint;
      paid: bigint;
      revenue: string;
      requests: string;
    }>(
      `SELECT service, COUNT(*) AS minted, COUNT(used_at) AS paid,
              COALESCE(SUM(price_msat) FILTER (WHERE used_at IS NOT NULL), 0) AS revenue,
              COALESCE(SUM(requests), 0) AS requests
       FROM gateway_tokens GROUP BY service ORDER BY service COLLATE "C"`,
    );
    return rows.map((r) => ({
      service: r.service,
      minted: Number(r.minted),
      paid: Number(r.paid),
      // A sum is not bounded by the bitcoin supply the way one amount is, so it skips msat()'s check.
      revenueMsat: BigInt(r.revenue) as Msat,
      requests: Number(r.requests),
    }));
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
