import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import { pino } from 'pino';
import { readTimestamp } from '../ots/index.js';
import { Aggregator } from './aggregator.js';
import { startCalendar } from './calendar.js';
import { parseCalendarConfig } from './config.js';
import { openCalendarKeys } from './keys.js';
import { buildRound, decodeLeaves } from './round.js';
import { type ChainView, createCalendarHandler } from './server.js';
import { SqliteCalendarStore } from './store/index.js';

const root = mkdtempSync(join(tmpdir(), 'lightproof-calendar-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `cal-${++dirs}`);
const silent = pino({ level: 'silent' });
const config = (over: Record<string, unknown> = {}) =>
  parseCalendarConfig({ listen: '127.0.0.1:0', intervalMs: 20, network: 'regtest', ...over }, 'test');

/** The pending commitment a reply leads to. */
function commitmentOf(reply: Uint8Array, digest: Uint8Array): { msg: Uint8Array; uri: string } {
  const [leaf, ...more] = readTimestamp(reply, digest).allAttestations();
  assert.equal(more.length, 0);
  assert.equal(leaf!.attestation.kind, 'pending');
  return { msg: leaf!.msg, uri: (leaf!.attestation as { uri: string }).uri };
}

async function post(url: string, body: Uint8Array): Promise<Response> {
  return fetch(`${url}/digest`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/vnd.opentimestamps.v1',
    },
  });
}

/** A raw request, for bodies fetch will not send (a false Content-Length, a chunked stream). */
function raw(
  url: string,
  headers: Record<string, string>,
  chunks: Buffer[],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/digest`, { method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    // A refused upload may be cut off mid-way; only the answer matters.
    req.on('close', () => {});
    req.end();
  });
}

describe('calendar HTTP API', () => {
  it('stamps a digest: 200 with a subtree that ends in a pending attestation naming the calendar', async () => {
    const cal = await startCalendar({
      config: config({ publicUrl: 'https://cal.example.org' }),
      dataDir: freshDir(),
      logger: silent,
    });
    try {
      const digest = new Uint8Array(randomBytes(32));
      const res = await post(cal.url, digest);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const { msg, uri } = commitmentOf(new Uint8Array(await res.arrayBuffer()), digest);
      assert.equal(uri, 'https://cal.example.org');
      assert.equal(msg.length, 44);

      const pending = await fetch(`${cal.url}/timestamp/${bytesToHex(msg)}`);
      assert.equal(pending.status, 404);
      assert.equal(await pending.text(), 'Pending confirmation in Bitcoin blockchain');
      assert.equal(pending.headers.get('cache-control'), 'public, max-age=60');

      const unknown = await fetch(`${cal.url}/timestamp/${'ab'.repeat(44)}`);
      assert.equal(unknown.status, 404);
      assert.equal(await unknown.text(), 'Not found');
    } finally {
      await cal.close();
    }
  });

  it('refuses bad hex, empty and oversized digests, unknown paths and methods', async () => {
    const cal = await startCalendar({ config: config(), dataDir: freshDir(), logger: silent });
    try {
      for (const bad of ['zz', 'abc', 'ab'.repeat(2000)]) {
        const res = await fetch(`${cal.url}/timestamp/${bad}`);
        assert.equal(res.status, 400, bad.slice(0, 10));
        assert.equal(res.headers.get('content-type'), 'application/problem+json');
        assert.equal(((await res.json()) as { code: string }).code, 'LP_CAL_BAD_COMMITMENT');
      }
      const empty = await post(cal.url, new Uint8Array(0));
      assert.equal(empty.status, 400);
      assert.equal(((await empty.json()) as { code: string }).code, 'LP_CAL_EMPTY_DIGEST');
      assert.equal((await post(cal.url, new Uint8Array(64))).status, 200, '64 bytes is the largest digest');
      const long = await post(cal.url, new Uint8Array(65));
      assert.equal(long.status, 400);
      assert.equal(await long.text(), 'digest too long');
      // A declared length past the cap is refused before any body byte is read.
      const declared = await raw(cal.url, { 'content-length': '10000000' }, [Buffer.alloc(10)]);
      assert.deepEqual(declared, { status: 400, body: 'digest too long' });
      // Without a length, the body is cut off as soon as it passes 64 bytes.
      const chunked = await raw(cal.url, { 'transfer-encoding': 'chunked' }, [
        Buffer.alloc(40),
        Buffer.alloc(40),
      ]);
      assert.deepEqual(chunked, { status: 400, body: 'digest too long' });

      const nowhere = await fetch(`${cal.url}/nowhere`);
      assert.equal(nowhere.status, 404);
      assert.equal(((await nowhere.json()) as { code: string }).code, 'LP_CAL_NOT_FOUND');
      const put = await fetch(`${cal.url}/digest`, { method: 'PUT', body: 'x' });
      assert.equal(put.status, 405);
      assert.equal(put.headers.get('allow'), 'POST');
      const preflight = await fetch(`${cal.url}/digest`, { method: 'OPTIONS' });
      assert.equal(preflight.status, 204);
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    } finally {
      await cal.close();
    }
  });

  it('reports stats as JSON (anchoring disabled without a node) and as HTML', async () => {
    const cal = await startCalendar({ config: config(), dataDir: freshDir(), logger: silent });
    try {
      await post(cal.url, new Uint8Array(32));
      const json = (await (
        await fetch(cal.url, { headers: { accept: 'application/json' } })
      ).json()) as Record<string, unknown>;
      assert.equal(json.rounds, 1);
      assert.equal(json.digests, 1);
      assert.equal(json.pendingRounds, 1);
      assert.match(String(json.anchoring), /^disabled/);
      assert.equal(json.address, cal.address);
      assert.match(cal.address, /^bcrt1q/);
      const html = await fetch(cal.url);
      assert.match(html.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await html.text(), /OpenTimestamps calendar/);
      assert.equal((await fetch(`${cal.url}/tip`)).status, 404);
    } finally {
      await cal.close();
    }
  });

  it('keeps every round across a restart, with the same keys (0600 files)', async () => {
    const dataDir = freshDir();
    let cal = await startCalendar({ config: config(), dataDir, logger: silent });
    const digests = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(20))];
    const commitments: Uint8Array[] = [];
    for (const d of digests)
      commitments.push(commitmentOf(new Uint8Array(await (await post(cal.url, d)).arrayBuffer()), d).msg);
    await cal.close();
    cal = await startCalendar({ config: config(), dataDir, logger: silent });
    try {
      for (const c of commitments) {
        const res = await fetch(`${cal.url}/timestamp/${bytesToHex(c)}`);
        assert.equal(await res.text(), 'Pending confirmation in Bitcoin blockchain');
      }
      assert.equal((await cal.store.stats()).digests, 2);
      // The stored round rebuilds to its commitment with the calendar's key: it can be audited.
      const round = (await cal.store.round(1))!;
      const { digests: stored, nonces } = decodeLeaves(round.leaves);
      const { hmacKey } = openCalendarKeys(dataDir);
      const rebuilt = buildRound(stored, { time: round.time, hmacKey, uri: cal.publicUrl, nonces });
      assert.deepEqual(rebuilt.commitment, round.commitment);
      for (const f of ['hmac.key', 'anchor.key'])
        assert.equal(statSync(join(dataDir, f)).mode & 0o777, 0o600);
    } finally {
      await cal.close();
    }
  });
});

describe('calendar rounds and proofs (handler level)', () => {
  async function serve(store: SqliteCalendarStore, chain: ChainView, minConfirmations = 1) {
    const aggregator = new Aggregator({
      store,
      hmacKey: new Uint8Array(32).fill(1),
      uri: 'http://127.0.0.1:1',
      intervalMs: 60_000,
      maxPending: 1000,
      log: silent,
    });
    const handler = createCalendarHandler({
      aggregator,
      store,
      chain,
      minConfirmations,
      status: async () => ({}),
    });
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { aggregator, url, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('answers 500 concurrent POSTs from one round: every reply replays to the same commitment', async () => {
    const store = SqliteCalendarStore.open(join(root, `one-round-${++dirs}.db`));
    const s = await serve(store, { height: () => null, pendingTip: () => null });
    try {
      const agent = new http.Agent({ keepAlive: true });
      const digests = Array.from({ length: 500 }, () => new Uint8Array(randomBytes(32)));
      const replies = digests.map(
        (d) =>
          new Promise<Buffer>((resolve, reject) => {
            const req = http.request(`${s.url}/digest`, { method: 'POST', agent }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () =>
                res.statusCode === 200
                  ? resolve(Buffer.concat(chunks))
                  : reject(new Error(`HTTP ${res.statusCode}`)),
              );
            });
            req.on('error', reject);
            req.end(d);
          }),
      );
      // The round closes only once every digest is queued (one socket each), so all 500 share it.
      while (s.aggregator.queued < digests.length) await new Promise((r) => setTimeout(r, 5));
      await s.aggregator.close();
      const bodies = await Promise.all(replies);
      agent.destroy();
      const commitments = new Set(bodies.map((b, i) => bytesToHex(commitmentOf(b, digests[i]!).msg)));
      assert.equal(commitments.size, 1);
      const stats = await store.stats();
      assert.deepEqual([stats.rounds, stats.digests], [1, 500]);
    } finally {
      await s.close();
      await store.close();
    }
  });

  it('serves a proof only after enough confirmations; until then names the transaction', async () => {
    const store = SqliteCalendarStore.open(join(root, `proof-${++dirs}.db`));
    let height = 0;
    const s = await serve(store, { height: () => height, pendingTip: () => new Uint8Array(32).fill(7) }, 3);
    try {
      const commitment = new Uint8Array(randomBytes(44));
      const roundId = await store.addRound({
        time: 1,
        tip: new Uint8Array(32),
        commitment,
        digests: 1,
        leaves: new Uint8Array(49),
      });
      const txid = 'ef'.repeat(32);
      const proof = new Uint8Array(randomBytes(200));
      await store.applyBlock({
        height: 500,
        hash: 'aa'.repeat(32),
        received: [],
        spent: [],
        confirmed: [{ txid, proofs: [{ roundId, proof }] }],
      });
      height = 500;
      let res = await fetch(`${s.url}/timestamp/${bytesToHex(commitment)}`);
      assert.equal(res.status, 404);
      assert.equal(await res.text(), `Timestamped by transaction ${txid}; waiting for 2 confirmations`);
      height = 502;
      res = await fetch(`${s.url}/timestamp/${bytesToHex(commitment).toUpperCase()}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000');
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), proof);
      const tip = await fetch(`${s.url}/tip`);
      assert.deepEqual(new Uint8Array(await tip.arrayBuffer()), new Uint8Array(32).fill(7));
    } finally {
      await s.aggregator.close();
      await s.close();
      await store.close();
    }
  });

  it('refuses a round the store cannot write: every submitter gets 503, nothing is acknowledged', async () => {
    const store = SqliteCalendarStore.open(join(root, `broken-${++dirs}.db`));
    const s = await serve(store, { height: () => null, pendingTip: () => null });
    try {
      await store.close();
      const res = post(s.url, new Uint8Array(32));
      while (s.aggregator.queued < 1) await new Promise((r) => setTimeout(r, 5));
      await s.aggregator.close();
      const answer = await res;
      assert.equal(answer.status, 503);
      assert.equal(((await answer.json()) as { code: string }).code, 'LP_CAL_STORE_FAILED');
    } finally {
      await s.close();
    }
  });
});
