import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';
import { type Kit, spendMeter, startKit } from '../gateway/gateway.testkit.js';
import {
  createL402Fetch,
  createPaywall,
  KeyRing,
  MemoryTokenCache,
  sendWebResponse,
  toWebRequest,
} from '../l402/index.js';
import { EmbeddedLightning, type LightningNode, type PaymentStatus } from '../lightning/index.js';
import { closeDefaultWallet, l402Fetch } from './default.js';
import { parsePolicy } from './policy.js';
import { SqliteWalletStore } from './store/index.js';
import type { NewPayment } from './types.js';
import { Wallet } from './wallet.js';

const PRICE = 10_000n; // msat, the gateway's price below

let kit: Kit;
let dir: string;
let n = 0;

before(async () => {
  kit = await startKit({
    config: {
      challengeLimits: [{ requests: 1000, per: '1s', burst: 1000 }],
      services: [{ name: 'chat', upstream: 'UPSTREAM', price: 10, tokenTimeout: '1h' }],
    },
  });
  spent = spendMeter(kit.agent);
  dir = mkdtempSync(join(tmpdir(), 'lightproof-wallet-'));
});

after(async () => {
  await kit.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(policy: Record<string, unknown> = {}, node: LightningNode = kit.agent) {
  const wallet = await Wallet.open({
    node,
    store: SqliteWalletStore.open(join(dir, `w${++n}.db`)),
    pollMs: 10,
  });
  await wallet.setPolicy(parsePolicy({ perRequest: '1000 sat', maxFee: '0 sat', ...policy }, 'test'));
  return wallet;
}

/** Msat the agent's embedded account spent since the last call, from the node's own ledger. */
let spent: () => Promise<bigint>;

async function rejects(p: Promise<unknown>, code: string): Promise<LightproofError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}, but it succeeded`),
    (e: unknown) => e,
  );
  assert.ok(isLightproofError(err, code), `expected ${code}, got ${String(err)}`);
  return err as LightproofError;
}

describe('Wallet against a real gateway on the embedded node', () => {
  it('pays once, journals every state, and reuses the token it keeps in the journal', async () => {
    const wallet = await open();
    await spent();
    const l402 = wallet.fetch();
    assert.equal((await l402(kit.url('/a'))).status, 200);
    assert.equal((await wallet.fetch()(kit.url('/b'))).status, 200, 'a new fetch finds the stored token');
    assert.equal(await spent(), PRICE);
    const [paid] = await wallet.store.list();
    assert.equal(paid?.state, 'paid');
    assert.equal(paid?.domain, '127.0.0.1');
    assert.equal(paid?.service, 'chat');
    const events = await wallet.store.events({ paymentId: paid!.id });
    assert.deepEqual(
      events.map((e) => `${e.from}>${e.to}`),
      ['null>quoted', 'quoted>reserved', 'reserved>paying', 'paying>paid'],
    );
    await wallet.close();
  });

  it('refuses above the per-request cap, outside the allow list and over budget, journaling each refusal', async () => {
    await spent();
    const capped = await open({ perRequest: '5 sat' });
    const err = await rejects(capped.fetch()(kit.url('/x')), 'LP_WALLET_OVER_REQUEST_CAP');
    assert.equal((err.details as { paymentId: number }).paymentId, 1);
    assert.equal((await capped.store.list())[0]?.state, 'rejected');
    await capped.close();

    const denied = await open({ allow: ['api.example.com'] });
    await rejects(denied.fetch()(kit.url('/x')), 'LP_WALLET_DOMAIN_DENIED');
    await denied.close();

    const budget = await open({ budgets: { day: '15 sat' } });
    assert.equal((await budget.fetch()(kit.url('/x'))).status, 200);
    const over = await rejects(
      createL402Fetch({ payer: budget.payer(), maxPriceMsat: msat(PRICE) })(kit.url('/y')),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
    assert.equal((over.details as { period: string }).period, 'day');
    await budget.close();
    assert.equal(await spent(), PRICE, 'only the payment within budget was made');
  });

  it('converts USD budgets at the policy rate and records the rate used', async () => {
    await spent();
    // 0.01 USD at 100 000 USD/BTC is 10 sat: exactly one payment of 10 sat (fees capped at 0).
    const wallet = await open({ budgets: { day: '0.01 usd' }, rate: { usdPerBtc: '100000' } });
    assert.equal((await wallet.fetch()(kit.url('/usd'))).status, 200);
    await rejects(
      createL402Fetch({ payer: wallet.payer(), maxPriceMsat: msat(PRICE) })(kit.url('/usd2')),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
    const [rejected, paid] = await wallet.store.list();
    assert.equal(paid?.usdPerBtc, '100000');
    assert.equal(rejected?.state, 'rejected');
    assert.equal(await spent(), PRICE);
    await wallet.close();
  });

  it('makes exactly as many payments as the budget allows under 30 concurrent buyers', async () => {
    await spent();
    const wallet = await open({ budgets: { total: '50 sat' } });
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        createL402Fetch({ payer: wallet.payer(), maxPriceMsat: msat(PRICE), cache: new MemoryTokenCache() })(
          kit.url(`/c/${i}`),
        ),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value.status === 200).length, 5);
    assert.equal(await spent(), 5n * PRICE);
    assert.equal((await wallet.store.list({ states: ['paid'] })).length, 5);
    await wallet.close();
  });

  it('pays nothing while frozen, and a freeze stops a reserved payment before the node sees it', async () => {
    await spent();
    const wallet = await open();
    await wallet.freeze('incident');
    await rejects(wallet.fetch()(kit.url('/f')), 'LP_WALLET_FROZEN');
    assert.equal((await wallet.status()).frozenReason, 'incident');
    await wallet.unfreeze();

    // An approved payment is reserved, not yet sent: a freeze now must stop it before the node.
    const held = await open({ approvalAbove: '5 sat' });
    const pending = await rejects(held.fetch()(kit.url('/f2')), 'LP_WALLET_APPROVAL_PENDING');
    const id = (pending.details as { paymentId: number }).paymentId;
    assert.equal((await held.approve(id, 'ops')).state, 'reserved');
    await held.freeze(null);
    await rejects(held.fetch()(kit.url('/f2')), 'LP_WALLET_FROZEN');
    const stopped = await held.store.get(id);
    assert.equal(stopped?.state, 'failed');
    assert.equal(stopped?.reasonCode, 'LP_WALLET_FROZEN');
    assert.equal(await spent(), 0n, 'zero payments');
    await held.close();
    await wallet.close();
  });

  it('holds a payment above the threshold until a person approves, then pays that invoice once', async () => {
    await spent();
    const wallet = await open({ approvalAbove: '5 sat' });
    const pending = await rejects(
      wallet.fetch({ memo: 'needs GPT' })(kit.url('/big')),
      'LP_WALLET_APPROVAL_PENDING',
    );
    const id = (pending.details as { paymentId: number }).paymentId;
    assert.equal(await spent(), 0n, 'nothing paid while waiting');
    const [waiting] = (await wallet.status()).awaitingApproval;
    assert.equal(waiting?.memo, 'needs GPT');

    const approved = await wallet.approve(id, 'alice');
    assert.equal(approved.state, 'reserved');
    assert.equal(approved.decidedBy, 'alice');
    await rejects(wallet.approve(id, 'alice'), 'LP_WALLET_NOT_AWAITING');
    // The agent repeats the request: the approved invoice is paid and its token opens the resource.
    assert.equal((await wallet.fetch()(kit.url('/big'))).status, 200);
    assert.equal(await spent(), PRICE, 'the approved invoice, once');
    assert.equal((await wallet.store.get(id))?.state, 'paid');

    const second = await rejects(
      createL402Fetch({ payer: wallet.payer(), maxPriceMsat: msat(PRICE) })(kit.url('/big2')),
      'LP_WALLET_APPROVAL_PENDING',
    );
    const id2 = (second.details as { paymentId: number }).paymentId;
    const rejected = await wallet.reject(id2, 'alice', 'not now');
    assert.equal(rejected.state, 'rejected');
    assert.equal(rejected.reasonText, 'not now');
    await rejects(wallet.approve(id2, 'alice'), 'LP_WALLET_NOT_AWAITING');
    assert.equal(await spent(), 0n);
    await wallet.close();
  });

  it('pays exactly once when a server keeps answering 402 after payment, and refuses a garbled challenge', async () => {
    const paywall = createPaywall({
      node: kit.provider,
      keys: KeyRing.generate(),
      service: 'x',
      price: msat(PRICE),
    });
    const server = createServer((req, res) => {
      void (async () => {
        const request = toWebRequest(req);
        if (new URL(request.url).pathname === '/garbled') {
          res.writeHead(402, { 'www-authenticate': 'L402 macaroon="AgE", invoice="lnbcrt1zzz"' });
          return res.end();
        }
        await sendWebResponse(res, ((await paywall.challenge(request)) as { response: Response }).response);
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const wallet = await open();
    await spent();
    const err = await rejects(wallet.fetch()(`${base}/stubborn`), 'LP_L402_PAID_BUT_REFUSED');
    assert.match(err.message, /nothing more was paid/);
    await rejects(wallet.fetch()(`${base}/garbled`), 'LP_L402_BAD_CHALLENGE');
    assert.equal(await spent(), PRICE, 'one payment, not a loop');
    assert.deepEqual(
      (await wallet.store.list()).map((r) => r.state),
      ['paid'],
    );
    await wallet.close();
    await new Promise((r) => server.close(r));
  });

  it('l402Fetch opens the wallet in LIGHTPROOF_DATA_DIR on first use and pays from it', async () => {
    const previous = process.env.LIGHTPROOF_DATA_DIR;
    process.env.LIGHTPROOF_DATA_DIR = kit.dir; // the kit's embedded node: the "agent" account is funded
    try {
      await spent();
      const res = await l402Fetch(kit.url('/default'));
      assert.equal(res.status, 200);
      assert.equal((await l402Fetch(kit.url('/default2'))).status, 200, 'token reused');
      assert.equal(await spent(), PRICE);
    } finally {
      await closeDefaultWallet();
      if (previous === undefined) delete process.env.LIGHTPROOF_DATA_DIR;
      else process.env.LIGHTPROOF_DATA_DIR = previous;
    }
  });

  it('checks direct invoices: amountless, above the max, another network, expired', async () => {
    const wallet = await open();
    const amountless = await kit.provider.createInvoice({ amountMsat: null });
    await rejects(
      wallet.payInvoice(amountless.paymentRequest, { maxMsat: msat(PRICE) }),
      'LP_WALLET_AMOUNTLESS_INVOICE',
    );
    const dear = await kit.provider.createInvoice({ amountMsat: msat(PRICE * 3n) });
    await rejects(wallet.payInvoice(dear.paymentRequest, { maxMsat: msat(PRICE) }), 'LP_WALLET_OVER_MAX');
    const mainnet = EmbeddedLightning.open(join(dir, 'mainnet'), { network: 'mainnet' });
    const foreign = await mainnet.ensureAccount('shop').createInvoice({ amountMsat: msat(PRICE) });
    mainnet.close();
    await rejects(
      wallet.payInvoice(foreign.paymentRequest, { maxMsat: msat(PRICE) }),
      'LP_WALLET_WRONG_NETWORK',
    );
    await rejects(wallet.payInvoice('lnbcrt1garbage', { maxMsat: msat(PRICE) }), 'LP_BOLT11_MALFORMED');
    assert.equal((await wallet.store.list()).length, 0, 'refused before the journal');
    await spent();
    const ok = await kit.provider.createInvoice({ amountMsat: msat(PRICE) });
    const paid = await wallet.payInvoice(ok.paymentRequest, { maxMsat: msat(PRICE) });
    assert.equal(paid.state, 'paid');
    const again = await wallet.payInvoice(ok.paymentRequest, { maxMsat: msat(PRICE) });
    assert.equal(again.id, paid.id, 'the same hash is the same payment');
    assert.equal(await spent(), PRICE, 'paid once');
    await wallet.close();
  });
});

/** A node whose outgoing payments are scripted, to test recovery paths a real node rarely shows. */
function scriptedNode(
  base: LightningNode,
  script: {
    pay?: () => Promise<never>;
    lookup: (hash: string) => PaymentStatus | null;
  },
): LightningNode {
  return {
    getInfo: () => base.getInfo(),
    createInvoice: (r) => base.createInvoice(r),
    lookupInvoice: (h) => base.lookupInvoice(h),
    balance: () => base.balance(),
    subscribeInvoices: (o) => base.subscribeInvoices(o),
    close: async () => {},
    payInvoice: script.pay ?? (() => Promise.reject(new Error('not scripted'))),
    lookupPayment: async (h) => script.lookup(h),
  };
}

describe('Wallet recovery (scripted node outcomes)', () => {
  const hash = (i: number) => i.toString(16).padStart(64, '0');
  const payment = (i: number): NewPayment => ({
    paymentHash: hash(i),
    paymentRequest: `lnbcrt-${i}`,
    source: 'invoice',
    url: null,
    domain: null,
    allowanceKey: null,
    amountMsat: msat(1000n),
    feeReserveMsat: msat(10n),
    token: null,
    service: null,
    tokenValidUntil: null,
    invoiceExpiresAt: 4_000_000_000,
    usdPerBtc: null,
    memo: null,
  });
  const status = (i: number, state: PaymentStatus['state']): PaymentStatus => ({
    paymentHash: hash(i),
    state,
    preimage: state === 'succeeded' ? 'ab'.repeat(32) : null,
    amountMsat: msat(1000n),
    feeMsat: msat(3n),
    failureReason: state === 'failed' ? 'no route' : null,
  });

  it('settles paying records from what the node says, and never releases one the node may hold', async () => {
    const store = SqliteWalletStore.open(join(dir, 'recover.db'));
    let clock = 1_000;
    for (let i = 1; i <= 5; i++) {
      const { record } = await store.begin(payment(i), { hour: 0, day: 0, month: 0 }, clock, () => ({
        action: 'reserve',
      }));
      await store.transition(record.id, ['reserved'], 'paying', clock);
    }
    const outcomes: Record<number, PaymentStatus | null> = {
      1: status(1, 'succeeded'),
      2: status(2, 'failed'),
      3: status(3, 'in-flight'),
      4: null, // never reached the node; old enough to be sure
      5: null,
    };
    const node = scriptedNode(kit.agent, { lookup: (h) => outcomes[Number.parseInt(h, 16)] ?? null });
    clock = 1_000 + 120;
    // Payment 5 was journaled a moment ago: another process may still be handing it to the node.
    await store.transition(5, ['paying'], 'paying', clock);
    const wallet = await Wallet.open({ node, store, now: () => clock, unsentGraceSeconds: 60 });
    const byId = async (id: number) => (await store.get(id))!;
    assert.equal((await byId(1)).state, 'paid');
    assert.equal((await byId(1)).feeMsat, 3n);
    assert.equal((await byId(2)).state, 'failed');
    assert.equal((await byId(3)).state, 'paying', 'in flight: budget stays held');
    assert.equal((await byId(4)).state, 'failed');
    assert.equal((await byId(4)).reasonCode, 'LP_WALLET_NEVER_SENT');
    assert.equal((await byId(5)).state, 'paying', 'too recent to call unsent');
    const held = await store.spent({ hour: 0, day: 0, month: 0 }, null);
    assert.equal(held.wallet.total, 1003n + 1010n + 1010n, 'paid (with its fee) plus the two still held');
    await wallet.close();
  });

  it('keeps the budget held when the node fails ambiguously mid-payment', async () => {
    const store = SqliteWalletStore.open(join(dir, 'ambiguous.db'));
    const invoice = await kit.provider.createInvoice({ amountMsat: msat(PRICE) });
    const node = scriptedNode(kit.agent, {
      pay: () => Promise.reject(new LightproofError('LP_LN_NODE_ERROR', 'connection reset')),
      lookup: (h) => ({ ...status(0, 'in-flight'), paymentHash: h }),
    });
    const wallet = await Wallet.open({ node, store });
    await wallet.setPolicy(parsePolicy({ perRequest: '1000 sat' }, 'test'));
    await rejects(
      wallet.payInvoice(invoice.paymentRequest, { maxMsat: msat(PRICE) }),
      'LP_WALLET_PAYMENT_UNKNOWN',
    );
    const [record] = await store.list();
    assert.equal(record?.state, 'paying');
    const snapshot = await store.spent({ hour: 0, day: 0, month: 0 }, null);
    assert.ok(snapshot.wallet.total >= (PRICE as Msat), 'still counted against the budget');
    await wallet.close();
  });
});
