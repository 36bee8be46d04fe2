/**
 * The calendar against a real btcd: digests become rounds, the calendar's own wallet is funded and
 * anchors them in an OP_RETURN transaction, replaces it (same coin, higher fee) as more rounds come,
 * survives kill -9 without losing an acknowledged digest or spending a second coin, and once mined
 * serves proofs that replay to the merkle root btcd reports for the block.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { SqliteCalendarStore } from '../../src/calendar/index.js';
import { applyOp, readTimestamp, type Timestamp } from '../../src/ots/index.js';
import { type BitcoinChain, startBitcoinChain } from '../../src/regtest/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CALENDAR = pathToFileURL(join(ROOT, 'src', 'calendar', 'index.ts')).href;

/** A calendar in its own process, so the test can kill -9 it. */
interface CalendarProcess {
  url: string;
  child: ChildProcess;
  /** Settles when the process has exited (listened for from the start, so no exit is missed). */
  exited: Promise<unknown>;
}

async function spawnCalendar(dataDir: string, config: Record<string, unknown>): Promise<CalendarProcess> {
  const code = `
    const { parseCalendarConfig, startCalendar } = await import(${JSON.stringify(CALENDAR)});
    const cal = await startCalendar({ config: parseCalendarConfig(JSON.parse(process.env.CAL_CONFIG), 'test'), dataDir: process.env.CAL_DIR });
    process.stdout.write(JSON.stringify({ url: cal.url }) + '\\n');
    process.on('SIGTERM', () => cal.close().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    env: { ...process.env, CAL_CONFIG: JSON.stringify(config), CAL_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve((JSON.parse(line!) as { url: string }).url);
    });
    child.on('exit', (code) =>
      reject(new Error(`the calendar exited (${code}) before listening:\n${stderr}`)),
    );
  });
  return { url, child, exited };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Stamp {
  digest: Uint8Array;
  reply: Timestamp;
  commitment: Uint8Array;
}

async function stamp(url: string): Promise<Stamp> {
  const digest = new Uint8Array(randomBytes(32));
  const res = await fetch(`${url}/digest`, { method: 'POST', body: digest });
  assert.equal(res.status, 200);
  const reply = readTimestamp(new Uint8Array(await res.arrayBuffer()), digest);
  const [pending] = reply.allAttestations();
  assert.equal(pending?.attestation.kind, 'pending');
  return { digest, reply, commitment: pending.msg };
}

async function status(url: string): Promise<{
  rounds: number;
  pending: { txid: string; feeSats: string; versions: number; rounds: number } | null;
  lastError: { code: string } | null;
  address: string;
}> {
  return (await (await fetch(url, { headers: { accept: 'application/json' } })).json()) as never;
}

/** Follows a single-path timestamp with applyOp to its attestation. */
function replay(ts: Timestamp): { msg: Uint8Array; height: number } {
  let node = ts;
  let msg = ts.msg;
  while (node.ops.length > 0) {
    assert.equal(node.ops.length, 1, 'one path');
    const [op, child] = node.ops[0]!;
    msg = applyOp(op, msg);
    node = child;
  }
  const att = node.attestations.find((a) => a.kind === 'bitcoin');
  assert.ok(att, 'ends in a Bitcoin attestation');
  return { msg, height: (att as { height: number }).height };
}

describe('calendar anchoring on btcd regtest', { timeout: 5 * 60_000 }, () => {
  let dir: string;
  let chain: BitcoinChain;
  let cal: CalendarProcess | undefined;
  const rpc = async <T>(method: string, params: unknown[] = []) => (await chain.btcdRpc(method, params)) as T;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lightproof-calendar-regtest-'));
    chain = await startBitcoinChain({ dir: join(dir, 'chain') });
  });
  after(async () => {
    cal?.child.kill('SIGKILL');
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('anchors, replaces, survives kill -9, and serves proofs to the merkle root of the block', async () => {
    const dataDir = join(dir, 'calendar');
    const config = {
      listen: '127.0.0.1:0',
      intervalMs: 50,
      network: 'regtest',
      minConfirmations: 1,
      bitcoin: {
        rpc: chain.rpc.url,
        rpcUser: chain.rpc.user,
        rpcPass: chain.rpc.pass,
        rpcCert: chain.rpc.certPath,
        anchorIntervalMs: 300,
        pollMs: 100,
      },
    };
    cal = await spawnCalendar(dataDir, config);
    const stamps: Stamp[] = [];
    stamps.push(...(await Promise.all(Array.from({ length: 20 }, () => stamp(cal!.url)))));
    const unfunded = await until('the calendar to ask for coins', async () => {
      const s = await status(cal!.url);
      return s.lastError?.code === 'LP_CAL_UNFUNDED' ? s : undefined;
    });
    const fundingTxid = await chain.fund(unfunded.address, 1_000_000n);

    const first = await until(
      'an anchor in the mempool',
      async () => (await status(cal!.url)).pending ?? undefined,
    );
    const mempool = await rpc<string[]>('getrawmempool');
    assert.deepEqual(mempool, [first.txid]);
    const firstTx = await rpc<{
      vin: { txid: string; vout: number }[];
      vout: { scriptPubKey: { hex: string } }[];
    }>('getrawtransaction', [first.txid, 1]);
    assert.deepEqual(
      firstTx.vin.map((v) => [v.txid, v.vout]),
      [[fundingTxid, 0]],
    );
    assert.match(firstTx.vout[1]!.scriptPubKey.hex, /^6a20[0-9a-f]{64}$/, 'OP_RETURN with a 32-byte tip');

    // More rounds: a replacement that spends the same coin, pays more and commits to everything.
    stamps.push(...(await Promise.all(Array.from({ length: 10 }, () => stamp(cal!.url)))));
    const second = await until('a replacement anchor', async () => {
      const p = (await status(cal!.url)).pending;
      return p && p.txid !== first.txid ? p : undefined;
    });
    assert.ok(BigInt(second.feeSats) > BigInt(first.feeSats));
    assert.deepEqual(await rpc<string[]>('getrawmempool'), [second.txid], 'the first version was replaced');

    // kill -9 with digests in flight: the acknowledged ones must all survive.
    const inFlight = Array.from({ length: 10 }, () => stamp(cal!.url).catch(() => null));
    await sleep(20);
    cal.child.kill('SIGKILL');
    for (const s of await Promise.all(inFlight)) if (s) stamps.push(s);
    await cal.exited;

    cal = await spawnCalendar(dataDir, config);
    stamps.push(...(await Promise.all(Array.from({ length: 5 }, () => stamp(cal!.url)))));
    const afterRestart = await until('the restarted calendar to cover every round', async () => {
      const s = await status(cal!.url);
      return s.pending && s.pending.txid !== second.txid && s.pending.rounds === s.rounds ? s : undefined;
    });
    const mempoolNow = await rpc<string[]>('getrawmempool');
    assert.deepEqual(mempoolNow, [afterRestart.pending!.txid]);
    const third = await rpc<{ vin: { txid: string; vout: number }[] }>('getrawtransaction', [
      mempoolNow[0],
      1,
    ]);
    assert.deepEqual(
      third.vin.map((v) => [v.txid, v.vout]),
      [[fundingTxid, 0]],
      'still the same coin: no second spend',
    );

    const [blockHash] = await chain.mine(1);
    const header = await rpc<{ merkleroot: string; height: number }>('getblockheader', [blockHash, true]);
    const root = bytesToHex(hexToBytes(header.merkleroot).reverse());
    for (const s of stamps) {
      const res = await until(`the proof of ${bytesToHex(s.commitment)}`, async () => {
        const r = await fetch(`${cal!.url}/timestamp/${bytesToHex(s.commitment)}`);
        return r.status === 200 ? r : undefined;
      });
      const proof = readTimestamp(new Uint8Array(await res.arrayBuffer()), s.commitment);
      const end = replay(proof);
      assert.equal(bytesToHex(end.msg), root, 'the proof ends in the merkle root btcd reports');
      assert.equal(end.height, header.height);
      // The whole path: the submitted digest, the calendar's reply, then the proof merged in (an upgrade).
      let node = s.reply;
      while (bytesToHex(node.msg) !== bytesToHex(s.commitment)) node = node.ops[0]![1];
      node.merge(proof);
      assert.equal(bytesToHex(replay(s.reply).msg), root);
    }
    const s = await status(cal.url);
    assert.equal(s.pending, null);

    cal.child.kill('SIGTERM');
    await cal.exited;
    cal = undefined;
    const store = SqliteCalendarStore.open(join(dataDir, 'calendar.db'));
    try {
      const versions = await store.anchors(['pending', 'replaced', 'failed', 'confirmed']);
      assert.deepEqual(
        new Set(versions.map((v) => `${v.inputTxid}:${v.inputVout}`)),
        new Set([`${fundingTxid}:0`]),
      );
      assert.equal(versions.filter((v) => v.state === 'confirmed').length, 1);
      assert.equal((await store.stats()).digests >= stamps.length, true);
    } finally {
      await store.close();
    }
  });
});
