import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { runOts } from '../../test/support/ots-peer.js';
import { isLightproofError } from '../core/errors.js';
import { bitcoinReply, type FakeCalendar, startFakeCalendar } from './calendar.testkit.js';
import { CalendarWhitelist } from './calendar-client.js';
import { parseOts, serializeOts } from './file.js';
import { formatInfo } from './info.js';
import { SHA256 } from './ops.js';
import { stamp } from './stamp.js';
import { Timestamp } from './timestamp.js';
import { upgradeTimestamp } from './upgrade.js';

const open: FakeCalendar[] = [];
after(() => Promise.all(open.map((c) => c.close())));

async function calendars(n: number): Promise<FakeCalendar[]> {
  const out = await Promise.all(Array.from({ length: n }, () => startFakeCalendar()));
  open.push(...out);
  return out;
}

const local = () => new CalendarWhitelist(['http://127.0.0.1:*']);

async function stamped(cals: FakeCalendar[], seed = 0) {
  const { files } = await stamp([{ digest: sha256(Uint8Array.of(seed)) }], {
    calendars: cals.map((c) => c.url),
  });
  return files[0]!;
}

const kinds = (ts: Timestamp) =>
  ts
    .allAttestations()
    .map(({ attestation: a }) =>
      a.kind === 'pending' ? `pending ${a.uri}` : a.kind === 'bitcoin' ? `bitcoin ${a.height}` : a.kind,
    )
    .sort();

describe('upgradeTimestamp', () => {
  test('while the calendars are pending nothing changes, and their answers are reported', async () => {
    const cals = await calendars(2);
    const f = await stamped(cals);
    const before = serializeOts(f);
    const r = await upgradeTimestamp(f.timestamp, { whitelist: local() });
    assert.equal(r.changed, false);
    assert.equal(r.complete, false);
    assert.deepEqual(
      r.pending.map((p) => p.message),
      ['Pending confirmation in Bitcoin blockchain', 'Pending confirmation in Bitcoin blockchain'],
    );
    assert.deepEqual(serializeOts(f), before);
  });

  test('a completed calendar path is merged; the other pending attestation is kept', async () => {
    const [a, b] = await calendars(2);
    const f = await stamped([a!, b!], 1);
    a!.complete(bitcoinReply(700_000));
    const r = await upgradeTimestamp(f.timestamp, { whitelist: local() });
    assert.equal(r.changed, true);
    assert.equal(r.complete, true);
    assert.deepEqual(r.added, [{ calendar: a!.url, attestation: { kind: 'bitcoin', height: 700_000 } }]);
    assert.deepEqual(kinds(f.timestamp), ['bitcoin 700000', `pending ${a!.url}`, `pending ${b!.url}`].sort());
    const bitcoinAt = f.timestamp.allAttestations().find((x) => x.attestation.kind === 'bitcoin')!;
    assert.deepEqual(bitcoinAt.msg, sha256(Buffer.from(a!.commitments[0]!, 'hex')));
    const reread = parseOts(serializeOts(f));
    assert.deepEqual(kinds(reread.timestamp), kinds(f.timestamp));
  });

  test('a calendar that fails is reported, not thrown, and the others still count', async () => {
    const [good] = await calendars(1);
    const server = createServer((_req, res) => res.writeHead(500).end('down'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const badUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const f = await stamped([good!], 2);
      f.timestamp.add(SHA256).attest({ kind: 'pending', uri: badUrl });
      good!.complete(bitcoinReply(5));
      const r = await upgradeTimestamp(f.timestamp, { whitelist: local() });
      assert.equal(r.complete, true);
      assert.deepEqual(
        r.errors.map((e) => [e.calendar, e.error.code]),
        [[badUrl, 'LP_OTS_CALENDAR_BAD_REPLY']],
      );
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('calendars off the whitelist are not contacted; with none left it is LP_OTS_UPGRADE_NO_CALENDAR', async () => {
    const [cal] = await calendars(1);
    const f = await stamped([cal!], 3);
    const asked = cal!.requests.length;
    await assert.rejects(upgradeTimestamp(f.timestamp), (err: unknown) => {
      assert.ok(isLightproofError(err, 'LP_OTS_UPGRADE_NO_CALENDAR'));
      assert.ok(err.message.includes(cal!.url));
      assert.match(err.message, /whitelist/);
      return true;
    });
    assert.equal(cal!.requests.length, asked);
  });

  test('-c calendars are asked instead of the ones the proof names', async () => {
    const [named, mirror] = await calendars(2);
    const f = await stamped([named!], 4);
    const commitment = named!.commitments[0]!;
    mirror!.complete(bitcoinReply(9), [commitment]);
    const r = await upgradeTimestamp(f.timestamp, { calendars: [mirror!.url] });
    assert.equal(r.complete, true);
    assert.equal(r.added[0]!.calendar, mirror!.url);
    assert.equal(named!.requests.filter((q) => q.startsWith('GET')).length, 0);
    assert.deepEqual(mirror!.requests.at(-1), `GET /timestamp/${commitment}`);
  });

  test('new pending attestations in a reply are followed in the next round, each asked once', async () => {
    const [first, second] = await calendars(2);
    const f = await stamped([first!], 5);
    const c1 = first!.commitments[0]!;
    const c2 = bytesToHex(sha256(Buffer.from(c1, 'hex')));
    first!.complete((c) => {
      const ts = new Timestamp(c);
      ts.add(SHA256).attest({ kind: 'pending', uri: second!.url });
      return ts;
    });
    second!.complete(bitcoinReply(77), [c2]);
    const r = await upgradeTimestamp(f.timestamp, { whitelist: local(), maxRounds: 5 });
    assert.equal(r.complete, true);
    assert.deepEqual(
      r.added.map((a) => a.calendar),
      [first!.url, second!.url],
    );
    assert.deepEqual(
      first!.requests.filter((q) => q.startsWith('GET')),
      [`GET /timestamp/${c1}`],
    );
    assert.deepEqual(
      second!.requests.filter((q) => q.startsWith('GET')),
      [`GET /timestamp/${c2}`],
    );
  });

  test('the rounds are bounded', async () => {
    const [cal] = await calendars(1);
    const f = await stamped([cal!], 6);
    // Every answer hands the commitment on to yet another calendar, forever.
    let hops = 0;
    const chase = (c: Uint8Array): Timestamp => {
      const ts = new Timestamp(c);
      const next = ts.add(SHA256);
      next.attest({ kind: 'pending', uri: `http://hop-${++hops}.example` });
      cal!.complete(chase, [bytesToHex(next.msg)]);
      return ts;
    };
    cal!.complete(chase);
    const r = await upgradeTimestamp(f.timestamp, { calendars: [cal!.url], maxRounds: 3 });
    assert.equal(r.complete, false);
    assert.equal(r.changed, true);
    assert.equal(cal!.requests.filter((q) => q.startsWith('GET')).length, 3);
  });

  test('an answer that brings nothing new leaves the proof as it was', async () => {
    const [cal] = await calendars(1);
    const f = await stamped([cal!], 7);
    cal!.complete((c) => {
      const ts = new Timestamp(c);
      ts.attest({ kind: 'pending', uri: cal!.url });
      return ts;
    });
    const before = serializeOts(f);
    const r = await upgradeTimestamp(f.timestamp, { whitelist: local() });
    assert.equal(r.changed, false);
    assert.deepEqual(serializeOts(f), before);
  });

  test('a complete proof is left alone and no calendar is asked', async () => {
    const [cal] = await calendars(1);
    const f = await stamped([cal!], 8);
    f.timestamp.add(SHA256).attest({ kind: 'bitcoin', height: 1 });
    const asked = cal!.requests.length;
    const r = await upgradeTimestamp(f.timestamp, { whitelist: local() });
    assert.deepEqual([r.changed, r.complete], [false, true]);
    assert.equal(cal!.requests.length, asked);
  });

  test('a proof with no pending attestation and no Bitcoin one cannot be upgraded', async () => {
    const ts = new Timestamp(sha256(Uint8Array.of(1)));
    ts.attest({ kind: 'unknown', tag: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), payload: Uint8Array.of(1) });
    await assert.rejects(upgradeTimestamp(ts), (err: unknown) =>
      isLightproofError(err, 'LP_OTS_UPGRADE_NO_CALENDAR'),
    );
  });
});

describe('with the reference client', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lp-ots-upgrade-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('a proof ots stamped is upgraded here, and ots reads the result as we do', async () => {
    const [cal] = await calendars(1);
    const target = join(scratch, 'by-python.txt');
    writeFileSync(target, 'stamped by the reference client');
    const stamped = await runOts(['stamp', '-c', cal!.url, '-m', '1', target]);
    assert.equal(stamped.code, 0, stamped.stderr);
    const file = parseOts(readFileSync(`${target}.ots`));
    assert.deepEqual(cal!.received.length, 1);
    cal!.complete(bitcoinReply(812_345));
    const r = await upgradeTimestamp(file.timestamp, { whitelist: local() });
    assert.deepEqual([r.changed, r.complete], [true, true]);
    writeFileSync(`${target}.ots`, serializeOts(file));
    const info = await runOts(['info', `${target}.ots`]);
    assert.equal(info.code, 0, info.stderr);
    assert.equal(info.stdout, formatInfo(file));
    assert.match(info.stdout, /verify BitcoinBlockHeaderAttestation\(812345\)/);
  });

  test('ots upgrades a proof stamped here, through the same calendar path', async () => {
    const [cal] = await calendars(1);
    const f = await stamped([cal!], 9);
    const path = join(scratch, 'by-us.ots');
    writeFileSync(path, serializeOts(f));
    cal!.complete(bitcoinReply(812_346));
    const up = await runOts(['upgrade', '-c', cal!.url, path]);
    assert.equal(up.code, 0, up.stderr);
    const theirs = parseOts(readFileSync(path));
    await upgradeTimestamp(f.timestamp, { whitelist: local() });
    assert.equal(formatInfo(theirs), formatInfo(f));
  });
});
