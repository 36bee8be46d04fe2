/**
 * OpenTimestamps end to end on btcd regtest, with nothing pretended: files are stamped by the
 * `lightproof` CLI and by the reference client (python-opentimestamps' `ots`) against our calendar,
 * the calendar's own wallet anchors the round in an OP_RETURN transaction, btcd mines it, both
 * clients upgrade, and each verifies the other's proofs against btcd's block headers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, show } from '../../src/cli/cli.testkit.js';
import { parseOts, serializeOts } from '../../src/ots/index.js';
import { type AnchoredCalendar, startAnchoredCalendar } from '../support/anchored-calendar.js';
import {
  type PythonRpcBridge,
  type RunOtsResult,
  runOts,
  startPythonRpcBridge,
} from '../support/ots-peer.js';

const showRef = (r: RunOtsResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('OpenTimestamps end to end: stamp → our calendar → anchor → mine → upgrade → verify', () => {
  let dir: string;
  let lp: AnchoredCalendar;
  let calendar: AnchoredCalendar['calendar'];
  let bridge: PythonRpcBridge;
  let nodeFlags: string[];
  const file = (name: string) => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-ots-e2e-'));
    lp = await startAnchoredCalendar(dir, 'the end-to-end test');
    ({ calendar, nodeFlags } = lp);
    bridge = await startPythonRpcBridge(lp.chain.rpc);
  });

  after(async () => {
    await bridge?.close();
    await lp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lightproof and the reference client stamp on our calendar; both upgrade; each verifies the other', async () => {
    writeFileSync(file('ours.txt'), 'stamped by lightproof\n');
    writeFileSync(file('theirs.txt'), 'stamped by python-opentimestamps\n');

    const stamped = await cli(['ots', 'stamp', '-c', calendar.url, '-m', '1', file('ours.txt')]);
    assert.equal(stamped.status, 0, show(stamped));
    const ref = await runOts(['--no-cache', 'stamp', '-c', calendar.url, '-m', '1', file('theirs.txt')]);
    assert.equal(ref.code, 0, showRef(ref));

    // The reference's file reads here and writes back byte for byte; both are pending on our calendar.
    const theirs = readFileSync(file('theirs.txt.ots'));
    assert.deepEqual(serializeOts(parseOts(theirs)), new Uint8Array(theirs));
    for (const name of ['ours.txt.ots', 'theirs.txt.ots']) {
      const kinds = parseOts(readFileSync(file(name)))
        .timestamp.allAttestations()
        .map((a) => (a.attestation.kind === 'pending' ? a.attestation.uri : a.attestation.kind));
      assert.deepEqual(kinds, [calendar.publicUrl], name);
    }

    // Not anchored yet: verification must say so and fail, never claim success.
    const early = await cli(['ots', 'verify', file('ours.txt.ots'), ...nodeFlags, '--no-upgrade']);
    assert.equal(early.status, 1, show(early));

    const height = await lp.anchorAndMine();

    const up = await cli(['ots', 'upgrade', '-c', calendar.url, file('ours.txt.ots')]);
    assert.equal(up.status, 0, show(up));
    const refUp = await runOts(['--no-cache', '-l', calendar.url, 'upgrade', file('theirs.txt.ots')]);
    assert.equal(refUp.code, 0, showRef(refUp));

    for (const name of ['ours.txt.ots', 'theirs.txt.ots']) {
      const v = await cli(['ots', 'verify', file(name), ...nodeFlags, '--no-upgrade']);
      assert.equal(v.status, 0, `${name}: ${show(v)}`);
      assert.match(v.out, new RegExp(`Bitcoin block ${height}\\b`), name);
      const r = await runOts([
        '--no-cache',
        '--btc-regtest',
        '--bitcoin-node',
        bridge.nodeUrl,
        'verify',
        file(name),
      ]);
      assert.equal(r.code, 0, `reference verify of ${name}: ${showRef(r)}`);
      assert.match(
        r.stderr + r.stdout,
        new RegExp(`Success! Bitcoin block ${height} attests existence`),
        name,
      );
    }

    // Both print the same proof tree for each upgraded file.
    for (const name of ['ours.txt.ots', 'theirs.txt.ots']) {
      const mine = await cli(['ots', 'info', file(name)]);
      const reference = await runOts(['--no-cache', 'info', file(name)]);
      assert.equal(mine.status, 0, show(mine));
      assert.equal(mine.out, reference.stdout, name);
    }

    // A changed file does not verify, whoever stamped it.
    writeFileSync(file('ours.txt'), 'stamped by lightproof, then edited\n');
    const changed = await cli(['ots', 'verify', file('ours.txt.ots'), ...nodeFlags, '--no-upgrade']);
    assert.equal(changed.status, 1, show(changed));
    assert.match(changed.err, /LP_OTS_DIGEST_MISMATCH/);
    const refChanged = await runOts([
      '--no-cache',
      '--btc-regtest',
      '--bitcoin-node',
      bridge.nodeUrl,
      'verify',
      file('ours.txt.ots'),
    ]);
    assert.notEqual(refChanged.code, 0, showRef(refChanged));
  });
});
