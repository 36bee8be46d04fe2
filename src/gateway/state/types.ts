/**
 * What a gateway remembers between requests. Token verification itself reads nothing from here (root
 * keys are derived); the state holds what must be shared by every gateway process behind one
 * provider: minted tokens, revenue, revocations, prepaid credit and freebies. SQLite serves one
 * process; PostgreSQL lets several share it.
 */
import type { Msat } from '../../core/money.js';

export interface MintRecord {
  tokenId: string;
  /** 32-byte payment hash, lower-case hex. */
  paymentHash: string;
  service: string;
  priceMsat: Msat;
  /** Prepaid credit the token carries; null for a plain pay-per-token token. */
  creditMsat: Msat | null;
  /** Unix seconds. */
  createdAt: number;
}

export interface TokenRecord extends MintRecord {
  /**
   * Unix seconds when payment was first seen: the node reported the invoice settled, or a request
   * proved it with a valid preimage, whichever came first; null until then.
   */
  paidAt: number | null;
  revokedAt: number | null;
  /** Credit left, for credit tokens that have been used at least once; null otherwise. */
  remainingMsat: Msat | null;
  /** Authenticated requests served with this token. */
  requests: number;
}

export interface ServiceRevenue {
  service: string;
  /** Tokens minted (challenges issued). */
  minted: number;
  /** Tokens whose payment was proven by a request. */
  paid: number;
  /** Sum of priceMsat over paid tokens. */
  revenueMsat: Msat;
  requests: number;
}

export type DebitResult = { ok: true; remainingMsat: Msat } | { ok: false; remainingMsat: Msat };

export interface GatewayState {
  /** Remembers a challenge that was issued. Idempotent by tokenId. */
  recordMint(record: MintRecord): Promise<void>;
  /**
   * Counts one authenticated request for the token, and the first time books the token as used
   * (revenue: a valid preimage proves the payment; paidAt is set if settlement was not seen yet).
   * Returns true when this call was the first use, across every process.
   * A token the gateway never minted (e.g. minted before its database was reset) is booked from
   * `fallback` the first time.
   */
  recordUse(tokenId: string, at: number, fallback: MintRecord): Promise<{ firstUse: boolean }>;
  /**
   * Adds request counts gathered in memory (token id → requests since the last flush). A gateway
   * flushes every second or so instead of writing on every request.
   */
  countRequests(counts: ReadonlyMap<string, number>): Promise<void>;
  /**
   * The node reported the invoice with this payment hash settled. Sets paidAt if not yet set, and
   * returns the token when this call was the first to see it paid (null otherwise, or when no minted
   * token has this payment hash).
   */
  markSettled(paymentHash: string, at: number): Promise<TokenRecord | null>;
  /**
   * Draws `amountMsat` from the token's prepaid credit, atomically across processes. The balance
   * starts at `initialMsat` (the credit caveat) the first time. Fails, changing nothing, when less
   * than `amountMsat` is left.
   */
  debit(tokenId: string, initialMsat: Msat, amountMsat: Msat): Promise<DebitResult>;
  /**
   * Settles a reservation made by `debit` once the real cost is known: `deltaMsat` > 0 draws more
   * (never below zero: the response was already delivered), < 0 gives back. Returns what is left.
   */
  settle(tokenId: string, deltaMsat: bigint): Promise<Msat>;
  /** Revokes a token. Returns false when it was already revoked. */
  revoke(tokenId: string, at: number): Promise<boolean>;
  isRevoked(tokenId: string): Promise<boolean>;
  /**
   * Token ids revoked after `cursor` (an opaque, increasing number; 0 to start), for a cache that
   * polls. Returns the new cursor.
   */
  revokedSince(cursor: number): Promise<{ tokenIds: string[]; cursor: number }>;
  /**
   * Takes one of `limit` free requests for `key` (e.g. client IP) on `service`. True when one was
   * left; atomic across processes.
   */
  takeFreebie(service: string, key: string, limit: number): Promise<boolean>;
  getToken(tokenId: string): Promise<TokenRecord | null>;
  /** Newest first. */
  listTokens(query: { service?: string; limit: number; offset?: number }): Promise<TokenRecord[]>;
  revenue(): Promise<ServiceRevenue[]>;
  close(): Promise<void>;
}
