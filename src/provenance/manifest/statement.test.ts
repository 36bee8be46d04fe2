import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import {
  type ManifestResource,
  PREDICATE_TYPE,
  parseManifest,
  parseShardName,
  rootDigest,
  STATEMENT_TYPE,
  serializeManifest,
  sortResourceKeys,
} from './statement.js';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

function statement(resources: ManifestResource[], shardSize?: number, extra: Record<string, unknown> = {}) {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: 'model', digest: { sha256: rootDigest(resources) } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      serialization: {
        method: shardSize === undefined ? 'files' : 'shards',
        hash_type: 'sha256',
        allow_symlinks: false,
        ...(shardSize === undefined ? {} : { shard_size: shardSize }),
        ignore_paths: ['.git'],
        ...extra,
      },
      resources,
    },
  };
}

const files = (...names: string[]) => names.map((name) => ({ name, algorithm: 'sha256', digest: hex(name) }));
const shards = (size: number, ...names: string[]) =>
  names.map((name) => ({ name, algorithm: `sha256-sharded-${size}`, digest: hex(name) }));
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function refuses(input: Uint8Array, code: string, pattern?: RegExp) {
  assert.throws(
    () => parseManifest(input),
    (err: unknown) => isLightproofError(err, code) && (pattern === undefined || pattern.test(err.message)),
  );
}

describe('serializeManifest and parseManifest', () => {
  test('round-trip to the same canonical bytes, keys sorted and no whitespace', () => {
    const m = parseManifest(bytes(statement(files('a.txt', 'b/c.bin'))));
    const out = serializeManifest(m);
    assert.deepEqual(parseManifest(out), m);
    assert.deepEqual(serializeManifest(parseManifest(out)), out);
    const text = new TextDecoder().decode(out);
    assert.ok(
      text.startsWith('{"_type":"https://in-toto.io/Statement/v1","predicate":{"resources":[{"algorithm"'),
    );
    assert.doesNotMatch(text, /\s/);
  });

  test("read model_signing 1.1.1's own shard statement (float shard_size, labelled algorithm)", () => {
    const text = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"model","digest":{"sha256":"00e08a18fc9e41d9c0e675cc8933122a17199ca92e5f76b02984dac8874ce53e"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"resources":[{"algorithm":"sha256-sharded-1000","digest":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","name":"a.txt:0:6"},{"algorithm":"sha256-sharded-1000","digest":"5044bac5d194d547732f0d61e41fc99958221747ddc831c20ce3448cc207b8df","name":"sub/b.bin:0:1000"},{"algorithm":"sha256-sharded-1000","digest":"2aa00820c5ed65360a5ff11de3b55667dea09204c29de519ca8532566d312584","name":"sub/b.bin:1000:2000"},{"algorithm":"sha256-sharded-1000","digest":"4c7660b2351885b0119aa9466b1cf5591bf3e9110133efe443fa7a0eaa5150fb","name":"sub/b.bin:2000:3000"}],"serialization":{"hash_type":"sha256","allow_symlinks":false,"shard_size":1000.0,"ignore_paths":[".git",".gitattributes",".gitignore",".github"],"method":"shards"}}}`;
    const m = parseManifest(new TextEncoder().encode(text));
    assert.equal(m.predicate.serialization.shard_size, 1000);
    assert.equal(m.predicate.resources.length, 4);
  });

  test('resources sort as model_signing does: by path component, then by offset as a number', () => {
    const keys = ['a.txt', 'a/b', 'a-c', 'b:x'].map((path) => ({ path, start: 0, end: -1 }));
    assert.deepEqual(
      sortResourceKeys(keys).map((k) => k.path),
      ['a/b', 'a-c', 'a.txt', 'b:x'],
    );
    const s = [10000, 2000, 0].map((start) => ({ path: 'w', start, end: start + 1 }));
    assert.deepEqual(
      sortResourceKeys(s).map((k) => k.start),
      [0, 2000, 10000],
    );
  });

  test('shard names split on the last two colons; anything else is not a shard', () => {
    assert.deepEqual(parseShardName('a:b:c:0:5'), { path: 'a:b:c', start: 0, end: 5 });
    for (const bad of ['a:0', 'a:01:5', 'a:-1:5', 'a:0:5x', ':0:5', 'a:0:99999999999999999'])
      assert.equal(parseShardName(bad), undefined, bad);
  });

  test('every truncation of a manifest is refused', () => {
    const full = bytes(statement(files('a.txt')));
    for (let n = 0; n < full.length; n++) {
      assert.throws(
        () => parseManifest(full.subarray(0, n)),
        (e: unknown) => isLightproofError(e) && e.code.startsWith('LP_MANIFEST_'),
      );
    }
    refuses(full.subarray(0, full.length - 1), 'LP_MANIFEST_BAD_JSON', /truncated/);
  });

  test('refuses invalid UTF-8, oversized input, wrong types and unknown keys', () => {
    refuses(new Uint8Array([0x7b, 0xff, 0x7d]), 'LP_MANIFEST_BAD_JSON');
    assert.throws(
      () => parseManifest(bytes(statement(files('a'))), { maxBytes: 100 }),
      (e: unknown) => isLightproofError(e, 'LP_MANIFEST_TOO_LARGE'),
    );
    refuses(bytes([]), 'LP_MANIFEST_BAD_SHAPE');
    refuses(bytes({ ...statement(files('a')), _type: 1 }), 'LP_MANIFEST_BAD_SHAPE', /_type/);
    refuses(bytes(statement(files('a'), undefined, { allow_symlinks: 'false' })), 'LP_MANIFEST_BAD_SHAPE');
    refuses(bytes(statement(files('a'), undefined, { hash_type: 'blake3' })), 'LP_MANIFEST_BAD_SHAPE');
    refuses(bytes({ ...statement(files('a')), extra: 1 }), 'LP_MANIFEST_BAD_SHAPE');
    const twoSubjects = statement(files('a'));
    twoSubjects.subject.push(twoSubjects.subject[0]!);
    refuses(bytes(twoSubjects), 'LP_MANIFEST_BAD_SHAPE', /subject/);
    refuses(
      new TextEncoder().encode(JSON.stringify(statement(files('a'))).replace('{', '{"__proto__":{"x":1},')),
      'LP_MANIFEST_BAD_SHAPE',
    );
    refuses(
      bytes(statement([{ name: 'a', algorithm: 'md5', digest: hex('a') }])),
      'LP_MANIFEST_BAD_SHAPE',
      /algorithm/,
    );
    refuses(
      bytes(statement(files('a'), undefined, { method: 'shards' })),
      'LP_MANIFEST_BAD_SHAPE',
      /shard_size/,
    );
    refuses(
      bytes(statement(files('a'), undefined, { shard_size: 5 })),
      'LP_MANIFEST_BAD_SHAPE',
      /shard_size/,
    );
  });

  test('refuses duplicate names, bad hex and a root that does not match', () => {
    refuses(bytes(statement(files('a', 'a'))), 'LP_MANIFEST_DUPLICATE', /'a' is listed twice/);
    const upper = files('a');
    upper[0] = { ...upper[0]!, digest: upper[0]!.digest.toUpperCase() };
    refuses(bytes(statement(upper)), 'LP_MANIFEST_BAD_DIGEST');
    refuses(bytes(statement([{ name: 'a', algorithm: 'sha256', digest: 'ab' }])), 'LP_MANIFEST_BAD_DIGEST');
    const m = statement(files('a', 'b'));
    m.subject[0]!.digest.sha256 = hex('other');
    refuses(bytes(m), 'LP_MANIFEST_ROOT_MISMATCH', /altered/);
    const swapped = statement(files('a'));
    (swapped.predicate.resources[0] as { digest: string }).digest = hex('b');
    refuses(bytes(swapped), 'LP_MANIFEST_ROOT_MISMATCH');
  });

  test('refuses names and ignore paths that leave the model root', () => {
    for (const name of ['../x', '/etc/passwd', 'a/../../x', 'a//b', './a', 'a/.', '', 'a\u0000b']) {
      refuses(bytes(statement(files(name))), 'LP_MANIFEST_BAD_PATH');
    }
    refuses(bytes(statement(shards(10, '../w:0:5'), 10)), 'LP_MANIFEST_BAD_PATH');
    refuses(bytes(statement(files('a'), undefined, { ignore_paths: ['../secret'] })), 'LP_MANIFEST_BAD_PATH');
  });

  test('refuses shards that overlap, leave gaps or are the wrong length', () => {
    assert.doesNotThrow(() =>
      parseManifest(bytes(statement(shards(10, 'w:0:10', 'w:10:20', 'w:20:25'), 10))),
    );
    refuses(bytes(statement(shards(10, 'w:0:10', 'w:5:15'), 10)), 'LP_MANIFEST_SHARD_OVERLAP');
    refuses(bytes(statement(shards(10, 'w:0:10', 'w:0:5'), 10)), 'LP_MANIFEST_SHARD_OVERLAP');
    refuses(bytes(statement(shards(10, 'w:0:10', 'w:20:25'), 10)), 'LP_MANIFEST_SHARD_GAP', /10 to 20/);
    refuses(bytes(statement(shards(10, 'w:10:20'), 10)), 'LP_MANIFEST_SHARD_GAP', /0 to 10/);
    refuses(bytes(statement(shards(10, 'w:0:11'), 10)), 'LP_MANIFEST_BAD_SHARD');
    refuses(bytes(statement(shards(10, 'w:0:5', 'w:5:10'), 10)), 'LP_MANIFEST_BAD_SHARD', /not the last/);
    refuses(bytes(statement(shards(10, 'w:3:3'), 10)), 'LP_MANIFEST_BAD_SHARD');
    refuses(bytes(statement(shards(10, 'w'), 10)), 'LP_MANIFEST_BAD_SHARD');
  });
});
