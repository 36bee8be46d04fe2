import { readFileSync } from 'node:fs';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import { decodeInvoice, invoiceExpiresAt, type Network } from '../bolt11.js';
import { checkPayable, defaultMaxFee, parsePaymentHash } from '../checks.js';
import { type HttpTarget, requestJson, streamJson } from '../http.js';
import type {
  Balance,
  CreatedInvoice,
  CreateInvoiceRequest,
  InvoiceState,
  InvoiceStatus,
  LightningNode,
  NodeInfo,
  PaymentResult,
  PaymentStatus,
  PayOptions,
} from '../types.js';
import { type LndError, lndError, paymentFailure } from './errors.js';

export interface LndOptions {
  /** REST base URL, e.g. https://127.0.0.1:8080 (http:// for a node started with --no-rest-tls). */
  restUrl: string;
  /** The macaroon's bytes, or its hex; or give macaroonPath. */
  macaroon?: Uint8Array | string;
  macaroonPath?: string;
  /** PEM of the node's tls.cert; or give tlsCertPath. */
  tlsCert?: string | Buffer;
  tlsCertPath?: string;
}

type Json = Record<string, unknown>;

const NETWORKS: Record<string, Network> = {
  mainnet: 'mainnet',
  testnet: 'testnet',
  testnet4: 'testnet',
  signet: 'signet',
  regtest: 'regtest',
  simnet: 'simnet',
};

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

function b64ToHex(v: unknown): string {
  return Buffer.from(str(v), 'base64').toString('hex');
}

function int(v: unknown): bigint {
  const s = str(v);
  return /^-?\d+$/.test(s) ? BigInt(s) : 0n;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new LightproofError(
      'LP_LN_BAD_CONFIG',
      `Cannot read the ${what} at ${path}: ${(cause as Error).message}.`,
      {
        cause,
      },
    );
  }
}

/** A LightningNode backed by LND's REST API (lnd 0.21: payments through /v2/router/send). */
export class LndNode implements LightningNode {
  readonly target: HttpTarget;
  #network: Network | undefined;

  constructor(opts: LndOptions) {
    let macaroon: string;
    if (opts.macaroon !== undefined) {
      macaroon = typeof opts.macaroon === 'string' ? opts.macaroon.trim() : bytesToHex(opts.macaroon);
    } else if (opts.macaroonPath) {
      macaroon = readFile(opts.macaroonPath, 'macaroon').toString('hex');
    } else {
      throw new LightproofError(
        'LP_LN_BAD_CONFIG',
        'An LND connection needs a macaroon (macaroon or macaroonPath).',
      );
    }
    if (!/^([0-9a-f]{2})+$/i.test(macaroon)) {
      throw new LightproofError(
        'LP_LN_BAD_CONFIG',
        'The macaroon must be the bytes of the .macaroon file or their hex.',
      );
    }
    let url: URL;
    try {
      url = new URL(opts.restUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
    } catch {
      throw new LightproofError(
        'LP_LN_BAD_CONFIG',
        `'${opts.restUrl}' is not an http(s) URL of LND's REST API.`,
      );
    }
    const tlsCert =
      opts.tlsCert ?? (opts.tlsCertPath ? readFile(opts.tlsCertPath, 'TLS certificate') : undefined);
    this.target = {
      url: url.origin,
      headers: { 'Grpc-Metadata-macaroon': macaroon },
      ...(tlsCert !== undefined ? { tlsCert } : {}),
    };
  }

  private async call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Json> {
    const res = await requestJson(this.target, method, path, body, signal ? { signal } : {});
    if (res.status >= 200 && res.status < 300) return (res.body ?? {}) as Json;
    throw lndError(res.status, res.body).error;
  }

  async getInfo(): Promise<NodeInfo> {
    const info = await this.call('GET', '/v1/getinfo');
    const chains = Array.isArray(info.chains) ? (info.chains as Json[]) : [];
    const network = NETWORKS[str(chains[0]?.network)] ?? (info.testnet ? 'testnet' : 'mainnet');
    this.#network = network;
    return {
      pubkey: str(info.identity_pubkey),
      alias: str(info.alias),
      network,
      blockHeight: Number(int(info.block_height)),
      synced: info.synced_to_chain === true,
      implementation: 'lnd',
      version: str(info.version),
    };
  }

  private async network(): Promise<Network> {
    return this.#network ?? (await this.getInfo()).network;
  }

  async createInvoice(req: CreateInvoiceRequest): Promise<CreatedInvoice> {
    const amount = req.amountMsat === null ? null : msat(req.amountMsat);
    if (amount === 0n) {
      throw new LightproofError(
        'LP_BAD_AMOUNT',
        'An invoice amount must be positive; pass null for an amountless invoice.',
      );
    }
    const res = await this.call('POST', '/v1/invoices', {
      ...(amount !== null ? { value_msat: amount.toString() } : {}),
      ...(req.description !== undefined ? { memo: req.description } : {}),
      ...(req.descriptionHash
        ? { description_hash: Buffer.from(req.descriptionHash).toString('base64') }
        : {}),
      ...(req.expirySeconds !== undefined ? { expiry: String(req.expirySeconds) } : {}),
    });
    const paymentRequest = str(res.payment_request);
    return {
      paymentRequest,
      paymentHash: b64ToHex(res.r_hash),
      expiresAt: invoiceExpiresAt(decodeInvoice(paymentRequest)),
    };
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceStatus> {
    const hash = parsePaymentHash(paymentHash);
    return toInvoiceStatus(await this.call('GET', `/v1/invoice/${hash}`));
  }

  async lookupPayment(paymentHash: string): Promise<PaymentStatus | null> {
    const hash = parsePaymentHash(paymentHash);
    const stop = new AbortController();
    try {
      for await (const line of this.track(hash, stop.signal)) return line;
      return null;
    } finally {
      stop.abort();
    }
  }

  /** Streams a payment's updates (first its current state); yields nothing if LND never saw it. */
  private async *track(hash: string, signal: AbortSignal): AsyncGenerator<PaymentStatus> {
    // grpc-gateway decodes path bytes as URL-safe base64 *with* padding; Node omits the '='.
    const path = `/v2/router/track/${Buffer.from(hash, 'hex').toString('base64url')}=`;
    for await (const line of streamJson(this.target, 'GET', path, undefined, { signal })) {
      const body = line.body as Json;
      const err = streamError(line.status, body);
      if (err) {
        const e = lndError(line.status, err);
        if (e.kind === 'not-found') return;
        throw e.error;
      }
      yield toPaymentStatus((body.result ?? body) as Json);
    }
  }

  /** Waits for a payment LND already knows to finish, and returns its outcome. */
  private async outcome(hash: string, signal?: AbortSignal): Promise<PaymentStatus | null> {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let last: PaymentStatus | null = null;
      for await (const status of this.track(hash, stop.signal)) {
        last = status;
        if (status.state !== 'in-flight') return status;
      }
      return last;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  async payInvoice(paymentRequest: string, opts: PayOptions = {}): Promise<PaymentResult> {
    const { invoice, amountMsat } = checkPayable(paymentRequest, {
      network: await this.network(),
      ...(opts.amountMsat !== undefined ? { amountMsat: opts.amountMsat } : {}),
    });
    // Idempotency: a payment LND already holds for this hash is followed, never sent again.
    const prior = await this.lookupPayment(invoice.paymentHash);
    if (prior?.state === 'succeeded') return this.settle(prior, opts);
    if (prior?.state === 'in-flight')
      return this.settle(await this.outcome(invoice.paymentHash, opts.signal), opts);
    const maxFee = opts.maxFeeMsat ?? defaultMaxFee(amountMsat);
    const body = {
      payment_request: invoice.paymentRequest,
      ...(invoice.amountMsat === null ? { amt_msat: amountMsat.toString() } : {}),
      fee_limit_msat: maxFee.toString(),
      timeout_seconds: opts.timeoutSeconds ?? 60,
      no_inflight_updates: true,
    };
    let final: PaymentStatus | null = null;
    for await (const line of streamJson(
      this.target,
      'POST',
      '/v2/router/send',
      body,
      opts.signal ? { signal: opts.signal } : {},
    )) {
      const json = line.body as Json;
      const err = streamError(line.status, json);
      if (err) {
        const e: LndError = lndError(line.status, err);
        if (e.kind === 'already-paid' || e.kind === 'in-flight') {
          final = await this.outcome(invoice.paymentHash, opts.signal);
          break;
        }
        throw e.error;
      }
      const status = toPaymentStatus((json.result ?? json) as Json);
      if (status.state !== 'in-flight') {
        final = status;
        break;
      }
    }
    if (final?.state === 'failed' && final.failureReason === 'FAILURE_REASON_NO_ROUTE') {
      const { spendableMsat } = await this.balance();
      if (spendableMsat < amountMsat)
        final = { ...final, failureReason: 'FAILURE_REASON_INSUFFICIENT_BALANCE' };
    }
    return this.settle(final, opts);
  }

  private settle(status: PaymentStatus | null, opts: PayOptions): PaymentResult {
    if (status?.state === 'succeeded' && status.preimage) return status as PaymentResult;
    if (status?.state === 'failed') throw paymentFailure(status.failureReason, status.amountMsat);
    throw new LightproofError(
      'LP_LN_PAYMENT_PENDING',
      `The payment is still in flight${opts.signal?.aborted ? ' (the wait was cancelled)' : ''}. Call payInvoice again with the same invoice to learn its outcome; it will not pay twice.`,
      { status: 504 },
    );
  }

  async balance(): Promise<Balance> {
    const res = await this.call('GET', '/v1/balance/channels');
    const local = (res.local_balance ?? {}) as Json;
    const remote = (res.remote_balance ?? {}) as Json;
    return { spendableMsat: int(local.msat) as Msat, receivableMsat: int(remote.msat) as Msat };
  }

  async *subscribeInvoices(opts: { signal: AbortSignal }): AsyncIterable<InvoiceStatus> {
    try {
      for await (const line of streamJson(this.target, 'GET', '/v1/invoices/subscribe', undefined, {
        signal: opts.signal,
      })) {
        const body = line.body as Json;
        const err = streamError(line.status, body);
        if (err) throw lndError(line.status, err).error;
        yield toInvoiceStatus((body.result ?? body) as Json);
      }
    } catch (err) {
      if (!opts.signal.aborted) throw err;
    }
  }

  async close(): Promise<void> {}
}

/** A streamed line's error: LND wraps it as {"error": {...}}, on 2xx and 4xx alike. */
function streamError(status: number, body: Json): Json | undefined {
  if (body.error && typeof body.error === 'object') return body.error as Json;
  return status >= 300 ? body : undefined;
}

const INVOICE_STATES: Record<string, InvoiceState> = {
  OPEN: 'open',
  ACCEPTED: 'accepted',
  SETTLED: 'settled',
  CANCELED: 'canceled',
};

function toInvoiceStatus(inv: Json): InvoiceStatus {
  const state = INVOICE_STATES[str(inv.state)] ?? 'open';
  const value = int(inv.value_msat);
  return {
    paymentHash: b64ToHex(inv.r_hash),
    paymentRequest: str(inv.payment_request),
    state,
    amountMsat: value === 0n ? null : (value as Msat),
    amountPaidMsat: int(inv.amt_paid_msat) as Msat,
    preimage: inv.r_preimage ? b64ToHex(inv.r_preimage) : null,
    description: typeof inv.memo === 'string' ? inv.memo : null,
    createdAt: Number(int(inv.creation_date)),
    settledAt: state === 'settled' ? Number(int(inv.settle_date)) : null,
  };
}

function toPaymentStatus(p: Json): PaymentStatus {
  const status = str(p.status);
  const preimage = str(p.payment_preimage);
  return {
    paymentHash: str(p.payment_hash),
    state: status === 'SUCCEEDED' ? 'succeeded' : status === 'FAILED' ? 'failed' : 'in-flight',
    preimage: /^[0-9a-f]{64}$/.test(preimage) && !/^0+$/.test(preimage) ? preimage : null,
    amountMsat: int(p.value_msat) as Msat,
    feeMsat: int(p.fee_msat) as Msat,
    failureReason: status === 'FAILED' ? str(p.failure_reason) || 'FAILURE_REASON_ERROR' : null,
  };
}
