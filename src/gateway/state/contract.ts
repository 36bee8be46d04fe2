/**
 * The contract every GatewayState implementation passes (SQLite in src/, PostgreSQL in test/postgres/).
 * One state serves the whole suite, so each test works on its own token ids and service names.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import type { GatewayState, MintRecord } from './types.js';

export interface StateFixture {
  state: GatewayState;
  /** Closes the state and removes whatever setup created. */
  cleanup(): Promise<void>;
}

const uid = (): string => randomBytes(6).toString('hex');

function mintRecord(overrides: Partial<MintRecord> = {}): MintRecord {
  return {
    tokenId: `tok-${uid()}`,
    paymentHash: randomBytes(32).toString('hex'),
    service: `svc-${uid()}`,
    priceMsat: msat(1_000n),
    creditMsat: null,
    createdAt: 1_700_000_000,
    ...overrides,
  };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isLightproofError(err), `expected a LightproofError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.length > 20, 'the message says what to do');
    return true;
  });
}

export function gatewayStateContract(name: string, setup: () => Promise<StateFixture>): void {
  describe(`GatewayState contract: ${name}`, () => {
    let fixture: StateFixture | undefined;
    let state: GatewayState;
    before(async () => {
      fixture = await setup();
      state = fixture.state;
    });
    after(async () => {
      await fixture?.cleanup();
    });

    it('remembers a minted token; minting the same id again changes nothing', async () => {
      const rec = mintRecord({ creditMsat: msat(50_000n) });
      await state.recordMint(rec);
      await state.recordMint({
        ...rec,
        service: 'other',
        priceMsat: msat(9n),
        creditMsat: null,
        createdAt: 1,
      });
      assert.deepEqual(await state.getToken(rec.tokenId), {
        ...rec,
        paidAt: null,
        revokedAt: null,
        remainingMsat: null,
        requests: 0,
      });
      assert.equal(await state.getToken(`tok-${uid()}`), null);
    });

    it('books a token as paid on its first use only, and counts every request', async () => {
      const rec = mintRecord();
      await state.recordMint(rec);
      assert.deepEqual(await state.recordUse(rec.tokenId, 1_700_000_100, rec), { firstUse: true });
      assert.deepEqual(await state.recordUse(rec.tokenId, 1_700_000_200, rec), { firstUse: false });
      const token = await state.getToken(rec.tokenId);
      assert.equal(token?.paidAt, 1_700_000_100, 'the first use is the payment time');
      assert.equal(token?.requests, 2);
    });

    it('reports firstUse exactly once when uses race', async () => {
      const rec = mintRecord();
      await state.recordMint(rec);
      const uses = await Promise.all(
        Array.from({ length: 25 }, (_, i) => state.recordUse(rec.tokenId, 1_700_000_000 + i, rec)),
      );
      assert.equal(uses.filter((u) => u.firstUse).length, 1);
      assert.equal((await state.getToken(rec.tokenId))?.requests, 25);
    });

    it('books a token it never minted from the fallback record', async () => {
      const fallback = mintRecord({ priceMsat: msat(7_000n) });
      assert.deepEqual(await state.recordUse(fallback.tokenId, 1_700_000_500, fallback), { firstUse: true });
      const token = await state.getToken(fallback.tokenId);
      assert.deepEqual(token, {
        ...fallback,
        paidAt: 1_700_000_500,
        revokedAt: null,
        remainingMsat: null,
        requests: 1,
      });
      const rev = (await state.revenue()).find((r) => r.service === fallback.service);
      assert.deepEqual(rev, {
        service: fallback.service,
        minted: 1,
        paid: 1,
        revenueMsat: 7_000n,
        requests: 1,
      });
    });

    it('adds batched request counts to the tokens it knows, and ignores the rest', async () => {
      const a = mintRecord();
      const b = mintRecord({ service: a.service });
      await state.recordMint(a);
      await state.recordMint(b);
      await state.recordUse(a.tokenId, 1_700_000_010, a);
      const unknown = `tok-${uid()}`;
      await state.countRequests(
        new Map([
          [a.tokenId, 4],
          [b.tokenId, 2],
          [unknown, 3],
        ]),
      );
      await state.countRequests(new Map());
      assert.equal((await state.getToken(a.tokenId))?.requests, 5);
      assert.equal((await state.getToken(b.tokenId))?.requests, 2);
      assert.equal(await state.getToken(unknown), null, 'a count does not invent a token');
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          state.countRequests(
            new Map(
              i % 2
                ? [
                    [a.tokenId, 1],
                    [b.tokenId, 1],
                  ]
                : [
                    [b.tokenId, 1],
                    [a.tokenId, 1],
                  ],
            ),
          ),
        ),
      );
      assert.equal((await state.getToken(a.tokenId))?.requests, 15);
      await expectCode(
        state.countRequests(
          new Map([
            [b.tokenId, 1],
            [a.tokenId, -1],
          ]),
        ),
        'LP_STATE_BAD_COUNT',
      );
      assert.equal((await state.getToken(b.tokenId))?.requests, 12, 'a rejected batch writes nothing');
      const rev = (await state.revenue()).find((r) => r.service === a.service);
      assert.equal(rev?.requests, 27);
    });

    it('keeps firstUse for the first recordUse even when counts were flushed before it', async () => {
      const rec = mintRecord();
      await state.recordMint(rec);
      await state.countRequests(new Map([[rec.tokenId, 3]]));
      assert.deepEqual(await state.recordUse(rec.tokenId, 1_700_000_020, rec), { firstUse: true });
      assert.deepEqual(await state.recordUse(rec.tokenId, 1_700_000_021, rec), { firstUse: false });
      assert.equal((await state.getToken(rec.tokenId))?.requests, 5);
    });

    it('marks a token paid when its invoice settles, once, and books revenue only on use', async () => {
      const rec = mintRecord({ priceMsat: msat(3_000n) });
      await state.recordMint(rec);
      const settled = await state.markSettled(rec.paymentHash, 1_700_000_030);
      assert.deepEqual(settled, {
        ...rec,
        paidAt: 1_700_000_030,
        revokedAt: null,
        remainingMsat: null,
        requests: 0,
      });
      assert.equal(await state.markSettled(rec.paymentHash, 1_700_000_031), null);
      assert.equal(await state.markSettled(randomBytes(32).toString('hex'), 1_700_000_031), null);
      const before = (await state.revenue()).find((r) => r.service === rec.service);
      assert.deepEqual(before, { service: rec.service, minted: 1, paid: 0, revenueMsat: 0n, requests: 0 });
      assert.deepEqual(await state.recordUse(rec.tokenId, 1_700_000_040, rec), { firstUse: true });
      assert.equal((await state.getToken(rec.tokenId))?.paidAt, 1_700_000_030, 'settlement came first');
      const after = (await state.revenue()).find((r) => r.service === rec.service);
      assert.deepEqual(after, { service: rec.service, minted: 1, paid: 1, revenueMsat: 3_000n, requests: 1 });

      const used = mintRecord();
      await state.recordUse(used.tokenId, 1_700_000_050, used);
      assert.equal(
        await state.markSettled(used.paymentHash, 1_700_000_060),
        null,
        'a request saw it paid first',
      );
      assert.equal((await state.getToken(used.tokenId))?.paidAt, 1_700_000_050);

      const raced = mintRecord();
      await state.recordMint(raced);
      const seen = await Promise.all(
        Array.from({ length: 10 }, (_, i) => state.markSettled(raced.paymentHash, 1_700_000_070 + i)),
      );
      assert.equal(seen.filter((t) => t !== null).length, 1);
    });

    it('sums revenue per service over paid tokens only', async () => {
      const a = `svc-a-${uid()}`;
      const b = `svc-b-${uid()}`;
      const a1 = mintRecord({ service: a, priceMsat: msat(1_000n) });
      const a2 = mintRecord({ service: a, priceMsat: msat(2_000n) });
      const a3 = mintRecord({ service: a, priceMsat: msat(4_000n) });
      const b1 = mintRecord({ service: b, priceMsat: msat(500n) });
      for (const r of [a1, a2, a3, b1]) await state.recordMint(r);
      await state.recordUse(a1.tokenId, 1_700_000_001, a1);
      await state.recordUse(a1.tokenId, 1_700_000_002, a1);
      await state.recordUse(a2.tokenId, 1_700_000_003, a2);
      await state.recordUse(b1.tokenId, 1_700_000_004, b1);
      const revenue = await state.revenue();
      assert.deepEqual(
        revenue.filter((r) => r.service === a || r.service === b),
        [
          { service: a, minted: 3, paid: 2, revenueMsat: 3_000n, requests: 3 },
          { service: b, minted: 1, paid: 1, revenueMsat: 500n, requests: 1 },
        ],
      );
    });

    it('draws credit from the caveat amount, and refuses a debit it cannot cover without changing anything', async () => {
      const rec = mintRecord({ creditMsat: msat(10_000n) });
      await state.recordMint(rec);
      const id = rec.tokenId;
      assert.deepEqual(await state.debit(id, msat(10_000n), msat(3_000n)), {
        ok: true,
        remainingMsat: 7_000n,
      });
      assert.equal((await state.getToken(id))?.remainingMsat, 7_000n);
      // The initial amount only counts the first time; later calls never top the balance up.
      assert.deepEqual(await state.debit(id, msat(99_999n), msat(3_000n)), {
        ok: true,
        remainingMsat: 4_000n,
      });
      assert.deepEqual(await state.debit(id, msat(99_999n), msat(5_000n)), {
        ok: false,
        remainingMsat: 4_000n,
      });
      assert.equal((await state.getToken(id))?.remainingMsat, 4_000n, 'a refused debit takes nothing');
      assert.deepEqual(await state.debit(id, msat(10_000n), msat(4_000n)), { ok: true, remainingMsat: 0n });
      assert.deepEqual(await state.debit(id, msat(10_000n), msat(1n)), { ok: false, remainingMsat: 0n });
      const fresh = `tok-${uid()}`;
      assert.deepEqual(await state.debit(fresh, msat(1_000n), msat(2_000n)), {
        ok: false,
        remainingMsat: 1_000n,
      });
    });

    it('refuses a negative debit with a typed error instead of adding credit', async () => {
      const id = `tok-${uid()}`;
      await state.debit(id, msat(5_000n), msat(1_000n));
      await expectCode(state.debit(id, msat(5_000n), -3_000n as Msat), 'LP_BAD_AMOUNT');
      assert.deepEqual(await state.debit(id, msat(5_000n), msat(0n)), { ok: true, remainingMsat: 4_000n });
    });

    it('settles a reservation: draws more (never below zero) or gives back', async () => {
      const id = `tok-${uid()}`;
      assert.deepEqual(await state.debit(id, msat(10_000n), msat(4_000n)), {
        ok: true,
        remainingMsat: 6_000n,
      });
      assert.equal(await state.settle(id, 1_000n), 5_000n);
      assert.equal(await state.settle(id, -2_500n), 7_500n);
      assert.equal(
        await state.settle(id, 100_000n),
        0n,
        'the response was delivered; the balance stops at 0',
      );
      assert.equal(await state.settle(id, -300n), 300n);
      assert.equal(await state.settle(id, 0n), 300n);
      await expectCode(state.settle(`tok-${uid()}`, 1n), 'LP_STATE_NO_CREDIT');
    });

    it('revokes once: the second revoke returns false and keeps the first time', async () => {
      const rec = mintRecord();
      await state.recordMint(rec);
      assert.equal(await state.isRevoked(rec.tokenId), false);
      assert.equal(await state.revoke(rec.tokenId, 1_700_000_900), true);
      assert.equal(await state.revoke(rec.tokenId, 1_700_000_999), false);
      assert.equal(await state.isRevoked(rec.tokenId), true);
      assert.equal((await state.getToken(rec.tokenId))?.revokedAt, 1_700_000_900);
      assert.equal(await state.isRevoked(`tok-${uid()}`), false);
      const unknown = `tok-${uid()}`;
      assert.equal(
        await state.revoke(unknown, 1_700_000_900),
        true,
        'a token this state never saw can be revoked',
      );
      assert.equal(await state.isRevoked(unknown), true);
    });

    it('lists revocations after a cursor, each once, in order', async () => {
      const start = (await state.revokedSince(0)).cursor;
      const [a, b, c] = [`tok-${uid()}`, `tok-${uid()}`, `tok-${uid()}`];
      await state.revoke(a, 1_700_001_000);
      await state.revoke(b, 1_700_001_001);
      const first = await state.revokedSince(start);
      assert.deepEqual(first.tokenIds, [a, b]);
      assert.ok(first.cursor > start, 'the cursor moves forward');
      assert.deepEqual(await state.revokedSince(first.cursor), { tokenIds: [], cursor: first.cursor });
      await state.revoke(a, 1_700_001_002);
      assert.deepEqual(
        (await state.revokedSince(first.cursor)).tokenIds,
        [],
        'a repeated revoke is not news',
      );
      await state.revoke(c, 1_700_001_003);
      const second = await state.revokedSince(first.cursor);
      assert.deepEqual(second.tokenIds, [c]);
      assert.ok(second.cursor > first.cursor);
      assert.deepEqual((await state.revokedSince(start)).tokenIds, [a, b, c]);
      const all = await state.revokedSince(0);
      assert.deepEqual(all.tokenIds.slice(-3), [a, b, c]);
      assert.equal(all.cursor, second.cursor);
    });

    it('hands out exactly `limit` freebies per service and key, even when takers race', async () => {
      const svc = `svc-${uid()}`;
      const takes: boolean[] = [];
      for (let i = 0; i < 5; i++) takes.push(await state.takeFreebie(svc, '10.0.0.1', 3));
      assert.deepEqual(takes, [true, true, true, false, false]);
      assert.equal(await state.takeFreebie(svc, '10.0.0.2', 3), true, 'another key has its own');
      assert.equal(await state.takeFreebie(`svc-${uid()}`, '10.0.0.1', 3), true, 'another service too');
      assert.equal(await state.takeFreebie(`svc-${uid()}`, '10.0.0.1', 0), false);
      const raced = await Promise.all(
        Array.from({ length: 40 }, () => state.takeFreebie(svc, '10.0.0.3', 7)),
      );
      assert.equal(raced.filter(Boolean).length, 7);
    });

    it('lists tokens newest first (later mint first on a tie), by page, filtered by service', async () => {
      const svc = `svc-${uid()}`;
      const times = [100, 300, 200, 300, 50];
      const recs = times.map((createdAt) => mintRecord({ service: svc, createdAt }));
      for (const r of recs) await state.recordMint(r);
      await state.recordMint(mintRecord({ createdAt: 250 }));
      const ids = (list: { tokenId: string }[]) => list.map((t) => t.tokenId);
      const expected = [recs[3], recs[1], recs[2], recs[0], recs[4]].map((r) => r!.tokenId);
      assert.deepEqual(ids(await state.listTokens({ service: svc, limit: 10 })), expected);
      const pages = [];
      for (let offset = 0; offset < 6; offset += 2) {
        pages.push(await state.listTokens({ service: svc, limit: 2, offset }));
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 2, 1],
      );
      assert.deepEqual(ids(pages.flat()), expected);
      assert.deepEqual(await state.listTokens({ service: svc, limit: 2, offset: 10 }), []);
      assert.deepEqual(await state.listTokens({ service: svc, limit: 0 }), []);
      const future = mintRecord({ createdAt: 4_000_000_000 });
      await state.recordMint(future);
      const newest = await state.listTokens({ limit: 1 });
      assert.deepEqual(ids(newest), [future.tokenId], 'without a filter every service is listed');
      assert.equal(newest[0]?.service, future.service);
      await expectCode(state.listTokens({ limit: -1 }), 'LP_STATE_BAD_QUERY');
    });

    it('keeps amounts above 2^53 msat exactly', async () => {
      const big = 2n ** 53n + 1n;
      const credit = 2n ** 60n + 7n;
      const svc = `svc-${uid()}`;
      const rec = mintRecord({ service: svc, priceMsat: msat(big), creditMsat: msat(credit) });
      const rec2 = mintRecord({ service: svc, priceMsat: msat(big + 2n) });
      await state.recordMint(rec);
      await state.recordUse(rec.tokenId, 1_700_002_000, rec);
      await state.recordUse(rec2.tokenId, 1_700_002_001, rec2);
      const token = await state.getToken(rec.tokenId);
      assert.equal(token?.priceMsat, big);
      assert.equal(token?.creditMsat, credit);
      const drawn = await state.debit(rec.tokenId, msat(credit), msat(big + 2n));
      assert.deepEqual(drawn, { ok: true, remainingMsat: credit - big - 2n });
      assert.equal(await state.settle(rec.tokenId, -1n), credit - big - 1n);
      const rev = (await state.revenue()).find((r) => r.service === svc);
      assert.equal(rev?.revenueMsat, 2n * big + 2n);
    });

    it('debits prepaid credit exactly once per success when 200 debits race for 20', async () => {
      const id = `tok-${uid()}`;
      const results = await Promise.all(
        Array.from({ length: 200 }, () => state.debit(id, msat(20_000n), msat(1_000n))),
      );
      const ok = results.filter((r) => r.ok);
      assert.equal(ok.length, 20);
      assert.deepEqual(
        ok.map((r) => r.remainingMsat).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        Array.from({ length: 20 }, (_, i) => BigInt(i * 1_000)),
        'each success saw its own balance',
      );
      assert.ok(results.filter((r) => !r.ok).every((r) => r.remainingMsat === 0n));
      assert.deepEqual(await state.debit(id, msat(20_000n), msat(1n)), { ok: false, remainingMsat: 0n });
    });
  });
}
