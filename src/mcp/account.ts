/**
 * The wallet tools that spend nothing: receiving (create_invoice), looking (balance, budget_status,
 * history), and asking a person (request_approval). Asking is all the model can do about an approval:
 * deciding belongs to people, through `lightproof wallet approve|reject`.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { LightproofError } from '../core/errors.js';
import { satToMsat } from '../core/money.js';
import { policyToDocument, type ScopeStatus } from '../wallet/policy.js';
import { PAYMENT_STATES, type PaymentRecord, type PaymentState, PERIODS } from '../wallet/types.js';
import type { Wallet } from '../wallet/wallet.js';
import { fail, ok, publicPayment, satsCeil, satsFloor } from './results.js';

const STATES = PAYMENT_STATES as [PaymentState, ...PaymentState[]];

export const MAX_APPROVAL_WAIT_SECONDS = 300;

export function registerAccountTools(
  server: McpServer,
  wallet: Wallet,
  o: { now: () => number; pollMs: number },
): void {
  server.registerTool(
    'create_invoice',
    {
      title: 'Create a Lightning invoice to receive sats',
      description:
        'Creates a BOLT11 invoice that pays INTO this wallet, for someone who wants to pay the agent. Receiving costs nothing. Give the payment_request to the payer.',
      inputSchema: {
        amount_sats: z
          .number()
          .int()
          .min(1)
          .max(2_100_000_000_000_000)
          .describe('The amount to receive, in sats.'),
        description: z.string().max(639).optional().describe('What the payment is for; the payer sees it.'),
        expiry_seconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 86400)
          .optional()
          .describe('How long the invoice can be paid; 3600 by default.'),
      },
    },
    async (a) => {
      try {
        const inv = await wallet.node.createInvoice({
          amountMsat: satToMsat(a.amount_sats),
          ...(a.description === undefined ? {} : { description: a.description }),
          ...(a.expiry_seconds === undefined ? {} : { expirySeconds: a.expiry_seconds }),
        });
        return ok({
          payment_request: inv.paymentRequest,
          payment_hash: inv.paymentHash,
          amount_sats: a.amount_sats,
          amount_msat: satToMsat(a.amount_sats),
          expires_at: inv.expiresAt,
        });
      } catch (err) {
        return fail(err, 'LP_MCP_INVOICE_FAILED');
      }
    },
  );

  server.registerTool(
    'balance',
    {
      title: 'Wallet balance',
      description:
        "What the wallet's Lightning node can send right now. The policy's budgets may allow less: see budget_status.",
      annotations: { readOnlyHint: true },
    },
    async () => {
      try {
        const b = await wallet.node.balance();
        return ok({
          spendable_msat: b.spendableMsat,
          spendable_sats: satsFloor(b.spendableMsat),
          receivable_msat: b.receivableMsat,
        });
      } catch (err) {
        return fail(err, 'LP_MCP_BALANCE_FAILED');
      }
    },
  );

  server.registerTool(
    'budget_status',
    {
      title: 'Budgets, freeze and pending approvals',
      description:
        'What you may still spend: whether the wallet is frozen, the per-request cap, each budget (hour, day, month, total) with what is left and when it renews, per-domain allowances, the approval threshold, and payments waiting for a person. ' +
        'Check it before a series of paid requests. Only a person can change any of this.',
      annotations: { readOnlyHint: true },
    },
    async () => {
      try {
        const s = await wallet.status();
        const allowances: Record<string, unknown> = {};
        for (const [key, own] of Object.entries(s.allowances)) allowances[key] = scope(own);
        const doc = policyToDocument(s.policy);
        return ok({
          frozen: s.frozen,
          frozen_reason: s.frozenReason,
          spendable_msat: s.spendableMsat,
          usd_per_btc: s.usdPerBtc,
          rate_error: s.rateError,
          approval_above: doc.approvalAbove ?? null,
          max_fee: doc.maxFee ?? null,
          allow: s.policy.allow,
          deny: s.policy.deny,
          wallet: s.budgets ? scope(s.budgets.wallet) : null,
          allowances,
          awaiting_approval: s.awaitingApproval.map((r) => ({
            payment_id: r.id,
            amount_msat: r.amountMsat,
            amount_sats: satsCeil(r.amountMsat),
            domain: r.domain,
            url: r.url,
            memo: r.memo,
            expires_at: r.invoiceExpiresAt,
          })),
        });
      } catch (err) {
        return fail(err, 'LP_MCP_STATUS_FAILED');
      }
    },
  );

  server.registerTool(
    'request_approval',
    {
      title: 'Ask a person to approve a waiting payment',
      description:
        'For a payment fetch_paid or pay_invoice left "awaiting-approval": records your reason for the person who decides, and optionally waits up to wait_seconds for their decision. ' +
        'It does NOT approve anything; only a person can (`lightproof wallet approve <id>`). Call it once per payment and tell the user what you are waiting for. ' +
        'When the state becomes "reserved", repeat the original fetch_paid (same URL) or pay_invoice (same invoice) to complete the payment, once. If "rejected", do not ask again.',
      inputSchema: {
        payment_id: z.number().int().min(1).describe('The payment_id fetch_paid or pay_invoice returned.'),
        reason: z.string().min(1).max(500).describe('Why the payment is worth it, in one or two sentences.'),
        wait_seconds: z
          .number()
          .int()
          .min(0)
          .max(MAX_APPROVAL_WAIT_SECONDS)
          .default(0)
          .describe(
            `How long to wait for a decision (0-${MAX_APPROVAL_WAIT_SECONDS}); 0 returns at once. Keep it below your client's request timeout (often 60 s).`,
          ),
      },
    },
    async (a, extra) => {
      try {
        const record = await wallet.store.get(a.payment_id);
        if (!record) {
          throw new LightproofError(
            'LP_WALLET_NOT_FOUND',
            `No payment ${a.payment_id} in the wallet; use the payment_id fetch_paid or pay_invoice returned.`,
          );
        }
        if (record.state !== 'awaiting-approval') throw notAwaiting(record);
        if (o.now() >= record.invoiceExpiresAt) {
          throw new LightproofError(
            'LP_WALLET_APPROVAL_EXPIRED',
            `Payment ${record.id}'s invoice has expired, so it can no longer be approved. Nothing was paid; if the user still wants it, repeat the original request for a fresh invoice.`,
          );
        }
        const noted = await wallet.store.transition(
          record.id,
          ['awaiting-approval'],
          'awaiting-approval',
          o.now(),
          undefined,
          { detail: { reason: a.reason, requestedBy: 'mcp' } },
        );
        if (!noted) throw notAwaiting((await wallet.store.get(record.id)) ?? record);
        const started = Date.now();
        const until = started + a.wait_seconds * 1000;
        const progressToken = extra._meta?.progressToken;
        let current = noted;
        let lastProgress = started;
        while (current.state === 'awaiting-approval' && Date.now() < until && !extra.signal.aborted) {
          await sleep(Math.min(o.pollMs, until - Date.now()), extra.signal);
          current = (await wallet.store.get(record.id)) ?? current;
          if (progressToken !== undefined && Date.now() - lastProgress >= 5000) {
            lastProgress = Date.now();
            await extra
              .sendNotification({
                method: 'notifications/progress',
                params: {
                  progressToken,
                  progress: Math.floor((lastProgress - started) / 1000),
                  total: a.wait_seconds,
                  message: `Waiting for a person to approve payment ${record.id}`,
                },
              })
              .catch(() => {});
          }
        }
        return ok({
          payment_id: current.id,
          state: current.state,
          decided_by: current.decidedBy,
          reason_code: current.reasonCode,
          reason: current.reasonText,
          waited_seconds: Math.round((Date.now() - started) / 1000),
          message: afterRequest(current),
        });
      } catch (err) {
        return fail(err, 'LP_MCP_APPROVAL_FAILED');
      }
    },
  );

  server.registerTool(
    'history',
    {
      title: 'Payment history',
      description:
        "The wallet's payments, newest first: what was paid, refused, or is waiting, with amounts, fees and reasons. Tokens and preimages are never shown.",
      inputSchema: {
        limit: z
          .number()
          .int()
          .min(1)
          .max(200)
          .default(20)
          .describe('How many payments (1-200, default 20).'),
        state: z.enum(STATES).optional().describe('Only payments in this state.'),
        before_id: z.number().int().min(1).optional().describe('Only payments older than this id (paging).'),
      },
      annotations: { readOnlyHint: true },
    },
    async (a) => {
      try {
        const list = await wallet.store.list({
          limit: a.limit,
          ...(a.state ? { states: [a.state] } : {}),
          ...(a.before_id === undefined ? {} : { beforeId: a.before_id }),
        });
        return ok({
          payments: list.map(publicPayment),
          next_before_id: list.length === a.limit ? (list.at(-1)?.id ?? null) : null,
        });
      } catch (err) {
        return fail(err, 'LP_MCP_HISTORY_FAILED');
      }
    },
  );
}

function scope(s: ScopeStatus): Record<string, unknown> {
  const periods: Record<string, unknown> = {};
  for (const p of PERIODS) {
    const line = s.periods[p];
    if (line.limitMsat === null) continue;
    periods[p] = {
      limit: line.limit,
      limit_msat: line.limitMsat,
      spent_msat: line.spentMsat,
      remaining_msat: line.remainingMsat,
      remaining_sats: line.remainingMsat === null ? null : satsFloor(line.remainingMsat),
      renews_at: line.renewsAt,
    };
  }
  return { per_request: s.perRequest, per_request_msat: s.perRequestMsat, budgets: periods };
}

function afterRequest(r: PaymentRecord): string {
  switch (r.state) {
    case 'awaiting-approval':
      return `Your reason is recorded; payment ${r.id} still waits for a person (\`lightproof wallet approve ${r.id}\` or reject). Tell the user. Do not repeat the request meanwhile; you may call request_approval again with wait_seconds to keep waiting.`;
    case 'reserved':
      return `Approved${r.decidedBy ? ` by ${r.decidedBy}` : ''}. Repeat the original fetch_paid (same URL) or pay_invoice (same invoice) once to complete it; it is paid exactly once.`;
    case 'rejected':
      return `Rejected${r.reasonText ? `: ${r.reasonText}` : ''}. Nothing was paid. Do not ask again unless the user says so.`;
    case 'paid':
      return 'Already paid.';
    default:
      return `The payment is ${r.state}${r.reasonText ? `: ${r.reasonText}` : ''}.`;
  }
}

function notAwaiting(r: PaymentRecord): LightproofError {
  return new LightproofError(
    'LP_WALLET_NOT_AWAITING',
    `Payment ${r.id} is ${r.state}, not awaiting approval. ${afterRequest(r)}`,
    { details: { paymentId: r.id, state: r.state } },
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
