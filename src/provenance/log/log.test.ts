import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../merkle.js';
import { MAX_ENTRY_BYTES, openLog } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'lp-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `log-${n++}`);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const code = (c: string) => (err: unknown) => isLightproofError(err, c);

const constants = JSON.parse(
  readFileSync(new URL('../../../test/vectors/tlog/constants.json', import.meta.url), 'utf8'),
) as { leafInputs: string[]; nodeHashes: string[][]; rootHashes: string[] };

describe('log: transparency-dev constants', () => {
  it('appends the 8 leaves and gives every root, subtree and proof', async () => {
    const dir = freshDir();
    const log = await openLog(dir, { create: true, origin: 'lightproof.local/vectors' });
    assert.equal(hex(log.root()), constants.rootHashes[0]);
    for (const [i, input] of constants.leafInputs.entries()) {
      const { index, leafHash: h } = await log.append(Buffer.from(input, 'hex'));
      assert.equal(index, i);
      assert.equal(hex(h), constants.nodeHashes[0]![i]);
      assert.equal(hex(log.root()), constants.rootHashes[i + 1]);
    }
    for (let size = 0; size <= 8; size++) assert.equal(hex(log.root(size)), constants.rootHashes[size]);
    constants.nodeHashes.forEach((level, k) => {
      const file = readFileSync(join(dir, `tree-${String(k).padStart(2, '0')}.dat`));
      assert.equal(file.toString('hex'), level.join(''), `tree level ${k}`);
    });
    assert.equal(
      log
        .inclusionProof(5, 8)
        .map((h) => Buffer.from(h).toString('base64'))
        .join(),
      'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=,yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=,037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=',
    );
    assert.equal(hex(log.entry(0)), '');
    assert.equal(hex(log.entry(7)), constants.leafInputs[7]);
    await log.close();
  });
});

describe('log: random trees match the reference', () => {
  it('roots and proofs for every size of a 300-leaf log', async () => {
    const log = await openLog(freshDir(), { create: true });
    const entries: Uint8Array[] = [];
    while (entries.length < 300) {
      const chunk = Array.from({ length: 1 + (entries.length % 17) }, () => randomBytes(entries.length % 50));
      const { first, count } = await log.appendMany(chunk);
      assert.equal(first, entries.length);
      assert.equal(count, chunk.length);
      entries.push(...chunk);
    }
    const hashes = entries.map(leafHash);
    for (let size = 1; size <= hashes.length; size++) {
      const want = rootOf(hashes.slice(0, size));
      assert.deepEqual(log.root(size), want, `root of ${size}`);
      for (const i of new Set([0, size - 1, (size * 7919) % size])) {
        const proof = log.inclusionProof(i, size);
        assert.deepEqual(proof, inclusionProof(hashes, i, size), `inclusion ${i} of ${size}`);
        verifyInclusion(log.leafHashAt(i), i, size, proof, want);
      }
      for (const m of new Set([0, 1, size - 1, (size * 104729) % size, size])) {
        const proof = log.consistencyProof(m, size);
        assert.deepEqual(proof, consistencyProof(hashes, m, size), `consistency ${m} to ${size}`);
        verifyConsistency(m, size, proof, log.root(m), want);
      }
    }
    for (const i of [0, 99, 299]) assert.deepEqual(log.entry(i), new Uint8Array(entries[i]!));
    await log.close();
  });
});

describe('log: lifecycle', () => {
  it('reopens with the same entries and roots, and keeps appending', async () => {
    const dir = freshDir();
    let log = await openLog(dir, { create: true, origin: 'example.com/log' });
    await log.appendMany(Array.from({ length: 37 }, (_, i) => Buffer.from(`e${i}`)));
    const root37 = log.root();
    await log.close();
    log = await openLog(dir);
    assert.equal(log.origin, 'example.com/log');
    assert.deepEqual(log.warnings, []);
    assert.equal(log.size(), 37);
    assert.deepEqual(log.root(), root37);
    assert.equal(Buffer.from(log.entry(36)).toString(), 'e36');
    await log.append(Buffer.from('e37'));
    verifyConsistency(37, 38, log.consistencyProof(37), root37, log.root());
    await log.close();
    await assert.rejects(log.append(Buffer.from('late')), code('LP_LOG_CLOSED'));
    await log.close();
  });

  it('gives a default origin and refuses a different or malformed one', async () => {
    const dir = freshDir();
    const log = await openLog(dir, { create: true });
    assert.match(log.origin, /^lightproof\.local\/log-\d+$/);
    await log.close();
    await assert.rejects(openLog(dir, { origin: 'other.example/log' }), code('LP_LOG_BAD_ORIGIN'));
    for (const bad of ['', ' lead', 'a\nb', 'x'.repeat(256), 'tab\there', 'has space', 'a+b']) {
      await assert.rejects(openLog(freshDir(), { create: true, origin: bad }), code('LP_LOG_BAD_ORIGIN'));
    }
    await assert.rejects(openLog(freshDir()), code('LP_LOG_NOT_FOUND'));
    const spaced = join(freshDir(), 'my log+1');
    const named = await openLog(spaced, { create: true });
    assert.equal(named.origin, 'lightproof.local/my-log-1', 'a directory name becomes a valid origin');
    await named.close();
    const file = freshDir();
    writeFileSync(file, 'not a directory');
    await assert.rejects(openLog(file, { create: true }), code('LP_LOG_IO'));
  });

  it('leaves files it does not own alone', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    writeFileSync(join(dir, 'log.key'), 'PRIVATE+KEY+x', { mode: 0o600 });
    writeFileSync(join(dir, 'checkpoints', '1.txt'), 'note');
    const log = await openLog(dir, { create: true });
    await log.append(Buffer.from('a'));
    await log.close();
    const again = await openLog(dir);
    assert.deepEqual(again.warnings, []);
    await again.close();
    assert.equal(readFileSync(join(dir, 'log.key'), 'utf8'), 'PRIVATE+KEY+x');
    assert.equal(readFileSync(join(dir, 'checkpoints', '1.txt'), 'utf8'), 'note');
  });

  it('one writer: a second open is LP_LOG_LOCKED; a dead writer’s lock is taken over', async () => {
    const dir = freshDir();
    const log = await openLog(dir, { create: true });
    await assert.rejects(openLog(dir), code('LP_LOG_LOCKED'));
    await log.close();
    assert.equal(existsSync(join(dir, 'log.lock')), false);
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(join(dir, 'log.lock'), `${deadPid}\n`);
    const again = await openLog(dir);
    await again.close();
    writeFileSync(join(dir, 'log.lock'), 'garbage');
    await (await openLog(dir)).close();
  });
});

describe('log: bad input', () => {
  it('refuses oversized and non-byte entries without changing the log', async () => {
    const log = await openLog(freshDir(), { create: true });
    await log.append(Buffer.from('first'));
    await assert.rejects(log.append(new Uint8Array(MAX_ENTRY_BYTES + 1)), code('LP_LOG_ENTRY_TOO_LARGE'));
    await assert.rejects(
      log.appendMany([Buffer.from('ok'), new Uint8Array(MAX_ENTRY_BYTES + 1)]),
      code('LP_LOG_ENTRY_TOO_LARGE'),
    );
    await assert.rejects(log.append('text' as unknown as Uint8Array), code('LP_LOG_BAD_ENTRY'));
    await assert.rejects(log.appendMany('text' as unknown as Uint8Array[]), code('LP_LOG_BAD_ENTRY'));
    assert.deepEqual(await log.appendMany([]), { first: 1, count: 0 });
    assert.equal(log.size(), 1);
    assert.equal((await log.append(new Uint8Array(MAX_ENTRY_BYTES))).index, 1);
    assert.equal(log.entry(1).length, MAX_ENTRY_BYTES);
    await log.close();
  });

  it('reads and proofs outside the log are LP_LOG_INDEX_OUT_OF_RANGE', async () => {
    const log = await openLog(freshDir(), { create: true });
    await log.appendMany([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    const calls = [
      () => log.entry(3),
      () => log.entry(-1),
      () => log.entry(1.5),
      () => log.leafHashAt(3),
      () => log.root(4),
      () => log.root(Number.NaN),
      () => log.inclusionProof(2, 2),
      () => log.inclusionProof(0, 4),
      () => log.consistencyProof(3, 2),
      () => log.consistencyProof(1, 4),
    ];
    for (const call of calls) assert.throws(call, code('LP_LOG_INDEX_OUT_OF_RANGE'));
    await log.close();
  });
});

describe('log: concurrency', () => {
  it('10,000 appends in flight get distinct indexes, in order, all durable', async () => {
    const dir = freshDir();
    const log = await openLog(dir, { create: true });
    const results = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => log.append(Buffer.from(`concurrent ${i}`))),
    );
    assert.deepEqual(
      results.map((r) => r.index),
      Array.from({ length: 10_000 }, (_, i) => i),
    );
    const root = log.root();
    await log.close();
    const again = await openLog(dir);
    assert.equal(again.size(), 10_000);
    assert.deepEqual(again.root(), root);
    assert.equal(Buffer.from(again.entry(9_999)).toString(), 'concurrent 9999');
    await again.close();
  });
});
