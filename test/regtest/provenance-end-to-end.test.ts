/**
 * Provenance end to end on btcd regtest: entries (a receipt among them) go into a Merkle log, a
 * checkpoint is signed and stamped on our calendar, the calendar's wallet anchors the round, btcd
 * mines it, the stamp is upgraded, an entry is proved, and `lightproof verify` (a child process)
 * checks the bundle down to btcd's block headers and names the mined height; a tampered bundle fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCalendarConfig, type RunningCalendar, startCalendar } from '../../src/calendar/index.js';
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
import { type BitcoinChain, startBitcoinChain } from '../../src/regtest/index.js';

const ENTRY = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The lightproof CLI as a child process (async: this process serves the calendar). */
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

describe('provenance end to end: log → checkpoint → stamp → anchor → mine → upgrade → prove → verify', () => {
  let dir: string;
  let chain: BitcoinChain;
  let calendar: RunningCalendar;
  let nodeFlags: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-provenance-e2e-'));
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
      'the provenance end-to-end test',
    );
    calendar = await startCalendar({
      config,
      dataDir: join(dir, 'calendar'),
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
    await chain.fund(calendar.address, 1_000_000n);
    nodeFlags = [
      '--bitcoin-node',
      chain.rpc.url.replace('https://', `https://${chain.rpc.user}:${chain.rpc.pass}@`),
      '--rpc-cert',
      chain.rpc.certPath,
      '--network',
      'regtest',
    ];
  });

  after(async () => {
    await calendar?.close();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Waits for the calendar's anchor transaction, mines it, and returns the block's height. */
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
    const notYet = await lightproof(['verify', join(dir, 'early.proof.json'), ...nodeFlags]);
    assert.equal(notYet.code, 1, show(notYet));
    assert.match(notYet.stderr, /LP_OTS_INCOMPLETE/);

    const height = await anchorAndMine();
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
    const ok = await lightproof(['verify', bundlePath, ...nodeFlags, ...keys]);
    assert.equal(ok.code, 0, show(ok));
    assert.match(ok.stdout, /entry 1 of log lightproof\.local\/e2e-log \(size 3\)/);
    assert.match(ok.stdout, new RegExp(`existed no later than Bitcoin block ${height} \\(`));
    assert.match(ok.stdout, new RegExp(`signed by receipt key ${receiptSigner.publicKeyHex}`));
    assert.match(ok.stdout, /Not proved:/);

    const json = await lightproof(['verify', bundlePath, ...nodeFlags, ...keys, '--json']);
    assert.equal(json.code, 0, show(json));
    assert.equal(JSON.parse(json.stdout).facts.blockHeight, height);

    const note = await lightproof(['verify', cp.path, ...nodeFlags]);
    assert.equal(note.code, 0, show(note));
    assert.match(note.stdout, new RegExp(`Bitcoin block ${height} `));

    const tampered = { ...bundle, entry: Buffer.from('{"decision":"sell"}').toString('base64') };
    writeFileSync(join(dir, 'tampered.proof.json'), JSON.stringify(tampered));
    const bad = await lightproof(['verify', join(dir, 'tampered.proof.json'), ...nodeFlags, ...keys]);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /LP_LOG_PROOF_INVALID: .*inclusion: /);
  });
});
