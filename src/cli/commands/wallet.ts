import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { satToMsat } from '../../core/money.js';
import {
  loadPolicyFile,
  mergePolicy,
  type OpenedWallet,
  openWallet,
  PAYMENT_STATES,
  type PaymentRecord,
  type PaymentState,
  policyToDocument,
  WalletKeys,
} from '../../wallet/index.js';
import { parseCount, parseSats } from '../args.js';
import { dataDir, print } from '../context.js';

const STATES = PAYMENT_STATES;

/** Runs `fn` on the wallet of the command's data directory and closes it after. */
async function withWallet<T>(cmd: Command, fn: (w: OpenedWallet) => Promise<T>): Promise<T> {
  const configPath = rootOpts(cmd).walletConfig;
  const opened = await openWallet({ dataDir: dataDir(cmd), ...(configPath ? { configPath } : {}) });
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

function rootOpts(cmd: Command): { walletConfig?: string } {
  let c: Command | null = cmd;
  while (c && c.name() !== 'wallet') c = c.parent;
  return (c ?? cmd).opts<{ walletConfig?: string }>();
}

/** A journal record for people: never the token or preimage, which are bearer credentials. */
export function publicRecord(r: PaymentRecord): Record<string, unknown> {
  return {
    id: r.id,
    state: r.state,
    source: r.source,
    url: r.url,
    domain: r.domain,
    amount_msat: r.amountMsat,
    fee_reserve_msat: r.feeReserveMsat,
    fee_msat: r.feeMsat,
    payment_hash: r.paymentHash,
    service: r.service,
    memo: r.memo,
    reason_code: r.reasonCode,
    reason: r.reasonText,
    decided_by: r.decidedBy,
    usd_per_btc: r.usdPerBtc,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    invoice_expires_at: r.invoiceExpiresAt,
  };
}

export function registerWallet(program: Command): void {
  const wallet = program
    .command('wallet')
    .description("The agent's wallet: budgets, approvals, freeze, payment history")
    .option(
      '--wallet-config <file>',
      'wallet config (default: <data>/wallet/config.yaml, else embedded defaults)',
    )
    .addHelpText(
      'after',
      `
The policy (caps, budgets, allowances, approval threshold) and the freeze switch live in the
wallet's journal, so they apply at once to every agent process sharing it.

Example:
  $ lightproof wallet budget --per-request "200 sat" --day "2 usd" --approval-above "1000 sat"
  $ lightproof wallet status
  $ lightproof wallet approve 17`,
    );

  wallet
    .command('status')
    .description('Frozen or not, budgets left and when they renew, payments awaiting approval')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet status | jq .budgets')
    .action((_o: unknown, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        const s = await w.status();
        print(
          toJson({
            frozen: s.frozen,
            frozen_at: s.frozenAt,
            frozen_reason: s.frozenReason,
            spendable_msat: s.spendableMsat,
            usd_per_btc: s.usdPerBtc,
            rate_error: s.rateError,
            budgets: s.budgets,
            allowances: s.allowances,
            awaiting_approval: s.awaitingApproval.map(publicRecord),
            policy: policyToDocument(s.policy),
          }),
        );
      }),
    );

  wallet
    .command('budget')
    .description(
      'Show the policy, or change parts of it (amounts like "500 sat", "2500 msat", "0.50 usd"; "none" removes)',
    )
    .option('--per-request <amount>', 'the most one payment may cost')
    .option('--hour <amount>', 'budget per clock hour (UTC)')
    .option('--day <amount>', 'budget per day (UTC)')
    .option('--month <amount>', 'budget per calendar month (UTC)')
    .option('--total <amount>', 'budget for all time')
    .option('--max-fee <amount>', 'routing fee allowed per payment (reserved with it)')
    .option('--approval-above <amount>', 'payments above this wait for `wallet approve`')
    .option(
      '--allow <hosts>',
      'comma-separated hosts the agent may pay ("*.example.com" for subdomains); "none" for any',
    )
    .option('--deny <hosts>', 'comma-separated hosts the agent may never pay; "none" to clear')
    .option('--usd-per-btc <rate>', 'the fixed BTC price USD amounts are converted at')
    .addHelpText(
      'after',
      '\nPer-domain allowances and a live rate source are set with `lightproof wallet policy FILE`.\n\nExample:\n  $ lightproof wallet budget --per-request "100 sat" --day "1 usd" --usd-per-btc 97000',
    )
    .action((opts: Record<string, string | undefined>, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        const changes: Record<string, unknown> = {};
        const budgets: Record<string, string> = {};
        for (const period of ['hour', 'day', 'month', 'total'] as const) {
          if (opts[period] !== undefined) budgets[period] = opts[period];
        }
        if (Object.keys(budgets).length) changes.budgets = budgets;
        if (opts.perRequest !== undefined) changes.perRequest = opts.perRequest;
        if (opts.maxFee !== undefined) changes.maxFee = opts.maxFee;
        if (opts.approvalAbove !== undefined) changes.approvalAbove = opts.approvalAbove;
        if (opts.allow !== undefined) changes.allow = hostList(opts.allow);
        if (opts.deny !== undefined) changes.deny = hostList(opts.deny);
        if (opts.usdPerBtc !== undefined) changes.rate = { usdPerBtc: opts.usdPerBtc };
        let policy = await w.policy();
        if (Object.keys(changes).length) {
          policy = mergePolicy(policy, changes);
          await w.setPolicy(policy);
        }
        print(toJson(policyToDocument(policy)));
      }),
    );

  wallet
    .command('policy')
    .description('Print the whole policy, or replace it with a YAML/JSON file')
    .argument('[file]', 'the policy file to install')
    .addHelpText(
      'after',
      `
The file has the form printed by \`lightproof wallet policy\`:
  perRequest: 200 sat
  budgets: { day: 2 usd, month: 50000 sat }
  maxFee: 20 sat
  approvalAbove: 1000 sat
  allow: [api.example.com, "*.models.example"]
  domains: { api.example.com: { day: 5000 sat } }
  rate: { url: https://api.example.com/btc-usd, field: data.amount, maxAgeSeconds: 60 }

Example:
  $ lightproof wallet policy > policy.yaml && $EDITOR policy.yaml && lightproof wallet policy policy.yaml`,
    )
    .action((file: string | undefined, _o: unknown, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        if (file !== undefined) await w.setPolicy(loadPolicyFile(file));
        print(toJson(policyToDocument(await w.policy())));
      }),
    );

  wallet
    .command('approve')
    .description('Approve a payment waiting above the threshold (budgets and the freeze still apply)')
    .argument('<id>', 'the payment id, from `wallet status` or the agent')
    .option('--by <name>', 'who approves, kept in the journal', 'cli')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet approve 17 --by alice')
    .action((id: string, opts: { by: string }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        print(toJson(publicRecord(await w.approve(parseCount(id, 'payment id'), opts.by))));
      }),
    );

  wallet
    .command('reject')
    .description('Reject a payment waiting above the threshold; nothing is paid')
    .argument('<id>', 'the payment id')
    .option('--reason <text>', 'why, kept in the journal and shown to the agent')
    .option('--by <name>', 'who rejects, kept in the journal', 'cli')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet reject 17 --reason "too expensive"')
    .action((id: string, opts: { reason?: string; by: string }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        const r = await w.reject(parseCount(id, 'payment id'), opts.by, opts.reason ?? null);
        print(toJson(publicRecord(r)));
      }),
    );

  wallet
    .command('freeze')
    .description('Stop every new payment at once, in every process sharing this wallet')
    .option('--reason <text>', 'why, shown in status')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet freeze --reason "agent looping"')
    .action((opts: { reason?: string }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        await w.freeze(opts.reason ?? null);
        print(toJson({ frozen: true, reason: opts.reason ?? null }));
      }),
    );

  wallet
    .command('unfreeze')
    .description('Allow payments again')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet unfreeze')
    .action((_o: unknown, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        await w.unfreeze();
        print(toJson({ frozen: false }));
      }),
    );

  wallet
    .command('history')
    .description('Payments in the journal, newest first (or each state change with --events)')
    .option('--limit <n>', 'how many', '20')
    .option('--state <state>', `only this state: ${STATES.join(', ')}`)
    .option('--events', 'the state changes, oldest first')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet history --state paid --limit 5')
    .action((opts: { limit: string; state?: string; events?: boolean }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        const limit = parseCount(opts.limit, '--limit', 1000);
        if (opts.events) {
          print(toJson(await w.store.events({ limit })));
          return;
        }
        const state = opts.state;
        if (state !== undefined && !STATES.includes(state as PaymentState)) {
          throw new LightproofError(
            'LP_CLI_BAD_STATE',
            `--state '${state}' is not one of ${STATES.join(', ')}.`,
          );
        }
        const list = await w.store.list({ limit, ...(state ? { states: [state as PaymentState] } : {}) });
        print(toJson(list.map(publicRecord)));
      }),
    );

  wallet
    .command('reconcile')
    .description('Ask the node what became of payments left in flight (run at every start anyway)')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet reconcile')
    .action((_o: unknown, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        print(toJson(await w.reconcile()));
      }),
    );

  wallet
    .command('pay')
    .description('Pay a BOLT11 invoice from the wallet, within its policy')
    .argument('<invoice>', 'the invoice (lnbc…, lntb…, lnbcrt…)')
    .requiredOption('--max-sats <sats>', 'the most this payment may cost')
    .option('--memo <text>', 'why, kept in the journal')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet pay lnbcrt10u1p... --max-sats 1000')
    .action((invoice: string, opts: { maxSats: string; memo?: string }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        const r = await w.payInvoice(invoice.replace(/^lightning:/i, ''), {
          maxMsat: satToMsat(parseSats(opts.maxSats, '--max-sats')),
          ...(opts.memo ? { memo: opts.memo } : {}),
        });
        print(toJson({ ...publicRecord(r), preimage: r.preimage }));
      }),
    );

  wallet
    .command('invoice')
    .description("Create an invoice on the wallet's node, to be paid")
    .requiredOption('--sats <sats>', 'the amount')
    .option('--description <text>', 'shown to the payer')
    .addHelpText('after', '\nExample:\n  $ lightproof wallet invoice --sats 5000 --description "top-up"')
    .action((opts: { sats: string; description?: string }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w }) => {
        const inv = await w.node.createInvoice({
          amountMsat: satToMsat(parseSats(opts.sats, '--sats')),
          ...(opts.description ? { description: opts.description } : {}),
        });
        print(
          toJson({ invoice: inv.paymentRequest, payment_hash: inv.paymentHash, expires_at: inv.expiresAt }),
        );
      }),
    );

  wallet
    .command('address')
    .description("An on-chain receive address from the wallet's own BIP39 seed (BIP84, P2WPKH)")
    .option('--index <n>', 'the address index', '0')
    .addHelpText(
      'after',
      '\nThe seed is created on first use in <data>/wallet/seed (mode 0600); back it up.\n\nExample:\n  $ lightproof wallet address --index 3',
    )
    .action((opts: { index: string }, cmd: Command) =>
      withWallet(cmd, async ({ wallet: w, dir }) => {
        const index = parseCount(opts.index, '--index', 2 ** 31 - 1);
        const network = await w.network();
        if (network === 'simnet') {
          throw new LightproofError('LP_WALLET_NETWORK', 'On-chain addresses are not made for simnet.');
        }
        const keys = WalletKeys.open(dir, network);
        print(toJson({ address: keys.address(index), index, account_xpub: keys.accountXpub() }));
      }),
    );
}

function hostList(value: string): string[] {
  return value === 'none'
    ? []
    : value
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== '');
}
