/**
 * `lightproof model hash|stamp|verify` as real child processes, stamping on a fake calendar on
 * 127.0.0.1 and verifying against a regtest header chain made in the test.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hexLines, regtestChain, rootFor } from '../../bitcoin/headers/headers.testkit.js';
import { bitcoinReply, type FakeCalendar, startFakeCalendar } from '../../ots/calendar.testkit.js';
import { parseOts } from '../../ots/index.js';
import { parseManifest } from '../../provenance/index.js';
import { cli } from '../cli.testkit.js';

let dir: string;
let cal: FakeCalendar;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lp-model-cli-'));
  cal = await startFakeCalendar();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cal.close();
});

function model(name: string): string {
  const m = join(dir, name);
  mkdirSync(join(m, 'sub'), { recursive: true });
  writeFileSync(join(m, 'weights.bin'), Buffer.alloc(5000, 3));
  writeFileSync(join(m, 'config.json'), '{}');
  writeFileSync(join(m, 'sub', 'tokenizer.txt'), 'tok');
  return m;
}

describe('lightproof model hash', () => {
  test('writes DIR.manifest.json, never replaces it without --force, and prints JSON', async () => {
    const m = model('h');
    const r = await cli(['model', 'hash', m, '--shard-size', '1000', '--json']);
    assert.equal(r.status, 0, r.err);
    const summary = JSON.parse(r.out) as { manifest: string; root: string; resources: number; bytes: number };
    assert.equal(summary.manifest, `${m}.manifest.json`);
    assert.equal(summary.resources, 7);
    assert.equal(summary.bytes, 5005);
    const manifest = parseManifest(readFileSync(`${m}.manifest.json`));
    assert.equal(manifest.subject[0].digest.sha256, summary.root);

    const again = await cli(['model', 'hash', m]);
    assert.equal(again.status, 1);
    assert.match(again.err, /^error LP_MANIFEST_OUTPUT_EXISTS: .*--force/m);
    const forced = await cli(['model', 'hash', m, '--files', '--force', '-q']);
    assert.equal(forced.status, 0, forced.err);
    assert.equal(parseManifest(readFileSync(`${m}.manifest.json`)).predicate.serialization.method, 'files');

    const stdout = await cli(['model', 'hash', m, '--files', '-o', '-']);
    assert.equal(stdout.status, 0, stdout.err);
    assert.deepEqual(Buffer.from(stdout.out), readFileSync(`${m}.manifest.json`));
  });

  test('usage errors exit 2; a symlink loop or a missing directory exits 1 with its code', async () => {
    const m = model('u');
    for (const args of [
      ['--shard-size', '12x'],
      ['--files', '--shard-size', '5'],
    ]) {
      const r = await cli(['model', 'hash', m, ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
    }
    symlinkSync('..', join(m, 'sub', 'up'));
    const loop = await cli(['model', 'hash', m, '--allow-symlinks']);
    assert.equal(loop.status, 1);
    assert.match(loop.err, /^error LP_MANIFEST_SYMLINK_LOOP: sub\/up/m);
    const missing = await cli(['model', 'hash', join(dir, 'nope')]);
    assert.equal(missing.status, 1);
    assert.match(missing.err, /^error LP_MANIFEST_NOT_A_DIRECTORY: /m);
    assert.equal(existsSync(join(dir, 'nope.manifest.json')), false);
  });
});

describe('lightproof model stamp and verify', () => {
  let m: string;
  let manifestPath: string;

  before(async () => {
    m = model('s');
    manifestPath = `${m}.manifest.json`;
    const r = await cli(['model', 'stamp', m, '-c', cal.url, '-m', '1']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /Wrote .*s\.manifest\.json: 3 shards/);
    assert.match(r.err, /Stamped .* with 1 of 1 calendars/);
  });

  test('stamp hashes first when there is no manifest, and never overwrites the .ots', async () => {
    assert.ok(existsSync(`${manifestPath}.ots`));
    const again = await cli(['model', 'stamp', manifestPath, '-c', cal.url, '-m', '1']);
    assert.equal(again.status, 1);
    assert.match(again.err, /^error LP_OTS_OUTPUT_EXISTS: /m);
  });

  test('verify: files first, then the stamp against Bitcoin headers, in plain words', async () => {
    cal.complete(bitcoinReply(3));
    const up = await cli(['ots', 'upgrade', `${manifestPath}.ots`, '--whitelist', 'http://127.0.0.1:*']);
    assert.equal(up.status, 0, up.err);
    const proof = parseOts(readFileSync(`${manifestPath}.ots`));
    const root = proof.timestamp.allAttestations().find((x) => x.attestation.kind === 'bitcoin')!.msg;
    const honest = join(dir, 'honest.txt');
    writeFileSync(honest, hexLines(regtestChain(5, (h) => (h === 3 ? root : rootFor(h)))));
    const liar = join(dir, 'liar.txt');
    writeFileSync(liar, hexLines(regtestChain(5)));

    const ok = await cli(['model', 'verify', m, '--headers', honest, '--network', 'regtest', '--no-upgrade']);
    assert.equal(ok.status, 0, ok.err);
    assert.match(ok.out, /^All 3 files in .* match .*s\.manifest\.json \(root sha256 [0-9a-f]{64}\)\./);
    assert.match(ok.out, /The manifest existed no later than Bitcoin block 3 \(2023-11-14T22:43:20Z\)/);
    assert.match(ok.out, /does not prove what they contain is true/);

    const bad = await cli(['model', 'verify', m, '--headers', liar, '--network', 'regtest', '--no-upgrade']);
    assert.equal(bad.status, 1);
    assert.match(bad.err, /^error LP_OTS_NOT_VERIFIED: /m);

    const unchecked = await cli(['model', 'verify', m, '--json']);
    assert.equal(unchecked.status, 0, unchecked.err);
    assert.deepEqual(JSON.parse(unchecked.out).stamp.checked, false);
  });

  test('stamp refuses an existing manifest the directory no longer matches', async () => {
    const st = model('stale');
    assert.equal((await cli(['model', 'hash', st, '-q'])).status, 0);
    writeFileSync(join(st, 'config.json'), '{"new":1}');
    const r = await cli(['model', 'stamp', st, '-c', cal.url, '-m', '1']);
    assert.equal(r.status, 1);
    assert.match(r.err, /^error LP_MANIFEST_MISMATCH: .*no longer matches .*\(config\.json\)/m);
    assert.equal(existsSync(`${st}.manifest.json.ots`), false);
  });

  test('verify names every changed, missing and extra file and exits 1', async () => {
    const v = model('v');
    assert.equal((await cli(['model', 'hash', v, '--files', '-q'])).status, 0);
    writeFileSync(join(v, 'config.json'), '{"changed":true}');
    unlinkSync(join(v, 'sub', 'tokenizer.txt'));
    writeFileSync(join(v, 'extra.bin'), 'x');
    const r = await cli(['model', 'verify', v]);
    assert.equal(r.status, 1);
    assert.match(
      r.out,
      /does NOT match .*\n {2}changed: config\.json\n {2}missing: sub\/tokenizer\.txt\n {2}extra: {3}extra\.bin\n/,
    );
    assert.match(
      r.err,
      /^error LP_MANIFEST_MISMATCH: 3 files differ from the manifest \(1 changed, 1 missing, 1 extra\)/m,
    );
  });

  test('a missing or truncated manifest is named', async () => {
    const t = model('t');
    const none = await cli(['model', 'verify', t]);
    assert.equal(none.status, 1);
    assert.match(none.err, /^error LP_MANIFEST_NOT_FOUND: No manifest at .*t\.manifest\.json/m);
    const full = readFileSync(manifestPath);
    writeFileSync(`${t}.manifest.json`, full.subarray(0, full.length - 10));
    const cut = await cli(['model', 'verify', t]);
    assert.equal(cut.status, 1);
    assert.match(cut.err, /^error LP_MANIFEST_BAD_JSON: .*t\.manifest\.json: .*truncated/m);
  });
});
