import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../core/errors.js';
import { computeMerkleRoot, displayHex, type MerkleStep, merklePath, parseBlock, parseTx } from './block.js';
import { sha256d } from './header.js';
import { buildOpReturnTx, txidBytes } from './tx.js';

/** The mainnet genesis block: header, one transaction (the coinbase). */
const GENESIS_HEADER =
  '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c';
const GENESIS_COINBASE =
  '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000';

/** Block 100000's four txids and merkle root, display order (the Bitcoin wiki's merkle example). */
const BLOCK_100000_TXIDS = [
  '8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87',
  'fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4',
  '6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4',
  'e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d',
];
const BLOCK_100000_ROOT = 'f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766';

const cat = (a: Uint8Array, b: Uint8Array) => new Uint8Array([...a, ...b]);
const h = (a: Uint8Array, b: Uint8Array) => sha256d(cat(a, b));

function replay(txid: Uint8Array, path: readonly MerkleStep[]): Uint8Array {
  return path.reduce(
    (msg, step) => sha256d(step.side === 'append' ? cat(msg, step.hash) : cat(step.hash, msg)),
    txid,
  );
}

describe('parseBlock', () => {
  it('reads the genesis block: its hash, time, coinbase txid and a one-transaction merkle root', () => {
    const block = parseBlock(hexToBytes(`${GENESIS_HEADER}01${GENESIS_COINBASE}`));
    assert.equal(block.hash, '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    assert.equal(block.time, 1231006505);
    assert.equal(block.prevHash, '00'.repeat(32));
    assert.equal(block.txs.length, 1);
    const [coinbase] = block.txs;
    assert.equal(
      displayHex(coinbase!.txid),
      '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
    );
    assert.deepEqual(coinbase!.txid, block.merkleRoot);
    assert.equal(coinbase!.hasWitness, false);
    assert.equal(coinbase!.outputs[0]!.sats, 5_000_000_000n);
    assert.deepEqual(merklePath([coinbase!.txid], 0), []);
  });

  it('refuses a block whose transactions do not hash to its merkle root', () => {
    const tampered = `${GENESIS_HEADER}01${GENESIS_COINBASE.replace('00f2052a', '00f2052b')}`;
    assert.throws(
      () => parseBlock(hexToBytes(tampered)),
      (e: unknown) => isLightproofError(e, 'LP_BTC_BAD_BLOCK') && /header says/.test(e.message),
    );
  });

  it('refuses truncated blocks, trailing bytes and absurd counts with LP_BTC_BAD_BLOCK', () => {
    const whole = `${GENESIS_HEADER}01${GENESIS_COINBASE}`;
    for (const bad of [
      whole.slice(0, -2),
      `${whole}00`,
      `${GENESIS_HEADER}00`,
      `${GENESIS_HEADER}feffffff7f`,
    ]) {
      assert.throws(
        () => parseBlock(hexToBytes(bad)),
        (e: unknown) => isLightproofError(e, 'LP_BTC_BAD_BLOCK'),
        bad.slice(-20),
      );
    }
  });
});

describe('merkle paths', () => {
  it("reproduces block 100000's merkle root from its four txids, and every path leads to it", () => {
    const txids = BLOCK_100000_TXIDS.map(txidBytes);
    assert.equal(displayHex(computeMerkleRoot(txids)), BLOCK_100000_ROOT);
    for (const [i, txid] of txids.entries()) {
      assert.equal(displayHex(replay(txid, merklePath(txids, i))), BLOCK_100000_ROOT);
    }
  });

  it('two transactions: each is the other one’s only sibling', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    assert.deepEqual(merklePath([a, b], 0), [{ side: 'append', hash: b }]);
    assert.deepEqual(merklePath([a, b], 1), [{ side: 'prepend', hash: a }]);
    assert.deepEqual(computeMerkleRoot([a, b]), h(a, b));
  });

  it('three transactions: the third is paired with itself', () => {
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const root = h(h(a, b), h(c, c));
    assert.deepEqual(computeMerkleRoot([a, b, c]), root);
    assert.deepEqual(merklePath([a, b, c], 2), [
      { side: 'append', hash: c },
      { side: 'prepend', hash: h(a, b) },
    ]);
    for (const i of [0, 1, 2]) assert.deepEqual(replay([a, b, c][i]!, merklePath([a, b, c], i)), root);
  });

  it('five transactions: odd levels duplicate their last hash twice on the way up', () => {
    const t = Array.from({ length: 5 }, () => randomBytes(32));
    const ee = h(t[4]!, t[4]!);
    const root = h(h(h(t[0]!, t[1]!), h(t[2]!, t[3]!)), h(ee, ee));
    assert.deepEqual(computeMerkleRoot(t), root);
    assert.deepEqual(merklePath(t, 4), [
      { side: 'append', hash: t[4] },
      { side: 'append', hash: ee },
      { side: 'prepend', hash: h(h(t[0]!, t[1]!), h(t[2]!, t[3]!)) },
    ]);
    for (let i = 0; i < 5; i++) assert.deepEqual(replay(t[i]!, merklePath(t, i)), root);
  });

  it('every path of blocks with 1 to 33 transactions replays to the root', () => {
    for (let n = 1; n <= 33; n++) {
      const txids = Array.from({ length: n }, () => randomBytes(32));
      const root = bytesToHex(computeMerkleRoot(txids));
      for (let i = 0; i < n; i++) assert.equal(bytesToHex(replay(txids[i]!, merklePath(txids, i))), root);
    }
  });

  it('refuses an index outside the block', () => {
    assert.throws(() => merklePath([randomBytes(32)], 1), RangeError);
  });
});

describe('parseTx', () => {
  it("a segwit transaction's txid leaves the witness out; its stripped form is the legacy serialization", () => {
    const signed = buildOpReturnTx({
      coin: { txid: 'aa'.repeat(32), vout: 3, sats: 50_000n },
      secretKey: new Uint8Array(32).fill(7),
      network: 'regtest',
      data: new Uint8Array(32).fill(0x42),
      feeSats: 500n,
      lockTime: 123,
    });
    const raw = hexToBytes(signed.hex);
    const tx = parseTx(raw);
    assert.equal(tx.hasWitness, true);
    assert.equal(displayHex(tx.txid), signed.txid);
    assert.deepEqual(tx.stripped, signed.stripped);
    assert.ok(tx.stripped.length < raw.length);
    assert.notEqual(displayHex(sha256d(raw)), signed.txid, 'the wtxid differs from the txid');
    assert.deepEqual(tx.inputs, [{ txid: 'aa'.repeat(32), vout: 3 }]);
    assert.deepEqual(
      tx.outputs.map((o) => o.sats),
      [49_500n, 0n],
    );
    // Parsing the stripped form gives the same txid: nothing but the witness was left out.
    assert.deepEqual(parseTx(tx.stripped).txid, tx.txid);
  });

  it('refuses trailing bytes with LP_BTC_BAD_TX', () => {
    assert.throws(
      () => parseTx(hexToBytes(`${GENESIS_COINBASE}00`)),
      (e: unknown) => isLightproofError(e, 'LP_BTC_BAD_TX'),
    );
  });
});
