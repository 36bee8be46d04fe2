/**
 * Our manifests against the real model_signing 1.1.1 (PyPI): it signs a generated model directory with
 * an EC P-256 key, and the in-toto statement in its DSSE payload must list exactly our resources,
 * digests and root, for the files method (its CLI) and the shards method (its Python API, where the
 * shard size can be set). Skips, saying why, only when test/peers/install-model-signing.sh has not run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  hashModel,
  type Manifest,
  parseManifest,
  serializeManifest,
  verifyModel,
} from '../../src/provenance/index.js';

const run = promisify(execFile);
const VERSION = '1.1.1';
const cache =
  process.env.LIGHTPROOF_PEER_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lightproof', 'peers');
const venv = join(cache, `model-signing-${VERSION}`);
const installed = existsSync(join(venv, '.done'));
const skip = installed
  ? false
  : `model_signing ${VERSION} is not installed; run test/peers/install-model-signing.sh`;

const SHARD_SIZE = 1000;
const SIGN_SHARDS = `
import sys
from model_signing import hashing, signing
h = hashing.Config().use_shard_serialization(shard_size=int(sys.argv[3]))
signing.Config().use_elliptic_key_signer(private_key=sys.argv[2]).set_hashing_config(h).sign(sys.argv[1], sys.argv[4])
`;

let dir: string;
let modelDir: string;
let key: string;

before(async () => {
  if (!installed) return;
  dir = await mkdtemp(join(tmpdir(), 'lp-model-signing-'));
  modelDir = join(dir, 'tiny-model');
  // Names that sort differently by path component than as strings, a ':' in a path, an empty file,
  // and a file of 13 shards so offsets 10000 and 2000 must sort as numbers.
  const files: Record<string, Buffer | string> = {
    'a.txt': 'a',
    'a/b': 'b',
    'a-c/d.json': '{"d":1}',
    'dir:colon/x': 'colon',
    empty: '',
    'weights.bin': Buffer.from(Array.from({ length: 12_345 }, (_, i) => (i * 31 + 7) % 251)),
    '.gitignore': 'ignored',
    '.git/HEAD': 'ref: refs/heads/main',
  };
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(modelDir, name, '..'), { recursive: true });
    await writeFile(join(modelDir, name), body);
  }
  key = join(dir, 'key.pem');
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The in-toto statement inside a model_signing bundle's DSSE envelope. */
async function statementOf(signature: string): Promise<Manifest & Record<string, unknown>> {
  const bundle = JSON.parse(await readFile(signature, 'utf8')) as {
    dsseEnvelope: { payload: string; payloadType: string };
  };
  assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
}

function assertSame(theirs: Manifest, ours: Manifest): void {
  assert.deepEqual(ours.subject, theirs.subject);
  assert.equal(ours.predicateType, theirs.predicateType);
  assert.equal(ours._type, theirs._type);
  assert.deepEqual(
    ours.predicate.resources.map((r) => [r.name, r.algorithm, r.digest]),
    theirs.predicate.resources.map((r) => [r.name, r.algorithm, r.digest]),
  );
  const t = theirs.predicate.serialization;
  const o = ours.predicate.serialization;
  assert.deepEqual(
    { method: o.method, hash_type: o.hash_type, allow_symlinks: o.allow_symlinks, shard_size: o.shard_size },
    { method: t.method, hash_type: t.hash_type, allow_symlinks: t.allow_symlinks, shard_size: t.shard_size },
  );
  assert.deepEqual([...o.ignore_paths].sort(), [...t.ignore_paths].sort());
}

describe(`model_signing ${VERSION} and lightproof list the same resources and root`, { skip }, () => {
  test('files method: `model_signing sign key` against hashModel', async () => {
    const signature = join(dir, 'files.sig');
    await run(join(venv, 'bin', 'model_signing'), [
      'sign',
      'key',
      modelDir,
      '--private_key',
      key,
      '--signature',
      signature,
    ]);
    const theirs = await statementOf(signature);
    const ours = await hashModel(modelDir, { method: 'files' });
    assertSame(theirs, ours);
    assert.equal(theirs.predicate.resources[0]!.name, 'a/b');

    // Their statement is a manifest we read and verify the directory against.
    const parsed = parseManifest(Buffer.from(JSON.stringify(theirs)));
    assert.equal((await verifyModel(modelDir, parsed)).ok, true);
  });

  test(`shards method at shard_size ${SHARD_SIZE}: the Python API against hashModel`, async () => {
    const signature = join(dir, 'shards.sig');
    await run(join(venv, 'bin', 'python'), ['-c', SIGN_SHARDS, modelDir, key, String(SHARD_SIZE), signature]);
    const theirs = await statementOf(signature);
    const ours = await hashModel(modelDir, { shardSize: SHARD_SIZE, workers: 2 });
    assertSame(theirs, ours);
    const names = ours.predicate.resources.map((r) => r.name);
    assert.ok(names.indexOf('weights.bin:2000:3000') < names.indexOf('weights.bin:10000:11000'));
    assert.ok(!names.some((n) => n.startsWith('empty:')));
    const parsed = parseManifest(Buffer.from(JSON.stringify(theirs)));
    assert.deepEqual(serializeManifest(parsed), serializeManifest(ours));
  });
});
