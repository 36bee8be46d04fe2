/**
 * The wallet's MCP tools. They can spend only within the policy a person set, and only as far as the
 * model's own max_sats for each request; nothing here approves, rejects, freezes or changes a budget.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { type Msat, satToMsat } from '../core/money.js';
import type { PaymentRecord } from '../wallet/types.js';
import type { Wallet } from '../wallet/wallet.js';
import { registerAccountTools } from './account.js';
import { readCapped, requestInit, requestShape, selectHeaders } from './request.js';
import { fail, ok, satsCeil } from './results.js';
import { policyVerdict } from './verdict.js';

export interface McpToolOptions {
  /** The most of a response body fetch_paid returns; 64 KiB by default. */
  maxBodyBytes?: number;
  /** How often request_approval looks at the journal for a decision; 250 ms by default. */
  pollMs?: number;
  /** Unix seconds. */
  now?: () => number;
  /** The fetch outgoing requests go through (tests). */
  fetch?: (request: Request) => Promise<Response>;
}

/** Whole sats up to all the bitcoin there is: exact as a JSON number. */
export const MAX_SATS = 2_100_000_000_000_000;

const maxSats = (what: string) =>
  z
    .number()
    .int()
    .min(1)
    .max(MAX_SATS)
    .describe(
      `REQUIRED. The most you are willing to pay for ${what}, in sats. If the price is higher nothing is paid. Choose it from the user's intent or a quote; never raise it after a refusal without asking the user.`,
    );

const memo = z
  .string()
  .max(500)
  .optional()
  .describe('Why you are paying, in one sentence; shown to the person who approves payments.');

export function registerTools(server: McpServer, wallet: Wallet, options: McpToolOptions = {}): void {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const viaFetch = options.fetch ? { fetch: options.fetch } : {};

  server.registerTool(
    'quote',
    {
      title: 'Quote a paid HTTP request',
      description:
        'Finds out what an HTTP request would cost and whether the wallet would pay it, WITHOUT paying anything. ' +
        'Use it first whenever you are unsure of a price or of whether the wallet allows it. ' +
        'It sends the request once without credentials: if the URL is free (no 402), that request runs, so do not quote a free request with side effects. ' +
        'would_pay is true only when fetch_paid with max_sats >= price_sats would pay at once; needs_approval means a person must approve first.',
      inputSchema: requestShape,
      annotations: { openWorldHint: true, idempotentHint: true },
    },
    async (a, extra) => {
      try {
        const l402 = wallet.fetch({ ...viaFetch });
        const url = new URL(a.url);
        const q = await l402.quote(url, requestInit(a, extra.signal));
        const has_token = (await wallet.tokens.list(url.origin)).some(
          (t) => t.validUntil === null || t.validUntil > now(),
        );
        if (!q.paymentRequired) {
          const status = q.response.status;
          await q.response.body?.cancel().catch(() => {});
          return ok({
            payment_required: false,
            status,
            would_pay: false,
            message: `The server answered ${status} without asking for payment; fetch_paid would pay nothing for this request.`,
          });
        }
        const price = q.priceMsat;
        const verdict =
          q.refusal === null && price !== null ? await policyVerdict(wallet, url, price, now()) : null;
        const refusal = q.refusal
          ? { code: q.refusal.code, message: q.refusal.message }
          : verdict?.action === 'reject'
            ? { code: verdict.code, message: verdict.message }
            : null;
        return ok({
          payment_required: true,
          url: q.url.href,
          price_msat: price,
          price_sats: price === null ? null : satsCeil(price),
          services: q.services,
          token_valid_until: q.validUntil,
          would_pay: verdict?.action === 'reserve',
          needs_approval: verdict?.action === 'approval',
          refusal,
          has_token,
          ...(has_token
            ? {
                note: 'The wallet already holds a token for this server: fetch_paid tries it first and pays only if the server refuses it.',
              }
            : {}),
        });
      } catch (err) {
        return fail(err, 'LP_MCP_QUOTE_FAILED');
      }
    },
  );

  server.registerTool(
    'fetch_paid',
    {
      title: 'Fetch a URL, paying its L402 price',
      description:
        'Makes an HTTP request and, if the server answers 402 with an L402 challenge, pays its Lightning invoice from the wallet (within the policy a person set) and repeats the request. ' +
        'max_sats is REQUIRED: the most you are willing to pay for this one request. Quote first when unsure. ' +
        'A token already bought is reused, so repeating a request does not pay twice. ' +
        'If it returns status "awaiting-approval", nothing was paid: call request_approval once with the payment_id and tell the user; do NOT call fetch_paid again in a loop. ' +
        'If it fails with a refusal (price above max_sats, budget, cap, denied domain, frozen wallet), never retry by raising max_sats or trying another way without the user; you cannot approve or change budgets.',
      inputSchema: { ...requestShape, max_sats: maxSats('this one request'), memo },
      annotations: { openWorldHint: true, destructiveHint: true },
    },
    async (a, extra) => {
      try {
        const init = requestInit(a, extra.signal);
        const url = new URL(a.url);
        const waiting = await awaitingFor(wallet, url, now());
        if (waiting) return ok(awaiting(waiting, 'fetch_paid', true));
        // Payments a person approved after their request stopped waiting are paid by this fetch.
        const approved = await approvedFor(wallet, url.origin);
        const paid: PaymentRecord[] = [];
        const l402 = wallet.fetch({
          ...viaFetch,
          maxPriceMsat: satToMsat(a.max_sats),
          approvalWaitMs: 0,
          ...(a.memo ? { memo: a.memo } : {}),
          onPayment: (r) => paid.push(r),
        });
        let res: Response;
        try {
          res = await l402(url, init);
        } catch (err) {
          if (isLightproofError(err, 'LP_WALLET_APPROVAL_PENDING')) {
            return ok(awaiting(await pendingRecord(wallet, err), 'fetch_paid', false));
          }
          if (isLightproofError(err, 'LP_L402_PRICE_TOO_HIGH')) return fail(priceTooHigh(err, a.max_sats));
          throw err;
        }
        for (const id of approved) {
          const r = await wallet.store.get(id);
          if (r?.state === 'paid' && !paid.some((p) => p.id === id)) paid.push(r);
        }
        const body = await readCapped(res, maxBody);
        return ok({
          status: res.status,
          ok: res.ok,
          headers: selectHeaders(res.headers),
          ...body,
          paid: paid.map((p) => ({
            payment_id: p.id,
            amount_msat: p.amountMsat,
            amount_sats: satsCeil(p.amountMsat),
            fee_msat: p.feeMsat ?? 0n,
          })),
        });
      } catch (err) {
        return fail(err, 'LP_MCP_FETCH_FAILED');
      }
    },
  );

  server.registerTool(
    'pay_invoice',
    {
      title: 'Pay a BOLT11 Lightning invoice',
      description:
        'Pays a Lightning invoice (lnbc…/lntb…/lnbcrt…) from the wallet, within the policy a person set. ' +
        'Only pay invoices the user asked you to pay or that a service you are using gave you for something the user wants. ' +
        'max_sats is REQUIRED: the most you accept for this payment; a dearer invoice is refused and nothing is paid. ' +
        'Paying the same invoice again never pays twice. If it returns "awaiting-approval", call request_approval once and tell the user; do not loop.',
      inputSchema: {
        invoice: z
          .string()
          .min(10)
          .max(8192)
          .describe('The BOLT11 payment request, with or without a "lightning:" prefix.'),
        max_sats: maxSats('this invoice'),
        memo,
      },
      annotations: { openWorldHint: true, destructiveHint: true },
    },
    async (a) => {
      try {
        const invoice = a.invoice.trim().replace(/^lightning:/i, '');
        const r = await wallet.payInvoice(invoice, {
          maxMsat: satToMsat(a.max_sats),
          approvalWaitMs: 0,
          ...(a.memo ? { memo: a.memo } : {}),
        });
        return ok({
          status: 'paid',
          payment_id: r.id,
          amount_msat: r.amountMsat,
          amount_sats: satsCeil(r.amountMsat),
          fee_msat: r.feeMsat ?? 0n,
          payment_hash: r.paymentHash,
        });
      } catch (err) {
        if (isLightproofError(err, 'LP_WALLET_APPROVAL_PENDING')) {
          return ok(awaiting(await pendingRecord(wallet, err), 'pay_invoice', false));
        }
        if (isLightproofError(err, 'LP_WALLET_OVER_MAX')) {
          const amount = BigInt(String(err.details?.amountMsat ?? 0));
          return fail(
            new LightproofError(
              'LP_WALLET_OVER_MAX',
              `The invoice asks ${amount} msat (${satsCeil(amount)} sats), above max_sats ${a.max_sats}; nothing was paid.`,
              { details: { amountMsat: amount, maxSats: a.max_sats } },
            ),
          );
        }
        return fail(err, 'LP_MCP_PAY_FAILED');
      }
    },
  );

  registerAccountTools(server, wallet, { now, pollMs: options.pollMs ?? 250 });
}

/**
 * A payment for the same place (origin and path directory, as L402 tokens are scoped) already waiting
 * for a person: a repeated request must point at it, not queue a second approval for a fresh invoice.
 */
async function awaitingFor(wallet: Wallet, url: URL, at: number): Promise<PaymentRecord | null> {
  const waiting = await wallet.store.list({ states: ['awaiting-approval'], limit: 100 });
  const here = directory(url);
  return (
    waiting.find(
      (r) =>
        r.source === 'l402' &&
        r.url !== null &&
        directory(new URL(r.url)) === here &&
        at < r.invoiceExpiresAt,
    ) ?? null
  );
}

function directory(url: URL): string {
  return url.origin + url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
}

async function approvedFor(wallet: Wallet, origin: string): Promise<number[]> {
  const reserved = await wallet.store.list({ states: ['reserved'], limit: 100 });
  return reserved
    .filter((r) => r.source === 'l402' && r.decidedBy !== null && r.url && new URL(r.url).origin === origin)
    .map((r) => r.id);
}

async function pendingRecord(wallet: Wallet, err: LightproofError): Promise<PaymentRecord> {
  const id = Number(err.details?.paymentId);
  const record = Number.isSafeInteger(id) ? await wallet.store.get(id) : null;
  if (!record) throw err;
  return record;
}

function awaiting(
  r: PaymentRecord,
  tool: 'fetch_paid' | 'pay_invoice',
  already: boolean,
): Record<string, unknown> {
  const sats = satsCeil(r.amountMsat);
  const again =
    tool === 'fetch_paid'
      ? 'call fetch_paid again with the same URL'
      : 'call pay_invoice again with the same invoice';
  return {
    status: 'awaiting-approval',
    payment_id: r.id,
    amount_msat: r.amountMsat,
    amount_sats: sats,
    domain: r.domain,
    memo: r.memo,
    expires_at: r.invoiceExpiresAt,
    message:
      `${already ? `A payment to this server already waits for approval: payment ${r.id}` : `Payment ${r.id}`} of ${sats} sats` +
      `${r.domain ? ` to ${r.domain}` : ''} is above the approval threshold and waits for a person. Nothing was paid. ` +
      `Call request_approval with payment_id ${r.id} and a one-sentence reason, and tell the user. ` +
      `Only when request_approval reports state "reserved", ${again}: it is then paid once. Do not retry in a loop; you cannot approve it yourself.`,
  };
}

function priceTooHigh(err: LightproofError, max: number): LightproofError {
  const price = BigInt(String(err.details?.priceMsat ?? 0)) as Msat;
  return new LightproofError(
    'LP_L402_PRICE_TOO_HIGH',
    `The server asks ${price} msat (${satsCeil(price)} sats), above max_sats ${max}; nothing was paid.`,
    { details: { priceMsat: price, priceSats: satsCeil(price), maxSats: max } },
  );
}
