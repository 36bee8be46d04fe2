import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hexToBytes } from '@noble/hashes/utils.js';
import { RawTx } from '@scure/btc-signer';
import { isLightproofError } from '../core/errors.js';
import { parseTx } from './block.js';
import { sha256d } from './header.js';
import {
  buildOpReturnTx,
  feeFor,
  type OpReturnTxRequest,
  opReturnTxVsize,
  p2wpkhOf,
  RBF_SEQUENCE,
  splitAround,
} from './tx.js';

const request = (over: Partial<OpReturnTxRequest> = {}): OpReturnTxRequest => ({
  coin: { txid: 'cd'.repeat(32), vout: 1, sats: 100_000n },
  secretKey: new Uint8Array(32).fill(9),
  network: 'regtest',
  data: new Uint8Array(32).fill(0x5a),
  feeSats: 300n,
  lockTime: 812_345,
  ...over,
});

describe('buildOpReturnTx', () => {
  it('spends one coin into [change, OP_RETURN data], replaceable and locked to the height', () => {
    const signed = buildOpReturnTx(request());
    const decoded = RawTx.decode(hexToBytes(signed.hex));
    assert.equal(decoded.lockTime, 812_345);
    assert.equal(decoded.inputs.length, 1);
    assert.equal(decoded.inputs[0]!.sequence, RBF_SEQUENCE);
    assert.equal(decoded.outputs.length, 2);
    assert.deepEqual(decoded.outputs[0]!.script, p2wpkhOf(request().secretKey, 'regtest').script);
    assert.equal(decoded.outputs[0]!.amount, 99_700n);
    assert.deepEqual(decoded.outputs[1]!.script, hexToBytes(`6a20${'5a'.repeat(32)}`));
    assert.equal(decoded.outputs[1]!.amount, 0n);
    assert.equal(signed.changeSats, 99_700n);
    assert.equal(signed.vsize, opReturnTxVsize(32));
  });

  it('never exceeds the planned vsize whatever the key and data (low-R signatures)', () => {
    const planned = opReturnTxVsize(32);
    for (let i = 1; i < 40; i++) {
      const data = new Uint8Array(32).fill(i);
      const { vsize } = buildOpReturnTx(request({ secretKey: new Uint8Array(32).fill(i), data }));
      assert.ok(vsize === planned || vsize === planned - 1, `vsize ${vsize}, planned ${planned}`);
    }
    assert.equal(feeFor(1.5, 153), 230n);
  });

  it('splits the stripped tx around the data so prepend + append + sha256d gives the txid', () => {
    const signed = buildOpReturnTx(request());
    const data = request().data;
    const { prefix, suffix } = splitAround(signed.stripped, data);
    const rebuilt = new Uint8Array([...prefix, ...data, ...suffix]);
    assert.deepEqual(rebuilt, signed.stripped);
    assert.deepEqual(parseTx(rebuilt).txid, sha256d(rebuilt));
    assert.throws(
      () => splitAround(signed.stripped, new Uint8Array(32).fill(1)),
      (e: unknown) => isLightproofError(e, 'LP_BTC_DATA_NOT_IN_TX'),
    );
  });

  it('refuses dust change with LP_BTC_FUNDS_LOW naming the address to fund, and oversized data', () => {
    const addr = p2wpkhOf(request().secretKey, 'regtest').address;
    assert.throws(
      () => buildOpReturnTx(request({ coin: { txid: 'cd'.repeat(32), vout: 0, sats: 500n } })),
      (e: unknown) => isLightproofError(e, 'LP_BTC_FUNDS_LOW') && e.message.includes(addr),
    );
    assert.throws(
      () => buildOpReturnTx(request({ data: new Uint8Array(81) })),
      (e: unknown) => isLightproofError(e, 'LP_BTC_BAD_OP_RETURN'),
    );
  });

  it('encodes addresses for each network', () => {
    const key = new Uint8Array(32).fill(3);
    assert.match(p2wpkhOf(key, 'mainnet').address, /^bc1q/);
    assert.match(p2wpkhOf(key, 'testnet').address, /^tb1q/);
    assert.match(p2wpkhOf(key, 'regtest').address, /^bcrt1q/);
  });
});
