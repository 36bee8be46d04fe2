/**
 * The calendar in one SQLite file (WAL, synchronous=FULL): a round is acknowledged only after its
 * INSERT has committed, so an acknowledged digest survives a crash or a power cut.
 */
import type { Statement } from 'better-sqlite3';
import { type Migration, openSqlite, type SqliteDb } from '../../store/index.js';
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

export const SQLITE_CALENDAR_MIGRATIONS: readonly Migration[] = [
  {
    module: 'calendar',
    version: 1,
    sql: `
      CREATE TABLE calendar_rounds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        commitment BLOB NOT NULL UNIQUE,
        tip BLOB NOT NULL,
        time INTEGER NOT NULL,
        digests INTEGER NOT NULL CHECK (digests > 0),
        leaves BLOB NOT NULL,
        anchor_txid TEXT,
        anchor_height INTEGER,
        proof BLOB
      );
      CREATE INDEX calendar_rounds_anchor_height ON calendar_rounds (anchor_height);
      CREATE TABLE calendar_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE calendar_blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL);
      CREATE TABLE calendar_utxos (
        txid TEXT NOT NULL,
        vout INTEGER NOT NULL,
        sats INTEGER NOT NULL CHECK (sats >= 0),
        height INTEGER NOT NULL,
        spent_by TEXT,
        spent_height INTEGER,
        PRIMARY KEY (txid, vout)
      );
      CREATE TABLE calendar_anchors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        txid TEXT NOT NULL UNIQUE,
        hex TEXT NOT NULL,
        input_txid TEXT NOT NULL,
        input_vout INTEGER NOT NULL,
        input_sats INTEGER NOT NULL,
        fee_sats INTEGER NOT NULL,
        vsize INTEGER NOT NULL,
        first_round INTEGER NOT NULL,
        last_round INTEGER NOT NULL,
        tip BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'replaced', 'confirmed', 'failed')),
        height INTEGER,
        block_hash TEXT
      );
      CREATE INDEX calendar_anchors_input ON calendar_anchors (input_txid, input_vout);
    `,
  },
];

const bytes = (b: Buffer | null): Uint8Array | null => (b === null ? null : new Uint8Array(b));

export class SqliteCalendarStore implements CalendarStore {
  readonly where: string;
  private readonly s: Record<string, Statement>;

  private constructor(
    private readonly db: SqliteDb,
    path: string,
  ) {
    this.where = path;
    // Integers stay exact as bigint; the calendar converts the few it counts with.
    db.defaultSafeIntegers(true);
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      addRound: p(
        'INSERT INTO calendar_rounds (commitment, tip, time, digests, leaves) VALUES (?, ?, ?, ?, ?)',
      ),
      round: p('SELECT id, commitment, tip, time, digests, leaves FROM calendar_rounds WHERE id = ?'),
      lookup: p('SELECT id, anchor_txid, anchor_height, proof FROM calendar_rounds WHERE commitment = ?'),
      commitments: p('SELECT id, commitment FROM calendar_rounds WHERE id BETWEEN ? AND ? ORDER BY id'),
      lastRound: p('SELECT COALESCE(MAX(id), 0) AS id FROM calendar_rounds'),
      stats: p(
        `SELECT COUNT(*) AS rounds, COALESCE(SUM(digests), 0) AS digests, COALESCE(MAX(id), 0) AS last,
           (SELECT time FROM calendar_rounds ORDER BY id DESC LIMIT 1) AS last_time,
           COUNT(anchor_height) AS anchored
         FROM calendar_rounds`,
      ),
      getMeta: p('SELECT value FROM calendar_meta WHERE key = ?'),
      setMeta: p(
        'INSERT INTO calendar_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      tipBlock: p('SELECT height, hash FROM calendar_blocks ORDER BY height DESC LIMIT 1'),
      blockHash: p('SELECT hash FROM calendar_blocks WHERE height = ?'),
      addBlock: p('INSERT INTO calendar_blocks (height, hash) VALUES (?, ?)'),
      receive: p(
        'INSERT INTO calendar_utxos (txid, vout, sats, height) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      spend: p('UPDATE calendar_utxos SET spent_by = ?, spent_height = ? WHERE txid = ? AND vout = ?'),
      confirm: p(
        "UPDATE calendar_anchors SET state = 'confirmed', height = ?, block_hash = ? WHERE txid = ?",
      ),
      supersede: p(
        `UPDATE calendar_anchors SET state = 'replaced'
         WHERE txid <> ? AND state IN ('pending', 'failed')
           AND (input_txid, input_vout) = (SELECT input_txid, input_vout FROM calendar_anchors WHERE txid = ?)`,
      ),
      prove: p('UPDATE calendar_rounds SET anchor_txid = ?, anchor_height = ?, proof = ? WHERE id = ?'),
      dropBlocks: p('DELETE FROM calendar_blocks WHERE height > ?'),
      dropUtxos: p('DELETE FROM calendar_utxos WHERE height > ?'),
      unspend: p('UPDATE calendar_utxos SET spent_by = NULL, spent_height = NULL WHERE spent_height > ?'),
      unconfirm: p(
        "UPDATE calendar_anchors SET state = 'pending', height = NULL, block_hash = NULL WHERE state = 'confirmed' AND height > ?",
      ),
      unprove: p(
        'UPDATE calendar_rounds SET anchor_txid = NULL, anchor_height = NULL, proof = NULL WHERE anchor_height > ?',
      ),
      unspent: p(
        'SELECT txid, vout, sats, height, spent_by FROM calendar_utxos WHERE spent_by IS NULL ORDER BY height, txid, vout',
      ),
      addAnchor: p(
        `INSERT INTO calendar_anchors (txid, hex, input_txid, input_vout, input_sats, fee_sats, vsize,
           first_round, last_round, tip, created_at, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') RETURNING *`,
      ),
      openAnchors: p(
        `SELECT a.* FROM calendar_anchors a WHERE a.state <> 'confirmed' AND NOT EXISTS (
           SELECT 1 FROM calendar_utxos u
           WHERE u.txid = a.input_txid AND u.vout = a.input_vout AND u.spent_by IS NOT NULL)
         ORDER BY a.id`,
      ),
      lastConfirmed: p(
        "SELECT * FROM calendar_anchors WHERE state = 'confirmed' ORDER BY height DESC, id DESC LIMIT 1",
      ),
      anchoredThrough: p(
        "SELECT COALESCE(MAX(last_round), 0) AS last FROM calendar_anchors WHERE state IN ('pending', 'confirmed')",
      ),
      setAnchor: p('UPDATE calendar_anchors SET state = ? WHERE txid = ?'),
    };
  }

  static open(path: string): SqliteCalendarStore {
    return new SqliteCalendarStore(openSqlite(path, SQLITE_CALENDAR_MIGRATIONS), path);
  }

  async addRound(r: NewRound): Promise<number> {
    const info = this.s.addRound!.run(r.commitment, r.tip, r.time, r.digests, r.leaves);
    return Number(info.lastInsertRowid);
  }

  async round(id: number): Promise<RoundRecord | null> {
    const row = this.s.round!.get(id) as
      | { id: bigint; commitment: Buffer; tip: Buffer; time: bigint; digests: bigint; leaves: Buffer }
      | undefined;
    if (!row) return null;
    return {
      id: Number(row.id),
      commitment: new Uint8Array(row.commitment),
      tip: new Uint8Array(row.tip),
      time: Number(row.time),
      digests: Number(row.digests),
      leaves: new Uint8Array(row.leaves),
    };
  }

  async lookup(commitment: Uint8Array): Promise<CommitmentStatus | null> {
    const row = this.s.lookup!.get(commitment) as
      | { id: bigint; anchor_txid: string | null; anchor_height: bigint | null; proof: Buffer | null }
      | undefined;
    if (!row) return null;
    return {
      roundId: Number(row.id),
      anchor:
        row.anchor_txid === null || row.anchor_height === null
          ? null
          : { txid: row.anchor_txid, height: Number(row.anchor_height) },
      proof: bytes(row.proof),
    };
  }

  async commitments(first: number, last: number): Promise<{ id: number; commitment: Uint8Array }[]> {
    const rows = this.s.commitments!.all(first, last) as { id: bigint; commitment: Buffer }[];
    return rows.map((r) => ({ id: Number(r.id), commitment: new Uint8Array(r.commitment) }));
  }

  async lastRoundId(): Promise<number> {
    return Number((this.s.lastRound!.get() as { id: bigint }).id);
  }

  async stats(): Promise<CalendarStats> {
    const r = this.s.stats!.get() as {
      rounds: bigint;
      digests: bigint;
      last: bigint;
      last_time: bigint | null;
      anchored: bigint;
    };
    return {
      rounds: Number(r.rounds),
      digests: Number(r.digests),
      lastRoundId: Number(r.last),
      lastRoundTime: r.last_time === null ? null : Number(r.last_time),
      anchoredRounds: Number(r.anchored),
    };
  }

  async getMeta(key: string): Promise<string | null> {
    return (this.s.getMeta!.get(key) as { value: string } | undefined)?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.s.setMeta!.run(key, value);
  }

  async tipBlock(): Promise<{ height: number; hash: string } | null> {
    const row = this.s.tipBlock!.get() as { height: bigint; hash: string } | undefined;
    return row ? { height: Number(row.height), hash: row.hash } : null;
  }

  async blockHash(height: number): Promise<string | null> {
    return (this.s.blockHash!.get(height) as { hash: string } | undefined)?.hash ?? null;
  }

  async applyBlock(u: BlockUpdate): Promise<void> {
    this.db
      .transaction(() => {
        this.s.addBlock!.run(u.height, u.hash);
        for (const r of u.received) this.s.receive!.run(r.txid, r.vout, r.sats, u.height);
        for (const sp of u.spent) this.s.spend!.run(sp.spentBy, u.height, sp.txid, sp.vout);
        for (const c of u.confirmed) {
          this.s.confirm!.run(u.height, u.hash, c.txid);
          this.s.supersede!.run(c.txid, c.txid);
          for (const p of c.proofs) this.s.prove!.run(c.txid, u.height, p.proof, p.roundId);
        }
      })
      .immediate();
  }

  async rollbackTo(height: number): Promise<void> {
    this.db
      .transaction(() => {
        for (const name of ['dropBlocks', 'dropUtxos', 'unspend', 'unconfirm', 'unprove']) {
          this.s[name]!.run(height);
        }
      })
      .immediate();
  }

  async unspent(): Promise<Utxo[]> {
    const rows = this.s.unspent!.all() as {
      txid: string;
      vout: bigint;
      sats: bigint;
      height: bigint;
      spent_by: string | null;
    }[];
    return rows.map((r) => ({
      txid: r.txid,
      vout: Number(r.vout),
      sats: r.sats,
      height: Number(r.height),
      spentBy: r.spent_by,
    }));
  }

  async addAnchor(a: NewAnchor): Promise<AnchorRecord> {
    const row = this.s.addAnchor!.get(
      a.txid,
      a.hex,
      a.inputTxid,
      a.inputVout,
      a.inputSats,
      a.feeSats,
      a.vsize,
      a.firstRound,
      a.lastRound,
      a.tip,
      a.createdAt,
    ) as AnchorRow;
    return anchorFromRow(row);
  }

  async anchors(states: readonly AnchorState[]): Promise<AnchorRecord[]> {
    if (states.length === 0) return [];
    const sql = `SELECT * FROM calendar_anchors WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY id`;
    return (this.db.prepare(sql).all(...states) as AnchorRow[]).map(anchorFromRow);
  }

  async openAnchors(): Promise<AnchorRecord[]> {
    return (this.s.openAnchors!.all() as AnchorRow[]).map(anchorFromRow);
  }

  async lastConfirmedAnchor(): Promise<AnchorRecord | null> {
    const row = this.s.lastConfirmed!.get() as AnchorRow | undefined;
    return row ? anchorFromRow(row) : null;
  }

  async anchoredThrough(): Promise<number> {
    return Number((this.s.anchoredThrough!.get() as { last: bigint }).last);
  }

  async setAnchorState(txid: string, state: 'replaced' | 'failed' | 'pending'): Promise<void> {
    this.s.setAnchor!.run(state, txid);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
