/**
 * A log checkpoint anchored in Bitcoin, with nothing pretended: `lightproof log` appends and signs,
 * the checkpoint is stamped on our calendar, the calendar's wallet anchors the round, btcd mines it,
 * the background upgrader completes the proof, and the checkpoint's .ots verifies against btcd's
 * headers at the mined height; the log-proof bundle then verifies end to end with `lightproof verify`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BitcoinRpc, bitcoinRpc, rpcHeaderSource } from '../../src/bitcoin/index.js';
import { cli, show } from '../../src/cli/cli.testkit.js';
import { parseOts, verifyFile } from '../../src/ots/index.js';
import { CheckpointUpgrader } from '../../src/provenance/index.js';
import { type AnchoredCalendar, startAnchoredCalendar } from '../support/anchored-calendar.js';

describe('log checkpoint end to end: sign → stamp → anchor → mine → upgrade → verify', () => {
  let dir: string;
  let lp: AnchoredCalendar;
  let chain: AnchoredCalendar['chain'];
  let calendar: AnchoredCalendar['calendar'];
  let rpc: BitcoinRpc;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-log-e2e-'));
    lp = await startAnchoredCalendar(dir, 'the log end-to-end test');
    ({ chain, calendar } = lp);
    rpc = bitcoinRpc({
      url: chain.rpc.url,
      user: chain.rpc.user,
      pass: chain.rpc.pass,
      tlsCert: chain.rpc.tlsCert,
    });
  });

  after(async () => {
    rpc?.close();
    await lp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('anchors a signed checkpoint in a mined block and proves an entry down to its header', async () => {
    const log = join(dir, 'agent-log');
    for (const args of [
      ['log', 'init', log, '--origin', 'example.com/agent-log'],
      ['log', 'append', log, '{"decision":"buy","sats":21}'],
      ['log', 'append', log, '{"decision":"wait"}'],
      ['log', 'checkpoint', log, '--stamp', '-c', calendar.url, '-m', '1'],
    ]) {
      const r = await cli(args);
      assert.equal(r.status, 0, show(r));
    }
    const note = join(log, 'checkpoints', '2.txt');

    const height = await lp.anchorAndMine();

    const upgrader = new CheckpointUpgrader({ dir: log, upgrade: { calendars: [calendar.url] } });
    const pass = await upgrader.runOnce();
    await upgrader.stop();
    assert.deepEqual(pass.upgraded, [`${note}.ots`], JSON.stringify(pass.errors));

    const proof = parseOts(readFileSync(`${note}.ots`));
    const report = await verifyFile(
      proof,
      { bytes: readFileSync(note) },
      rpcHeaderSource(rpc, { network: 'regtest' }),
    );
    assert.equal(report.verified, true);
    assert.equal(report.earliest?.height, height);

    const bundle = join(dir, 'entry0.proof.json');
    const proved = await cli(['log', 'prove', log, '0', '--out', bundle]);
    assert.equal(proved.status, 0, show(proved));
    const nodeUrl = chain.rpc.url.replace('https://', `https://${chain.rpc.user}:${chain.rpc.pass}@`);
    const v = await cli([
      'verify',
      bundle,
      '--key',
      join(log, 'log.pub'),
      '--bitcoin-node',
      nodeUrl,
      '--rpc-cert',
      chain.rpc.certPath,
      '--network',
      'regtest',
    ]);
    assert.equal(v.status, 0, show(v));
    assert.match(v.out, new RegExp(`block ${height}\\b`));

    const audit = await cli(['log', 'verify', log]);
    assert.equal(audit.status, 0, show(audit));
    assert.match(audit.out, /1 stamped, 1 anchored in Bitcoin/);
  });
});
