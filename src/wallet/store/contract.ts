/**
 * The contract every WalletStore passes (SQLite in src/, PostgreSQL in test/postgres/). Each test opens
 * a store on a fresh, empty database, so the wallet-wide sums it checks are its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLightproofError } from '../../core/errors.js';
import { msat } from '../../core/money.js';
import type { Decision, NewPayment, PaymentRecord, SpendSnapshot, Spent, WalletStore } from '../types.js';
import type { WalletStoreSpec } from './index.js';

export interface WalletStoreContractOptions {
  /** Two stores on one fresh database, each with its own connection or pool, for the race between them. */
  openTwo: () => Promise<[WalletStore, WalletStore]>;
}

const T = 1_700_000_000;
const W = { hour: T - 600, day: T - 5 * 3600, month: T - 20 * 86_400 };
const RESERVE: Decision = { action: 'reserve' };
const REJECT = { action: 'reject', code: 'LP_TEST_OVER', message: 'Over the test cap.' } as const;
const ASK: Decision = { action: 'approval', reason: 'Needs a person.' };
const UNFROZEN = { policyJson: null, frozen: false, frozenAt: null, frozenReason: null };
const NO_SPEND = { hour: 0n, day: 0n, month: 0n, total: 0n };

function payment(overrides: Partial<NewPayment> = {}): NewPayment {
  const hash = randomBytes(32).toString('hex');
  const [amountMsat, feeReserveMsat] = [msat(1_000n), msat(10n)];
  return {
    ...{ paymentHash: hash, paymentRequest: `lnbcrt1${hash}`, source: 'invoice', url: null, domain: null },
    ...{ allowanceKey: null, amountMsat, feeReserveMsat, token: null, service: null, tokenValidUntil: null },
    ...{ invoiceExpiresAt: T + 3600, usdPerBtc: null, memo: null },
    ...overrides,
  };
}

const spent = (hour: bigint, day: bigint, month: bigint, total: bigint): Spent =>
  ({ hour, day, month, total }) as Spent;

/** A decide that records what it saw, then answers `decision`. */
function watching(decision: Decision = RESERVE) {
  const seen: SpendSnapshot[] = [];
  const decide = (s: SpendSnapshot): Decision => {
    seen.push(s);
    return decision;
  };
  return { seen, decide };
}

/** Reserves while the wallet's total stays within `cap`, refuses after. */
const capped = (cap: bigint, cost: bigint) => (s: SpendSnapshot) =>
  s.wallet.total + cost <= cap ? RESERVE : REJECT;

/** The named fields of a record (or null), for compact comparisons. */
const pick = (r: PaymentRecord | null, ...keys: (keyof PaymentRecord)[]) => keys.map((k) => r?.[k]);
const verdict = (r: PaymentRecord | null) =>
  pick(r, 'state', 'reasonCode', 'reasonText', 'decidedBy', 'reservedAt');

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isLightproofError(err, code), `expected ${code}, got ${String(err)}`);
    assert.ok(err.message.length > 20, 'the message says what to do');
    return true;
  });
}

export function walletStoreContract(
  name: string,
  open: () => Promise<WalletStore>,
  opts: WalletStoreContractOptions,
): void {
  describe(`WalletStore contract: ${name}`, () => {
    const opened: WalletStore[] = [];
    const fresh = async (): Promise<WalletStore> => {
      const store = await open();
      opened.push(store);
      return store;
    };
    // Closed after each test, so a PostgreSQL run never holds more than one test's pools.
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    /** Journals a payment of `amount` + `fee` msat that policy reserves at `at`. */
    async function reserved(store: WalletStore, at: number, amount = 1_000n, fee = 10n, key?: string) {
      const p = payment({ amountMsat: msat(amount), feeReserveMsat: msat(fee), allowanceKey: key ?? null });
      const { record } = await store.begin(p, W, at, () => RESERVE);
      assert.equal(record.state, 'reserved');
      return record;
    }
    const begin = async (store: WalletStore, decision: Decision, p = payment()) =>
      (await store.begin(p, W, T, () => decision)).record;

    it('journals a new payment as quoted, then reserved, with one event each', async () => {
      const store = await fresh();
      const p = payment({
        ...{ source: 'l402', url: 'https://api.example.com/x', domain: 'api.example.com', token: 'bWFj' },
        ...{ allowanceKey: '*.example.com', service: 'svc', tokenValidUntil: T + 60, usdPerBtc: '65000.5' },
        memo: 'weather for 🐝',
      });
      const { record, created } = await store.begin(p, W, T, () => RESERVE);
      assert.equal(created, true);
      const unset = { feeMsat: null, preimage: null, reasonCode: null, reasonText: null, decidedBy: null };
      const expected = { ...p, ...unset, id: record.id, state: 'reserved', createdAt: T, reservedAt: T };
      assert.deepEqual(record, { ...expected, updatedAt: T });
      assert.deepEqual(await store.get(record.id), record);
      assert.deepEqual(await store.getByHash(p.paymentHash), record);
      assert.equal(await store.get(record.id + 1000), null);
      assert.equal(await store.getByHash('00'.repeat(32)), null);
      const events = await store.events({ paymentId: record.id });
      assert.deepEqual(
        events.map((e) => [e.paymentId, e.paymentHash, e.from, e.to, e.at, e.detail]),
        [
          [record.id, p.paymentHash, null, 'quoted', T, null],
          [record.id, p.paymentHash, 'quoted', 'reserved', T, { decision: { action: 'reserve' } }],
        ],
      );
      assert.ok(events[0]!.seq < events[1]!.seq);
    });

    it('journals a payment hash once: a second begin changes nothing and does not decide', async () => {
      const store = await fresh();
      const p = payment();
      const first = await store.begin(p, W, T, () => RESERVE);
      const second = watching(REJECT);
      const again = await store.begin({ ...p, amountMsat: msat(9n) }, W, T + 5, second.decide);
      assert.deepEqual(again, { record: first.record, created: false });
      assert.equal(second.seen.length, 0, 'decide is not called for a known hash');
      assert.equal((await store.events()).length, 2);
    });

    it('journals refusals and approvals without counting them', async () => {
      const store = await fresh();
      const refused = await begin(store, { ...REJECT, details: { capMsat: 2n ** 60n } });
      assert.deepEqual(verdict(refused), ['rejected', 'LP_TEST_OVER', 'Over the test cap.', 'policy', null]);
      const ev = await store.events({ paymentId: refused.id });
      assert.deepEqual(
        ev.map((e) => [e.from, e.to, e.detail]),
        [
          [null, 'quoted', null],
          ['quoted', 'rejected', { decision: { ...REJECT, details: { capMsat: `${2n ** 60n}` } } }],
        ],
      );
      const waiting = await begin(store, ASK);
      assert.deepEqual(verdict(waiting), ['awaiting-approval', null, 'Needs a person.', null, null]);
      assert.deepEqual((await store.spent(W, null)).wallet, NO_SPEND);
    });

    it('shows decide the sums per window: held fee reserves, actual fees once paid, window starts included', async () => {
      const store = await fresh();
      await reserved(store, W.month - 1, 1_000n, 10n); // before the month: counts in total only
      await reserved(store, T - 10 * 86_400, 2_000n, 20n);
      const c = await reserved(store, T - 3600, 4_000n, 40n);
      assert.ok(await store.transition(c.id, ['reserved'], 'paying', T));
      const d = await reserved(store, T - 60, 8_000n, 80n);
      await store.transition(d.id, ['reserved'], 'paying', T);
      const settled = { feeMsat: msat(5n), preimage: 'ab'.repeat(32) };
      const paid = await store.transition(d.id, ['paying'], 'paid', T, settled);
      assert.deepEqual(pick(paid, 'reservedAt', 'feeMsat'), [T - 60, 5n], 'counts from its reservation');
      const e = await reserved(store, T - 30, 16_000n, 160n);
      await store.transition(e.id, ['reserved'], 'failed', T);
      await reserved(store, W.hour, 32_000n, 0n);
      await begin(store, REJECT, payment({ amountMsat: msat(64_000n) }));
      await begin(store, ASK, payment({ amountMsat: msat(128_000n) }));
      const probe = watching(REJECT);
      await store.begin(payment(), W, T, probe.decide);
      const expected = { wallet: spent(40_005n, 44_045n, 46_065n, 47_075n), allowance: null, frozen: false };
      assert.deepEqual(probe.seen, [expected]);
      assert.deepEqual(await store.spent(W, null), expected);
    });

    it('counts an allowance only over payments with the same allowance key', async () => {
      const store = await fresh();
      await reserved(store, T - 60, 1_000n, 10n, 'a');
      await reserved(store, T - 10 * 86_400, 2_000n, 20n, 'a');
      await reserved(store, T - 60, 4_000n, 40n, 'b');
      await reserved(store, T - 60, 8_000n, 80n);
      const probe = watching();
      await store.begin(payment({ allowanceKey: 'a' }), W, T, probe.decide);
      const [wallet, allowance] = [
        spent(13_130n, 13_130n, 15_150n, 15_150n),
        spent(1_010n, 1_010n, 3_030n, 3_030n),
      ];
      assert.deepEqual(probe.seen, [{ wallet, allowance, frozen: false }]);
      assert.deepEqual((await store.spent(W, 'a')).allowance, spent(2_020n, 2_020n, 4_040n, 4_040n));
      assert.deepEqual((await store.spent(W, 'b')).allowance, spent(4_040n, 4_040n, 4_040n, 4_040n));
      assert.deepEqual((await store.spent(W, 'none')).allowance, NO_SPEND);
      assert.equal((await store.spent(W, null)).allowance, null);
    });

    it('moves a payment only from the named states, with its patch and one event', async () => {
      const store = await fresh();
      const r = await reserved(store, T);
      const before = await store.events();
      assert.equal(await store.transition(r.id, ['paying'], 'paid', T + 1), null);
      assert.equal(await store.transition(r.id + 1000, ['reserved'], 'paying', T + 1), null);
      assert.deepEqual(await store.get(r.id), r, 'a refused transition changes nothing');
      assert.deepEqual(await store.events(), before, 'and journals nothing');
      const detail = { node: 'alice', attempt: 2n ** 60n };
      const paying = await store.transition(r.id, ['quoted', 'reserved'], 'paying', T + 1, {}, { detail });
      assert.deepEqual(paying, { ...r, state: 'paying', updatedAt: T + 1 });
      const after = await store.events({ afterSeq: before.at(-1)!.seq });
      const written = { node: 'alice', attempt: `${2n ** 60n}` };
      assert.deepEqual(
        after.map((e) => [e.paymentId, e.from, e.to, e.at, e.detail]),
        [[r.id, 'reserved', 'paying', T + 1, written]],
      );
      const why = { reasonCode: 'LP_X', reasonText: 'No.' };
      const failed = await store.transition(r.id, ['paying'], 'failed', T + 2, why);
      assert.deepEqual(pick(failed, 'state', 'reasonCode', 'reasonText'), ['failed', 'LP_X', 'No.']);
      // Entering reserved sets reservedAt once; patch fields overwrite, null included.
      const q = await begin(store, ASK);
      const approved = await store.transition(q.id, ['awaiting-approval'], 'reserved', T + 7, {
        decidedBy: 'c',
      });
      assert.deepEqual(pick(approved, 'reservedAt', 'decidedBy', 'reasonText'), [
        T + 7,
        'c',
        'Needs a person.',
      ]);
      const clear = { reasonText: null, reasonCode: 'LP_Y' };
      const cleared = await store.transition(q.id, ['reserved'], 'failed', T + 8, clear);
      assert.deepEqual(pick(cleared, 'reservedAt', 'reasonText', 'reasonCode'), [T + 7, null, 'LP_Y']);
      await expectCode(store.transition(q.id, [], 'failed', T), 'LP_WALLET_BAD_QUERY');
      await expectCode(store.transition(q.id, ['failed'], 'gone' as 'failed', T), 'LP_WALLET_BAD_QUERY');
    });

    it('keeps the freeze: seen by decide, and blocking unlessFrozen transitions until lifted', async () => {
      const store = await fresh();
      assert.deepEqual(await store.settings(), UNFROZEN);
      const a = await reserved(store, T);
      const b = await reserved(store, T);
      await store.setFrozen(true, T + 1, 'Laptop lost.');
      const frozen = { policyJson: null, frozen: true, frozenAt: T + 1, frozenReason: 'Laptop lost.' };
      assert.deepEqual(await store.settings(), frozen);
      const probe = watching(REJECT);
      await store.begin(payment(), W, T + 2, probe.decide);
      assert.equal(probe.seen[0]?.frozen, true);
      assert.equal((await store.spent(W, null)).frozen, true);
      const events = (await store.events()).length;
      const unlessFrozen = { unlessFrozen: true };
      assert.equal(await store.transition(a.id, ['reserved'], 'paying', T + 2, {}, unlessFrozen), null);
      assert.equal((await store.get(a.id))?.state, 'reserved');
      assert.equal((await store.events()).length, events);
      const released = await store.transition(b.id, ['reserved'], 'failed', T + 2);
      assert.equal(released?.state, 'failed', 'releasing a reservation is still allowed');
      await store.setFrozen(false, T + 3, null);
      assert.deepEqual(await store.settings(), UNFROZEN);
      const paying = await store.transition(a.id, ['reserved'], 'paying', T + 4, {}, unlessFrozen);
      assert.equal(paying?.state, 'paying');
    });

    it('re-decides an awaiting payment on approve: reserve or reject, and null when not awaiting', async () => {
      const store = await fresh();
      await reserved(store, T - 60);
      const x = await begin(store, ASK, payment({ amountMsat: msat(5_000n) }));
      const probe = watching();
      const approved = await store.approve(x.id, W, T + 5, 'alice', probe.decide);
      assert.deepEqual(probe.seen[0]?.wallet.total, 1_010n, 'the payment itself is not counted yet');
      const changes = { state: 'reserved', reservedAt: T + 5, updatedAt: T + 5, decidedBy: 'alice' };
      assert.deepEqual(approved, { ...x, ...changes, reasonText: null });
      const last = (await store.events({ paymentId: x.id })).at(-1);
      const decided = { decision: RESERVE, decidedBy: 'alice' };
      assert.deepEqual([last?.from, last?.to, last?.detail], ['awaiting-approval', 'reserved', decided]);
      assert.equal(await store.approve(x.id, W, T + 6, 'alice', () => RESERVE), null, 'already reserved');
      assert.equal(await store.approve(x.id + 1000, W, T + 6, 'alice', () => RESERVE), null);
      const y = await begin(store, ASK);
      const refused = await store.approve(y.id, W, T + 7, 'bob', () => REJECT);
      assert.deepEqual(verdict(refused), ['rejected', 'LP_TEST_OVER', 'Over the test cap.', 'bob', null]);
      const z = await begin(store, ASK);
      const events = (await store.events()).length;
      const again = store.approve(z.id, W, T + 8, 'carol', () => ASK);
      await expectCode(again, 'LP_WALLET_BAD_DECISION');
      assert.deepEqual(await store.get(z.id), z, 'an approval that asks for approval changes nothing');
      assert.equal((await store.events()).length, events);
    });

    it('journals nothing when decide throws, and hands the error back as thrown', async () => {
      const store = await fresh();
      const p = payment();
      const boom = new Error('policy exploded');
      const explode = (): Decision => {
        throw boom;
      };
      await assert.rejects(store.begin(p, W, T, explode), (err) => err === boom);
      assert.equal(await store.getByHash(p.paymentHash), null);
      assert.deepEqual(await store.events(), []);
      assert.equal((await store.begin(p, W, T, () => RESERVE)).created, true, 'the hash is still free');
    });

    it('keeps the policy JSON exactly as given', async () => {
      const store = await fresh();
      const json = JSON.stringify({
        limits: { day: { unit: 'msat', msat: '9007199254740993' } },
        note: 'ü✓',
      });
      await store.setPolicy(json, T);
      assert.deepEqual(await store.settings(), { ...UNFROZEN, policyJson: json });
      await store.setPolicy('{"v":2}', T + 1);
      assert.equal((await store.settings()).policyJson, '{"v":2}');
    });

    it('stores L402 tokens per origin: put upserts, delete removes', async () => {
      const store = await fresh();
      const [a, b] = ['https://a.example', 'https://b.example'];
      const a1 = { key: 'k1', origin: a, json: '{"n":1}' };
      const a2 = { key: 'k2', origin: a, json: '{"n":2}' };
      await store.putToken(a2);
      await store.putToken(a1);
      await store.putToken({ key: 'k3', origin: b, json: '{}' });
      assert.deepEqual(await store.listTokens(a), [a1, a2]);
      await store.putToken({ ...a1, json: '{"n":11}' });
      assert.deepEqual(await store.listTokens(a), [{ ...a1, json: '{"n":11}' }, a2]);
      await store.putToken({ ...a2, origin: b });
      const keys = (await store.listTokens(b)).map((t) => t.key);
      assert.deepEqual(keys, ['k2', 'k3']);
      await store.deleteToken('k1');
      await store.deleteToken('nope');
      assert.deepEqual(await store.listTokens(a), []);
    });

    it('keeps amounts above 2^53 msat exactly, in records and in sums', async () => {
      const store = await fresh();
      const [amount, reserve, fee] = [2n ** 53n + 1n, 2n ** 60n + 3n, 2n ** 53n + 5n];
      const r = await reserved(store, T, amount, reserve);
      assert.deepEqual(pick(r, 'amountMsat', 'feeReserveMsat'), [amount, reserve]);
      assert.equal((await store.spent(W, null)).wallet.total, amount + reserve);
      await store.transition(r.id, ['reserved'], 'paying', T);
      const paid = await store.transition(r.id, ['paying'], 'paid', T, { feeMsat: msat(fee) });
      assert.equal(paid?.feeMsat, fee);
      assert.equal((await store.get(r.id))?.feeMsat, fee);
      const sum = amount + fee;
      assert.deepEqual((await store.spent(W, null)).wallet, spent(sum, sum, sum, sum));
    });

    it('lists newest first, by state, in pages; events oldest first after a seq', async () => {
      const store = await fresh();
      const ids: number[] = [];
      for (let i = 0; i < 55; i++) ids.push((await begin(store, i % 5 === 0 ? REJECT : RESERVE)).id);
      const newest = [...ids].reverse();
      const idsOf = (records: PaymentRecord[]) => records.map((r) => r.id);
      assert.deepEqual(idsOf(await store.list()), newest.slice(0, 50), 'the default page is 50');
      const pages: number[] = [];
      for (let beforeId: number | undefined, page = await store.list({ limit: 20 }); page.length > 0; ) {
        pages.push(...idsOf(page));
        beforeId = page.at(-1)!.id;
        page = await store.list({ limit: 20, beforeId });
      }
      assert.deepEqual(pages, newest);
      const rejected = ids.filter((_, i) => i % 5 === 0).reverse();
      assert.deepEqual(idsOf(await store.list({ states: ['rejected'] })), rejected);
      assert.equal((await store.list({ states: ['rejected', 'reserved'], limit: 1000 })).length, 55);
      assert.deepEqual(await store.list({ states: ['paid'] }), []);
      assert.deepEqual(await store.list({ limit: 0 }), []);
      await expectCode(store.list({ limit: 1001 }), 'LP_WALLET_BAD_QUERY');
      await expectCode(store.list({ limit: -1 }), 'LP_WALLET_BAD_QUERY');
      await expectCode(store.list({ states: ['lost' as 'paid'] }), 'LP_WALLET_BAD_QUERY');
      const all = await store.events({ limit: 1000 });
      assert.equal(all.length, 110);
      const seqs = all.map((e) => e.seq);
      const sorted = [...seqs].sort((x, y) => x - y);
      assert.deepEqual(seqs, sorted);
      assert.deepEqual(await store.events({ afterSeq: all[99]!.seq, limit: 5 }), all.slice(100, 105));
      const third = (await store.events({ paymentId: ids[3] })).map((e) => e.to);
      assert.deepEqual(third, ['quoted', 'reserved']);
    });

    it('reserves exactly up to the cap when 50 begins race', async () => {
      const store = await fresh();
      const decide = capped(10_100n, 1_010n);
      const begins = Array.from({ length: 50 }, () => store.begin(payment(), W, T, decide));
      const results = await Promise.all(begins);
      assert.equal(results.filter((r) => r.record.state === 'reserved').length, 10);
      assert.equal(results.filter((r) => r.record.state === 'rejected').length, 40);
      assert.equal((await store.spent(W, null)).wallet.total, 10_100n);
      assert.equal((await store.events({ limit: 1000 })).length, 100);
    });

    it('reserves exactly up to the cap when two stores on one database race', async () => {
      const [one, two] = await opts.openTwo();
      opened.push(one, two);
      const decide = capped(10_100n, 1_010n);
      const racer = (store: WalletStore) =>
        Array.from({ length: 30 }, () => store.begin(payment(), W, T, decide));
      const results = await Promise.all([...racer(one), ...racer(two)]);
      assert.equal(results.filter((r) => r.record.state === 'reserved').length, 10);
      assert.equal((await two.spent(W, null)).wallet.total, 10_100n);
    });

    it('closes more than once without error', async () => {
      const store = await open();
      await store.close();
      await store.close();
    });
  });
}

const WORKER = `
import { randomBytes } from 'node:crypto';
const [moduleUrl, spec, count, cap, startAt] = process.argv.slice(2);
const { openWalletStore } = await import(moduleUrl);
const store = await openWalletStore(JSON.parse(spec));
while (Date.now() < Number(startAt)); // both racers start at the same instant
const T = ${T};
const over = { action: 'reject', code: 'LP_TEST_OVER', message: 'Over the cap.' };
const decide = (s) => (s.wallet.total + 1010n <= BigInt(cap) ? { action: 'reserve' } : over);
const payment = () => ({
  paymentHash: randomBytes(32).toString('hex'), paymentRequest: 'lnbcrt1race', source: 'invoice', url: null,
  domain: null, allowanceKey: null, amountMsat: 1000n, feeReserveMsat: 10n, token: null, service: null,
  tokenValidUntil: null, invoiceExpiresAt: T + 3600, usdPerBtc: null, memo: null,
});
const begins = Array.from({ length: Number(count) }, () => store.begin(payment(), ${JSON.stringify(W)}, T, decide));
const results = await Promise.all(begins);
await store.close();
process.stdout.write(JSON.stringify(results.filter((r) => r.record.state === 'reserved').length));
`;

/**
 * Two OS processes, each with its own store on `spec`, start `n` begins (1 010 msat each)
 * at the same instant against a wallet cap of `cap` msat. Resolves with how many each reserved.
 */
export async function raceWalletProcesses(spec: WalletStoreSpec, n: number, cap: bigint): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'lightproof-wallet-race-'));
  const script = join(dir, 'worker.mjs');
  writeFileSync(script, WORKER);
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const moduleUrl = new URL('./index.ts', import.meta.url).href;
  // Late enough for both workers to have started and opened their stores.
  const startAt = Date.now() + 3000;
  const args = ['--import', 'tsx', script, moduleUrl, JSON.stringify(spec), `${n}`, `${cap}`, `${startAt}`];
  const run = () =>
    new Promise<number>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: root }, (err, stdout, stderr) =>
        err ? reject(new Error(`worker failed: ${stderr || err.message}`)) : resolve(Number(stdout)),
      );
    });
  try {
    return await Promise.all([run(), run()]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
