import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { isLightproofError } from '../core/errors.js';
import { bitcoinReply, type FakeCalendar, startFakeCalendar } from '../ots/calendar.testkit.js';
import { CalendarWhitelist, parseOts } from '../ots/index.js';
import { CheckpointUpgrader, stampCheckpoint } from './checkpoint-stamp.js';
import { type CheckpointSource, loadOrCreateLogKey, writeCheckpoint } from './checkpoint-store.js';
import { consistencyProof, leafHash, rootOf } from './merkle.js';

const dirs: string[] = [];
let cal: FakeCalendar;
before(async () => {
  cal = await startFakeCalendar();
});
after(async () => {
  await cal.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A log directory holding signed checkpoints of sizes 1 and 2. */
async function signedLog(): Promise<{ dir: string; paths: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'lp-'));
  dirs.push(dir);
  const leaves = ['a', 'b'].map((s) => leafHash(new TextEncoder().encode(s)));
  const log: CheckpointSource = {
    dir,
    origin: 'example.com/log',
    size: () => leaves.length,
    root: (n = leaves.length) => rootOf(leaves.slice(0, n)),
    consistencyProof: (m, n = leaves.length) => consistencyProof(leaves, m, n),
  };
  const { signer } = loadOrCreateLogKey(dir, log.origin);
  const one = await writeCheckpoint(log, { signer, size: 1 });
  const two = await writeCheckpoint(log, { signer, size: 2 });
  return { dir, paths: [one.path, two.path] };
}

const upgrade = () => ({ whitelist: new CalendarWhitelist([cal.url]), timeoutMs: 2000 });

describe('stamping checkpoints', () => {
  it('writes <note>.ots over the note bytes, once', async () => {
    const { paths } = await signedLog();
    const path = paths[0]!;
    const asked = cal.received.length;
    const r = await stampCheckpoint(path, { calendars: [cal.url], m: 1 });
    assert.equal(r.created, true);
    assert.equal(r.otsPath, `${path}.ots`);
    const proof = parseOts(readFileSync(r.otsPath));
    assert.deepEqual(Buffer.from(proof.digest), Buffer.from(sha256(readFileSync(path))));
    assert.equal(cal.received.length, asked + 1);
    const again = await stampCheckpoint(path, { calendars: [cal.url], m: 1 });
    assert.equal(again.created, false);
    assert.equal(cal.received.length, asked + 1, 'calendars are not asked again');
    writeFileSync(r.otsPath, 'garbage');
    await assert.rejects(stampCheckpoint(path, { calendars: [cal.url] }), (e: unknown) =>
      isLightproofError(e, 'LP_OTS_BAD_MAGIC'),
    );
  });

  it('writes nothing when too few calendars answer, and refuses a missing checkpoint', async () => {
    const { paths } = await signedLog();
    const down = 'http://127.0.0.1:1';
    await assert.rejects(
      stampCheckpoint(paths[0]!, { calendars: [down], m: 1, timeoutMs: 1000 }),
      (e: unknown) => isLightproofError(e, 'LP_OTS_TOO_FEW_CALENDARS'),
    );
    assert.ok(!existsSync(`${paths[0]}.ots`));
    await assert.rejects(stampCheckpoint(`${paths[0]}.nope`, { calendars: [cal.url] }), (e: unknown) =>
      isLightproofError(e, 'LP_NOTE_NO_CHECKPOINT'),
    );
  });
});

describe('upgrading checkpoint proofs in the background', () => {
  it('leaves pending proofs alone until the calendar anchors them, then rewrites them complete', async () => {
    const { dir, paths } = await signedLog();
    for (const p of paths) await stampCheckpoint(p, { calendars: [cal.url], m: 1 });
    const before = paths.map((p) => readFileSync(`${p}.ots`));
    const u = new CheckpointUpgrader({ dir, upgrade: upgrade() });
    const first = await u.runOnce();
    assert.equal(first.pending.length, 2);
    assert.equal(first.upgraded.length, 0);
    assert.deepEqual(
      paths.map((p) => readFileSync(`${p}.ots`)),
      before,
      'pending proofs are not rewritten',
    );
    cal.complete(bitcoinReply(123));
    const second = await u.runOnce();
    assert.equal(second.upgraded.length, 2);
    assert.equal(second.complete.length, 2);
    for (const p of paths) {
      const proof = parseOts(readFileSync(`${p}.ots`));
      assert.ok(proof.timestamp.isComplete());
      assert.deepEqual(Buffer.from(proof.digest), Buffer.from(sha256(readFileSync(p))));
    }
    const third = await u.runOnce();
    assert.equal(third.upgraded.length, 0);
    assert.equal(third.complete.length, 2);
  });

  it('runs on its timer and stops cleanly, even with a calendar call hanging', async () => {
    const hanging = await startFakeCalendar({ intercept: (req) => req.method === 'GET' });
    try {
      const { dir, paths } = await signedLog();
      await stampCheckpoint(paths[0]!, { calendars: [hanging.url], m: 1 });
      let passes = 0;
      const u = new CheckpointUpgrader({
        dir,
        intervalMs: 10,
        upgrade: { whitelist: new CalendarWhitelist([hanging.url]), timeoutMs: 60_000 },
        onPass: () => passes++,
      });
      const before = readFileSync(`${paths[0]}.ots`);
      u.start();
      while (!hanging.requests.some((r) => r.startsWith('GET'))) await new Promise((r) => setTimeout(r, 5));
      await u.stop();
      assert.equal(passes, 0, 'the interrupted pass reports nothing');
      assert.deepEqual(readFileSync(`${paths[0]}.ots`), before);
    } finally {
      await hanging.close();
    }
  });

  it('reports a proof that does not belong to its checkpoint, and garbage, without stopping', async () => {
    const { dir, paths } = await signedLog();
    await stampCheckpoint(paths[0]!, { calendars: [cal.url], m: 1 });
    writeFileSync(`${paths[1]}.ots`, readFileSync(`${paths[0]}.ots`));
    const u = new CheckpointUpgrader({ dir, upgrade: upgrade() });
    const r = await u.runOnce();
    assert.deepEqual(
      r.errors.map((e) => [e.path, e.error.code]),
      [[`${paths[1]}.ots`, 'LP_NOTE_PROOF_MISMATCH']],
    );
    writeFileSync(`${paths[1]}.ots`, 'not a proof');
    const g = await u.runOnce();
    assert.equal(g.errors[0]?.error.code, 'LP_OTS_BAD_MAGIC');
    assert.throws(
      () => new CheckpointUpgrader({ dir, intervalMs: 0 }),
      (e: unknown) => isLightproofError(e, 'LP_NOTE_BAD_INTERVAL'),
    );
  });
});
