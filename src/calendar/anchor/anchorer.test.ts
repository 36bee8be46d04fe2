import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { pino } from 'pino';
import { displayHex, opReturnTxVsize, p2wpkhOf, parseBlock } from '../../bitcoin/index.js';
import { applyOp, readTimestamp, type Timestamp } from '../../ots/index.js';
import { SqliteCalendarStore } from '../store/index.js';
import { Anchorer, type AnchorerOptions } from './anchorer.js';
import { FakeChain } from './chain.testkit.js';
import { anchorTree } from './proof.js';

const root = mkdtempSync(join(tmpdir(), 'lightproof-anchorer-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const KEY = new Uint8Array(32).fill(0x42);
const SCRIPT = p2wpkhOf(KEY, 'regtest').script;
const VSIZE = opReturnTxVsize(32);

interface Setup {
  chain: FakeChain;
  store: SqliteCalendarStore;
  clock: { ms: number };
  anchorer: (over?: Partial<AnchorerOptions>) => Anchorer;
  addRounds: (n: number) => Promise<Uint8Array[]>;
}

function setup(): Setup {
  const chain = new FakeChain();
  chain.mine(5, false);
  const store = SqliteCalendarStore.open(join(root, `anchor-${++files}.db`));
  const clock = { ms: 1_700_000_000_000 };
  return {
    chain,
    store,
    clock,
    anchorer: (over = {}) =>
      new Anchorer({
        store,
        rpc: chain,
        secretKey: KEY,
        network: 'regtest',
        feeRate: 2,
        maxFeeSats: 50_000n,
        anchorIntervalMs: 1000,
        pollMs: 10,
        log: pino({ level: 'silent' }),
        now: () => clock.ms,
        ...over,
      }),
    async addRounds(n) {
      const out: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const commitment = new Uint8Array(randomBytes(44));
        await store.addRound({
          time: 1,
          tip: new Uint8Array(32),
          commitment,
          digests: 1,
          leaves: new Uint8Array(49),
        });
        out.push(commitment);
      }
      return out;
    },
  };
}

/** Follows the (single) path with applyOp; returns the final message and its attestation. */
function replay(ts: Timestamp): { msg: Uint8Array; height: number } {
  let node = ts;
  let msg = ts.msg;
  while (node.ops.length > 0) {
    const [op, child] = node.ops[0]!;
    msg = applyOp(op, msg);
    node = child;
  }
  const [att] = node.attestations;
  assert.equal(att?.kind, 'bitcoin');
  return { msg, height: (att as { height: number }).height };
}

describe('Anchorer', () => {
  it('says where to send coins while rounds wait and the wallet is empty', async () => {
    const s = setup();
    await s.addRounds(2);
    const a = s.anchorer();
    await a.tick();
    const status = await a.status();
    assert.equal(status.lastError?.code, 'LP_CAL_UNFUNDED');
    assert.match(status.lastError!.message, new RegExp(a.address));
    assert.equal(status.height, 5);
    assert.deepEqual(await s.store.anchors(['pending']), []);
    await s.store.close();
  });

  it('runs overlapping ticks one after the other, so no block is applied twice', async () => {
    const s = setup();
    const a = s.anchorer();
    await a.tick();
    s.chain.fund(SCRIPT, 100_000n);
    await s.addRounds(2);
    s.chain.mine(3, false);
    // The timer's pass and a caller's pass at once: before, both applied the same new blocks.
    const errors = await Promise.all(
      [a.tick(), a.tick(), a.tick()].map((t) => t.then(async () => (await a.status()).lastError?.message)),
    );
    assert.deepEqual(errors, [undefined, undefined, undefined]);
    assert.equal((await a.status()).height, 9);
    await s.store.close();
  });

  it('anchors, replaces with more rounds and a higher fee, confirms and publishes proofs that replay to the merkle root', async () => {
    const s = setup();
    const a = s.anchorer();
    await a.tick(); // the wallet starts following at the tip
    const funding = s.chain.fund(SCRIPT, 100_000n);
    const first = await s.addRounds(3);
    await a.tick();
    let [pending] = await s.store.anchors(['pending']);
    assert.ok(pending, 'an anchor is broadcast');
    assert.deepEqual(
      [pending.inputTxid, pending.inputVout, pending.firstRound, pending.lastRound],
      [funding, 0, 1, 3],
    );
    assert.deepEqual(pending.tip, anchorTree(first).tip);
    assert.deepEqual([...s.chain.mempool.keys()], [pending.txid]);
    const mempoolTx = s.chain.mempool.get(pending.txid)!;
    assert.deepEqual(mempoolTx.outputs[1]!.script, Uint8Array.from([0x6a, 0x20, ...pending.tip]));
    assert.equal(pending.feeSats, BigInt(2 * VSIZE));
    assert.deepEqual(a.pendingTip(), pending.tip);

    const more = await s.addRounds(2);
    await a.tick();
    assert.equal((await s.store.anchors(['pending'])).length, 1, 'no new version before the interval');
    s.clock.ms += 1000;
    await a.tick();
    const replaced = pending;
    [pending] = await s.store.anchors(['pending']);
    assert.notEqual(pending!.txid, replaced.txid);
    assert.deepEqual([pending!.inputTxid, pending!.firstRound, pending!.lastRound], [funding, 1, 5]);
    assert.ok(
      pending!.feeSats >= replaced.feeSats + BigInt(VSIZE),
      'BIP125: pays at least the relay fee on top',
    );
    assert.deepEqual([...s.chain.mempool.keys()], [pending!.txid]);
    assert.deepEqual(
      (await s.store.anchors(['replaced'])).map((x) => x.txid),
      [replaced.txid],
    );

    s.chain.mine(1);
    await a.tick();
    const confirmed = (await s.store.lastConfirmedAnchor())!;
    assert.equal(confirmed.txid, pending!.txid);
    const block = parseBlock(hexToBytes(await s.chain.getRawBlockHex(confirmed.blockHash!)));
    for (const commitment of [...first, ...more]) {
      const found = (await s.store.lookup(commitment))!;
      assert.deepEqual(found.anchor, { txid: confirmed.txid, height: confirmed.height });
      const end = replay(readTimestamp(found.proof!, commitment));
      assert.equal(bytesToHex(end.msg), bytesToHex(block.merkleRoot));
      assert.equal(end.height, confirmed.height);
    }
    assert.equal(a.pendingTip(), null);
    assert.equal((await a.status()).lastAnchor?.rounds, 5);
    await s.store.close();
  });

  it('chains: the next anchor spends the previous anchor’s change', async () => {
    const s = setup();
    const a = s.anchorer();
    await a.tick();
    s.chain.fund(SCRIPT, 100_000n);
    await s.addRounds(1);
    await a.tick();
    s.chain.mine(1);
    await a.tick();
    const previous = (await s.store.lastConfirmedAnchor())!;
    await s.addRounds(1);
    s.clock.ms += 1000;
    await a.tick();
    const [next] = await s.store.anchors(['pending']);
    assert.deepEqual(
      [next!.inputTxid, next!.inputVout, next!.firstRound, next!.lastRound],
      [previous.txid, 0, 2, 2],
    );
    assert.equal(next!.inputSats, previous.inputSats - previous.feeSats);
    await s.store.close();
  });

  it('goes back to pending when the anchoring block leaves the chain, re-sends, and confirms again', async () => {
    const s = setup();
    const a = s.anchorer();
    await a.tick();
    s.chain.fund(SCRIPT, 100_000n);
    const [commitment] = await s.addRounds(1);
    await a.tick();
    s.chain.mine(1);
    await a.tick();
    const before = (await s.store.lookup(commitment!))!;
    assert.ok(before.proof);
    s.chain.reorg(1, true); // the new branch has not got the transaction
    await a.tick();
    assert.deepEqual(await s.store.lookup(commitment!), { roundId: 1, anchor: null, proof: null });
    // Re-sent, then bumped for the new block: a version spending the same coin, for the same round.
    const wasConfirmed = (await s.store.anchors(['replaced'])).find((x) => x.txid === before.anchor!.txid)!;
    const [pending] = await s.store.anchors(['pending']);
    assert.deepEqual(
      [pending!.inputTxid, pending!.firstRound, pending!.lastRound],
      [wasConfirmed.inputTxid, 1, 1],
    );
    assert.ok(pending!.feeSats > wasConfirmed.feeSats);
    assert.deepEqual([...s.chain.mempool.keys()], [pending!.txid]);
    s.chain.mine(1);
    await a.tick();
    const after = (await s.store.lookup(commitment!))!;
    assert.ok(after.proof);
    assert.equal(after.anchor!.height, s.chain.blocks.length - 1);
    assert.deepEqual(
      (await s.store.unspent()).length,
      1,
      'exactly one coin: the change of the anchor that confirmed',
    );
    await s.store.close();
  });

  it('after a restart finds its broadcast anchor again and replaces it instead of spending another coin', async () => {
    const s = setup();
    let a = s.anchorer();
    await a.tick();
    s.chain.fund(SCRIPT, 100_000n);
    s.chain.fund(SCRIPT, 200_000n);
    await s.addRounds(2);
    await a.tick();
    const [first] = await s.store.anchors(['pending']);
    await a.close();
    a = s.anchorer(); // a new process on the same store
    await s.addRounds(1);
    s.clock.ms += 1000;
    await a.tick();
    const inputs = new Set(
      (await s.store.anchors(['pending', 'replaced', 'failed'])).map((x) => `${x.inputTxid}:${x.inputVout}`),
    );
    assert.deepEqual([...inputs], [`${first!.inputTxid}:${first!.inputVout}`]);
    const [current] = await s.store.anchors(['pending']);
    assert.deepEqual([current!.firstRound, current!.lastRound], [1, 3]);
    assert.deepEqual([...s.chain.mempool.keys()], [current!.txid]);
    assert.equal(first!.inputSats, 200_000n, 'the largest coin was chosen');
    await s.store.close();
  });

  it('raises the fee by 1.25× when the node refuses it, and stops at the fee cap', async () => {
    const s = setup();
    s.chain.minRelayPerKvb = 5000n; // 5 sat/vB: the first versions at 2 sat/vB are refused
    const a = s.anchorer();
    await a.tick();
    s.chain.fund(SCRIPT, 100_000n);
    await s.addRounds(1);
    await a.tick();
    const failed = await s.store.anchors(['failed']);
    const [sent] = await s.store.anchors(['pending']);
    assert.ok(failed.length >= 2, `refused versions: ${failed.length}`);
    assert.ok(sent!.feeSats >= BigInt(5 * VSIZE));
    assert.deepEqual([...s.chain.mempool.keys()], [sent!.txid]);

    const capped = s.anchorer({ maxFeeSats: sent!.feeSats + 10n });
    s.chain.mine(1, false); // a block without it: the fee should rise, but the cap is in the way
    await capped.tick();
    assert.equal((await capped.status()).lastError?.code, 'LP_CAL_FEE_CAP');
    assert.deepEqual([...s.chain.mempool.keys()], [sent!.txid]);
    assert.equal(displayHex(s.chain.mempool.get(sent!.txid)!.txid), sent!.txid);
    await s.store.close();
  });
});
