/**
 * The contract every CalendarStore passes (SQLite in src/, PostgreSQL in test/postgres/). Each test
 * opens a store on a fresh, empty database.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import type { CalendarStore, NewAnchor, NewRound } from './types.js';

const bytes = (n: number) => new Uint8Array(randomBytes(n));
const hex32 = () => randomBytes(32).toString('hex');

function newRound(digests = 3): NewRound {
  return { time: 1_700_000_000, tip: bytes(32), commitment: bytes(44), digests, leaves: bytes(digests * 49) };
}

function newAnchor(over: Partial<NewAnchor> = {}): NewAnchor {
  return {
    txid: hex32(),
    hex: '02000000',
    inputTxid: hex32(),
    inputVout: 0,
    inputSats: 100_000n,
    feeSats: 200n,
    vsize: 153,
    firstRound: 1,
    lastRound: 1,
    tip: bytes(32),
    createdAt: 1_700_000_100,
    ...over,
  };
}

const block = (height: number, over: Partial<Parameters<CalendarStore['applyBlock']>[0]> = {}) => ({
  height,
  hash: hex32(),
  received: [],
  spent: [],
  confirmed: [],
  ...over,
});

export function calendarStoreContract(name: string, open: () => Promise<CalendarStore>): void {
  describe(`CalendarStore contract: ${name}`, () => {
    const opened: CalendarStore[] = [];
    const fresh = async () => {
      const store = await open();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('keeps rounds in id order and finds each by its commitment, pending until anchored', async () => {
      const store = await fresh();
      assert.equal(await store.lastRoundId(), 0);
      const rounds = [newRound(1), newRound(5), newRound(2)];
      const ids: number[] = [];
      for (const r of rounds) ids.push(await store.addRound(r));
      assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
      assert.deepEqual(await store.round(ids[1]!), { id: ids[1], ...rounds[1] });
      assert.equal(await store.round(ids[2]! + 100), null);
      assert.deepEqual(await store.lookup(rounds[2]!.commitment), {
        roundId: ids[2],
        anchor: null,
        proof: null,
      });
      assert.equal(await store.lookup(bytes(44)), null);
      assert.deepEqual(
        (await store.commitments(ids[1]!, ids[2]!)).map((c) => [c.id, c.commitment]),
        [
          [ids[1], rounds[1]!.commitment],
          [ids[2], rounds[2]!.commitment],
        ],
      );
      assert.equal(await store.lastRoundId(), ids[2]);
      assert.deepEqual(await store.stats(), {
        rounds: 3,
        digests: 8,
        lastRoundId: ids[2],
        lastRoundTime: 1_700_000_000,
        anchoredRounds: 0,
      });
    });

    it('keeps settings, overwriting a key', async () => {
      const store = await fresh();
      assert.equal(await store.getMeta('birthday'), null);
      await store.setMeta('birthday', '101');
      await store.setMeta('birthday', '102');
      assert.equal(await store.getMeta('birthday'), '102');
    });

    it('follows coins block by block and forgets what a rolled-back block did', async () => {
      const store = await fresh();
      const [a, b] = [hex32(), hex32()];
      await store.applyBlock(block(101, { received: [{ txid: a, vout: 1, sats: 50_000n }] }));
      await store.applyBlock(block(102, { received: [{ txid: b, vout: 0, sats: 2n ** 53n + 1n }] }));
      assert.deepEqual(
        (await store.unspent()).map((u) => [u.txid, u.vout, u.sats, u.height]),
        [
          [a, 1, 50_000n, 101],
          [b, 0, 2n ** 53n + 1n, 102],
        ],
      );
      const spender = hex32();
      const b103 = block(103, { spent: [{ txid: a, vout: 1, spentBy: spender }] });
      await store.applyBlock(b103);
      assert.deepEqual(
        (await store.unspent()).map((u) => u.txid),
        [b],
      );
      assert.deepEqual(await store.tipBlock(), { height: 103, hash: b103.hash });
      assert.equal(await store.blockHash(103), b103.hash);
      await store.rollbackTo(101);
      assert.deepEqual(await store.tipBlock(), { height: 101, hash: (await store.blockHash(101))! });
      assert.equal(await store.blockHash(102), null);
      assert.deepEqual(
        (await store.unspent()).map((u) => [u.txid, u.spentBy]),
        [[a, null]],
      );
    });

    it('confirms the version of an anchor that was mined, supersedes the others, and stores each round’s proof', async () => {
      const store = await fresh();
      const r1 = await store.addRound(newRound());
      const r2 = await store.addRound(newRound());
      const coin = { txid: hex32(), vout: 0 };
      await store.applyBlock(block(200, { received: [{ ...coin, sats: 100_000n }] }));
      assert.equal(await store.anchoredThrough(), 0);
      const first = await store.addAnchor(
        newAnchor({ inputTxid: coin.txid, firstRound: r1, lastRound: r1, feeSats: 200n }),
      );
      assert.equal(first.state, 'pending');
      assert.equal(first.height, null);
      assert.equal(await store.anchoredThrough(), r1);
      const second = await store.addAnchor(
        newAnchor({ inputTxid: coin.txid, firstRound: r1, lastRound: r2, feeSats: 400n }),
      );
      assert.deepEqual(
        (await store.anchors(['pending'])).map((a) => a.txid),
        [first.txid, second.txid],
      );
      await store.setAnchorState(first.txid, 'replaced');
      assert.deepEqual(
        (await store.openAnchors()).map((a) => [a.txid, a.state]),
        [
          [first.txid, 'replaced'],
          [second.txid, 'pending'],
        ],
      );
      assert.equal(await store.anchoredThrough(), r2);

      const proofs = [
        { roundId: r1, proof: bytes(300) },
        { roundId: r2, proof: bytes(301) },
      ];
      const mined = block(201, {
        spent: [{ ...coin, spentBy: second.txid }],
        received: [{ txid: second.txid, vout: 0, sats: 99_600n }],
        confirmed: [{ txid: second.txid, proofs }],
      });
      await store.applyBlock(mined);
      const confirmed = await store.lastConfirmedAnchor();
      assert.deepEqual(
        [confirmed?.txid, confirmed?.state, confirmed?.height, confirmed?.blockHash],
        [second.txid, 'confirmed', 201, mined.hash],
      );
      assert.equal(confirmed?.feeSats, 400n);
      assert.deepEqual(await store.openAnchors(), [], 'the input is spent: no version can be mined any more');
      assert.deepEqual(await store.lookup((await store.round(r2))!.commitment), {
        roundId: r2,
        anchor: { txid: second.txid, height: 201 },
        proof: proofs[1]!.proof,
      });
      assert.equal((await store.stats()).anchoredRounds, 2);

      await store.rollbackTo(200);
      assert.deepEqual(
        (await store.anchors(['pending'])).map((a) => a.txid),
        [second.txid],
      );
      assert.equal(await store.lastConfirmedAnchor(), null);
      assert.deepEqual(await store.lookup((await store.round(r1))!.commitment), {
        roundId: r1,
        anchor: null,
        proof: null,
      });
      assert.deepEqual(
        (await store.unspent()).map((u) => u.txid),
        [coin.txid],
      );
      assert.equal(await store.anchoredThrough(), r2);
    });

    it('marks a rejected broadcast failed; a failed version covers no rounds', async () => {
      const store = await fresh();
      const r1 = await store.addRound(newRound());
      const a = await store.addAnchor(newAnchor({ firstRound: r1, lastRound: r1 }));
      await store.setAnchorState(a.txid, 'failed');
      assert.deepEqual(
        (await store.anchors(['failed'])).map((x) => x.txid),
        [a.txid],
      );
      assert.equal(await store.anchoredThrough(), 0);
    });
  });
}
