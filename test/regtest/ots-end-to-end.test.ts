/**
 * OpenTimestamps end to end on btcd regtest, with nothing pretended: files are stamped by the
 * `lightproof` CLI and by the reference client (python-opentimestamps' `ots`) against our calendar,
 * the calendar's own wallet anchors the round in an OP_RETURN transaction, btcd mines it, both
 * clients upgrade, and each verifies the other's proofs against btcd's block headers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCalendarConfig, type RunningCalendar, startCalendar } from '../../src/calendar/index.js';
import { parseOts, serializeOts } from '../../src/ots/index.js';
import { type BitcoinChain, startBitcoinChain } from '../../src/regtest/index.js';
import { type PythonRpcBridge, runOts, startPythonRpcBridge } from '../support/ots-peer.js';

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

describe('OpenTimestamps end to end: stamp → our calendar → anchor → mine → upgrade → verify', () => {
  let dir: string;
  let chain: BitcoinChain;
  let calendar: RunningCalendar;
  let bridge: PythonRpcBridge;
  let nodeFlags: string[];
  const file = (name: string) => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-ots-e2e-'));
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
      'the end-to-end test',
    );
    calendar = await startCalendar({
      config,
      dataDir: join(dir, 'calendar'),
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
    await chain.fund(calendar.address, 1_000_000n);
    bridge = await startPythonRpcBridge(chain.rpc);
    nodeFlags = [
      '--bitcoin-node',
      chain.rpc.url.replace('https://', `https://${chain.rpc.user}:${chain.rpc.pass}@`),
    ];
    nodeFlags.push('--rpc-cert', chain.rpc.certPath, '--network', 'regtest');
  });

  after(async () => {
    await bridge?.close();
    await calendar?.close();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until the calendar's wallet has a transaction in the mempool, mines it, and lets the wallet see the block. */
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

  it('lightproof and the reference client stamp on our calendar; both upgrade; each verifies the other', async () => {
    writeFileSync(file('ours.txt'), 'stamped by lightproof\n');
    writeFileSync(file('theirs.txt'), 'stamped by python-opentimestamps\n');

    const stamped = await lightproof(['ots', 'stamp', '-c', calendar.url, '-m', '1', file('ours.txt')]);
    assert.equal(stamped.code, 0, show(stamped));
    const ref = await runOts(['--no-cache', 'stamp', '-c', calendar.url, '-m', '1', file('theirs.txt')]);
    assert.equal(ref.code, 0, show(ref));

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
    const early = await lightproof(['ots', 'verify', file('ours.txt.ots'), ...nodeFlags, '--no-upgrade']);
    assert.equal(early.code, 1, show(early));

    const height = await anchorAndMine();

    const up = await lightproof(['ots', 'upgrade', '-c', calendar.url, file('ours.txt.ots')]);
    assert.equal(up.code, 0, show(up));
    const refUp = await runOts(['--no-cache', '-l', calendar.url, 'upgrade', file('theirs.txt.ots')]);
    assert.equal(refUp.code, 0, show(refUp));

    for (const name of ['ours.txt.ots', 'theirs.txt.ots']) {
      const v = await lightproof(['ots', 'verify', file(name), ...nodeFlags, '--no-upgrade']);
      assert.equal(v.code, 0, `${name}: ${show(v)}`);
      assert.match(v.stdout, new RegExp(`Bitcoin block ${height}\\b`), name);
      const r = await runOts([
        '--no-cache',
        '--btc-regtest',
        '--bitcoin-node',
        bridge.nodeUrl,
        'verify',
        file(name),
      ]);
      assert.equal(r.code, 0, `reference verify of ${name}: ${show(r)}`);
      assert.match(
        r.stderr + r.stdout,
        new RegExp(`Success! Bitcoin block ${height} attests existence`),
        name,
      );
    }

    // Both print the same proof tree for each upgraded file.
    for (const name of ['ours.txt.ots', 'theirs.txt.ots']) {
      const mine = await lightproof(['ots', 'info', file(name)]);
      const reference = await runOts(['--no-cache', 'info', file(name)]);
      assert.equal(mine.code, 0, show(mine));
      assert.equal(mine.stdout, reference.stdout, name);
    }

    // A changed file does not verify, whoever stamped it.
    writeFileSync(file('ours.txt'), 'stamped by lightproof, then edited\n');
    const changed = await lightproof(['ots', 'verify', file('ours.txt.ots'), ...nodeFlags, '--no-upgrade']);
    assert.equal(changed.code, 1, show(changed));
    assert.match(changed.stderr, /LP_OTS_DIGEST_MISMATCH/);
    const refChanged = await runOts([
      '--no-cache',
      '--btc-regtest',
      '--bitcoin-node',
      bridge.nodeUrl,
      'verify',
      file('ours.txt.ots'),
    ]);
    assert.notEqual(refChanged.code, 0, show(refChanged));
  });
});
