import { randomBytes } from 'node:crypto';
import { on } from 'node:events';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import { encodeInvoice } from '../bolt11.js';
import { checkPayable, parsePaymentHash } from '../checks.js';
import type {
  Balance,
  CreatedInvoice,
  CreateInvoiceRequest,
  InvoiceStatus,
  LightningNode,
  NodeInfo,
  PaymentResult,
  PaymentStatus,
  PayOptions,
} from '../types.js';
import type { EmbeddedLightning } from './host.js';
import { nowSeconds } from './host.js';

/** Invoice features we set: var_onion_optin and payment_secret, both required, as LND does. */
const INVOICE_FEATURES = [8, 14];
const MAX_EXPIRY_SECONDS = 365 * 24 * 3600;
const MAX_DESCRIPTION_BYTES = 639;
export const EMBEDDED_VERSION = '0.1.0-lightproof-embedded';

interface InvoiceRow {
  payment_hash: Buffer;
  account_id: bigint;
  preimage: Buffer;
  payment_request: string;
  amount_msat: bigint | null;
  description: string | null;
  created_at: bigint;
  expires_at: bigint;
  state: 'open' | 'settled' | 'canceled';
  amount_paid_msat: bigint;
  settled_at: bigint | null;
}

interface PaymentRow {
  payment_hash: Buffer;
  amount_msat: bigint;
  fee_msat: bigint;
  state: 'succeeded' | 'failed';
  preimage: Buffer | null;
  failure_reason: string | null;
}

function invoiceStatus(row: InvoiceRow): InvoiceStatus {
  const expired = row.state === 'open' && BigInt(nowSeconds()) >= row.expires_at;
  return {
    paymentHash: row.payment_hash.toString('hex'),
    paymentRequest: row.payment_request,
    // LND cancels an open invoice once it expires; report it the same way.
    state: expired ? 'canceled' : row.state,
    amountMsat: row.amount_msat === null ? null : (row.amount_msat as Msat),
    amountPaidMsat: row.amount_paid_msat as Msat,
    preimage: row.preimage.toString('hex'),
    description: row.description,
    createdAt: Number(row.created_at),
    settledAt: row.settled_at === null ? null : Number(row.settled_at),
  };
}

function paymentStatus(row: PaymentRow): PaymentStatus {
  return {
    paymentHash: row.payment_hash.toString('hex'),
    state: row.state,
    preimage: row.preimage ? row.preimage.toString('hex') : null,
    amountMsat: row.amount_msat as Msat,
    feeMsat: row.fee_msat as Msat,
    failureReason: row.failure_reason,
  };
}

/** One account of the embedded node, seen as a LightningNode. */
export class EmbeddedNode implements LightningNode {
  readonly host: EmbeddedLightning;
  readonly accountId: bigint;
  readonly name: string;

  constructor(host: EmbeddedLightning, accountId: bigint, name: string) {
    this.host = host;
    this.accountId = accountId;
    this.name = name;
  }

  async getInfo(): Promise<NodeInfo> {
    return {
      pubkey: this.host.pubkey,
      alias: this.host.alias,
      network: this.host.network,
      blockHeight: null,
      synced: true,
      implementation: 'embedded',
      version: EMBEDDED_VERSION,
    };
  }

  async createInvoice(req: CreateInvoiceRequest): Promise<CreatedInvoice> {
    const amount = req.amountMsat === null ? null : msat(req.amountMsat);
    if (amount === 0n) {
      throw new LightproofError(
        'LP_BAD_AMOUNT',
        'An invoice amount must be positive; pass null for an amountless invoice.',
      );
    }
    const expiry = req.expirySeconds ?? 3600;
    if (!Number.isSafeInteger(expiry) || expiry < 1 || expiry > MAX_EXPIRY_SECONDS) {
      throw new LightproofError(
        'LP_LN_BAD_EXPIRY',
        `Invoice expiry must be 1 to ${MAX_EXPIRY_SECONDS} seconds.`,
      );
    }
    const description = req.description ?? (req.descriptionHash ? undefined : '');
    if (description !== undefined && Buffer.byteLength(description) > MAX_DESCRIPTION_BYTES) {
      throw new LightproofError(
        'LP_LN_DESCRIPTION_TOO_LONG',
        `A description may be at most ${MAX_DESCRIPTION_BYTES} bytes; pass a descriptionHash for longer text.`,
      );
    }
    const preimage = randomBytes(32);
    const paymentHash = sha256(preimage);
    const timestamp = nowSeconds();
    const paymentRequest = encodeInvoice(
      {
        network: this.host.network,
        amountMsat: amount,
        timestamp,
        paymentHash,
        paymentSecret: randomBytes(32),
        ...(description !== undefined ? { description } : { descriptionHash: req.descriptionHash! }),
        expiry,
        minFinalCltvExpiry: 80,
        featureBits: INVOICE_FEATURES,
      },
      this.host.secretKey,
    );
    const db = this.host.db;
    const row = db
      .transaction(() => {
        const next = (
          db.prepare('SELECT COALESCE(MAX(add_index), 0) + 1 AS n FROM invoices').get() as { n: bigint }
        ).n;
        db.prepare(
          `INSERT INTO invoices (payment_hash, account_id, preimage, payment_request, amount_msat, description,
             created_at, expires_at, state, add_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
        ).run(
          Buffer.from(paymentHash),
          this.accountId,
          preimage,
          paymentRequest,
          amount,
          description ?? null,
          BigInt(timestamp),
          BigInt(timestamp + expiry),
          next,
        );
        return this.invoiceRow(bytesToHex(paymentHash))!;
      })
      .immediate();
    this.host.emitInvoice(this.accountId, invoiceStatus(row));
    return { paymentRequest, paymentHash: bytesToHex(paymentHash), expiresAt: timestamp + expiry };
  }

  private invoiceRow(paymentHash: string | Buffer): InvoiceRow | undefined {
    const key = typeof paymentHash === 'string' ? Buffer.from(hexToBytes(paymentHash)) : paymentHash;
    return this.host.db.prepare('SELECT * FROM invoices WHERE payment_hash = ?').get(key) as
      | InvoiceRow
      | undefined;
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceStatus> {
    const hash = parsePaymentHash(paymentHash);
    const row = this.invoiceRow(hash);
    if (!row || row.account_id !== this.accountId) {
      throw new LightproofError(
        'LP_LN_INVOICE_NOT_FOUND',
        `Account '${this.name}' has no invoice with payment hash ${hash}; check the hash and the account.`,
        { status: 404 },
      );
    }
    return invoiceStatus(row);
  }

  async lookupPayment(paymentHash: string): Promise<PaymentStatus | null> {
    const row = this.host.db
      .prepare('SELECT * FROM payments WHERE account_id = ? AND payment_hash = ?')
      .get(this.accountId, Buffer.from(hexToBytes(parsePaymentHash(paymentHash)))) as PaymentRow | undefined;
    return row ? paymentStatus(row) : null;
  }

  async payInvoice(paymentRequest: string, opts: PayOptions = {}): Promise<PaymentResult> {
    const { invoice, amountMsat } = checkPayable(paymentRequest, {
      network: this.host.network,
      ...(opts.amountMsat !== undefined ? { amountMsat: opts.amountMsat } : {}),
    });
    if (invoice.payee !== this.host.pubkey) {
      throw new LightproofError(
        'LP_LN_NO_ROUTE',
        `The embedded node can only pay invoices of its own accounts, and this one is for node ${invoice.payee}. Pay it from an LND node.`,
        { status: 502 },
      );
    }
    const hash = Buffer.from(hexToBytes(invoice.paymentHash));
    const db = this.host.db;
    const { result, settled } = db
      .transaction(() => {
        const prior = db
          .prepare("SELECT * FROM payments WHERE account_id = ? AND payment_hash = ? AND state = 'succeeded'")
          .get(this.accountId, hash) as PaymentRow | undefined;
        if (prior) return { result: paymentStatus(prior) as PaymentResult, settled: null };
        const inv = this.invoiceRow(hash);
        if (!inv) {
          throw new LightproofError(
            'LP_LN_INVOICE_NOT_FOUND',
            'The payee does not know this invoice (it was never issued here or its record was lost); ask for a new one.',
            { status: 404 },
          );
        }
        if (inv.account_id === this.accountId) {
          throw new LightproofError(
            'LP_LN_SELF_PAYMENT',
            `Account '${this.name}' cannot pay its own invoice.`,
          );
        }
        if (inv.state === 'settled') {
          throw new LightproofError(
            'LP_LN_INVOICE_ALREADY_PAID',
            'This invoice was already paid by someone else; ask the payee for a new one.',
            { status: 409 },
          );
        }
        if (inv.state === 'canceled' || BigInt(nowSeconds()) >= inv.expires_at) {
          throw new LightproofError(
            'LP_LN_INVOICE_EXPIRED',
            'The payee no longer accepts this invoice; ask for a new one.',
          );
        }
        const balance = (
          db.prepare('SELECT balance_msat FROM accounts WHERE id = ?').get(this.accountId) as {
            balance_msat: bigint;
          }
        ).balance_msat;
        if (balance < amountMsat) {
          throw new LightproofError(
            'LP_LN_INSUFFICIENT_BALANCE',
            `Account '${this.name}' has ${balance} msat but this payment needs ${amountMsat} msat; add funds or pay less.`,
            { status: 402 },
          );
        }
        const now = BigInt(nowSeconds());
        db.prepare('UPDATE accounts SET balance_msat = balance_msat - ? WHERE id = ?').run(
          amountMsat,
          this.accountId,
        );
        this.host.options.beforePaymentCommit?.();
        db.prepare('UPDATE accounts SET balance_msat = balance_msat + ? WHERE id = ?').run(
          amountMsat,
          inv.account_id,
        );
        const settleIndex = (
          db.prepare('SELECT COALESCE(MAX(settle_index), 0) + 1 AS n FROM invoices').get() as {
            n: bigint;
          }
        ).n;
        db.prepare(
          "UPDATE invoices SET state = 'settled', amount_paid_msat = ?, settled_at = ?, settle_index = ? WHERE payment_hash = ?",
        ).run(amountMsat, now, settleIndex, hash);
        db.prepare(
          `INSERT OR REPLACE INTO payments (account_id, payment_hash, payment_request, amount_msat, fee_msat, state, preimage, created_at)
           VALUES (?, ?, ?, ?, 0, 'succeeded', ?, ?)`,
        ).run(this.accountId, hash, invoice.paymentRequest, amountMsat, inv.preimage, now);
        const ledger = db.prepare(
          'INSERT INTO ledger (account_id, delta_msat, kind, ref, at) VALUES (?, ?, ?, ?, ?)',
        );
        ledger.run(this.accountId, -amountMsat, 'payment', hash, now);
        ledger.run(inv.account_id, amountMsat, 'invoice', hash, now);
        const result: PaymentResult = {
          paymentHash: invoice.paymentHash,
          state: 'succeeded',
          preimage: inv.preimage.toString('hex'),
          amountMsat,
          feeMsat: 0n as Msat,
          failureReason: null,
        };
        return { result, settled: this.invoiceRow(hash)! };
      })
      .immediate();
    if (settled) this.host.emitInvoice(settled.account_id, invoiceStatus(settled));
    return result;
  }

  async balance(): Promise<Balance> {
    const row = this.host.db
      .prepare('SELECT balance_msat FROM accounts WHERE id = ?')
      .get(this.accountId) as {
      balance_msat: bigint;
    };
    return { spendableMsat: row.balance_msat as Msat, receivableMsat: null };
  }

  async *subscribeInvoices(opts: { signal: AbortSignal }): AsyncIterable<InvoiceStatus> {
    try {
      for await (const [accountId, status] of on(this.host.events, 'invoice', { signal: opts.signal })) {
        if (accountId === this.accountId) yield status as InvoiceStatus;
      }
    } catch (err) {
      if (!opts.signal.aborted) throw err;
    }
  }

  async close(): Promise<void> {}
}
