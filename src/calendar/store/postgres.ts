/**
 * The calendar in PostgreSQL, for operators who already run one. The same tables and the same
 * one-transaction-per-change rule as the SQLite store; the contract test holds both to one behaviour.
 */
import type pg from 'pg';
import { type Migration, openPostgres, type PostgresOptions, type PostgresStore } from '../../store/index.js';
import { type AnchorRow, anchorFromRow } from './rows.js';
import type {
  AnchorRecord,
  AnchorState,
  BlockUpdate,
  CalendarStats,
  CalendarStore,
  CommitmentStatus,
  NewAnchor,
  NewRound,
  RoundRecord,
  Utxo,
} from './types.js';

export const POSTGRES_CALENDAR_MIGRATIONS: readonly Migration[] = [
  {
    module: 'calendar',
    version: 1,
    sql: `
      CREATE TABLE calendar_rounds (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        commitment BYTEA NOT NULL UNIQUE,
        tip BYTEA NOT NULL,
        time BIGINT NOT NULL,
        digests INTEGER NOT NULL CHECK (digests > 0),
        leaves BYTEA NOT NULL,
        anchor_txid TEXT,
        anchor_height INTEGER,
        proof BYTEA
      );
      CREATE INDEX calendar_rounds_anchor_height ON calendar_rounds (anchor_height);
      CREATE TABLE calendar_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE calendar_blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL);
      CREATE TABLE calendar_utxos (
        txid TEXT NOT NULL,
        vout INTEGER NOT NULL,
        sats BIGINT NOT NULL CHECK (sats >= 0),
        height INTEGER NOT NULL,
        spent_by TEXT,
        spent_height INTEGER,
        PRIMARY KEY (txid, vout)
      );
      CREATE TABLE calendar_anchors (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        txid TEXT NOT NULL UNIQUE,
        hex TEXT NOT NULL,
        input_txid TEXT NOT NULL,
        input_vout INTEGER NOT NULL,
        input_sats BIGINT NOT NULL,
        fee_sats BIGINT NOT NULL,
        vsize INTEGER NOT NULL,
        first_round BIGINT NOT NULL,
        last_round BIGINT NOT NULL,
        tip BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'replaced', 'confirmed', 'failed')),
        height INTEGER,
        block_hash TEXT
      );
      CREATE INDEX calendar_anchors_input ON calendar_anchors (input_txid, input_vout);
    `,
  },
];

const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length);

export class PostgresCalendarStore implements CalendarStore {
  private constructor(private readonly pg: PostgresStore) {}

  get where(): string {
    return this.pg.where;
  }

  static async open(url: string, opts?: PostgresOptions): Promise<PostgresCalendarStore> {
    return new PostgresCalendarStore(
      await openPostgres(url, POSTGRES_CALENDAR_MIGRATIONS, {
        applicationName: 'lightproof-calendar',
        ...opts,
      }),
    );
  }

  private async rows<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.pg.query<R>(sql, params)).rows;
  }

  async addRound(r: NewRound): Promise<number> {
    const [row] = await this.rows<{ id: bigint }>(
      'INSERT INTO calendar_rounds (commitment, tip, time, digests, leaves) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [buf(r.commitment), buf(r.tip), r.time, r.digests, buf(r.leaves)],
    );
    return Number(row!.id);
  }

  async round(id: number): Promise<RoundRecord | null> {
    const [row] = await this.rows<{
      id: bigint;
      commitment: Buffer;
      tip: Buffer;
      time: bigint;
      digests: number;
      leaves: Buffer;
    }>('SELECT id, commitment, tip, time, digests, leaves FROM calendar_rounds WHERE id = $1', [id]);
    if (!row) return null;
    return {
      id: Number(row.id),
      commitment: new Uint8Array(row.commitment),
      tip: new Uint8Array(row.tip),
      time: Number(row.time),
      digests: row.digests,
      leaves: new Uint8Array(row.leaves),
    };
  }

  async lookup(commitment: Uint8Array): Promise<CommitmentStatus | null> {
    const [row] = await this.rows<{
      id: bigint;
      anchor_txid: string | null;
      anchor_height: number | null;
      proof: Buffer | null;
    }>('SELECT id, anchor_txid, anchor_height, proof FROM calendar_rounds WHERE commitment = $1', [
      buf(commitment),
    ]);
    if (!row) return null;
    return {
      roundId: Number(row.id),
      anchor:
        row.anchor_txid === null || row.anchor_height === null
          ? null
          : { txid: row.anchor_txid, height: row.anchor_height },
      proof: row.proof === null ? null : new Uint8Array(row.proof),
    };
  }

  async commitments(first: number, last: number): Promise<{ id: number; commitment: Uint8Array }[]> {
    const rows = await this.rows<{ id: bigint; commitment: Buffer }>(
      'SELECT id, commitment FROM calendar_rounds WHERE id BETWEEN $1 AND $2 ORDER BY id',
      [first, last],
    );
    return rows.map((r) => ({ id: Number(r.id), commitment: new Uint8Array(r.commitment) }));
  }

  async lastRoundId(): Promise<number> {
    const [row] = await this.rows<{ id: bigint }>(
      'SELECT COALESCE(MAX(id), 0)::bigint AS id FROM calendar_rounds',
    );
    return Number(row!.id);
  }

  async stats(): Promise<CalendarStats> {
    const [r] = await this.rows<{
      rounds: bigint;
      digests: bigint;
      last: bigint;
      last_time: bigint | null;
      anchored: bigint;
    }>(
      `SELECT COUNT(*)::bigint AS rounds, COALESCE(SUM(digests), 0)::bigint AS digests,
         COALESCE(MAX(id), 0)::bigint AS last,
         (SELECT time FROM calendar_rounds ORDER BY id DESC LIMIT 1) AS last_time,
         COUNT(anchor_height)::bigint AS anchored
       FROM calendar_rounds`,
    );
    return {
      rounds: Number(r!.rounds),
      digests: Number(r!.digests),
      lastRoundId: Number(r!.last),
      lastRoundTime: r!.last_time === null ? null : Number(r!.last_time),
      anchoredRounds: Number(r!.anchored),
    };
  }

  async getMeta(key: string): Promise<string | null> {
    const [row] = await this.rows<{ value: string }>('SELECT value FROM calendar_meta WHERE key = $1', [key]);
    return row?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pg.query(
      'INSERT INTO calendar_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async tipBlock(): Promise<{ height: number; hash: string } | null> {
    const [row] = await this.rows<{ height: number; hash: string }>(
      'SELECT height, hash FROM calendar_blocks ORDER BY height DESC LIMIT 1',
    );
    return row ?? null;
  }

  async blockHash(height: number): Promise<string | null> {
    const [row] = await this.rows<{ hash: string }>('SELECT hash FROM calendar_blocks WHERE height = $1', [
      height,
    ]);
    return row?.hash ?? null;
  }

  async applyBlock(u: BlockUpdate): Promise<void> {
    await this.pg.transaction(async (c) => {
      await c.query('INSERT INTO calendar_blocks (height, hash) VALUES ($1, $2)', [u.height, u.hash]);
      for (const r of u.received) {
        await c.query(
          'INSERT INTO calendar_utxos (txid, vout, sats, height) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
          [r.txid, r.vout, r.sats, u.height],
        );
      }
      for (const sp of u.spent) {
        await c.query(
          'UPDATE calendar_utxos SET spent_by = $1, spent_height = $2 WHERE txid = $3 AND vout = $4',
          [sp.spentBy, u.height, sp.txid, sp.vout],
        );
      }
      for (const conf of u.confirmed) await confirm(c, u, conf);
    });
  }

  async rollbackTo(height: number): Promise<void> {
    await this.pg.transaction(async (c) => {
      await c.query('DELETE FROM calendar_blocks WHERE height > $1', [height]);
      await c.query('DELETE FROM calendar_utxos WHERE height > $1', [height]);
      await c.query(
        'UPDATE calendar_utxos SET spent_by = NULL, spent_height = NULL WHERE spent_height > $1',
        [height],
      );
      await c.query(
        "UPDATE calendar_anchors SET state = 'pending', height = NULL, block_hash = NULL WHERE state = 'confirmed' AND height > $1",
        [height],
      );
      await c.query(
        'UPDATE calendar_rounds SET anchor_txid = NULL, anchor_height = NULL, proof = NULL WHERE anchor_height > $1',
        [height],
      );
    });
  }

  async unspent(): Promise<Utxo[]> {
    const rows = await this.rows<{
      txid: string;
      vout: number;
      sats: bigint;
      height: number;
      spent_by: string | null;
    }>(
      'SELECT txid, vout, sats, height, spent_by FROM calendar_utxos WHERE spent_by IS NULL ORDER BY height, txid, vout',
    );
    return rows.map((r) => ({
      txid: r.txid,
      vout: r.vout,
      sats: r.sats,
      height: r.height,
      spentBy: r.spent_by,
    }));
  }

  async addAnchor(a: NewAnchor): Promise<AnchorRecord> {
    const [row] = await this.rows<AnchorRow>(
      `INSERT INTO calendar_anchors (txid, hex, input_txid, input_vout, input_sats, fee_sats, vsize,
         first_round, last_round, tip, created_at, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending') RETURNING *`,
      [
        a.txid,
        a.hex,
        a.inputTxid,
        a.inputVout,
        a.inputSats,
        a.feeSats,
        a.vsize,
        a.firstRound,
        a.lastRound,
        buf(a.tip),
        a.createdAt,
      ],
    );
    return anchorFromRow(row!);
  }

  async anchors(states: readonly AnchorState[]): Promise<AnchorRecord[]> {
    const rows = await this.rows<AnchorRow>(
      'SELECT * FROM calendar_anchors WHERE state = ANY($1) ORDER BY id',
      [[...states]],
    );
    return rows.map(anchorFromRow);
  }

  async openAnchors(): Promise<AnchorRecord[]> {
    const rows = await this.rows<AnchorRow>(
      `SELECT a.* FROM calendar_anchors a WHERE a.state <> 'confirmed' AND NOT EXISTS (
         SELECT 1 FROM calendar_utxos u
         WHERE u.txid = a.input_txid AND u.vout = a.input_vout AND u.spent_by IS NOT NULL)
       ORDER BY a.id`,
    );
    return rows.map(anchorFromRow);
  }

  async lastConfirmedAnchor(): Promise<AnchorRecord | null> {
    const [row] = await this.rows<AnchorRow>(
      "SELECT * FROM calendar_anchors WHERE state = 'confirmed' ORDER BY height DESC, id DESC LIMIT 1",
    );
    return row ? anchorFromRow(row) : null;
  }

  async anchoredThrough(): Promise<number> {
    const [row] = await this.rows<{ last: bigint }>(
      "SELECT COALESCE(MAX(last_round), 0)::bigint AS last FROM calendar_anchors WHERE state IN ('pending', 'confirmed')",
    );
    return Number(row!.last);
  }

  async setAnchorState(txid: string, state: 'replaced' | 'failed' | 'pending'): Promise<void> {
    await this.pg.query('UPDATE calendar_anchors SET state = $1 WHERE txid = $2', [state, txid]);
  }

  async close(): Promise<void> {
    await this.pg.close();
  }
}

async function confirm(
  c: pg.PoolClient,
  u: BlockUpdate,
  conf: BlockUpdate['confirmed'][number],
): Promise<void> {
  await c.query(
    "UPDATE calendar_anchors SET state = 'confirmed', height = $1, block_hash = $2 WHERE txid = $3",
    [u.height, u.hash, conf.txid],
  );
  await c.query(
    `UPDATE calendar_anchors SET state = 'replaced'
     WHERE txid <> $1 AND state IN ('pending', 'failed')
       AND (input_txid, input_vout) = (SELECT input_txid, input_vout FROM calendar_anchors WHERE txid = $1)`,
    [conf.txid],
  );
  for (const p of conf.proofs) {
    await c.query(
      'UPDATE calendar_rounds SET anchor_txid = $1, anchor_height = $2, proof = $3 WHERE id = $4',
      [conf.txid, u.height, buf(p.proof), p.roundId],
    );
  }
}
