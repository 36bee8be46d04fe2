import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeFileDurably } from './durable-write.js';

describe('writeFileDurably', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lp-durable-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('never overwrites without replace, replaces with it, and leaves no temporary file', async () => {
    const path = join(dir, 'proof.ots');
    await writeFileDurably(path, 'first', { replace: false, mode: 0o600 });
    assert.equal(readFileSync(path, 'utf8'), 'first');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await assert.rejects(writeFileDurably(path, 'second', { replace: false }), { code: 'EEXIST' });
    assert.equal(readFileSync(path, 'utf8'), 'first', 'the old file is kept whole');
    await writeFileDurably(path, 'third', { replace: true });
    assert.equal(readFileSync(path, 'utf8'), 'third');
    assert.deepEqual(readdirSync(dir), ['proof.ots']);
  });

  it("fails with the system's error when the directory is missing, writing nothing", async () => {
    await assert.rejects(writeFileDurably(join(dir, 'no', 'such', 'file'), 'x', { replace: true }), {
      code: 'ENOENT',
    });
    writeFileSync(join(dir, 'plain'), 'y');
    await assert.rejects(writeFileDurably(join(dir, 'plain', 'child'), 'x', { replace: false }), {
      code: 'ENOTDIR',
    });
  });
});
