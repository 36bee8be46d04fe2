/** `lightproof verify FILE` as a child process, on every kind, with regtest headers mined in the test. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  anchored,
  bundle,
  checkpointNote,
  enc,
  header,
  key,
  signer,
} from '../../provenance/verify/verify.testkit.js';
import { cli as lightproof } from '../cli.testkit.js';

let dir: string;
const cli = (args: string[]) => lightproof(['verify', ...args]);
const path = (name: string) => join(dir, name);
const write = (name: string, content: string | Uint8Array) => {
  writeFileSync(path(name), content);
  return path(name);
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lp-verify-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('lightproof verify', () => {
  it('verifies each kind, says what it proved, and exits 1 on a tampered file or 2 on bad usage', async () => {
    const proof = bundle();
    const headers = write('headers.txt', proof.headersText);
    const bundlePath = write('entry-1.proof.json', proof.bytes);
    const tampered = write(
      'tampered.proof.json',
      Buffer.from(proof.bytes).toString().replace('"index": 1', '"index": 2'),
    );
    const pub = write('log.pub', `${key.verifierKey}\n`);

    mkdirSync(path('log/checkpoints'), { recursive: true });
    const note = checkpointNote();
    const cp = anchored(enc(note));
    write('log/checkpoints/5.txt', note);
    write('log/checkpoints/5.txt.ots', cp.ots);
    write('log/log.pub', key.verifierKey);
    write('cp-headers.txt', cp.headersText);

    const stamped = anchored(enc('report\n'));
    write('report.txt', 'report\n');
    write('report.txt.ots', stamped.ots);
    write('report-headers.txt', stamped.headersText);
    const receipt = write('receipt.txt', `${header}\n`);

    const regtest = ['--network', 'regtest'];
    const [ok, bad, checkpoint, ots, rec, usage, unknown] = await Promise.all([
      cli([bundlePath, '--headers', headers, ...regtest, '--key', pub, '--key', signer.publicKeyHex]),
      cli([tampered, '--headers', headers, ...regtest]),
      cli([path('log/checkpoints/5.txt'), '--headers', path('cp-headers.txt'), ...regtest, '--json']),
      cli([path('report.txt.ots'), '--headers', path('report-headers.txt'), ...regtest]),
      cli([receipt, '--key', signer.publicKeyHex]),
      cli([receipt, '--headers', headers, '--esplora', 'http://127.0.0.1:1']),
      cli([write('junk.bin', new Uint8Array([0xff, 0x00, 0x13]))]),
    ]);
    assert.equal(ok.status, 0, ok.err);
    assert.match(ok.out, /^Verified: a log entry with its inclusion proof/);
    assert.match(ok.out, /entry 1 of log example\.com\/log \(size 5\)/);
    assert.match(ok.out, /existed no later than Bitcoin block 3/);
    assert.match(ok.out, /Not proved:\n.*/);

    assert.equal(bad.status, 1);
    assert.match(bad.out, /^NOT verified/);
    assert.match(bad.err, /error LP_LOG_PROOF_INVALID: .*tampered\.proof\.json did not verify: inclusion: /);

    assert.equal(checkpoint.status, 0, checkpoint.err);
    const report = JSON.parse(checkpoint.out);
    assert.equal(report.kind, 'checkpoint');
    assert.equal(report.facts.blockHeight, 3);
    assert.ok(report.notProved.some((s: string) => s.includes('log.pub')));

    assert.equal(ots.status, 0, ots.err);
    assert.match(ots.out, /report\.txt existed no later than Bitcoin block 3/);
    assert.equal(rec.status, 0, rec.err);
    assert.match(rec.out, /signed by receipt key/);
    assert.equal(usage.status, 2);
    assert.match(usage.err, /LP_OTS_NO_HEADER_SOURCE/);
    assert.equal(unknown.status, 1);
    assert.match(unknown.err, /LP_VERIFY_UNKNOWN_KIND/);
  });

  it('prints help with an example for every kind, and refuses a --key that is not a key', async () => {
    const [help, badKey] = await Promise.all([
      cli(['--help']),
      cli([write('r.txt', header), '--key', 'not-a-key']),
    ]);
    assert.equal(help.status, 0);
    for (const kind of ['receipt', 'log entry', 'checkpoint', 'manifest', '.ots']) {
      assert.match(help.out, new RegExp(kind));
    }
    assert.equal(badKey.status, 2);
    assert.match(badKey.err, /LP_VERIFY_BAD_KEY/);
  });
});
