/**
 * The agent's wallet: every payment goes through the journal (quote → decision under the budget lock →
 * paying → paid | failed), so it happens at most once per payment hash, never beyond the policy, and
 * never while frozen. After a crash, `reconcile` asks the node what became of payments left in flight
 * instead of paying again.
 */
import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import {
  type CachedToken,
  createL402Fetch,
  type L402Fetch,
  type PayContext,
  type Payer,
  type TokenCache,
  tokenEntry,
} from '../l402/index.js';
import {
  type DecodedInvoice,
  decodeInvoice,
  invoiceExpiresAt,
  type LightningNode,
  type Network,
} from '../lightning/index.js';
import { toMsat } from './amount.js';
import {
  allowanceFor,
  type BudgetStatus,
  budgetStatus,
  DEFAULT_POLICY,
  decide,
  policyFromJson,
  policyToJson,
  type ScopeStatus,
  windowStarts,
} from './policy.js';
import { type RateSource, rateSourceFor } from './rates.js';
import { definiteFailure, errorCode, notAwaiting, notFound, pending, refusal } from './refusals.js';
import { StoreTokenCache } from './token-cache.js';
import type { Decision, PaymentRecord, PaymentSource, Policy, WalletStore } from './types.js';

export interface WalletOptions {
  node: LightningNode;
  store: WalletStore;
  /** Where USD budgets get their BTC price; by default the policy's rate setting. */
  rates?: RateSource;
  /** Unix seconds. */
  now?: () => number;
  /** How long a payment above the approval threshold waits for a person before LP_WALLET_APPROVAL_PENDING. */
  approvalWaitMs?: number;
  /** How often a waiting payer looks at the journal. */
  pollMs?: number;
  /**
   * A payment left in `paying` that the node has never heard of is counted as never sent only after
   * this long (another process may be between journaling it and handing it to the node).
   */
  unsentGraceSeconds?: number;
}

export interface PayRequest {
  source: PaymentSource;
  url: URL | null;
  token: string | null;
  service: string | null;
  tokenValidUntil: number | null;
  memo: string | null;
  /** Overrides the wallet's approvalWaitMs for this payment. */
  approvalWaitMs?: number;
}

export interface PayerOptions {
  /** Shown to the approver beside the payment. */
  memo?: string;
  approvalWaitMs?: number;
  /** Called with each payment this payer completed. */
  onPayment?: (record: PaymentRecord) => void;
}

export interface WalletStatus {
  frozen: boolean;
  frozenAt: number | null;
  frozenReason: string | null;
  /** The rate USD limits were converted at, when the policy has any. */
  usdPerBtc: string | null;
  /** Why the rate could not be had (USD budgets then refuse every payment). */
  rateError: string | null;
  /** Null when USD limits cannot be converted (see rateError). */
  budgets: BudgetStatus | null;
  /** Per-domain allowances, by pattern. */
  allowances: Record<string, ScopeStatus & { key: string }>;
  /** What the node can send now; null if it could not be asked. */
  spendableMsat: Msat | null;
  awaitingApproval: PaymentRecord[];
  policy: Policy;
}

export interface ReconcileReport {
  paid: number;
  failed: number;
  inFlight: number;
  expired: number;
  unknown: number;
}

const DEFAULT_POLL_MS = 200;

/** How a payment that waited for a person past its invoice's expiry is closed. */
const APPROVAL_EXPIRED = {
  reasonCode: 'LP_WALLET_APPROVAL_EXPIRED',
  reasonText: 'The invoice expired while the payment waited for approval.',
  decidedBy: 'expiry',
} as const;
const OUTCOME_WAIT_MS = 180_000;

export class Wallet {
  readonly node: LightningNode;
  readonly store: WalletStore;
  readonly tokens: TokenCache;
  readonly #rates: RateSource | undefined;
  readonly #now: () => number;
  readonly #approvalWaitMs: number;
  readonly #pollMs: number;
  readonly #grace: number;
  /** Payments this process is carrying out, by hash: a second caller waits on the first. */
  readonly #inflight = new Map<string, Promise<PaymentRecord>>();
  #network: Promise<Network> | undefined;

  constructor(options: WalletOptions) {
    this.node = options.node;
    this.store = options.store;
    this.tokens = new StoreTokenCache(options.store);
    this.#rates = options.rates;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#approvalWaitMs = options.approvalWaitMs ?? 0;
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#grace = options.unsentGraceSeconds ?? 60;
  }

  /** Opens the wallet and settles whatever a previous run left unfinished. */
  static async open(options: WalletOptions): Promise<Wallet> {
    const wallet = new Wallet(options);
    await wallet.reconcile();
    return wallet;
  }

  async policy(): Promise<Policy> {
    const { policyJson } = await this.store.settings();
    return policyJson === null ? DEFAULT_POLICY : policyFromJson(policyJson);
  }

  async setPolicy(policy: Policy): Promise<void> {
    await this.store.setPolicy(policyToJson(policy), this.#now());
  }

  /** Stops every payment not yet handed to the node, at once and in every process sharing the journal. */
  async freeze(reason: string | null = null): Promise<void> {
    await this.store.setFrozen(true, this.#now(), reason);
  }

  async unfreeze(): Promise<void> {
    await this.store.setFrozen(false, this.#now(), null);
  }

  async network(): Promise<Network> {
    this.#network ??= this.node.getInfo().then((info) => info.network);
    return this.#network.catch((err) => {
      this.#network = undefined;
      throw err;
    });
  }

  /** The USD price of a bitcoin, when the policy has a USD amount anywhere; else null (none needed). */
  async usdPerBtc(policy: Policy): Promise<string | null> {
    if (!mentionsUsd(policy)) return null;
    return (this.#rates ?? rateSourceFor(policy.rate)).usdPerBtc();
  }

  /** A Payer for createL402Fetch that pays through this wallet's policy and journal. */
  payer(options: PayerOptions = {}): Payer {
    return {
      pay: async (invoice: DecodedInvoice, ctx: PayContext) => {
        const record = await this.pay(invoice, {
          source: 'l402',
          url: ctx.url,
          token: ctx.token,
          service: ctx.service,
          tokenValidUntil: ctx.validUntil,
          memo: options.memo ?? null,
          ...(options.approvalWaitMs === undefined ? {} : { approvalWaitMs: options.approvalWaitMs }),
        });
        options.onPayment?.(record);
        return { preimage: record.preimage as string };
      },
      network: () => this.network(),
    };
  }

  /**
   * fetch() that pays L402 challenges from this wallet, keeping tokens in the journal's database so a
   * restarted agent reuses what it already bought. `maxPriceMsat` caps one challenge on top of the policy.
   */
  fetch(
    options: PayerOptions & { maxPriceMsat?: Msat; fetch?: (r: Request) => Promise<Response> } = {},
  ): L402Fetch {
    const inner = createL402Fetch({
      payer: this.payer(options),
      maxPriceMsat: options.maxPriceMsat ?? ((2n ** 63n) as Msat),
      cache: this.tokens,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      now: this.#now,
    });
    const wrapped = async (input: string | URL | Request, init?: RequestInit) => {
      const origin = new URL(input instanceof Request ? input.url : input).origin;
      await this.resumeApproved(origin, options.onPayment);
      return inner(input, init);
    };
    return Object.assign(wrapped, { quote: inner.quote, cache: inner.cache });
  }

  /** Pays a BOLT11 invoice directly (not through L402), if the policy allows it. */
  async payInvoice(
    paymentRequest: string,
    options: { maxMsat: Msat; memo?: string; approvalWaitMs?: number },
  ): Promise<PaymentRecord> {
    const invoice = decodeInvoice(paymentRequest);
    if (invoice.amountMsat === null) {
      throw new LightproofError(
        'LP_WALLET_AMOUNTLESS_INVOICE',
        'The invoice has no amount, so the wallet cannot check it against the budget; nothing was paid. Ask the payee for an invoice with an amount.',
      );
    }
    if (invoice.amountMsat > options.maxMsat) {
      throw new LightproofError(
        'LP_WALLET_OVER_MAX',
        `The invoice asks ${invoice.amountMsat} msat, above the maximum of ${options.maxMsat} msat given for this payment; nothing was paid.`,
        { details: { amountMsat: String(invoice.amountMsat), maxMsat: String(options.maxMsat) } },
      );
    }
    const network = await this.network();
    if (invoice.network !== network) {
      throw new LightproofError(
        'LP_WALLET_WRONG_NETWORK',
        `The invoice is for ${invoice.network} but this wallet's node is on ${network}; nothing was paid.`,
      );
    }
    if (this.#now() >= invoiceExpiresAt(invoice)) {
      throw new LightproofError(
        'LP_WALLET_INVOICE_EXPIRED',
        'The invoice has expired; nothing was paid. Ask the payee for a fresh one.',
      );
    }
    return this.pay(invoice, {
      source: 'invoice',
      url: null,
      token: null,
      service: null,
      tokenValidUntil: null,
      memo: options.memo ?? null,
      ...(options.approvalWaitMs === undefined ? {} : { approvalWaitMs: options.approvalWaitMs }),
    });
  }

  /** Journals, decides and pays one invoice; resolves with the paid record or throws a typed refusal. */
  async pay(invoice: DecodedInvoice, request: PayRequest): Promise<PaymentRecord> {
    const running = this.#inflight.get(invoice.paymentHash);
    if (running) return running;
    const run = this.#pay(invoice, request).finally(() => this.#inflight.delete(invoice.paymentHash));
    this.#inflight.set(invoice.paymentHash, run);
    return run;
  }

  async #pay(invoice: DecodedInvoice, request: PayRequest): Promise<PaymentRecord> {
    if (invoice.amountMsat === null) {
      throw new LightproofError(
        'LP_WALLET_AMOUNTLESS_INVOICE',
        'An invoice without an amount is never paid: its price is unknown. Nothing was paid.',
      );
    }
    const policy = await this.policy();
    const usdPerBtc = await this.usdPerBtc(policy);
    const host = request.url?.hostname ?? null;
    const allowanceKey = host === null ? null : allowanceFor(policy, host);
    const feeReserveMsat = toMsat(policy.maxFee, usdPerBtc);
    const at = this.#now();
    let decision: Decision | undefined;
    const { record, created } = await this.store.begin(
      {
        paymentHash: invoice.paymentHash,
        paymentRequest: invoice.paymentRequest,
        source: request.source,
        url: request.url?.href ?? null,
        domain: host,
        allowanceKey,
        amountMsat: invoice.amountMsat,
        feeReserveMsat,
        token: request.token,
        service: request.service,
        tokenValidUntil: request.tokenValidUntil,
        invoiceExpiresAt: invoiceExpiresAt(invoice),
        usdPerBtc,
        memo: request.memo,
      },
      windowStarts(at),
      at,
      (snapshot) => {
        decision = decide(
          policy,
          { amountMsat: invoice.amountMsat as Msat, feeReserveMsat, host, allowanceKey, usdPerBtc },
          snapshot,
          { approved: false, at },
        );
        return decision;
      },
    );
    if (!created) return this.#follow(record);
    if (record.state === 'rejected') {
      throw refusal(record, undefined, decision?.action === 'reject' ? decision.details : undefined);
    }
    if (record.state === 'awaiting-approval') {
      const decided = await this.#awaitDecision(record, request.approvalWaitMs ?? this.#approvalWaitMs);
      return this.#follow(decided);
    }
    return this.#payReserved(record);
  }

  /** Carries an existing record to its end: pays it if reserved, waits if another payer has it. */
  async #follow(record: PaymentRecord): Promise<PaymentRecord> {
    switch (record.state) {
      case 'paid':
        return record;
      case 'reserved':
        return this.#payReserved(record);
      case 'quoted':
      case 'paying':
        return this.#awaitOutcome(record.id);
      case 'awaiting-approval':
        throw pending(record);
      default:
        throw refusal(record);
    }
  }

  async #payReserved(record: PaymentRecord): Promise<PaymentRecord> {
    const paying = await this.store.transition(record.id, ['reserved'], 'paying', this.#now(), undefined, {
      unlessFrozen: true,
    });
    if (!paying) {
      const { frozen } = await this.store.settings();
      if (!frozen) return this.#awaitOutcome(record.id); // another payer took it to paying first
      const released = await this.store.transition(record.id, ['reserved'], 'failed', this.#now(), {
        reasonCode: 'LP_WALLET_FROZEN',
        reasonText: 'The wallet was frozen before this payment was sent.',
      });
      throw refusal(released ?? record);
    }
    let result: Awaited<ReturnType<LightningNode['payInvoice']>>;
    try {
      result = await this.node.payInvoice(paying.paymentRequest, {
        maxFeeMsat: paying.feeReserveMsat,
      });
    } catch (err) {
      return this.#afterFailedSend(paying, err);
    }
    return this.#markPaid(paying, result.preimage, result.feeMsat);
  }

  async #markPaid(record: PaymentRecord, preimage: string, feeMsat: Msat): Promise<PaymentRecord> {
    const paid = await this.store.transition(record.id, ['paying'], 'paid', this.#now(), {
      preimage,
      feeMsat,
    });
    const final = paid ?? (await this.store.get(record.id));
    if (final?.state !== 'paid') {
      throw new LightproofError(
        'LP_WALLET_JOURNAL_CONFLICT',
        `Payment ${record.id} succeeded on the node but the journal shows it ${final?.state ?? 'missing'}; run \`lightproof wallet reconcile\`.`,
      );
    }
    await this.#keepToken(final);
    return final;
  }

  /** After payInvoice threw: only the node knows whether anything left; ask it before deciding. */
  async #afterFailedSend(record: PaymentRecord, err: unknown): Promise<PaymentRecord> {
    const status = await this.node.lookupPayment(record.paymentHash).catch(() => undefined);
    if (status?.state === 'succeeded' && status.preimage) {
      return this.#markPaid(record, status.preimage, status.feeMsat);
    }
    if (status?.state === 'failed' || (status === null && definiteFailure(err))) {
      const failed = await this.store.transition(record.id, ['paying'], 'failed', this.#now(), {
        reasonCode: errorCode(err) ?? 'LP_WALLET_PAYMENT_FAILED',
        reasonText: status?.failureReason ?? (err instanceof Error ? err.message : String(err)),
      });
      throw refusal(failed ?? record, err);
    }
    throw new LightproofError(
      'LP_WALLET_PAYMENT_UNKNOWN',
      `Payment ${record.id} (hash ${record.paymentHash}) may still be in flight; its budget stays reserved and it will never be sent twice. Run \`lightproof wallet reconcile\` later.`,
      { status: 502, cause: err, details: { paymentId: record.id, paymentHash: record.paymentHash } },
    );
  }

  /** Polls the journal until a person decides (or the wait ends: LP_WALLET_APPROVAL_PENDING). */
  async #awaitDecision(record: PaymentRecord, waitMs: number): Promise<PaymentRecord> {
    const until = Date.now() + waitMs;
    let current = record;
    while (current.state === 'awaiting-approval') {
      if (Date.now() >= until) throw pending(current);
      await sleep(this.#pollMs);
      current = (await this.store.get(record.id)) ?? current;
    }
    return current;
  }

  async #awaitOutcome(id: number): Promise<PaymentRecord> {
    const until = Date.now() + OUTCOME_WAIT_MS;
    for (;;) {
      const current = await this.store.get(id);
      if (!current) throw notFound(id);
      if (current.state === 'paid') return current;
      if (current.state === 'failed' || current.state === 'rejected') throw refusal(current);
      if (current.state === 'awaiting-approval') throw pending(current);
      if (Date.now() >= until) {
        throw new LightproofError(
          'LP_WALLET_PAYMENT_UNKNOWN',
          `Payment ${id} is still ${current.state} in another payer; it will not be sent twice. Run \`lightproof wallet reconcile\` later.`,
          { status: 502, details: { paymentId: id } },
        );
      }
      await sleep(this.#pollMs);
    }
  }

  async #keepToken(record: PaymentRecord): Promise<void> {
    if (record.source !== 'l402' || !record.url || !record.token || !record.preimage) return;
    await this.tokens.put(
      tokenEntry(
        new URL(record.url),
        {
          token: record.token,
          service: record.service,
          validUntil: record.tokenValidUntil,
          paymentHash: record.paymentHash,
        },
        record.preimage,
      ),
    );
  }

  /**
   * Pays L402 challenges a person approved after their requester stopped waiting, so the next request
   * to that origin finds the token already bought.
   */
  async resumeApproved(origin: string, onPayment?: (record: PaymentRecord) => void): Promise<void> {
    const reserved = await this.store.list({ states: ['reserved'], limit: 100 });
    for (const record of reserved) {
      if (record.source !== 'l402' || record.decidedBy === null || !record.url) continue;
      if (new URL(record.url).origin !== origin || this.#now() >= record.invoiceExpiresAt) continue;
      await this.pay(decodeInvoice(record.paymentRequest), {
        source: 'l402',
        url: new URL(record.url),
        token: record.token,
        service: record.service,
        tokenValidUntil: record.tokenValidUntil,
        memo: record.memo,
      }).then(
        (paid) => onPayment?.(paid),
        () => {}, // its outcome is journaled; the request that follows pays or fails on its own
      );
    }
  }

  /** What an operator or an agent needs to know before spending: freeze, budgets left, waiting approvals. */
  async status(): Promise<WalletStatus> {
    const at = this.#now();
    const [policy, settings] = await Promise.all([this.policy(), this.store.settings()]);
    let usdPerBtc: string | null = null;
    let rateError: string | null = null;
    try {
      usdPerBtc = await this.usdPerBtc(policy);
    } catch (err) {
      rateError = err instanceof Error ? err.message : String(err);
    }
    const windows = windowStarts(at);
    let budgets: BudgetStatus | null = null;
    const allowances: Record<string, ScopeStatus & { key: string }> = {};
    if (rateError === null) {
      budgets = budgetStatus(policy, await this.store.spent(windows, null), usdPerBtc, at);
      for (const key of Object.keys(policy.domains)) {
        const scope = budgetStatus(policy, await this.store.spent(windows, key), usdPerBtc, at, key);
        if (scope.allowance) allowances[key] = scope.allowance;
      }
    }
    const balance = await this.node.balance().catch(() => null);
    return {
      frozen: settings.frozen,
      frozenAt: settings.frozenAt,
      frozenReason: settings.frozenReason,
      usdPerBtc,
      rateError,
      budgets,
      allowances,
      spendableMsat: balance?.spendableMsat ?? null,
      awaitingApproval: await this.store.list({ states: ['awaiting-approval'], limit: 100 }),
      policy,
    };
  }

  /** A person approves a payment waiting above the threshold; budgets and the freeze still apply. */
  async approve(id: number, decidedBy: string): Promise<PaymentRecord> {
    const record = await this.#awaiting(id);
    const policy = await this.policy();
    const usdPerBtc = await this.usdPerBtc(policy);
    const at = this.#now();
    const input = {
      amountMsat: record.amountMsat,
      feeReserveMsat: record.feeReserveMsat,
      host: record.domain,
      allowanceKey: record.allowanceKey,
      usdPerBtc,
    };
    // Checked first without the lock so a refusal leaves the payment waiting (raise the budget, approve
    // again); under the lock the same check decides for real.
    const precheck = decide(policy, input, await this.store.spent(windowStarts(at), record.allowanceKey), {
      approved: true,
      at,
    });
    if (precheck.action === 'reject') {
      throw new LightproofError(precheck.code, precheck.message, {
        ...(precheck.details ? { details: precheck.details } : {}),
      });
    }
    const updated = await this.store.approve(id, windowStarts(at), at, decidedBy, (snapshot) =>
      decide(policy, input, snapshot, { approved: true, at }),
    );
    if (!updated) throw notAwaiting(id, (await this.store.get(id))?.state);
    if (updated.state === 'rejected') throw refusal(updated);
    return updated;
  }

  async reject(id: number, decidedBy: string, reason: string | null = null): Promise<PaymentRecord> {
    await this.#awaiting(id);
    const updated = await this.store.transition(id, ['awaiting-approval'], 'rejected', this.#now(), {
      reasonCode: 'LP_WALLET_REJECTED',
      reasonText: reason ?? 'A person rejected this payment.',
      decidedBy,
    });
    if (!updated) throw notAwaiting(id, (await this.store.get(id))?.state);
    return updated;
  }

  async #awaiting(id: number): Promise<PaymentRecord> {
    const record = await this.store.get(id);
    if (!record) throw notFound(id);
    if (record.state !== 'awaiting-approval') throw notAwaiting(id, record.state);
    if (this.#now() >= record.invoiceExpiresAt) {
      await this.store.transition(id, ['awaiting-approval'], 'rejected', this.#now(), APPROVAL_EXPIRED);
      throw new LightproofError(
        'LP_WALLET_APPROVAL_EXPIRED',
        `Payment ${id}'s invoice has expired, so it can no longer be approved; the agent must ask again.`,
      );
    }
    return record;
  }

  /**
   * Settles what a previous run left unfinished, asking the node — never paying again: payments in
   * `paying` become paid or failed as the node says; reservations nobody will pay, and approvals whose
   * invoice expired, release their budget.
   */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { paid: 0, failed: 0, inFlight: 0, expired: 0, unknown: 0 };
    const now = this.#now();
    for (const record of await this.store.list({ states: ['paying'], limit: 1000 })) {
      if (this.#inflight.has(record.paymentHash)) continue;
      const status = await this.node.lookupPayment(record.paymentHash).catch(() => undefined);
      if (status === undefined) report.unknown++;
      else if (status?.state === 'succeeded' && status.preimage) {
        await this.#markPaid(record, status.preimage, status.feeMsat);
        report.paid++;
      } else if (status?.state === 'failed' || (status === null && now - record.updatedAt > this.#grace)) {
        await this.store.transition(record.id, ['paying'], 'failed', now, {
          reasonCode: status ? 'LP_WALLET_PAYMENT_FAILED' : 'LP_WALLET_NEVER_SENT',
          reasonText: status?.failureReason ?? 'The node has no record of this payment: it was never sent.',
        });
        report.failed++;
      } else report.inFlight++;
    }
    for (const record of await this.store.list({ states: ['reserved', 'awaiting-approval'], limit: 1000 })) {
      if (this.#inflight.has(record.paymentHash)) continue;
      const expired = now >= record.invoiceExpiresAt;
      const abandoned = record.decidedBy === null && now - record.updatedAt > this.#grace;
      if (record.state === 'reserved' && (expired || abandoned)) {
        await this.store.transition(record.id, ['reserved'], 'failed', now, {
          reasonCode: expired ? 'LP_WALLET_INVOICE_EXPIRED' : 'LP_WALLET_ABANDONED',
          reasonText: expired
            ? 'The invoice expired before the payment was sent.'
            : 'The payer stopped before sending this payment; its reservation was released.',
        });
        report.expired++;
      } else if (record.state === 'awaiting-approval' && expired) {
        await this.store.transition(record.id, ['awaiting-approval'], 'rejected', now, APPROVAL_EXPIRED);
        report.expired++;
      }
    }
    return report;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#inflight.values()]);
    await this.store.close();
  }
}

function mentionsUsd(policy: Policy): boolean {
  const amounts = [
    policy.maxFee,
    policy.approvalAbove,
    ...Object.values(policy.limits),
    ...Object.values(policy.domains).flatMap((l) => Object.values(l)),
  ];
  return amounts.some((a) => a?.unit === 'usd');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
