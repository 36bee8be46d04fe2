import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { hexLines, MAINNET_HEADERS, regtestChain, rootFor } from '../bitcoin/headers/headers.testkit.js';
import { type HeaderSource, headerSourceFromText, parseBlockHeader } from '../bitcoin/index.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { DetachedTimestampFile, parseOts, serializeOts } from './file.js';
import { append, prepend, RIPEMD160, SHA256 } from './ops.js';
import { Timestamp } from './timestamp.js';
import { verifyFile, verifyTimestamp } from './verify.js';

const CONTENT = utf8ToBytes('the agent said this at 12:00\n');

/** A proof for CONTENT with two paths: tipA, attested at height 3, and tipB at height 5. */
function makeProof() {
  const ts = new Timestamp(sha256(CONTENT));
  const nonced = ts.add(append(new Uint8Array(16).fill(1))).add(SHA256);
  const tipA = nonced.add(prepend(utf8ToBytes('calendar-a'))).add(SHA256);
  const tipB = nonced.add(append(utf8ToBytes('calendar-b'))).add(SHA256);
  return { ts, tipA, tipB };
}

function chainWith(roots: Record<number, Uint8Array>, length = 8): Uint8Array[] {
  return regtestChain(length, (h) => roots[h] ?? rootFor(h));
}

function regtestSource(headers: readonly Uint8Array[]): HeaderSource {
  return headerSourceFromText(hexLines(headers), 'chain.txt', { network: 'regtest' });
}

describe('verifyTimestamp', () => {
  it('verifies an attestation whose message is the block merkle root and reports the header time', async () => {
    const { ts, tipA } = makeProof();
    tipA.attest({ kind: 'bitcoin', height: 3 });
    const chain = chainWith({ 3: tipA.msg });
    const header = parseBlockHeader(chain[3] as Uint8Array);
    const report = await verifyTimestamp(ts, regtestSource(chain));
    assert.equal(report.verified, true);
    assert.deepEqual(report.earliest, {
      height: 3,
      time: header.time,
      blockHash: header.hash,
      heightChecked: true,
    });
    assert.equal(report.bitcoin.length, 1);
    assert.equal(report.bitcoin[0]?.result, 'verified');
    assert.deepEqual(report.bitcoin[0]?.msg, tipA.msg);
    assert.equal(report.source, 'headers file chain.txt');
  });

  it('says mismatch, with display-order roots like the reference, when the root differs', async () => {
    const { ts, tipA } = makeProof();
    tipA.attest({ kind: 'bitcoin', height: 4 });
    const chain = chainWith({});
    const report = await verifyTimestamp(ts, regtestSource(chain));
    assert.equal(report.verified, false);
    assert.equal(report.earliest, undefined);
    const check = report.bitcoin[0];
    assert.equal(check?.result, 'mismatch');
    assert.equal(check?.error?.code, 'LP_OTS_MERKLEROOT_MISMATCH');
    assert.match(check?.error?.message ?? '', /Digest does not match merkleroot/);
    assert.ok(check?.error?.message.includes(bytesToHex(Uint8Array.from(tipA.msg).reverse())));
    assert.ok(check?.error?.message.includes(bytesToHex(rootFor(4).reverse())));
  });

  it('compares in internal byte order against a real mainnet header, never the display order', async () => {
    const source = headerSourceFromText(MAINNET_HEADERS.join('\n'), 'main.txt');
    const root = parseBlockHeader(hexToBytes(MAINNET_HEADERS[0])).merkleRoot;
    const right = new Timestamp(root);
    right.attest({ kind: 'bitcoin', height: 0 });
    const report = await verifyTimestamp(right, source);
    assert.equal(report.verified, true);
    assert.equal(report.earliest?.time, 1231006505);
    assert.equal(
      report.earliest?.blockHash,
      '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    );
    const reversed = new Timestamp(Uint8Array.from(root).reverse());
    reversed.attest({ kind: 'bitcoin', height: 0 });
    assert.equal((await verifyTimestamp(reversed, source)).verified, false);
  });

  it('checks every Bitcoin attestation in ascending height, or stops at the first that verifies', async () => {
    const { ts, tipA, tipB } = makeProof();
    tipB.attest({ kind: 'bitcoin', height: 5 });
    tipA.attest({ kind: 'bitcoin', height: 3 });
    tipA.attest({ kind: 'bitcoin', height: 2 });
    const source = regtestSource(chainWith({ 3: tipA.msg, 5: tipB.msg }));
    const all = await verifyTimestamp(ts, source);
    assert.deepEqual(
      all.bitcoin.map((c) => [c.height, c.result]),
      [
        [2, 'mismatch'],
        [3, 'verified'],
        [5, 'verified'],
      ],
    );
    assert.equal(all.earliest?.height, 3);
    const first = await verifyTimestamp(ts, source, { firstOnly: true });
    assert.deepEqual(
      first.bitcoin.map((c) => c.height),
      [2, 3],
    );
    assert.equal(first.verified, true);
  });

  it('never fetches a header for a message that is not 32 bytes', async () => {
    const ts = new Timestamp(sha256(CONTENT));
    ts.add(RIPEMD160).attest({ kind: 'bitcoin', height: 1 });
    const asked: number[] = [];
    const source: HeaderSource = {
      name: 'spy',
      network: 'regtest',
      headerAt: async (h) => {
        asked.push(h);
        throw new Error('not reached');
      },
    };
    const report = await verifyTimestamp(ts, source);
    assert.equal(report.verified, false);
    assert.equal(report.bitcoin[0]?.result, 'mismatch');
    assert.equal(report.bitcoin[0]?.error?.code, 'LP_OTS_BAD_DIGEST_LENGTH');
    assert.deepEqual(asked, []);
  });

  it('reports a height the source lacks, a lying source and a crashing source as unavailable', async () => {
    const { ts, tipA } = makeProof();
    tipA.attest({ kind: 'bitcoin', height: 30 });
    const missing = await verifyTimestamp(ts, regtestSource(chainWith({})));
    assert.equal(missing.verified, false);
    assert.equal(missing.bitcoin[0]?.result, 'unavailable');
    assert.equal(missing.bitcoin[0]?.error?.code, 'LP_BTC_HEADER_NOT_FOUND');

    const liar: HeaderSource = {
      name: 'liar',
      network: 'mainnet',
      headerAt: async () => {
        throw new LightproofError('LP_BTC_HEADER_HASH_MISMATCH', 'lied');
      },
    };
    const lied = await verifyTimestamp(ts, liar);
    assert.equal(lied.verified, false);
    assert.deepEqual(lied.bitcoin[0]?.error, { code: 'LP_BTC_HEADER_HASH_MISMATCH', message: 'lied' });

    const broken: HeaderSource = { ...liar, headerAt: () => Promise.reject(new TypeError('boom')) };
    const crashed = await verifyTimestamp(ts, broken);
    assert.equal(crashed.bitcoin[0]?.result, 'unavailable');
    assert.equal(crashed.bitcoin[0]?.error?.code, 'LP_BTC_SOURCE_FAILED');
  });

  it('finds a header without a height by merkle root and says the height was not checked', async () => {
    const { ts, tipA } = makeProof();
    tipA.attest({ kind: 'bitcoin', height: 358391 });
    const chain = chainWith({ 6: tipA.msg });
    const bare = headerSourceFromText(
      `${bytesToHex(chain[6] as Uint8Array)}\n${bytesToHex(chain[2] as Uint8Array)}\n`,
      'bare.txt',
      {
        network: 'regtest',
      },
    );
    const report = await verifyTimestamp(ts, bare);
    assert.equal(report.verified, true);
    assert.equal(report.bitcoin[0]?.heightChecked, false);
    assert.equal(report.earliest?.heightChecked, false);
  });

  it('says mismatch when the merkle root belongs to a block at another height', async () => {
    const { ts, tipA } = makeProof();
    tipA.attest({ kind: 'bitcoin', height: 20 });
    const report = await verifyTimestamp(ts, regtestSource(chainWith({ 6: tipA.msg })));
    assert.equal(report.verified, false);
    assert.equal(report.bitcoin[0]?.result, 'mismatch');
    assert.equal(report.bitcoin[0]?.error?.code, 'LP_OTS_HEIGHT_MISMATCH');
  });

  it('lists pending, unknown, Litecoin and Ethereum attestations without verifying anything', async () => {
    const { ts, tipA, tipB } = makeProof();
    tipA.attest({ kind: 'pending', uri: 'https://a.pool.opentimestamps.org' });
    tipA.attest({ kind: 'litecoin', height: 3 });
    tipB.attest({ kind: 'ethereum', height: 3 });
    tipB.attest({ kind: 'unknown', tag: hexToBytes('0102030405060708'), payload: utf8ToBytes('x') });
    const report = await verifyTimestamp(ts, regtestSource(chainWith({ 3: tipA.msg })));
    assert.equal(report.verified, false);
    assert.equal(report.earliest, undefined);
    assert.deepEqual(report.bitcoin, []);
    assert.deepEqual(report.others.map((o) => o.attestation.kind).sort(), [
      'ethereum',
      'litecoin',
      'pending',
      'unknown',
    ]);
    assert.ok(report.others.every((o) => o.reason.length > 0));
  });

  it('is not verified for a timestamp with no attestations', async () => {
    const report = await verifyTimestamp(new Timestamp(sha256(CONTENT)), regtestSource(chainWith({})));
    assert.deepEqual([report.verified, report.bitcoin, report.others], [false, [], []]);
  });
});

describe('verifyFile', () => {
  const proof = () => {
    const { ts, tipA, tipB } = makeProof();
    tipA.attest({ kind: 'bitcoin', height: 3 });
    tipB.attest({ kind: 'pending', uri: 'https://b.example.org' });
    const file = parseOts(serializeOts(new DetachedTimestampFile('sha256', ts)));
    return { file, source: regtestSource(chainWith({ 3: tipA.msg })) };
  };

  it('verifies the stamped bytes or their digest after a round trip through the .ots format', async () => {
    const { file, source } = proof();
    assert.equal((await verifyFile(file, { bytes: CONTENT }, source)).verified, true);
    assert.equal((await verifyFile(file, { digest: sha256(CONTENT) }, source)).verified, true);
  });

  it('refuses other bytes, another digest and a digest of the wrong length', async () => {
    const { file, source } = proof();
    for (const target of [
      { bytes: utf8ToBytes('something else') },
      { digest: sha256(utf8ToBytes('x')) },
      { digest: new Uint8Array(20) },
    ]) {
      await assert.rejects(verifyFile(file, target, source), (e) =>
        isLightproofError(e, 'LP_OTS_DIGEST_MISMATCH'),
      );
    }
  });
});
