import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { isLightproofError } from '../../core/errors.js';
import { hashModel, verifyModel } from './hash-model.js';
import { parseManifest, serializeManifest } from './statement.js';

const base = mkdtempSync(join(tmpdir(), 'lp-manifest-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

/** A fresh model directory from a map of relative path to contents. */
function model(files: Record<string, string | Buffer>): string {
  const dir = join(base, `m${n++}`, 'model');
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const rootOf = (hexes: string[]) => {
  const h = createHash('sha256');
  for (const x of hexes) h.update(Buffer.from(x, 'hex'));
  return h.digest('hex');
};
const fails = (code: string, pattern?: RegExp) => (err: unknown) =>
  isLightproofError(err, code) && (pattern === undefined || pattern.test(err.message));

const big = Buffer.alloc(2500, 7).fill(9, 1200);

describe('hashModel', () => {
  test('files method: one digest per file, ordered by path component, root over the raw digests', async () => {
    const dir = model({ 'a.txt': 'A', 'a/b': 'B', empty: '', 'sub/w.bin': big });
    const m = await hashModel(dir, { method: 'files', workers: 2 });
    const r = m.predicate.resources;
    assert.deepEqual(
      r.map((x) => x.name),
      ['a/b', 'a.txt', 'empty', 'sub/w.bin'],
    );
    assert.deepEqual(
      r.map((x) => x.digest),
      [sha('B'), sha('A'), sha(''), sha(big)],
    );
    assert.equal(m.subject[0].name, 'model');
    assert.equal(m.subject[0].digest.sha256, rootOf(r.map((x) => x.digest)));
    assert.deepEqual(m.predicate.serialization, {
      method: 'files',
      hash_type: 'sha256',
      allow_symlinks: false,
      ignore_paths: ['.git', '.gitattributes', '.github', '.gitignore'],
    });
    assert.deepEqual(parseManifest(serializeManifest(m)), m);
  });

  test('shards method: path:start:end ranges ordered by offset, empty files left out as model_signing does', async () => {
    const dir = model({ 'w.bin': big, empty: '', 'x:y': 'colon' });
    const seen: number[] = [];
    const m = await hashModel(dir, { shardSize: 1000, workers: 2, onProgress: (p) => seen.push(p.done) });
    assert.deepEqual(
      m.predicate.resources.map((x) => [x.name, x.algorithm, x.digest]),
      [
        ['w.bin:0:1000', 'sha256-sharded-1000', sha(big.subarray(0, 1000))],
        ['w.bin:1000:2000', 'sha256-sharded-1000', sha(big.subarray(1000, 2000))],
        ['w.bin:2000:2500', 'sha256-sharded-1000', sha(big.subarray(2000))],
        ['x:y:0:5', 'sha256-sharded-1000', sha('colon')],
      ],
    );
    assert.equal(m.predicate.serialization.shard_size, 1000);
    assert.equal(seen.at(-1), 2505);
    assert.deepEqual(parseManifest(serializeManifest(m)), m);
  });

  test('ignores git paths by default, user paths exactly (a directory covers its contents), and the manifest itself', async () => {
    const dir = model({
      'w.bin': 'w',
      '.git/HEAD': 'ref',
      '.gitignore': 'x',
      'logs/run.txt': 'l',
      logsx: 'kept',
      'model.manifest.json': '{}',
    });
    const m = await hashModel(dir, {
      method: 'files',
      ignore: ['logs/', './README.md'],
      manifestPath: join(dir, 'model.manifest.json'),
    });
    assert.deepEqual(
      m.predicate.resources.map((x) => x.name),
      ['logsx', 'w.bin'],
    );
    assert.deepEqual(m.predicate.serialization.ignore_paths, [
      '.git',
      '.gitattributes',
      '.github',
      '.gitignore',
      'README.md',
      'logs',
      'model.manifest.json',
    ]);
    const all = await hashModel(dir, { method: 'files', ignoreGitPaths: false });
    assert.ok(all.predicate.resources.some((x) => x.name === '.git/HEAD'));
    for (const bad of ['../x', '/etc', 'a/../../b', ''])
      await assert.rejects(hashModel(dir, { ignore: [bad] }), fails('LP_MANIFEST_BAD_IGNORE'));
  });

  test('refuses symlinks unless allowed, then follows only those inside the root', async () => {
    const dir = model({ 'w.bin': 'weights', 'sub/x': 'x' });
    symlinkSync('w.bin', join(dir, 'link.bin'));
    await assert.rejects(hashModel(dir), fails('LP_MANIFEST_SYMLINK', /link\.bin.*--allow-symlinks/));
    const m = await hashModel(dir, { method: 'files', allowSymlinks: true });
    assert.deepEqual(
      m.predicate.resources.map((x) => [x.name, x.digest]),
      [
        ['link.bin', sha('weights')],
        ['sub/x', sha('x')],
        ['w.bin', sha('weights')],
      ],
    );
    assert.equal(m.predicate.serialization.allow_symlinks, true);
    symlinkSync('../../outside', join(dir, 'sub/out'));
    writeFileSync(join(dir, '../outside'), 'secret');
    await assert.rejects(hashModel(dir, { allowSymlinks: true }), fails('LP_MANIFEST_SYMLINK_OUTSIDE'));
  });

  test('a symlink loop is named, whether through a directory or link to link', async () => {
    const dir = model({ 'sub/w': 'w' });
    symlinkSync('..', join(dir, 'sub/up'));
    await assert.rejects(
      hashModel(dir, { allowSymlinks: true }),
      fails('LP_MANIFEST_SYMLINK_LOOP', /sub\/up/),
    );
    const dir2 = model({ w: 'w' });
    symlinkSync('b', join(dir2, 'a'));
    symlinkSync('a', join(dir2, 'b'));
    await assert.rejects(hashModel(dir2, { allowSymlinks: true }), fails('LP_MANIFEST_SYMLINK_LOOP'));
    const dir3 = model({ w: 'w' });
    symlinkSync('nowhere', join(dir3, 'dangling'));
    await assert.rejects(hashModel(dir3, { allowSymlinks: true }), fails('LP_MANIFEST_SYMLINK_BROKEN'));
  });

  test('an empty directory, a file, a missing path and a pipe are refused', async () => {
    const empty = model({});
    await assert.rejects(hashModel(empty), fails('LP_MANIFEST_EMPTY'));
    const onlyEmpty = model({ e: '' });
    await assert.rejects(hashModel(onlyEmpty), fails('LP_MANIFEST_EMPTY'));
    const dir = model({ f: 'x' });
    await assert.rejects(hashModel(join(dir, 'f')), fails('LP_MANIFEST_NOT_A_DIRECTORY'));
    await assert.rejects(hashModel(join(dir, 'nope')), fails('LP_MANIFEST_NOT_A_DIRECTORY'));
    await promisify(execFile)('mkfifo', [join(dir, 'pipe')]);
    await assert.rejects(hashModel(dir), fails('LP_MANIFEST_NOT_REGULAR', /pipe/));
  });

  test('a file name that is not UTF-8 is named', async () => {
    const dir = model({ ok: 'x' });
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/bad-`), Buffer.from([0xff, 0xfe])]), 'y');
    await assert.rejects(hashModel(dir), fails('LP_MANIFEST_BAD_NAME', /bad-/));
  });

  test('an unreadable file is named', {
    skip: process.getuid?.() === 0 && 'root reads any file',
  }, async () => {
    const dir = model({ ok: 'x', locked: 'y' });
    chmodSync(join(dir, 'locked'), 0o000);
    await assert.rejects(hashModel(dir, { workers: 1 }), fails('LP_MANIFEST_UNREADABLE', /locked/));
  });

  test('a file that grows or shrinks while it is hashed is caught', async () => {
    const grows = model({ w: big });
    let first = true;
    const grow = () => {
      if (first) appendFileSync(join(grows, 'w'), 'more');
      first = false;
    };
    await assert.rejects(
      hashModel(grows, { shardSize: 1000, onProgress: grow }),
      fails('LP_MANIFEST_CHANGED_WHILE_HASHING', /w changed/),
    );
    const shrinks = model({ w: big });
    first = true;
    const shrink = () => {
      if (first) truncateSync(join(shrinks, 'w'), 10);
      first = false;
    };
    await assert.rejects(
      hashModel(shrinks, { method: 'files', onProgress: shrink }),
      fails('LP_MANIFEST_CHANGED_WHILE_HASHING'),
    );
  });

  test('an onProgress callback that throws fails the run, not the process', async () => {
    const dir = model({ w: big });
    const boom = new Error('progress callback failed');
    let calls = 0;
    const onProgress = () => {
      if (++calls === 2) throw boom;
    };
    await assert.rejects(hashModel(dir, { shardSize: 1000, onProgress }), (err) => err === boom);
  });

  test('refuses a bad shard size or worker count', async () => {
    const dir = model({ w: 'w' });
    for (const shardSize of [0, -1, 1.5, Number.NaN])
      await assert.rejects(hashModel(dir, { shardSize }), fails('LP_MANIFEST_BAD_SHARD_SIZE'));
    await assert.rejects(
      hashModel(dir, { method: 'files', shardSize: 10 }),
      fails('LP_MANIFEST_BAD_SHARD_SIZE'),
    );
    for (const workers of [0, 1.5, 5000])
      await assert.rejects(hashModel(dir, { workers }), fails('LP_MANIFEST_BAD_WORKERS'));
  });
});

describe('verifyModel', () => {
  test('an untouched model verifies; every changed, missing and extra file is named', async () => {
    for (const method of ['files', 'shards'] as const) {
      const dir = model({ 'a.bin': big, 'b.txt': 'b', 'c/d': 'd', 'e.txt': 'e', '.git/HEAD': 'h' });
      const m = parseManifest(
        serializeManifest(
          await hashModel(dir, { method, ...(method === 'shards' ? { shardSize: 1000 } : {}) }),
        ),
      );
      assert.deepEqual(await verifyModel(dir, m), {
        ok: true,
        changed: [],
        missing: [],
        extra: [],
        listed: 4,
        root: m.subject[0].digest.sha256,
      });
      const flipped = Buffer.from(big);
      flipped[2400] = flipped[2400]! ^ 1;
      writeFileSync(join(dir, 'a.bin'), flipped);
      writeFileSync(join(dir, 'e.txt'), 'longer');
      unlinkSync(join(dir, 'c/d'));
      writeFileSync(join(dir, 'new.txt'), 'n');
      writeFileSync(join(dir, '.git/ORIG_HEAD'), 'ignored as recorded');
      const r = await verifyModel(dir, m, { workers: 2 });
      assert.deepEqual(
        { ok: r.ok, changed: r.changed, missing: r.missing, extra: r.extra },
        { ok: false, changed: ['a.bin', 'e.txt'], missing: ['c/d'], extra: ['new.txt'] },
        method,
      );
    }
  });

  test('a manifest kept inside the model is left out of the check', async () => {
    const dir = model({ w: 'w' });
    const at = join(dir, 'model.manifest.json');
    const m = await hashModel(dir, { manifestPath: at });
    writeFileSync(at, serializeManifest(m));
    assert.equal((await verifyModel(dir, m)).ok, true);
  });
});
