import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { isLightproofError } from '../core/errors.js';
import { DetachedTimestampFile, serializeOts, Timestamp } from '../ots/index.js';
import { SHA256 } from '../ots/ops.js';
import { checkpointPath, listCheckpoints, loadOrCreateLogKey, writeCheckpoint } from './checkpoint-store.js';
import { type MerkleLog, openLog } from './log/index.js';
import { auditLog } from './log-audit.js';
import { makeLogProof } from './log-proof.js';
import { verifyLogProof } from './verify/index.js';

const dirs: string[] = [];
const logs: MerkleLog[] = [];
after(async () => {
  for (const l of logs) await l.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function newLog(entries: number, checkpoints: number[] = []): Promise<MerkleLog> {
  const dir = mkdtempSync(join(tmpdir(), 'lp-'));
  dirs.push(dir);
  const log = await openLog(dir, { create: true, origin: 'example.com/log' });
  logs.push(log);
  await log.appendMany(Array.from({ length: entries }, (_, i) => Buffer.from(`entry ${i}`)));
  const { signer } = loadOrCreateLogKey(dir, log.origin);
  for (const size of checkpoints) await writeCheckpoint(log, { signer, size });
  return log;
}

/** A proof over the checkpoint's bytes: complete (a Bitcoin attestation) or pending. */
function fakeOts(log: MerkleLog, size: number, complete: boolean): void {
  const path = checkpointPath(log.dir, size);
  const ts = new Timestamp(sha256(readFileSync(path)));
  ts.add(SHA256).attest(
    complete ? { kind: 'bitcoin', height: 800_000 } : { kind: 'pending', uri: 'https://a.example' },
  );
  writeFileSync(`${path}.ots`, serializeOts(new DetachedTimestampFile('sha256', ts)));
}

function code(expected: string) {
  return (e: unknown) => {
    assert.ok(isLightproofError(e), String(e));
    assert.equal(e.code, expected, e.message);
    return true;
  };
}

describe('log proof bundles', () => {
  it('proves an entry that lightproof verify accepts with the log key', async () => {
    const log = await newLog(5, [5]);
    const bundle = await makeLogProof(log, 3);
    assert.equal(bundle.treeSize, 5);
    assert.equal(Buffer.from(bundle.entry, 'base64').toString(), 'entry 3');
    const report = await verifyLogProof(JSON.parse(JSON.stringify(bundle)), {
      trustedKeys: [bundle.verifierKey],
    });
    assert.equal(report.ok, true, JSON.stringify(report.failures));
  });

  it('prefers an anchored checkpoint, then a stamped one, then the largest', async () => {
    const log = await newLog(8, [2, 4, 6, 8]);
    assert.equal((await makeLogProof(log, 1)).treeSize, 8);
    fakeOts(log, 6, false);
    assert.equal((await makeLogProof(log, 1)).treeSize, 6);
    fakeOts(log, 4, true);
    const anchored = await makeLogProof(log, 1);
    assert.equal(anchored.treeSize, 4);
    assert.ok(anchored.ots);
    assert.equal((await makeLogProof(log, 5)).treeSize, 6, 'only checkpoints covering the entry count');
    assert.equal((await makeLogProof(log, 1, { size: 2 })).treeSize, 2);
  });

  it('signs a checkpoint when none covers the entry, or at the size asked for', async () => {
    const log = await newLog(6, [2]);
    assert.equal((await makeLogProof(log, 4)).treeSize, 6);
    assert.equal((await makeLogProof(log, 0, { size: 3 })).treeSize, 3);
    assert.deepEqual(listCheckpoints(log.dir), [2, 3, 6]);
  });

  it('refuses a bad index or size', async () => {
    const log = await newLog(3);
    for (const i of [-1, 3, 1.5, Number.NaN])
      await assert.rejects(makeLogProof(log, i), code('LP_LOG_INDEX_OUT_OF_RANGE'));
    for (const size of [1, 4, 0])
      await assert.rejects(makeLogProof(log, 1, { size }), code('LP_NOTE_BAD_SIZE'));
  });
});

describe('replaying a log', () => {
  it('passes a sound log and counts its stamps', async () => {
    const empty = await newLog(0);
    assert.deepEqual(auditLog(empty), { size: 0, checkpoints: 0, stamped: 0, anchored: 0, ok: true });
    const log = await newLog(10, [0, 1, 7, 10]);
    fakeOts(log, 7, true);
    fakeOts(log, 10, false);
    const r = auditLog(log);
    assert.equal(r.ok, true, r.problem?.message);
    assert.deepEqual([r.checkpoints, r.stamped, r.anchored, r.latest?.size], [4, 2, 1, 10]);
  });

  it('names the checkpoint whose entries changed, and the range', async () => {
    const a = await newLog(6, [2, 6]);
    const c = await newLog(0);
    await c.appendMany(
      ['entry 0', 'entry 1', 'entry 2', 'other', 'entry 4', 'entry 5'].map((s) => Buffer.from(s)),
    );
    for (const f of ['log.key', 'log.pub'])
      writeFileSync(join(c.dir, f), readFileSync(join(a.dir, f)), { mode: 0o600 });
    await writeCheckpoint(c, { signer: loadOrCreateLogKey(c.dir, c.origin).signer, size: 2 });
    writeFileSync(checkpointPath(c.dir, 6), readFileSync(checkpointPath(a.dir, 6)));
    const r = auditLog(c);
    assert.equal(r.ok, false);
    assert.deepEqual(
      [r.problem?.kind, r.problem?.at, r.problem?.code],
      ['checkpoint', 6, 'LP_NOTE_SPLIT_VIEW'],
    );
    assert.match(r.problem!.message, /entries 2 to 5/);
  });

  it('names lost entries, a foreign proof and a damaged checkpoint', async () => {
    const big = await newLog(4, [4]);
    const small = await newLog(0);
    await small.appendMany(['entry 0', 'entry 1'].map((s) => Buffer.from(s)));
    for (const f of ['log.key', 'log.pub'])
      writeFileSync(join(small.dir, f), readFileSync(join(big.dir, f)), { mode: 0o600 });
    mkdirSync(join(small.dir, 'checkpoints'));
    writeFileSync(checkpointPath(small.dir, 4), readFileSync(checkpointPath(big.dir, 4)));
    assert.equal(auditLog(small).problem?.code, 'LP_LOG_TRUNCATED');

    const log = await newLog(3, [1, 3]);
    writeFileSync(`${checkpointPath(log.dir, 3)}.ots`, readFileSync(`${checkpointPath(big.dir, 4)}`));
    assert.equal(auditLog(log).problem?.at, 3);
    rmSync(`${checkpointPath(log.dir, 3)}.ots`);
    fakeOts(log, 1, false);
    writeFileSync(`${checkpointPath(log.dir, 3)}.ots`, readFileSync(`${checkpointPath(log.dir, 1)}.ots`));
    assert.equal(auditLog(log).problem?.code, 'LP_NOTE_PROOF_MISMATCH');
    rmSync(`${checkpointPath(log.dir, 3)}.ots`);
    writeFileSync(
      checkpointPath(log.dir, 1),
      readFileSync(checkpointPath(log.dir, 1), 'utf8').replace('\n1\n', '\n2\n'),
    );
    const damaged = auditLog(log);
    assert.deepEqual([damaged.problem?.at, damaged.problem?.code], [1, 'LP_NOTE_BAD_SIGNATURE']);
  });
});
