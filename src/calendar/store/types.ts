/**
 * What the calendar keeps: its rounds (every acknowledged digest), the chain as its wallet saw it,
 * the wallet's coins, and each anchor transaction with the rounds it commits to. Every change that
 * belongs together is one transaction, so a crash leaves the store at a state it had before or after.
 */

export interface NewRound {
  /** Unix seconds, as committed. */
  readonly time: number;
  readonly tip: Uint8Array;
  /** 44 bytes: time ‖ tip ‖ hmac8. */
  readonly commitment: Uint8Array;
  readonly digests: number;
  /** Every (digest, nonce), as round.ts encodes them. */
  readonly leaves: Uint8Array;
}

export interface RoundRecord extends NewRound {
  readonly id: number;
}

export interface CommitmentStatus {
  readonly roundId: number;
  /** The anchor transaction that confirmed this round, and its block height; null while pending. */
  readonly anchor: { readonly txid: string; readonly height: number } | null;
  /** The serialized path from the commitment to a Bitcoin attestation; null while pending. */
  readonly proof: Uint8Array | null;
}

export interface CalendarStats {
  readonly rounds: number;
  readonly digests: number;
  readonly lastRoundId: number;
  readonly lastRoundTime: number | null;
  /** Rounds whose anchor is in a block (of any depth). */
  readonly anchoredRounds: number;
}

/** pending: broadcast (or about to be) and not in a block; replaced: another version won or took over. */
export type AnchorState = 'pending' | 'replaced' | 'confirmed' | 'failed';

export interface NewAnchor {
  /** Display order. */
  readonly txid: string;
  /** The signed transaction, witness included. */
  readonly hex: string;
  readonly inputTxid: string;
  readonly inputVout: number;
  readonly inputSats: bigint;
  readonly feeSats: bigint;
  readonly vsize: number;
  /** Rounds firstRound..lastRound (ids, inclusive) are committed by this transaction's OP_RETURN. */
  readonly firstRound: number;
  readonly lastRound: number;
  readonly tip: Uint8Array;
  readonly createdAt: number;
}

export interface AnchorRecord extends NewAnchor {
  readonly id: number;
  readonly state: AnchorState;
  readonly height: number | null;
  readonly blockHash: string | null;
}

export interface Utxo {
  readonly txid: string;
  readonly vout: number;
  readonly sats: bigint;
  /** The block that created it. */
  readonly height: number;
  /** The transaction that spent it in a block, if any. */
  readonly spentBy: string | null;
}

/** Everything one block changes for the calendar, written in one transaction. */
export interface BlockUpdate {
  readonly height: number;
  readonly hash: string;
  readonly received: readonly { txid: string; vout: number; sats: bigint }[];
  readonly spent: readonly { txid: string; vout: number; spentBy: string }[];
  /** Anchor transactions in this block, each with the proof of every round it commits to. */
  readonly confirmed: readonly {
    readonly txid: string;
    readonly proofs: readonly { roundId: number; proof: Uint8Array }[];
  }[];
}

export interface CalendarStore {
  /** Where the data lives, for messages (a path, or user@host:port/db). */
  readonly where: string;

  /** Writes a round durably (one transaction) and returns its id; ids only grow. */
  addRound(round: NewRound): Promise<number>;
  round(id: number): Promise<RoundRecord | null>;
  lookup(commitment: Uint8Array): Promise<CommitmentStatus | null>;
  /** The commitments of rounds first..last (inclusive), in id order. */
  commitments(first: number, last: number): Promise<{ id: number; commitment: Uint8Array }[]>;
  /** 0 when there is none yet. */
  lastRoundId(): Promise<number>;
  stats(): Promise<CalendarStats>;

  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  /** The highest block the wallet has processed. */
  tipBlock(): Promise<{ height: number; hash: string } | null>;
  blockHash(height: number): Promise<string | null>;
  applyBlock(update: BlockUpdate): Promise<void>;
  /** Forgets every block above `height` and what they did: coins, spends, confirmations, proofs. */
  rollbackTo(height: number): Promise<void>;
  /** Coins created in processed blocks and not spent in one. */
  unspent(): Promise<Utxo[]>;

  /** Records a transaction as pending before it is broadcast, so a crash cannot lose track of it. */
  addAnchor(anchor: NewAnchor): Promise<AnchorRecord>;
  /** Anchors in these states, in id order. */
  anchors(states: readonly AnchorState[]): Promise<AnchorRecord[]>;
  /** Every version not confirmed whose input no processed block has spent: any of them may still be mined. */
  openAnchors(): Promise<AnchorRecord[]>;
  /** The confirmed anchor in the highest block, or null. */
  lastConfirmedAnchor(): Promise<AnchorRecord | null>;
  /** The last round id committed by a pending or confirmed anchor (0 when none): later rounds wait. */
  anchoredThrough(): Promise<number>;
  setAnchorState(txid: string, state: 'replaced' | 'failed' | 'pending'): Promise<void>;

  close(): Promise<void>;
}
