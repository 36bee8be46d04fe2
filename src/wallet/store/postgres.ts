/**
 * The wallet's payment journal in PostgreSQL, shared by every payer of one wallet. Every journal write
 * first takes one transaction-scoped advisory lock, so budget decisions, freezes and transitions take
 * turns across processes: a decision never reads budgets that another payer is about to change, and
 * event seqs are handed out in commit order (a reader paging with afterSeq never skips one).
 */
import type pg from 'pg';
import { type Migration, openPostgres, type PostgresOptions, type PostgresStore } from '../../store/index.js';
import type {
  Decision,
  ListQuery,
  NewPayment,
  PaymentRecord,
  PaymentState,
  SpendSnapshot,
  StoredToken,
  TransitionPatch,
  WalletEvent,
  WalletSettings,
  WalletStore,
  WindowStarts,
} from '../types.js';
import {
  COST_SQL,
  COUNTED_SQL,
  checkEvents,
  checkList,
  checkStates,
  checkWindows,
  detailJson,
  type EventRow,
  eventFromRow,
  INSERT_COLUMNS,
  insertParams,
  type Outcome,
  outcomeOf,
  type PaymentRow,
  paymentFromRow,
  type SettingsRow,
  type SpentRow,
  settingsFromRow,
  spentFromRow,
  transitionSets,
  unix,
} from './rows.js';

export const POSTGRES_WALLET_MIGRATIONS: readonly Migration[] = [
  {
    module: 'wallet',
    version: 1,
    sql: `
      CREATE TABLE wallet_payments (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payment_hash TEXT NOT NULL UNIQUE,
        payment_request TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('l402', 'invoice')),
        url TEXT,
        domain TEXT,
        allowance_key TEXT,
        amount_msat BIGINT NOT NULL CHECK (amount_msat >= 0),
        fee_reserve_msat BIGINT NOT NULL CHECK (fee_reserve_msat >= 0),
        token TEXT,
        service TEXT,
        token_valid_until BIGINT,
        invoice_expires_at BIGINT NOT NULL,
        usd_per_btc TEXT,
        memo TEXT,
        state TEXT NOT NULL CHECK (state IN
          ('quoted', 'awaiting-approval', 'rejected', 'reserved', 'paying', 'paid', 'failed')),
        fee_msat BIGINT CHECK (fee_msat >= 0),
        preimage TEXT,
        reason_code TEXT,
        reason_text TEXT,
        decided_by TEXT,
        created_at BIGINT NOT NULL,
        reserved_at BIGINT,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX wallet_payments_state ON wallet_payments (state);
      CREATE INDEX wallet_payments_allowance ON wallet_payments (allowance_key, reserved_at);
      CREATE INDEX wallet_payments_reserved_at ON wallet_payments (reserved_at);
      CREATE TABLE wallet_events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payment_id BIGINT NOT NULL REFERENCES wallet_payments (id),
        payment_hash TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        at BIGINT NOT NULL,
        detail TEXT
      );
      CREATE INDEX wallet_events_payment ON wallet_events (payment_id, seq);
      CREATE TABLE wallet_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        policy_json TEXT,
        policy_at BIGINT,
        frozen BOOLEAN NOT NULL DEFAULT FALSE,
        frozen_at BIGINT,
        frozen_reason TEXT
      );
      INSERT INTO wallet_settings (id) VALUES (1);
      CREATE TABLE wallet_tokens (
        key TEXT PRIMARY KEY,
        origin TEXT NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX wallet_tokens_origin ON wallet_tokens (origin);
    `,
  },
];

/** Any constant works as long as every Lightproof process uses the same one ("LP_WAL" in ASCII). */
const WALLET_LOCK = 0x4c50_5f57_414cn;

// SUM over BIGINT is NUMERIC in PostgreSQL (it cannot overflow), which pg hands over as a string.
const SPENT = `SELECT COALESCE(SUM(cost) FILTER (WHERE reserved_at >= $1), 0) AS hour,
    COALESCE(SUM(cost) FILTER (WHERE reserved_at >= $2), 0) AS day,
    COALESCE(SUM(cost) FILTER (WHERE reserved_at >= $3), 0) AS month,
    COALESCE(SUM(cost), 0) AS total
  FROM (SELECT reserved_at, ${COST_SQL} AS cost FROM wallet_payments
        WHERE ${COUNTED_SQL} AND ($4::text IS NULL OR allowance_key = $4)) AS counted`;

const INSERT_EVENT = `INSERT INTO wallet_events (payment_id, payment_hash, from_state, to_state, at, detail)
  VALUES ($1, $2, $3, $4, $5, $6)`;

const APPLY_OUTCOME = `UPDATE wallet_payments
  SET state = $1, reserved_at = $2, reason_code = $3, reason_text = $4, decided_by = $5, updated_at = $6
  WHERE id = $7 RETURNING *`;

const SETTINGS = 'SELECT policy_json, frozen, frozen_at, frozen_reason FROM wallet_settings WHERE id = 1';

/** Runs one query: on the pool, or on one transaction's connection. */
type Run = <R>(sql: string, params?: readonly unknown[]) => Promise<{ rows: R[] }>;

export class PostgresWalletStore implements WalletStore {
  private constructor(private readonly store: PostgresStore) {}

  /** Connects and migrates; throws LP_STORE_UNAVAILABLE naming host and port when it cannot connect. */
  static async open(url: string, opts?: PostgresOptions): Promise<PostgresWalletStore> {
    return new PostgresWalletStore(await openPostgres(url, POSTGRES_WALLET_MIGRATIONS, opts));
  }

  /**
   * Runs `fn` under the wallet lock. What the caller's own callbacks throw (decide) comes back as it
   * was thrown, not dressed as a database failure; the transaction is rolled back either way.
   */
  private async locked<T>(fn: (run: Run, guard: <R>(f: () => R) => R) => Promise<T>): Promise<T> {
    let thrown: { error: unknown } | undefined;
    const guard = <R>(f: () => R): R => {
      try {
        return f();
      } catch (error) {
        thrown = { error };
        throw error;
      }
    };
    try {
      return await this.store.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [WALLET_LOCK]);
        return fn(runOn(client), guard);
      });
    } catch (error) {
      throw thrown ? thrown.error : error;
    }
  }

  private async row(
    db: Run,
    where: 'id' | 'payment_hash',
    value: number | string,
  ): Promise<PaymentRecord | null> {
    const { rows } = await db<PaymentRow>(`SELECT * FROM wallet_payments WHERE ${where} = $1`, [value]);
    return rows[0] ? paymentFromRow(rows[0]) : null;
  }

  private async snapshot(
    db: Run,
    windows: WindowStarts,
    allowanceKey: string | null,
  ): Promise<SpendSnapshot> {
    const w = checkWindows(windows);
    const wallet = await db<SpentRow>(SPENT, [...w, null]);
    const allowance = allowanceKey === null ? null : await db<SpentRow>(SPENT, [...w, allowanceKey]);
    const settings = await db<SettingsRow>(SETTINGS);
    return {
      wallet: spentFromRow(wallet.rows[0]!),
      allowance: allowance ? spentFromRow(allowance.rows[0]!) : null,
      frozen: settingsFromRow(settings.rows[0]!).frozen,
    };
  }

  private async event(
    db: Run,
    p: { id: number; paymentHash: string },
    from: PaymentState | null,
    to: PaymentState,
    at: bigint,
    detail: string | null,
  ): Promise<void> {
    await db(INSERT_EVENT, [p.id, p.paymentHash, from, to, at, detail]);
  }

  /** Moves a quoted or awaiting-approval payment where its decision says, with its event. */
  private async apply(db: Run, current: PaymentRecord, outcome: Outcome, at: bigint): Promise<PaymentRecord> {
    const { to, reservedAt, reasonCode, reasonText, decidedBy, detail } = outcome;
    const { rows } = await db<PaymentRow>(APPLY_OUTCOME, [
      to,
      reservedAt,
      reasonCode,
      reasonText,
      decidedBy,
      at,
      current.id,
    ]);
    await this.event(db, current, current.state, to, at, detail);
    return paymentFromRow(rows[0]!);
  }

  async begin(
    payment: NewPayment,
    windows: WindowStarts,
    at: number,
    decide: (snapshot: SpendSnapshot) => Decision,
  ): Promise<{ record: PaymentRecord; created: boolean }> {
    const params = insertParams(payment, at);
    const t = unix(at, 'at');
    return this.locked(async (run, guard) => {
      // Only begin inserts payments, and only under the lock, so this read cannot miss a racing insert.
      const existing = await this.row(run, 'payment_hash', payment.paymentHash);
      if (existing) return { record: existing, created: false };
      const snapshot = await this.snapshot(run, windows, payment.allowanceKey);
      const outcome = guard(() => outcomeOf(decide(snapshot), at, null));
      const { rows } = await run<PaymentRow>(
        `INSERT INTO wallet_payments (${INSERT_COLUMNS}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')})
         RETURNING *`,
        params,
      );
      const quoted = paymentFromRow(rows[0]!);
      await this.event(run, quoted, null, 'quoted', t, null);
      return { record: await this.apply(run, quoted, outcome, t), created: true };
    });
  }

  async approve(
    id: number,
    windows: WindowStarts,
    at: number,
    decidedBy: string,
    decide: (snapshot: SpendSnapshot) => Decision,
  ): Promise<PaymentRecord | null> {
    const t = unix(at, 'at');
    return this.locked(async (run, guard) => {
      const current = await this.row(run, 'id', id);
      if (current?.state !== 'awaiting-approval') return null;
      const snapshot = await this.snapshot(run, windows, current.allowanceKey);
      const outcome = guard(() => outcomeOf(decide(snapshot), at, decidedBy));
      return this.apply(run, current, outcome, t);
    });
  }

  async transition(
    id: number,
    from: readonly PaymentState[],
    to: PaymentState,
    at: number,
    patch: TransitionPatch = {},
    options: { unlessFrozen?: boolean; detail?: Record<string, unknown> } = {},
  ): Promise<PaymentRecord | null> {
    const states = checkStates(from, 'from');
    const sets = transitionSets(to, at, patch);
    const detail = detailJson(options.detail);
    const assignments = sets.map((s, i) =>
      s.keep ? `${s.column} = COALESCE(${s.column}, $${i + 1})` : `${s.column} = $${i + 1}`,
    );
    const n = sets.length;
    const frozenClause = options.unlessFrozen
      ? ' AND NOT EXISTS (SELECT 1 FROM wallet_settings WHERE id = 1 AND frozen)'
      : '';
    const update = `UPDATE wallet_payments SET ${assignments.join(', ')}
      WHERE id = $${n + 1} AND state = $${n + 2}${frozenClause} RETURNING *`;
    return this.locked(async (run) => {
      // Under the lock the state read here is the one the update sees, so it names the event's from.
      const current = await this.row(run, 'id', id);
      if (!current || !states.includes(current.state)) return null;
      const { rows } = await run<PaymentRow>(update, [...sets.map((s) => s.value), id, current.state]);
      if (!rows[0]) return null;
      await this.event(run, current, current.state, to, unix(at, 'at'), detail);
      return paymentFromRow(rows[0]);
    });
  }

  /** Runs on the pool, with the store's error translation. */
  private readonly run: Run = (sql, params) => this.store.query(sql, params);

  async get(id: number): Promise<PaymentRecord | null> {
    return this.row(this.run, 'id', id);
  }

  async getByHash(paymentHash: string): Promise<PaymentRecord | null> {
    return this.row(this.run, 'payment_hash', paymentHash);
  }

  async list(query: ListQuery = {}): Promise<PaymentRecord[]> {
    const { states, limit, beforeId } = checkList(query);
    const { rows } = await this.store.query<PaymentRow>(
      `SELECT * FROM wallet_payments
       WHERE ($1::text[] IS NULL OR state = ANY($1::text[])) AND ($2::bigint IS NULL OR id < $2)
       ORDER BY id DESC LIMIT $3`,
      [states, beforeId, limit],
    );
    return rows.map(paymentFromRow);
  }

  async events(
    query: { paymentId?: number; afterSeq?: number; limit?: number } = {},
  ): Promise<WalletEvent[]> {
    const { paymentId, afterSeq, limit } = checkEvents(query);
    const { rows } = await this.store.query<EventRow>(
      `SELECT * FROM wallet_events WHERE seq > $1 AND ($2::bigint IS NULL OR payment_id = $2)
       ORDER BY seq LIMIT $3`,
      [afterSeq, paymentId, limit],
    );
    return rows.map(eventFromRow);
  }

  async spent(windows: WindowStarts, allowanceKey: string | null): Promise<SpendSnapshot> {
    // One snapshot, so the wallet sums, the allowance sums and the freeze flag agree with each other.
    return this.store.transaction(async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return this.snapshot(runOn(client), windows, allowanceKey);
    });
  }

  async settings(): Promise<WalletSettings> {
    const { rows } = await this.store.query<SettingsRow>(SETTINGS);
    return settingsFromRow(rows[0]!);
  }

  async setPolicy(policyJson: string, at: number): Promise<void> {
    const t = unix(at, 'at');
    await this.locked((run) =>
      run('UPDATE wallet_settings SET policy_json = $1, policy_at = $2 WHERE id = 1', [policyJson, t]),
    );
  }

  async setFrozen(frozen: boolean, at: number, reason: string | null): Promise<void> {
    const t = unix(at, 'at');
    // Under the lock, so once this returns no decision or unlessFrozen transition still sees it unfrozen.
    await this.locked((run) =>
      run('UPDATE wallet_settings SET frozen = $1, frozen_at = $2, frozen_reason = $3 WHERE id = 1', [
        frozen,
        frozen ? t : null,
        frozen ? reason : null,
      ]),
    );
  }

  async listTokens(origin: string): Promise<StoredToken[]> {
    // COLLATE "C" orders keys by bytes, as SQLite does, whatever the database's locale.
    const { rows } = await this.store.query<StoredToken>(
      'SELECT key, origin, json FROM wallet_tokens WHERE origin = $1 ORDER BY key COLLATE "C"',
      [origin],
    );
    return rows;
  }

  async putToken(token: StoredToken): Promise<void> {
    await this.store.query(
      `INSERT INTO wallet_tokens (key, origin, json) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET origin = excluded.origin, json = excluded.json`,
      [token.key, token.origin, token.json],
    );
  }

  async deleteToken(key: string): Promise<void> {
    await this.store.query('DELETE FROM wallet_tokens WHERE key = $1', [key]);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

function runOn(client: pg.PoolClient): Run {
  return async <R>(sql: string, params: readonly unknown[] = []) => {
    const result = await client.query(sql, [...params]);
    return { rows: result.rows as R[] };
  };
}
