import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLightproofError, type LightproofError } from '../../core/errors.js';
import { verifyConsistency } from '../merkle.js';
import { openLog } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'lp-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const ENTRY = (i: number) => Buffer.from(`entry ${i}`);
/** Frame offsets of `entry <i>` records: magic, then 16 bytes of framing plus the payload each. */
const offsetOf = (i: number) => {
  let at = 8;
  for (let k = 0; k < i; k++) at += 16 + ENTRY(k).length;
  return at;
};

async function logWith(count: number): Promise<string> {
  const dir = join(root, `log-${n++}`);
  const log = await openLog(dir, { create: true });
  await log.appendMany(Array.from({ length: count }, (_, i) => ENTRY(i)));
  await log.close();
  return dir;
}

async function corruptAt(dir: string): Promise<LightproofError> {
  const before = readFileSync(join(dir, 'entries.dat'));
  const err = await openLog(dir).then(
    () => assert.fail('a corrupt log opened'),
    (e: unknown) => e,
  );
  assert.ok(isLightproofError(err, 'LP_LOG_CORRUPT'), String(err));
  assert.deepEqual(readFileSync(join(dir, 'entries.dat')), before, 'a corrupt log must not be modified');
  assert.equal(existsSync(join(dir, 'log.lock')), false);
  return err;
}

describe('log recovery: torn tails are cut', () => {
  for (const [name, tear] of [
    ['half a header', (p: string) => appendFileSync(p, Buffer.from([9, 0, 0]))],
    ['a record cut short', (p: string) => truncateSync(p, statSync(p).size - 3)],
    ['zero bytes', (p: string) => appendFileSync(p, Buffer.alloc(4096))],
    [
      'a last record whose write stopped part way, then preallocated zeros',
      (p: string) => {
        const b = readFileSync(p);
        b.fill(0, offsetOf(19) + 14);
        writeFileSync(p, Buffer.concat([b, Buffer.alloc(4096)]));
      },
    ],
    [
      'a last record failing its crc',
      (p: string) => {
        const b = readFileSync(p);
        b[b.length - 6]! ^= 0x40;
        writeFileSync(p, b);
      },
    ],
  ] as const) {
    it(name, async () => {
      const dir = await logWith(20);
      const full = await openLog(dir);
      const root19 = full.root(19);
      await full.close();
      tear(join(dir, 'entries.dat'));
      const log = await openLog(dir);
      assert.match(log.warnings.join('\n'), /torn tail/);
      const kept = log.size();
      assert.ok(kept === 19 || kept === 20, `kept ${kept}`);
      assert.deepEqual(log.root(19), root19);
      await log.append(Buffer.from('after'));
      assert.equal(Buffer.from(log.entry(kept)).toString(), 'after');
      await log.close();
      const clean = await openLog(dir);
      assert.deepEqual(clean.warnings, []);
      assert.equal(clean.size(), kept + 1);
      await clean.close();
    });
  }
});

describe('log recovery: corruption is refused with file and byte offset', () => {
  it('a flipped payload byte in the middle', async () => {
    const dir = await logWith(10);
    const p = join(dir, 'entries.dat');
    const b = readFileSync(p);
    b[offsetOf(4) + 12]! ^= 1;
    writeFileSync(p, b);
    const err = await corruptAt(dir);
    assert.deepEqual(err.details, { file: 'entries.dat', offset: offsetOf(4), reason: err.details?.reason });
    assert.match(err.message, /entries\.dat is corrupt at byte \d+: record of leaf 4 fails its crc32/);
  });

  it('a bad length in the middle', async () => {
    const dir = await logWith(10);
    const p = join(dir, 'entries.dat');
    const b = readFileSync(p);
    b.writeUInt32LE(0x7fffffff, offsetOf(3));
    writeFileSync(p, b);
    assert.equal((await corruptAt(dir)).details?.offset, offsetOf(3));
  });

  it('records swapped (each intact, at the wrong index)', async () => {
    const dir = await logWith(10);
    const p = join(dir, 'entries.dat');
    const b = readFileSync(p);
    const [a, c] = [offsetOf(2), offsetOf(3)];
    const len = c - a;
    const rec2 = Buffer.from(b.subarray(a, c));
    b.copy(b, a, c, c + len);
    rec2.copy(b, c);
    writeFileSync(p, b);
    assert.match((await corruptAt(dir)).message, /holds leaf 3 where leaf 2 belongs/);
  });

  it('garbage, a truncated magic and an empty entries file', async () => {
    for (const content of [Buffer.from('GARBAGE!GARBAGE!GARBAGE!'), Buffer.from('LPLOG'), Buffer.alloc(0)]) {
      const dir = await logWith(2);
      writeFileSync(join(dir, 'entries.dat'), content);
      assert.equal((await corruptAt(dir)).details?.offset, 0);
    }
  });

  it('a damaged or missing log.json, or a missing entries file', async () => {
    for (const meta of [
      '{',
      '[]',
      '{"format":"other"}',
      JSON.stringify({ format: 'lightproof.log/v1', origin: 'a\nb' }),
    ]) {
      const dir = await logWith(1);
      writeFileSync(join(dir, 'log.json'), meta);
      await assert.rejects(
        openLog(dir),
        (e) => isLightproofError(e) && /LP_LOG_(CORRUPT|BAD_ORIGIN)/.test(e.code),
      );
    }
    const big = await logWith(1);
    writeFileSync(join(big, 'log.json'), ' '.repeat(10_000));
    await assert.rejects(openLog(big), (e) => isLightproofError(e, 'LP_LOG_CORRUPT'));
    const orphan = await logWith(3);
    unlinkSync(join(orphan, 'log.json'));
    await assert.rejects(openLog(orphan, { create: true }), (e) => isLightproofError(e, 'LP_LOG_CORRUPT'));
    const missing = await logWith(1);
    unlinkSync(join(missing, 'entries.dat'));
    await assert.rejects(openLog(missing), (e) => isLightproofError(e, 'LP_LOG_CORRUPT'));
  });
});

describe('log recovery: caches are checked and rebuilt', () => {
  it('missing, damaged, short and extra cache files', async () => {
    const dir = await logWith(100);
    const first = await openLog(dir);
    const want = first.root();
    const want37 = first.root(37);
    const proof37 = first.inclusionProof(36, 37);
    await first.close();
    const damage = [
      () => unlinkSync(join(dir, 'index.dat')),
      () => unlinkSync(join(dir, 'tree-00.dat')),
      () => {
        const b = readFileSync(join(dir, 'tree-03.dat'));
        b[40]! ^= 1;
        writeFileSync(join(dir, 'tree-03.dat'), b);
      },
      () => truncateSync(join(dir, 'tree-01.dat'), 64),
      () => writeFileSync(join(dir, 'tree-09.dat'), Buffer.alloc(32)),
      () => appendFileSync(join(dir, 'index.dat'), Buffer.alloc(80, 7)),
    ];
    for (const [i, d] of damage.entries()) {
      d();
      const log = await openLog(dir);
      assert.match(log.warnings.join('\n'), /rebuilt caches/, `damage ${i}`);
      assert.deepEqual(log.root(), want);
      assert.deepEqual(log.root(37), want37);
      assert.deepEqual(log.inclusionProof(36, 37), proof37);
      assert.equal(Buffer.from(log.entry(99)).toString(), 'entry 99');
      await log.close();
      const again = await openLog(dir);
      assert.deepEqual(again.warnings, [], `damage ${i} repaired`);
      await again.close();
    }
  });
});

describe('log recovery: SIGKILL while appending', () => {
  it('keeps every acknowledged entry and stays consistent with the tree before', async () => {
    const dir = await logWith(50);
    const before = await openLog(dir);
    const rootBefore = before.root();
    await before.close();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./crash.testkit.ts', import.meta.url).pathname, dir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let acked = -1;
    let text = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const lines = text.split('\n');
        text = lines.pop()!;
        for (const line of lines) acked = Math.max(acked, Number(line.slice(4)));
        if (acked >= 3000 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
    });
    await new Promise((resolve) =>
      child.exitCode === null && child.signalCode === null ? child.on('exit', resolve) : resolve(null),
    );
    assert.equal(child.signalCode, 'SIGKILL');
    const log = await openLog(dir);
    assert.ok(log.size() > acked, `size ${log.size()} must cover acknowledged index ${acked}`);
    for (const i of [0, 49, 50, acked, log.size() - 1]) assert.deepEqual(Buffer.from(log.entry(i)), ENTRY(i));
    verifyConsistency(50, log.size(), log.consistencyProof(50), rootBefore, log.root());
    await log.close();
  });
});
