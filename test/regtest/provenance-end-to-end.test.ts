/**
 * Provenance end to end on btcd regtest: entries (a receipt among them) go into a Merkle log, a
 * checkpoint is signed and stamped on our calendar, the calendar's wallet anchors the round, btcd
 * mines it, the stamp is upgraded, an entry is proved, and `lightproof verify` (a child process)
 * checks the bundle down to btcd's block headers and names the mined height; a tampered bundle fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, show } from '../../src/cli/cli.testkit.js';
import { msat } from '../../src/core/money.js';
import { parseOts } from '../../src/ots/index.js';
import {
  CheckpointUpgrader,
  loadOrCreateLogKey,
  makeLogProof,
  openLog,
  ReceiptSigner,
  receiptEntry,
  stampCheckpoint,
  writeCheckpoint,
} from '../../src/provenance/index.js';
import { type AnchoredCalendar, startAnchoredCalendar } from '../support/anchored-calendar.js';

describe('provenance end to end: log → checkpoint → stamp → anchor → mine → upgrade → prove → verify', () => {
  let dir: string;
  let lp: AnchoredCalendar;
  let calendar: AnchoredCalendar['calendar'];
  let nodeFlags: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-provenance-e2e-'));
    lp = await startAnchoredCalendar(dir, 'the provenance end-to-end test');
    ({ calendar, nodeFlags } = lp);
  });

  after(async () => {
    await lp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('proves a logged receipt existed no later than the mined block, and refuses a tampered bundle', async () => {
    const logDir = join(dir, 'agent-log');
    const log = await openLog(logDir, { create: true, origin: 'lightproof.local/e2e-log' });
    const key = loadOrCreateLogKey(logDir, log.origin);
    const receiptSigner = ReceiptSigner.generate();
    const header = receiptSigner.sign({
      service: 'chat',
      priceMsat: msat(21_000),
      paymentHash: 'a'.repeat(64),
      tokenId: 'b'.repeat(64),
      requestDigest: 'c'.repeat(64),
      responseDigest: 'd'.repeat(64),
    }).header;
    const encode = (s: string) => new TextEncoder().encode(s);
    await log.appendMany([encode('{"decision":"buy"}'), receiptEntry(header), encode('{"decision":"stop"}')]);

    const cp = await writeCheckpoint(log, { signer: key.signer });
    const stamped = await stampCheckpoint(cp.path, { calendars: [calendar.url], m: 1 });
    assert.ok(stamped.created);

    // Pending only: the bundle's anchor cannot verify yet, and verify must say so.
    const early = await makeLogProof(log, 1);
    writeFileSync(join(dir, 'early.proof.json'), JSON.stringify(early));
    const notYet = await cli(['verify', join(dir, 'early.proof.json'), ...nodeFlags]);
    assert.equal(notYet.status, 1, show(notYet));
    assert.match(notYet.err, /LP_OTS_INCOMPLETE/);

    const height = await lp.anchorAndMine();
    const upgrader = new CheckpointUpgrader({ dir: logDir, upgrade: { calendars: [calendar.url] } });
    const pass = await upgrader.runOnce();
    assert.deepEqual(pass.errors, []);
    assert.ok(
      parseOts(readFileSync(`${cp.path}.ots`)).timestamp.isComplete(),
      'the checkpoint stamp is anchored',
    );

    const bundle = await makeLogProof(log, 1);
    await log.close();
    const bundlePath = join(dir, 'entry-1.proof.json');
    writeFileSync(bundlePath, JSON.stringify(bundle, null, 2));
    const keys = ['--key', join(logDir, 'log.pub'), '--key', receiptSigner.publicKeyHex];
    const ok = await cli(['verify', bundlePath, ...nodeFlags, ...keys]);
    assert.equal(ok.status, 0, show(ok));
    assert.match(ok.out, /entry 1 of log lightproof\.local\/e2e-log \(size 3\)/);
    assert.match(ok.out, new RegExp(`existed no later than Bitcoin block ${height} \\(`));
    assert.match(ok.out, new RegExp(`signed by receipt key ${receiptSigner.publicKeyHex}`));
    assert.match(ok.out, /Not proved:/);

    const json = await cli(['verify', bundlePath, ...nodeFlags, ...keys, '--json']);
    assert.equal(json.status, 0, show(json));
    assert.equal(JSON.parse(json.out).facts.blockHeight, height);

    const note = await cli(['verify', cp.path, ...nodeFlags]);
    assert.equal(note.status, 0, show(note));
    assert.match(note.out, new RegExp(`Bitcoin block ${height} `));

    const tampered = { ...bundle, entry: Buffer.from('{"decision":"sell"}').toString('base64') };
    writeFileSync(join(dir, 'tampered.proof.json'), JSON.stringify(tampered));
    const bad = await cli(['verify', join(dir, 'tampered.proof.json'), ...nodeFlags, ...keys]);
    assert.equal(bad.status, 1, show(bad));
    assert.match(bad.err, /LP_LOG_PROOF_INVALID: .*inclusion: /);
  });
});
