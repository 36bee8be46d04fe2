import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import { loadOrCreateLogKey, writeCheckpoint } from '../checkpoint-store.js';
import { auditLog } from '../log-audit.js';
import { makeLogProof } from '../log-proof.js';
import { leafHash, rootOf, verifyConsistency, verifyInclusion } from '../merkle.js';
import { openLog } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'lp-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const ENTRY = (i: number) => Buffer.from(`entry ${i}`);
const code = (c: string) => (err: unknown) => isLightproofError(err, c);
const offsetOf = (i: number) => {
  let at = 8;
  for (let k = 0; k < i; k++) at += 16 + ENTRY(k).length;
  return at;
};

async function logWith(count: number): Promise<string> {
  const dir = join(root, `log-${n++}`);
  const log = await openLog(dir, { create: true, origin: 'example.com/log' });
  await log.appendMany(Array.from({ length: count }, (_, i) => ENTRY(i)));
  await log.close();
  return dir;
}

/** Every file's bytes and mtime, to show a read-only open changed nothing. */
function filesOf(dir: string): Map<string, { bytes: Buffer; mtimeMs: number }> {
  const out = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isFile()) out.set(name, { bytes: readFileSync(p), mtimeMs: statSync(p).mtimeMs });
  }
  return out;
}

describe('read-only log: beside a writer in this process', () => {
  it('reads, proves and audits a snapshot while the writer holds the lock and appends', async () => {
    const dir = await logWith(0);
    const writer = await openLog(dir);
    await writer.appendMany(Array.from({ length: 300 }, (_, i) => ENTRY(i)));
    const { signer } = loadOrCreateLogKey(dir, writer.origin);
    await writeCheckpoint(writer, { signer, size: 200 });

    const snap = await openLog(dir, { readOnly: true });
    assert.equal(snap.readOnly, true);
    assert.equal(writer.readOnly, false);
    assert.equal(snap.size(), 300);
    const hashes = Array.from({ length: 300 }, (_, i) => leafHash(ENTRY(i)));
    for (const size of [1, 2, 63, 64, 65, 127, 128, 200, 255, 300]) {
      assert.deepEqual(snap.root(size), rootOf(hashes.slice(0, size)), `root ${size}`);
      assert.deepEqual(snap.root(size), writer.root(size));
      for (const i of [0, size - 1, Math.floor(size / 3)]) {
        const proof = snap.inclusionProof(i, size);
        assert.deepEqual(proof, writer.inclusionProof(i, size));
        verifyInclusion(snap.leafHashAt(i), i, size, proof, snap.root(size));
      }
      assert.deepEqual(snap.consistencyProof(size, 300), writer.consistencyProof(size, 300));
    }
    assert.deepEqual(Buffer.from(snap.entry(299)), ENTRY(299));

    await writer.appendMany(Array.from({ length: 50 }, (_, i) => ENTRY(300 + i)));
    assert.equal(snap.size(), 300, 'a snapshot keeps its size');
    assert.deepEqual(snap.root(), rootOf(hashes));
    assert.equal((await makeLogProof(snap, 150)).treeSize, 200);
    await assert.rejects(makeLogProof(snap, 250), code('LP_LOG_READ_ONLY'));
    const audit = auditLog(snap);
    assert.equal(audit.ok, true, JSON.stringify(audit.problem));
    assert.equal(audit.checkpoints, 1);

    const listed = [200];
    await writeCheckpoint(writer, { signer, size: 350 });
    assert.equal(auditLog(snap).problem?.code, 'LP_LOG_TRUNCATED', 'signed after the snapshot');
    assert.equal(auditLog(snap, undefined, { checkpoints: listed }).ok, true);
    const later = await openLog(dir, { readOnly: true });
    assert.equal(later.size(), 350);
    verifyConsistency(300, 350, later.consistencyProof(300), snap.root(), later.root());
    await later.close();
    await snap.close();
    await writer.append(ENTRY(350));
    await writer.close();
    assert.equal(existsSync(join(dir, 'log.lock')), false);
  });

  it('refuses appends and creation with LP_LOG_READ_ONLY, and takes no lock', async () => {
    const dir = await logWith(3);
    const snap = await openLog(dir, { readOnly: true });
    assert.equal(existsSync(join(dir, 'log.lock')), false);
    await assert.rejects(snap.append(ENTRY(3)), (e) => {
      assert.ok(isLightproofError(e, 'LP_LOG_READ_ONLY'));
      assert.match(e.message, /open it without readOnly in the one process that writes it/);
      return true;
    });
    await assert.rejects(snap.appendMany([ENTRY(3)]), code('LP_LOG_READ_ONLY'));
    const writer = await openLog(dir);
    await writer.close();
    await snap.close();
    await snap.close();
    assert.throws(() => snap.entry(0), code('LP_LOG_CLOSED'));
    await assert.rejects(
      openLog(join(root, 'new'), { readOnly: true, create: true }),
      code('LP_LOG_READ_ONLY'),
    );
    assert.equal(existsSync(join(root, 'new')), false);
    await assert.rejects(openLog(join(root, 'none'), { readOnly: true }), code('LP_LOG_NOT_FOUND'));
    await assert.rejects(
      openLog(dir, { readOnly: true, origin: 'other.example/x' }),
      code('LP_LOG_BAD_ORIGIN'),
    );
  });

  it('reads past stale, short or damaged cache files without using or touching them', async () => {
    const dir = await logWith(100);
    const clean = await openLog(dir);
    const want = [clean.root(), clean.root(37), clean.inclusionProof(36, 37)];
    await clean.close();
    writeFileSync(join(dir, 'tree-03.dat'), Buffer.alloc(7));
    truncateSync(join(dir, 'index.dat'), 16);
    writeFileSync(join(dir, 'tree-00.dat'), Buffer.alloc(3200, 1));
    const before = filesOf(dir);
    const snap = await openLog(dir, { readOnly: true });
    assert.deepEqual([snap.root(), snap.root(37), snap.inclusionProof(36, 37)], want);
    assert.deepEqual(Buffer.from(snap.entry(99)), ENTRY(99));
    assert.equal(auditLog(snap).ok, true);
    await snap.close();
    assert.deepEqual(filesOf(dir), before);
  });
});

describe('read-only log: torn tails and corruption', () => {
  const tears: [string, (p: string) => void, number][] = [
    ['half a header', (p) => appendFileSync(p, Buffer.from([9, 0, 0])), 20],
    ['a record cut short', (p) => truncateSync(p, statSync(p).size - 3), 19],
    ['preallocated zeros', (p) => appendFileSync(p, Buffer.alloc(1 << 16)), 20],
    [
      'a record half written, then zeros (a writer mid-batch)',
      (p) => {
        const b = readFileSync(p);
        b.fill(0, offsetOf(19) + 14);
        writeFileSync(p, Buffer.concat([b, Buffer.alloc(4096)]));
      },
      19,
    ],
  ];
  for (const [name, tear, size] of tears) {
    it(`${name}: the snapshot ends there and no file changes`, async () => {
      const dir = await logWith(20);
      tear(join(dir, 'entries.dat'));
      const before = filesOf(dir);
      const snap = await openLog(dir, { readOnly: true });
      assert.equal(snap.size(), size);
      assert.deepEqual(snap.warnings, []);
      assert.deepEqual(Buffer.from(snap.entry(size - 1)), ENTRY(size - 1));
      assert.equal(auditLog(snap).ok, true);
      await snap.close();
      assert.deepEqual(filesOf(dir), before, 'a read-only open must not modify any file');
      // The writer agrees on the tail and cuts it.
      const writer = await openLog(dir);
      assert.equal(writer.size(), size);
      await writer.close();
    });
  }

  it('corruption before the end is LP_LOG_CORRUPT, with nothing modified', async () => {
    for (const damage of [
      (b: Buffer) => {
        b[offsetOf(4) + 12]! ^= 1;
      },
      (b: Buffer) => b.writeUInt32LE(0x7fffffff, offsetOf(3)),
      (b: Buffer) => b.fill(0, offsetOf(5), offsetOf(6)),
      (b: Buffer) => b.write('GARBAGE!', 0),
    ]) {
      const dir = await logWith(10);
      const p = join(dir, 'entries.dat');
      const b = readFileSync(p);
      damage(b);
      writeFileSync(p, b);
      const before = filesOf(dir);
      await assert.rejects(openLog(dir, { readOnly: true }), code('LP_LOG_CORRUPT'));
      assert.deepEqual(filesOf(dir), before);
    }
    const empty = await logWith(1);
    writeFileSync(join(empty, 'entries.dat'), '');
    await assert.rejects(openLog(empty, { readOnly: true }), code('LP_LOG_CORRUPT'));
    rmSync(join(empty, 'entries.dat'));
    await assert.rejects(openLog(empty, { readOnly: true }), code('LP_LOG_CORRUPT'));
    mkdirSync(join(empty, 'entries.dat'));
    await assert.rejects(openLog(empty, { readOnly: true }), code('LP_LOG_CORRUPT'));
    rmSync(join(empty, 'entries.dat'), { recursive: true });
    // A FIFO in the file's place would block a plain open until someone wrote to it.
    const made = await new Promise((resolve) =>
      spawn('mkfifo', [join(empty, 'entries.dat')])
        .on('error', () => resolve(false))
        .on('close', (status) => resolve(status === 0)),
    );
    if (made) await assert.rejects(openLog(empty, { readOnly: true }), code('LP_LOG_CORRUPT'));
    writeFileSync(join(empty, 'log.json'), 'x'.repeat(10_000));
    await assert.rejects(openLog(empty, { readOnly: true }), code('LP_LOG_CORRUPT'));
  });

  it('an entry changed after the snapshot was read is refused, not served', async () => {
    const dir = await logWith(10);
    const snap = await openLog(dir, { readOnly: true });
    const p = join(dir, 'entries.dat');
    const b = readFileSync(p);
    b[offsetOf(7) + 12]! ^= 1;
    writeFileSync(p, b);
    assert.throws(() => snap.entry(7), code('LP_LOG_CORRUPT'));
    assert.throws(() => snap.inclusionProof(0, 8), code('LP_LOG_CORRUPT'));
    truncateSync(p, offsetOf(9));
    assert.throws(() => snap.entry(9), code('LP_LOG_CORRUPT'));
    await snap.close();
  });
});

describe('read-only log: beside a writer process', () => {
  it('opens consistent snapshots while another process appends, batch after batch', async () => {
    const dir = await logWith(50);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./writer.testkit.ts', import.meta.url).pathname, dir, '20000'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let acked = -1;
    let done = false;
    let text = '';
    let started: () => void;
    const writing = new Promise<void>((resolve) => {
      started = resolve;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split('\n');
      text = lines.pop()!;
      for (const line of lines) {
        if (line === 'done') done = true;
        else acked = Math.max(acked, Number(line.slice(4)));
      }
      if (acked >= 100) started();
    });
    try {
      await Promise.race([writing, exited]);
      let prev = await openLog(dir, { readOnly: true });
      let rounds = 0;
      for (; !done || rounds < 3; rounds++) {
        const ackedBefore = acked;
        const snap = await openLog(dir, { readOnly: true });
        assert.ok(snap.size() > ackedBefore, `size ${snap.size()} covers acknowledged ${ackedBefore}`);
        verifyConsistency(
          prev.size(),
          snap.size(),
          snap.consistencyProof(prev.size()),
          prev.root(),
          snap.root(),
        );
        const last = snap.size() - 1;
        assert.deepEqual(Buffer.from(snap.entry(last)), ENTRY(last));
        verifyInclusion(leafHash(ENTRY(last)), last, snap.size(), snap.inclusionProof(last), snap.root());
        await prev.close();
        prev = snap;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(prev.size(), 20000);
      assert.equal(auditLog(prev).ok, true);
      await prev.close();
      assert.equal(child.exitCode, null, 'the writer held the log throughout');
      assert.ok(existsSync(join(dir, 'log.lock')));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});
