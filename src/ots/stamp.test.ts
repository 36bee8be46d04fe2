import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ripemd160, sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { isLightproofError } from '../core/errors.js';
import { type FakeCalendar, startFakeCalendar } from './calendar.testkit.js';
import { type DetachedTimestampFile, parseOts, serializeOts } from './file.js';
import { type StampProgress, stamp } from './stamp.js';
import type { Timestamp } from './timestamp.js';

let dir: string;
let cals: FakeCalendar[];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lp-stamp-'));
  cals = await Promise.all([startFakeCalendar(), startFakeCalendar(), startFakeCalendar()]);
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all([...cals.map((c) => c.close()), ...closers.map((c) => c())]);
});

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A calendar that answers every request with `status` and `body`, or never (status 0). */
async function broken(status: number, body = 'nope'): Promise<string> {
  const server = createServer((_req, res) => {
    if (status) res.writeHead(status).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The single chain of ops from the file digest: [append nonce, sha256, ...]. */
function firstOps(ts: Timestamp, n: number): string[] {
  const out: string[] = [];
  let node = ts;
  for (let i = 0; i < n; i++) {
    const [op, child] = node.ops[0]!;
    out.push(op.name);
    node = child;
  }
  return out;
}

function pendingAt(f: DetachedTimestampFile): Map<string, string> {
  return new Map(
    f.timestamp
      .allAttestations()
      .map(({ msg, attestation }) => [
        attestation.kind === 'pending' ? attestation.uri : '?',
        bytesToHex(msg),
      ]),
  );
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(isLightproofError(caught), String(caught));
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('stamp', () => {
  test('one file, one calendar: digest, nonce, sha256, then the calendar path; the calendar sees only the tip', async () => {
    const path = file('one.txt', 'Hello World!\n');
    const cal = cals[0]!;
    const before = cal.received.length;
    const { files, calendars, tip } = await stamp([{ path }], { calendars: [cal.url] });
    assert.equal(files.length, 1);
    const f = files[0]!;
    assert.equal(f.hashOp, 'sha256');
    assert.equal(bytesToHex(f.digest), '03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340');
    assert.deepEqual(firstOps(f.timestamp, 2), ['append', 'sha256']);
    assert.equal(f.timestamp.ops[0]![0].arg!.length, 16, 'a 16-byte nonce');
    assert.deepEqual(calendars, [{ calendar: cal.url, ok: true }]);
    assert.deepEqual(cal.received.slice(before), [tip]);
    assert.notDeepEqual(tip, f.digest);
    assert.equal(pendingAt(f).get(cal.url), cal.commitments.at(-1));
    const again = parseOts(serializeOts(f));
    assert.deepEqual(serializeOts(again), serializeOts(f));
  });

  test('the same file stamped twice gets different nonces, so the proofs reveal no link', async () => {
    const path = file('twice.txt', 'same');
    const a = await stamp([{ path }], { calendars: [cals[0]!.url] });
    const b = await stamp([{ path }], { calendars: [cals[0]!.url] });
    assert.deepEqual(a.files[0]!.digest, b.files[0]!.digest);
    assert.notDeepEqual(a.tip, b.tip);
  });

  for (const n of [2, 3, 7]) {
    test(`${n} inputs, 3 calendars: one tree, one submission per calendar, every proof reaches every calendar`, async () => {
      const inputs = Array.from({ length: n }, (_, i) => ({
        path: file(`multi-${n}-${i}.txt`, `file ${i}`),
      }));
      const counts = cals.map((c) => c.received.length);
      const { files, tip } = await stamp(inputs, { calendars: cals.map((c) => c.url) });
      assert.equal(files.length, n);
      cals.forEach((c, i) => {
        assert.equal(c.received.length, counts[i]! + 1, 'exactly one digest per calendar');
        assert.deepEqual(c.received.at(-1), tip);
      });
      files.forEach((f, i) => {
        assert.deepEqual(
          f.digest,
          sha256(new TextEncoder().encode(`file ${i}`)),
          'proofs come back in input order',
        );
        const pending = pendingAt(f);
        for (const c of cals) assert.equal(pending.get(c.url), c.commitments.at(-1));
      });
      const nonces = new Set(files.map((f) => bytesToHex(f.timestamp.ops[0]![0].arg!)));
      assert.equal(nonces.size, n, 'a nonce per input');
    });
  }

  test('many raw digests, with hash ops of every kind, in one tree', async () => {
    const inputs = Array.from({ length: 200 }, (_, i) => ({ digest: sha256(Uint8Array.of(i, i >> 8)) }));
    inputs.push({ digest: sha1(Uint8Array.of(1)), hashOp: 'sha1' } as never);
    inputs.push({ digest: ripemd160(Uint8Array.of(1)), hashOp: 'ripemd160' } as never);
    inputs.push({ digest: keccak_256(Uint8Array.of(1)), hashOp: 'keccak256' } as never);
    const { files } = await stamp(inputs, { calendars: [cals[0]!.url, cals[1]!.url] });
    assert.equal(files.length, 203);
    assert.deepEqual(
      files.slice(-3).map((f) => f.hashOp),
      ['sha1', 'ripemd160', 'keccak256'],
    );
    for (const f of files) assert.equal(pendingAt(f).size, 2);
  });

  test('streams and other file hash ops are hashed as they arrive', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = file('big.bin', data);
    const { files } = await stamp(
      [{ stream: Readable.from([data.subarray(0, 5), data.subarray(5)]) }, { path, hashOp: 'keccak256' }],
      { calendars: [cals[0]!.url] },
    );
    assert.deepEqual(files[0]!.digest, sha256(data));
    assert.deepEqual(files[1]!.digest, keccak_256(data));
    assert.equal(files[1]!.hashOp, 'keccak256');
  });

  test('progress reports every byte hashed and every calendar answered', async () => {
    const a = file('p-a.bin', randomBytes(2_000_000));
    const b = file('p-b.bin', randomBytes(500_000));
    const seen: StampProgress[] = [];
    await stamp([{ path: a }, { path: b }], {
      calendars: [cals[0]!.url, cals[1]!.url],
      onProgress: (p) => seen.push(p),
    });
    const hashes = seen.filter((p) => p.phase === 'hash');
    assert.deepEqual(hashes.at(-1), { phase: 'hash', done: 2_500_000, total: 2_500_000 });
    for (let i = 1; i < hashes.length; i++) assert.ok(hashes[i]!.done >= hashes[i - 1]!.done);
    assert.deepEqual(seen.at(-1), { phase: 'submit', done: 2, total: 2 });
  });

  test('m of n: succeeds when m calendars answer, and reports the ones that did not', async () => {
    const garbage = await broken(200, 'garbage');
    const down = await broken(503, 'Service Unavailable');
    const { files, calendars } = await stamp([{ digest: sha256(Uint8Array.of(9)) }], {
      calendars: [cals[0]!.url, garbage, down, cals[1]!.url],
      m: 2,
    });
    assert.deepEqual(
      calendars.map((c) => [c.ok, c.error?.code]),
      [
        [true, undefined],
        [false, 'LP_OTS_CALENDAR_BAD_REPLY'],
        [false, 'LP_OTS_CALENDAR_BAD_REPLY'],
        [true, undefined],
      ],
    );
    assert.equal(pendingAt(files[0]!).size, 2);
  });

  test('fewer than m answers is LP_OTS_TOO_FEW_CALENDARS naming each failure', async () => {
    const garbage = await broken(200, 'garbage');
    const silent = await broken(0);
    const err = await rejectsCode(
      stamp([{ digest: sha256(Uint8Array.of(1)) }], {
        calendars: [cals[0]!.url, garbage, silent],
        m: 2,
        timeoutMs: 300,
      }),
      'LP_OTS_TOO_FEW_CALENDARS',
    );
    assert.match(err.message, /Only 1 of 3 calendars answered; 2 are needed/);
    assert.ok(err.message.includes(`${garbage}: LP_OTS_CALENDAR_BAD_REPLY`));
    assert.ok(err.message.includes(`${silent}: LP_OTS_CALENDAR_TIMEOUT`));
  });

  test('the default m is min(2, n): one calendar of two failing is not enough', async () => {
    const down = await broken(500);
    await rejectsCode(
      stamp([{ digest: sha256(Uint8Array.of(2)) }], { calendars: [cals[0]!.url, down] }),
      'LP_OTS_TOO_FEW_CALENDARS',
    );
  });

  test('bad requests are refused before anything is sent', async () => {
    const counts = cals.map((c) => c.received.length);
    await rejectsCode(stamp([]), 'LP_OTS_NOTHING_TO_STAMP');
    await rejectsCode(
      stamp([{ digest: new Uint8Array(31) }], { calendars: [cals[0]!.url] }),
      'LP_OTS_BAD_DIGEST',
    );
    await rejectsCode(
      stamp([{ digest: new Uint8Array(32), hashOp: 'sha1' }], { calendars: [cals[0]!.url] }),
      'LP_OTS_BAD_DIGEST',
    );
    await rejectsCode(
      stamp([{ digest: new Uint8Array(32) }], { calendars: [cals[0]!.url], m: 2 }),
      'LP_OTS_BAD_CALENDARS',
    );
    await rejectsCode(
      stamp([{ digest: new Uint8Array(32) }], { calendars: [cals[0]!.url], m: 0 }),
      'LP_OTS_BAD_CALENDARS',
    );
    await rejectsCode(stamp([{ digest: new Uint8Array(32) }], { calendars: [] }), 'LP_OTS_BAD_CALENDARS');
    await rejectsCode(
      stamp([{ digest: new Uint8Array(32) }], { calendars: ['ftp://x'] }),
      'LP_OTS_CALENDAR_BAD_URL',
    );
    await rejectsCode(
      stamp([{ path: join(dir, 'missing') }], { calendars: [cals[0]!.url] }),
      'LP_OTS_FILE_UNREADABLE',
    );
    await rejectsCode(stamp([{ path: dir }], { calendars: [cals[0]!.url] }), 'LP_OTS_FILE_UNREADABLE');
    assert.deepEqual(
      cals.map((c) => c.received.length),
      counts,
    );
  });
});
