/**
 * A log checkpoint anchored in Bitcoin, with nothing pretended: `lightproof log` appends and signs,
 * the checkpoint is stamped on our calendar, the calendar's wallet anchors the round, btcd mines it,
 * the background upgrader completes the proof, and the checkpoint's .ots verifies against btcd's
 * headers at the mined height; the log-proof bundle then verifies end to end with `lightproof verify`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type BitcoinRpc, bitcoinRpc, rpcHeaderSource } from '../../src/bitcoin/index.js';
import { parseCalendarConfig, type RunningCalendar, startCalendar } from '../../src/calendar/index.js';
import { parseOts, verifyFile } from '../../src/ots/index.js';
import { CheckpointUpgrader } from '../../src/provenance/index.js';
import { type BitcoinChain, startBitcoinChain } from '../../src/regtest/index.js';

const ENTRY = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The lightproof CLI as a child process (async: this process serves the calendar it talks to). */
function lightproof(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const show = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('log checkpoint end to end: sign → stamp → anchor → mine → upgrade → verify', () => {
  let dir: string;
  let chain: BitcoinChain;
  let calendar: RunningCalendar;
  let rpc: BitcoinRpc;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-log-e2e-'));
    chain = await startBitcoinChain({ dir: join(dir, 'chain') });
    const config = parseCalendarConfig(
      {
        listen: '127.0.0.1:0',
        network: 'regtest',
        intervalMs: 50,
        minConfirmations: 1,
        bitcoin: {
          rpc: chain.rpc.url,
          rpcUser: chain.rpc.user,
          rpcPass: chain.rpc.pass,
          rpcCert: chain.rpc.certPath,
          anchorIntervalMs: 1,
          pollMs: 100,
        },
      },
      'the log end-to-end test',
    );
    calendar = await startCalendar({
      config,
      dataDir: join(dir, 'calendar'),
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
    await chain.fund(calendar.address, 1_000_000n);
    rpc = bitcoinRpc({
      url: chain.rpc.url,
      user: chain.rpc.user,
      pass: chain.rpc.pass,
      tlsCert: chain.rpc.tlsCert,
    });
  });

  after(async () => {
    rpc?.close();
    await calendar?.close();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function anchorAndMine(): Promise<number> {
    const anchorer = calendar.anchorer!;
    for (let i = 0; i < 100; i++) {
      await anchorer.tick();
      if ((await anchorer.status()).pending) break;
    }
    const pending = (await anchorer.status()).pending;
    assert.ok(pending, 'the calendar never broadcast an anchor transaction');
    const [hash] = await chain.mine(1);
    const header = (await chain.btcdRpc('getblockheader', [hash, true])) as { height: number };
    for (let i = 0; i < 100; i++) {
      await anchorer.tick();
      if ((await anchorer.status()).lastAnchor?.txid === pending.txid) break;
    }
    assert.equal((await anchorer.status()).lastAnchor?.txid, pending.txid, 'the anchor never confirmed');
    return header.height;
  }

  it('anchors a signed checkpoint in a mined block and proves an entry down to its header', async () => {
    const log = join(dir, 'agent-log');
    for (const args of [
      ['log', 'init', log, '--origin', 'example.com/agent-log'],
      ['log', 'append', log, '{"decision":"buy","sats":21}'],
      ['log', 'append', log, '{"decision":"wait"}'],
      ['log', 'checkpoint', log, '--stamp', '-c', calendar.url, '-m', '1'],
    ]) {
      const r = await lightproof(args);
      assert.equal(r.code, 0, show(r));
    }
    const note = join(log, 'checkpoints', '2.txt');

    const height = await anchorAndMine();

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
    const proved = await lightproof(['log', 'prove', log, '0', '--out', bundle]);
    assert.equal(proved.code, 0, show(proved));
    const nodeUrl = chain.rpc.url.replace('https://', `https://${chain.rpc.user}:${chain.rpc.pass}@`);
    const v = await lightproof([
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
    assert.equal(v.code, 0, show(v));
    assert.match(v.stdout, new RegExp(`block ${height}\\b`));

    const audit = await lightproof(['log', 'verify', log]);
    assert.equal(audit.code, 0, show(audit));
    assert.match(audit.stdout, /1 stamped, 1 anchored in Bitcoin/);
  });
});
