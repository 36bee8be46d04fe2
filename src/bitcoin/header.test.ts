import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../core/errors.js';
import {
  blockHash,
  checkProofOfWork,
  compactFromTarget,
  NETWORKS,
  networkOfGenesis,
  parseBlockHeader,
  retargetBits,
  targetFromBits,
} from './header.js';
import { MAINNET_HEADERS, REGTEST_GENESIS } from './headers/headers.testkit.js';

const GENESIS = hexToBytes(MAINNET_HEADERS[0]);

describe('parseBlockHeader', () => {
  it('reads the genesis header (the reference document vector)', () => {
    const h = parseBlockHeader(GENESIS);
    assert.equal(h.version, 1);
    assert.equal(h.prevHash, '0'.repeat(64));
    assert.equal(
      bytesToHex(h.merkleRoot),
      '3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a',
    );
    assert.equal(
      bytesToHex(Uint8Array.from(h.merkleRoot).reverse()),
      '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
    );
    assert.equal(h.time, 1231006505);
    assert.equal(h.bits, 0x1d00ffff);
    assert.equal(h.nonce, 2083236893);
    assert.equal(h.hash, '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    assert.equal(blockHash(GENESIS), h.hash);
    assert.deepEqual(h.raw, GENESIS);
  });

  it('links block 1 to genesis and reads a version with the top bit as signed', () => {
    const one = parseBlockHeader(hexToBytes(MAINNET_HEADERS[1]));
    assert.equal(one.prevHash, blockHash(GENESIS));
    assert.equal(one.hash, '00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048');
    const raw = Uint8Array.from(GENESIS);
    raw.set([0xff, 0xff, 0xff, 0xff], 0);
    assert.equal(parseBlockHeader(raw).version, -1);
  });

  it('refuses anything but 80 bytes', () => {
    for (const n of [0, 79, 81, 285]) {
      assert.throws(
        () => parseBlockHeader(new Uint8Array(n)),
        (e) => isLightproofError(e, 'LP_BTC_HEADER_LENGTH'),
      );
      assert.throws(
        () => blockHash(new Uint8Array(n)),
        (e) => isLightproofError(e, 'LP_BTC_HEADER_LENGTH'),
      );
    }
  });

  it('knows every network by its genesis hash', () => {
    assert.equal(networkOfGenesis(NETWORKS.mainnet.genesisHash), 'mainnet');
    assert.equal(networkOfGenesis(blockHash(hexToBytes(REGTEST_GENESIS))), 'regtest');
    assert.equal(networkOfGenesis('00'.repeat(32)), undefined);
  });
});

describe('targetFromBits', () => {
  it("decodes compact targets as Bitcoin Core's SetCompact", () => {
    assert.equal(targetFromBits(0x1d00ffff), 0xffffn << 208n);
    assert.equal(targetFromBits(0x1d00ffff), NETWORKS.mainnet.powLimit - ((1n << 208n) - 1n));
    assert.equal(targetFromBits(0x01123456), 0x12n);
    assert.equal(targetFromBits(0x02008000), 0x80n);
    assert.equal(targetFromBits(0x03123456), 0x123456n);
    assert.equal(targetFromBits(0x04123456), 0x12345600n);
    assert.equal(targetFromBits(0x05009234), 0x92340000n);
    assert.equal(targetFromBits(0x20123456), 0x123456n << 232n);
    assert.equal(targetFromBits(0x207fffff), 0x7fffffn << 232n);
  });

  it('refuses a sign bit, an overflow and a zero target', () => {
    for (const bits of [
      0x04923456, 0x01fedcba, 0x1d80ffff, 0xff123456, 0x23000001, 0x22000100, 0x0, 0x01003456, 0x03000000,
    ]) {
      assert.throws(
        () => targetFromBits(bits),
        (e) => isLightproofError(e, 'LP_BTC_HEADER_BAD_BITS'),
        bits.toString(16),
      );
    }
  });
});

describe('checkProofOfWork', () => {
  it('accepts real headers and refuses a changed nonce', () => {
    for (const hex of MAINNET_HEADERS)
      assert.equal(checkProofOfWork(hexToBytes(hex), NETWORKS.mainnet.powLimit), true);
    const bent = Uint8Array.from(GENESIS);
    bent[76] = (bent[76] as number) ^ 1;
    assert.equal(checkProofOfWork(bent), false);
  });

  it('refuses trivial bits under the mainnet limit but not under regtest', () => {
    const regtest = hexToBytes(REGTEST_GENESIS);
    assert.equal(checkProofOfWork(regtest), true);
    assert.equal(checkProofOfWork(regtest, NETWORKS.regtest.powLimit), true);
    assert.equal(checkProofOfWork(regtest, NETWORKS.mainnet.powLimit), false);
  });

  it('is false, not a throw, for bits that encode no target', () => {
    const raw = Uint8Array.from(GENESIS);
    new DataView(raw.buffer).setUint32(72, 0x1d80ffff, true);
    assert.equal(checkProofOfWork(raw), false);
    new DataView(raw.buffer).setUint32(72, 0, true);
    assert.equal(checkProofOfWork(parseBlockHeader(raw)), false);
  });
});

describe('difficulty retargets', () => {
  it('writes targets back in compact form, normalised as Bitcoin Core does', () => {
    for (const bits of [0x1d00ffff, 0x1b0404cb, 0x207fffff, 0x05009234, 0x03123456, 0x04123456, 0x02008000]) {
      assert.equal(compactFromTarget(targetFromBits(bits)), bits, bits.toString(16));
    }
    assert.equal(compactFromTarget(targetFromBits(0x01123456)), 0x01120000);
    assert.equal(compactFromTarget(0x80n), 0x02008000);
  });

  it("matches Bitcoin Core's pow_tests vectors", () => {
    const limit = NETWORKS.mainnet.powLimit;
    assert.equal(retargetBits(0x1d00ffff, 1261130161, 1262152739, limit), 0x1d00d86a);
    assert.equal(retargetBits(0x1d00ffff, 1231006505, 1233061996, limit), 0x1d00ffff);
    assert.equal(retargetBits(0x1c05a3f4, 1279008237, 1279297671, limit), 0x1c0168fd);
    assert.equal(retargetBits(0x1c387f6f, 1263163443, 1269211443, limit), 0x1d00e1fd);
  });

  it('clamps a period to a quarter and four times two weeks', () => {
    const limit = NETWORKS.mainnet.powLimit;
    assert.equal(retargetBits(0x1d00ffff, 1000, 1001, limit), 0x1c3fffc0);
    assert.equal(retargetBits(0x1c3fffc0, 0, 100 * 14 * 86400, limit), 0x1d00ffff);
  });
});
