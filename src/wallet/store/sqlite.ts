/**
 * The wallet's payment journal in one SQLite file. Every write is a BEGIN IMMEDIATE transaction, so
 * payers in several processes take turns on the file's write lock: a budget read inside one can
 * never be stale by the time its reservation is written.
 */
import type { Statement } from 'better-sqlite3';
import { type Migration, openSqlite, type SqliteDb } from '../../store/index.js';
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

export const SQLITE_WALLET_MIGRATIONS: readonly Migration[] = [
  {
    module: 'wallet',
    version: 1,
    sql: `
      CREATE TABLE wallet_payments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        payment_hash TEXT NOT NULL UNIQUE,
        payment_request TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('l402', 'invoice')),
        url TEXT,
        domain TEXT,
        allowance_key TEXT,
        amount_msat INTEGER NOT NULL CHECK (amount_msat >= 0),
        fee_reserve_msat INTEGER NOT NULL CHECK (fee_reserve_msat >= 0),
        token TEXT,
        service TEXT,
        token_valid_until INTEGER,
        invoice_expires_at INTEGER NOT NULL,
        usd_per_btc TEXT,
        memo TEXT,
        state TEXT NOT NULL CHECK (state IN
          ('quoted', 'awaiting-approval', 'rejected', 'reserved', 'paying', 'paid', 'failed')),
        fee_msat INTEGER CHECK (fee_msat >= 0),
        preimage TEXT,
        reason_code TEXT,
        reason_text TEXT,
        decided_by TEXT,
        created_at INTEGER NOT NULL,
        reserved_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX wallet_payments_state ON wallet_payments (state);
      CREATE INDEX wallet_payments_allowance ON wallet_payments (allowance_key, reserved_at);
      CREATE INDEX wallet_payments_reserved_at ON wallet_payments (reserved_at);
      CREATE TABLE wallet_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        payment_id INTEGER NOT NULL REFERENCES wallet_payments (id),
        payment_hash TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        at INTEGER NOT NULL,
        detail TEXT
      );
      CREATE INDEX wallet_events_payment ON wallet_events (payment_id, seq);
      CREATE TABLE wallet_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        policy_json TEXT,
        policy_at INTEGER,
        frozen INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),
        frozen_at INTEGER,
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

const SPENT_SELECT = `SELECT COALESCE(SUM(CASE WHEN reserved_at >= ? THEN cost END), 0) AS hour,
    COALESCE(SUM(CASE WHEN reserved_at >= ? THEN cost END), 0) AS day,
    COALESCE(SUM(CASE WHEN reserved_at >= ? THEN cost END), 0) AS month,
    COALESCE(SUM(cost), 0) AS total
  FROM (SELECT reserved_at, ${COST_SQL} AS cost FROM wallet_payments WHERE ${COUNTED_SQL}`;
const SPENT_WALLET = `${SPENT_SELECT})`;
const SPENT_ALLOWANCE = `${SPENT_SELECT} AND allowance_key = ?)`;

const INSERT_EVENT = `INSERT INTO wallet_events (payment_id, payment_hash, from_state, to_state, at, detail)
  VALUES (?, ?, ?, ?, ?, ?)`;

const APPLY_OUTCOME = `UPDATE wallet_payments
  SET state = ?, reserved_at = ?, reason_code = ?, reason_text = ?, decided_by = ?, updated_at = ?
  WHERE id = ? RETURNING *`;

export class SqliteWalletStore implements WalletStore {
  private readonly statements = new Map<string, Statement>();

  private constructor(private readonly db: SqliteDb) {}

  /** Opens (or creates) the journal file; throws LP_STORE_CORRUPT for a file that is not SQLite. */
  static open(path: string): SqliteWalletStore {
    const db = openSqlite(path, SQLITE_WALLET_MIGRATIONS);
    // Every integer comes back as bigint, so msat amounts above 2^53 survive the round trip.
    db.defaultSafeIntegers(true);
    return new SqliteWalletStore(db);
  }

  private sql(text: string): Statement {
    let stmt = this.statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      this.statements.set(text, stmt);
    }
    return stmt;
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private row(where: 'id' | 'payment_hash', value: number | string): PaymentRecord | null {
    const row = this.sql(`SELECT * FROM wallet_payments WHERE ${where} = ?`).get(value) as
      | PaymentRow
      | undefined;
    return row ? paymentFromRow(row) : null;
  }

  private snapshot(windows: WindowStarts, allowanceKey: string | null): SpendSnapshot {
    const w = checkWindows(windows);
    const wallet = spentFromRow(this.sql(SPENT_WALLET).get(...w) as SpentRow);
    const allowance =
      allowanceKey === null
        ? null
        : spentFromRow(this.sql(SPENT_ALLOWANCE).get(...w, allowanceKey) as SpentRow);
    return { wallet, allowance, frozen: this.readSettings().frozen };
  }

  private readSettings(): WalletSettings {
    return settingsFromRow(
      this.sql(
        'SELECT policy_json, frozen, frozen_at, frozen_reason FROM wallet_settings WHERE id = 1',
      ).get() as SettingsRow,
    );
  }

  private event(
    p: { id: number; paymentHash: string },
    from: PaymentState | null,
    to: PaymentState,
    at: bigint,
    detail: string | null,
  ): void {
    this.sql(INSERT_EVENT).run(BigInt(p.id), p.paymentHash, from, to, at, detail);
  }

  /** Moves a quoted or awaiting-approval payment where its decision says, with its event. */
  private apply(current: PaymentRecord, outcome: Outcome, at: bigint): PaymentRecord {
    const { to, reservedAt, reasonCode, reasonText, decidedBy, detail } = outcome;
    const reserved = reservedAt === null ? null : BigInt(reservedAt);
    const row = this.sql(APPLY_OUTCOME).get(
      to,
      reserved,
      reasonCode,
      reasonText,
      decidedBy,
      at,
      BigInt(current.id),
    ) as PaymentRow;
    this.event(current, current.state, to, at, detail);
    return paymentFromRow(row);
  }

  async begin(
    payment: NewPayment,
    windows: WindowStarts,
    at: number,
    decide: (snapshot: SpendSnapshot) => Decision,
  ): Promise<{ record: PaymentRecord; created: boolean }> {
    const params = insertParams(payment, at);
    const t = unix(at, 'at');
    return this.write(() => {
      const existing = this.row('payment_hash', payment.paymentHash);
      if (existing) return { record: existing, created: false };
      const outcome = outcomeOf(decide(this.snapshot(windows, payment.allowanceKey)), at, null);
      const quoted = paymentFromRow(
        this.sql(`INSERT INTO wallet_payments (${INSERT_COLUMNS}) VALUES (${params.map(() => '?').join(', ')})
          RETURNING *`).get(...params) as PaymentRow,
      );
      this.event(quoted, null, 'quoted', t, null);
      return { record: this.apply(quoted, outcome, t), created: true };
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
    return this.write(() => {
      const current = this.row('id', id);
      if (current?.state !== 'awaiting-approval') return null;
      const outcome = outcomeOf(decide(this.snapshot(windows, current.allowanceKey)), at, decidedBy);
      return this.apply(current, outcome, t);
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
    const assignments = sets.map((s) =>
      s.keep ? `${s.column} = COALESCE(${s.column}, ?)` : `${s.column} = ?`,
    );
    const frozenClause = options.unlessFrozen
      ? ' AND NOT EXISTS (SELECT 1 FROM wallet_settings WHERE id = 1 AND frozen = 1)'
      : '';
    const update = `UPDATE wallet_payments SET ${assignments.join(', ')}
      WHERE id = ? AND state = ?${frozenClause} RETURNING *`;
    return this.write(() => {
      // Inside the write lock the state read here is the one the update sees, so it names the event's from.
      const current = this.row('id', id);
      if (!current || !states.includes(current.state)) return null;
      const row = this.sql(update).get(...sets.map((s) => s.value), BigInt(id), current.state) as
        | PaymentRow
        | undefined;
      if (!row) return null;
      this.event(current, current.state, to, unix(at, 'at'), detail);
      return paymentFromRow(row);
    });
  }

  async get(id: number): Promise<PaymentRecord | null> {
    return this.row('id', id);
  }

  async getByHash(paymentHash: string): Promise<PaymentRecord | null> {
    return this.row('payment_hash', paymentHash);
  }

  async list(query: ListQuery = {}): Promise<PaymentRecord[]> {
    const { states, limit, beforeId } = checkList(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (states) {
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    if (beforeId !== null) {
      where.push('id < ?');
      params.push(BigInt(beforeId));
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = this.sql(`SELECT * FROM wallet_payments ${filter} ORDER BY id DESC LIMIT ?`).all(
      ...params,
      BigInt(limit),
    ) as PaymentRow[];
    return rows.map(paymentFromRow);
  }

  async events(
    query: { paymentId?: number; afterSeq?: number; limit?: number } = {},
  ): Promise<WalletEvent[]> {
    const { paymentId, afterSeq, limit } = checkEvents(query);
    const rows = this.sql(
      `SELECT * FROM wallet_events WHERE seq > ? AND (? IS NULL OR payment_id = ?) ORDER BY seq LIMIT ?`,
    ).all(BigInt(afterSeq), paymentId, paymentId, BigInt(limit)) as EventRow[];
    return rows.map(eventFromRow);
  }

  async spent(windows: WindowStarts, allowanceKey: string | null): Promise<SpendSnapshot> {
    // A read transaction, so the wallet sums, the allowance sums and the freeze flag agree with each other.
    return this.db.transaction(() => this.snapshot(windows, allowanceKey)).deferred();
  }

  async settings(): Promise<WalletSettings> {
    return this.readSettings();
  }

  async setPolicy(policyJson: string, at: number): Promise<void> {
    const t = unix(at, 'at');
    this.write(() =>
      this.sql('UPDATE wallet_settings SET policy_json = ?, policy_at = ? WHERE id = 1').run(policyJson, t),
    );
  }

  async setFrozen(frozen: boolean, at: number, reason: string | null): Promise<void> {
    const t = unix(at, 'at');
    this.write(() =>
      this.sql('UPDATE wallet_settings SET frozen = ?, frozen_at = ?, frozen_reason = ? WHERE id = 1').run(
        frozen ? 1n : 0n,
        frozen ? t : null,
        frozen ? reason : null,
      ),
    );
  }

  async listTokens(origin: string): Promise<StoredToken[]> {
    return this.sql('SELECT key, origin, json FROM wallet_tokens WHERE origin = ? ORDER BY key').all(
      origin,
    ) as StoredToken[];
  }

  async putToken(token: StoredToken): Promise<void> {
    this.write(() =>
      this.sql(
        `INSERT INTO wallet_tokens (key, origin, json) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET origin = excluded.origin, json = excluded.json`,
      ).run(token.key, token.origin, token.json),
    );
  }

  async deleteToken(key: string): Promise<void> {
    this.write(() => this.sql('DELETE FROM wallet_tokens WHERE key = ?').run(key));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
