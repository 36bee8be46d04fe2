/** Turning anchor rows (the same columns in SQLite and PostgreSQL) into records. */
import type { AnchorRecord, AnchorState } from './types.js';

/** SQLite (safe integers) gives bigint, PostgreSQL number or bigint by column type. */
type Int = number | bigint;

export interface AnchorRow {
  id: Int;
  txid: string;
  hex: string;
  input_txid: string;
  input_vout: Int;
  input_sats: Int;
  fee_sats: Int;
  vsize: Int;
  first_round: Int;
  last_round: Int;
  tip: Uint8Array;
  created_at: Int;
  state: AnchorState;
  height: Int | null;
  block_hash: string | null;
}

export function anchorFromRow(r: AnchorRow): AnchorRecord {
  return {
    id: Number(r.id),
    txid: r.txid,
    hex: r.hex,
    inputTxid: r.input_txid,
    inputVout: Number(r.input_vout),
    inputSats: BigInt(r.input_sats),
    feeSats: BigInt(r.fee_sats),
    vsize: Number(r.vsize),
    firstRound: Number(r.first_round),
    lastRound: Number(r.last_round),
    tip: new Uint8Array(r.tip),
    createdAt: Number(r.created_at),
    state: r.state,
    height: r.height === null ? null : Number(r.height),
    blockHash: r.block_hash,
  };
}
