/**
 * `lightproof ots stamp|upgrade|verify|info` as real child processes, against fake calendars on
 * 127.0.0.1 and a regtest header chain mined in the test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { hexLines, regtestChain, rootFor } from '../bitcoin/headers/headers.testkit.js';
import { bitcoinReply, type FakeCalendar, startFakeCalendar } from '../ots/calendar.testkit.js';
import { parseOts } from '../ots/index.js';
import { formatInfo } from '../ots/info.js';
import { formatBytes, progressBar } from './progress.js';

const entry = fileURLToPath(new URL('./main.ts', import.meta.url));
let dir: string;
let a: FakeCalendar;
let b: FakeCalendar;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lp-ots-cli-'));
  [a, b] = await Promise.all([startFakeCalendar(), startFakeCalendar()]);
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all([a.close(), b.close()]);
});

interface Run {
  status: number | null;
  out: Buffer;
  err: string;
}

/** Runs the CLI without blocking this process, whose event loop serves the calendars it talks to. */
function cli(args: string[], stdin?: Uint8Array): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args]);
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  child.stdin.end(stdin);
  return new Promise((resolve) =>
    child.on('close', (status) => resolve({ status, out: Buffer.concat(out), err })),
  );
}

const path = (name: string) => join(dir, name);
const write = (name: string, content: string | Uint8Array) => {
  writeFileSync(path(name), content);
  return path(name);
};
const cals = () => ['-c', a.url, '-c', b.url];
const local = ['--whitelist', 'http://127.0.0.1:*'];
const kinds = (file: string) =>
  parseOts(readFileSync(file))
    .timestamp.allAttestations()
    .map((x) => x.attestation.kind)
    .sort();

describe('lightproof ots stamp', () => {
  test('writes FILE.ots with a pending attestation from each calendar, and never overwrites it', async () => {
    const f = write('a.txt', 'Hello World!\n');
    const r = await cli(['ots', 'stamp', f, ...cals()]);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /Stamped 1 input with 2 of 2 calendars/);
    const proof = parseOts(readFileSync(`${f}.ots`));
    assert.equal(
      bytesToHex(proof.digest),
      '03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340',
    );
    assert.deepEqual(kinds(`${f}.ots`), ['pending', 'pending']);

    const before = readFileSync(`${f}.ots`);
    const again = await cli(['ots', 'stamp', f, ...cals()]);
    assert.equal(again.status, 1);
    assert.match(again.err, /^error LP_OTS_OUTPUT_EXISTS: .*a\.txt\.ots already exists/m);
    assert.deepEqual(readFileSync(`${f}.ots`), before);
  });

  test('stamps stdin to stdout, and digests to <hex>.ots in -o DIR', async () => {
    const r = await cli(['ots', 'stamp', '-', ...cals()], new TextEncoder().encode('from stdin'));
    assert.equal(r.status, 0, r.err);
    assert.equal(
      bytesToHex(parseOts(r.out).digest),
      bytesToHex(sha256(new TextEncoder().encode('from stdin'))),
    );

    mkdirSync(path('out'));
    const hex = bytesToHex(sha256(Uint8Array.of(42)));
    const d = await cli([
      'ots',
      'stamp',
      '--digest',
      hex.toUpperCase(),
      '-o',
      path('out'),
      ...cals(),
      '--json',
    ]);
    assert.equal(d.status, 0, d.err);
    const report = JSON.parse(d.out.toString()) as {
      files: { output: string }[];
      calendars: { ok: boolean }[];
    };
    assert.equal(report.files[0]!.output, join(path('out'), `${hex}.ots`));
    assert.deepEqual(
      report.calendars.map((c) => c.ok),
      [true, true],
    );
    assert.equal(bytesToHex(parseOts(readFileSync(join(path('out'), `${hex}.ots`))).digest), hex);
  });

  test('several files go into one tree: each calendar gets one digest', async () => {
    const files = [write('m1', '1'), write('m2', '2'), write('m3', '3')];
    const before = [a.received.length, b.received.length];
    const r = await cli(['ots', 'stamp', ...files, ...cals(), '-q']);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.err, '');
    assert.deepEqual([a.received.length, b.received.length], [before[0]! + 1, before[1]! + 1]);
    for (const f of files) assert.deepEqual(kinds(`${f}.ots`), ['pending', 'pending']);
  });

  test('too few calendars answering exits 1 and writes nothing', async () => {
    const f = write('fail.txt', 'x');
    const r = await cli(['ots', 'stamp', f, '-c', a.url, '-c', 'http://127.0.0.1:1', '-m', '2']);
    assert.equal(r.status, 1);
    assert.match(
      r.err,
      /^error LP_OTS_TOO_FEW_CALENDARS: Only 1 of 2 calendars answered.*LP_OTS_CALENDAR_UNREACHABLE/m,
    );
    assert.equal(existsSync(`${f}.ots`), false);
  });

  test('usage errors exit 2 with a code, before any calendar is asked', async () => {
    const f = write('u.txt', 'u');
    const before = a.received.length;
    for (const [args, code] of [
      [['ots', 'stamp'], 'LP_OTS_NOTHING_TO_STAMP'],
      [['ots', 'stamp', '--digest', 'abcd', '-c', a.url], 'LP_OTS_BAD_DIGEST'],
      [['ots', 'stamp', f, '-c', a.url, '-m', '2'], 'LP_OTS_BAD_CALENDARS'],
      [['ots', 'stamp', f, '-c', 'ftp://x'], 'LP_OTS_CALENDAR_BAD_URL'],
      [['ots', 'stamp', f, '-c', a.url, '--timeout', 'soon'], 'LP_CLI_BAD_SECONDS'],
      [['ots', 'stamp', f, '--hash', 'md5', '-c', a.url], 'LP_OTS_BAD_HASH'],
      [['ots', 'stamp', '-', '-', '-c', a.url], 'LP_CLI_USAGE'],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`^error ${code}: `, 'm'), args.join(' '));
    }
    const unknown = await cli(['ots', 'stamp', f, '--frobnicate']);
    assert.equal(unknown.status, 2);
    assert.equal(a.received.length, before);
    assert.equal(existsSync(`${f}.ots`), false);
  });

  test('a missing file exits 1 with LP_OTS_FILE_UNREADABLE', async () => {
    const r = await cli(['ots', 'stamp', path('nope.txt'), '-c', a.url]);
    assert.equal(r.status, 1);
    assert.match(r.err, /^error LP_OTS_FILE_UNREADABLE: Cannot read .*nope\.txt: it does not exist/m);
  });
});

describe('lightproof ots upgrade', () => {
  test('pending: exit 1 LP_OTS_INCOMPLETE, the calendar text shown, nothing written', async () => {
    const f = write('p.txt', 'pending');
    assert.equal((await cli(['ots', 'stamp', f, '-c', a.url])).status, 0);
    const before = readFileSync(`${f}.ots`);
    const r = await cli(['ots', 'upgrade', `${f}.ots`, ...local]);
    assert.equal(r.status, 1);
    assert.match(r.err, /p\.txt\.ots: pending\n.*Pending confirmation in Bitcoin blockchain/);
    assert.match(r.err, /^error LP_OTS_INCOMPLETE: /m);
    assert.deepEqual(readFileSync(`${f}.ots`), before);
    assert.equal(existsSync(`${f}.ots.bak`), false);
  });

  test('complete: the Bitcoin attestation is merged, the old proof kept as .bak, exit 0', async () => {
    const f = write('c.txt', 'complete');
    assert.equal((await cli(['ots', 'stamp', f, ...cals()])).status, 0);
    const before = readFileSync(`${f}.ots`);
    a.complete(bitcoinReply(3));
    const dry = await cli(['ots', 'upgrade', '-n', `${f}.ots`, ...local]);
    assert.equal(dry.status, 0, dry.err);
    assert.match(dry.err, /complete \(changes not written: --dry-run\)/);
    assert.deepEqual(readFileSync(`${f}.ots`), before);

    const r = await cli(['ots', 'upgrade', `${f}.ots`, ...local]);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(readFileSync(`${f}.ots.bak`), before);
    assert.deepEqual(kinds(`${f}.ots`), ['bitcoin', 'pending', 'pending']);

    const again = await cli(['ots', 'upgrade', `${f}.ots`, ...local, '--json']);
    assert.equal(again.status, 0, again.err);
    assert.deepEqual(
      (JSON.parse(again.out.toString()) as { changed: boolean; complete: boolean }[]).map((x) => [
        x.changed,
        x.complete,
      ]),
      [[false, true]],
    );
  });

  test('an existing .bak stops the upgrade with LP_OTS_BACKUP_EXISTS, the proof untouched', async () => {
    const f = write('k.txt', 'bak');
    assert.equal((await cli(['ots', 'stamp', f, '-c', a.url])).status, 0);
    a.complete(bitcoinReply(4));
    writeFileSync(`${f}.ots.bak`, 'older');
    const before = readFileSync(`${f}.ots`);
    const r = await cli(['ots', 'upgrade', `${f}.ots`, ...local]);
    assert.equal(r.status, 1);
    assert.match(r.err, /^error LP_OTS_BACKUP_EXISTS: /m);
    assert.deepEqual(readFileSync(`${f}.ots`), before);
    assert.equal(readFileSync(`${f}.ots.bak`, 'utf8'), 'older');
  });

  test('--wait tries again until the calendar has the path', async () => {
    let gets = 0;
    const slow = await startFakeCalendar({
      intercept: (req, res) => {
        if (req.method !== 'GET' || ++gets > 1) return false;
        slow.complete(bitcoinReply(5));
        res.writeHead(404).end('Pending confirmation in Bitcoin blockchain');
        return true;
      },
    });
    try {
      const f = write('w.txt', 'wait');
      assert.equal((await cli(['ots', 'stamp', f, '-c', slow.url])).status, 0);
      const r = await cli(['ots', 'upgrade', `${f}.ots`, ...local, '--wait', '--wait-interval', '0.1']);
      assert.equal(r.status, 0, r.err);
      assert.match(r.err, /1 proof still pending; trying again in 0\.1 s/);
      assert.equal(gets, 2);
      assert.deepEqual(kinds(`${f}.ots`), ['bitcoin', 'pending']);
    } finally {
      await slow.close();
    }
  });

  test('a proof whose calendar is not whitelisted names the calendar (exit 1); bad files fail with their code', async () => {
    const f = write('nw.txt', 'nw');
    assert.equal((await cli(['ots', 'stamp', f, '-c', b.url])).status, 0);
    const r = await cli(['ots', 'upgrade', `${f}.ots`]);
    assert.equal(r.status, 1);
    assert.match(r.err, /^error LP_OTS_UPGRADE_NO_CALENDAR: .*not on the calendar whitelist/m);

    const junk = write('junk.ots', 'not a proof');
    const bad = await cli(['ots', 'upgrade', junk]);
    assert.equal(bad.status, 1);
    assert.match(bad.err, /^error LP_OTS_BAD_MAGIC: /m);
  });
});

describe('lightproof ots upgrade usage', () => {
  test('usage errors exit 2', async () => {
    for (const [args, code] of [
      [['ots', 'upgrade', '-'], 'LP_CLI_USAGE'],
      [['ots', 'upgrade', 'x.ots', '--wait-interval', '0'], 'LP_CLI_BAD_SECONDS'],
      [['ots', 'upgrade', 'x.ots', '-c', 'https://u:p@cal.example'], 'LP_OTS_CALENDAR_BAD_URL'],
      [['ots', 'upgrade', 'x.ots', '--whitelist', 'https://*.example/?q'], 'LP_OTS_CALENDAR_BAD_URL'],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`^error ${code}: `, 'm'), args.join(' '));
    }
  });
});

describe('lightproof ots verify', () => {
  let proofFile: string;
  let target: string;

  before(async () => {
    target = write('v.txt', 'verify me');
    assert.equal((await cli(['ots', 'stamp', target, '-c', a.url])).status, 0);
    a.complete(bitcoinReply(3));
    assert.equal((await cli(['ots', 'upgrade', `${target}.ots`, ...local])).status, 0);
    proofFile = `${target}.ots`;
  });

  /** A regtest chain whose block 3 has the proof's merkle root (or not, with `honest` false). */
  function headers(name: string, honest: boolean): string {
    const proof = parseOts(readFileSync(proofFile));
    const root = proof.timestamp.allAttestations().find((x) => x.attestation.kind === 'bitcoin')!.msg;
    const chain = regtestChain(6, (h) => (h === 3 && honest ? root : rootFor(h)));
    return write(name, hexLines(chain));
  }

  test('prints the block and its time and exits 0 when the merkle root matches', async () => {
    const r = await cli([
      'ots',
      'verify',
      proofFile,
      '--headers',
      headers('good.txt', true),
      '--network',
      'regtest',
    ]);
    assert.equal(r.status, 0, r.err);
    assert.match(
      r.out.toString(),
      /^Success! Bitcoin block 3 attests existence as of 2023-11-14T22:43:20Z\n/,
    );
    assert.match(r.out.toString(), /block 3, hash [0-9a-f]{64}, time 1700001800 /);

    const json = await cli([
      'ots',
      'verify',
      proofFile,
      '--headers',
      path('good.txt'),
      '--network',
      'regtest',
      '--json',
    ]);
    assert.equal(json.status, 0, json.err);
    const report = JSON.parse(json.out.toString()) as {
      verified: boolean;
      earliest: { height: number; time: number };
    };
    assert.deepEqual(
      [report.verified, report.earliest.height, report.earliest.time],
      [true, 3, 1_700_001_800],
    );
  });

  test('-d with the digest works as -f does', async () => {
    const hex = bytesToHex(sha256(new TextEncoder().encode('verify me')));
    const r = await cli([
      'ots',
      'verify',
      '-d',
      hex,
      proofFile,
      '--headers',
      path('good.txt'),
      '--network',
      'regtest',
    ]);
    assert.equal(r.status, 0, r.err);
  });

  test('a header with another merkle root: exit 1, never "Success"', async () => {
    const r = await cli([
      'ots',
      'verify',
      proofFile,
      '--headers',
      headers('bad.txt', false),
      '--network',
      'regtest',
    ]);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.out.toString(), /Success/);
    assert.match(r.err, /LP_OTS_MERKLEROOT_MISMATCH/);
    assert.match(r.err, /^error LP_OTS_NOT_VERIFIED: /m);
  });

  test('a changed file is LP_OTS_DIGEST_MISMATCH; a pending proof is LP_OTS_INCOMPLETE', async () => {
    const other = write('other.txt', 'not the stamped bytes');
    const r = await cli([
      'ots',
      'verify',
      proofFile,
      '-f',
      other,
      '--headers',
      path('good.txt'),
      '--network',
      'regtest',
    ]);
    assert.equal(r.status, 1);
    assert.match(r.err, /^error LP_OTS_DIGEST_MISMATCH: /m);

    const p = write('pv.txt', 'pending verify');
    assert.equal((await cli(['ots', 'stamp', p, '-c', b.url])).status, 0);
    const pending = await cli([
      'ots',
      'verify',
      `${p}.ots`,
      '--headers',
      path('good.txt'),
      '--network',
      'regtest',
      '--no-upgrade',
    ]);
    assert.equal(pending.status, 1);
    assert.match(pending.err, /^error LP_OTS_INCOMPLETE: /m);
  });

  test('a pending proof is upgraded in memory first, from a whitelisted calendar, and the file is left alone', async () => {
    const p = write('mem.txt', 'in memory');
    assert.equal((await cli(['ots', 'stamp', p, '-c', b.url])).status, 0);
    const before = readFileSync(`${p}.ots`);
    b.complete(bitcoinReply(3));
    const root = parseOts(before).timestamp.allAttestations()[0]!.msg;
    const chain = regtestChain(6, (h) => (h === 3 ? sha256(root) : rootFor(h)));
    const hf = write('mem-headers.txt', hexLines(chain));
    const r = await cli(['ots', 'verify', `${p}.ots`, '--headers', hf, '--network', 'regtest', ...local]);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(readFileSync(`${p}.ots`), before);
  });

  test('usage errors exit 2', async () => {
    for (const [args, code] of [
      [['ots', 'verify', proofFile], 'LP_OTS_NO_HEADER_SOURCE'],
      [
        ['ots', 'verify', proofFile, '--headers', 'x', '--esplora', 'http://127.0.0.1:1'],
        'LP_OTS_NO_HEADER_SOURCE',
      ],
      [['ots', 'verify', proofFile, '-f', target, '-d', 'ab', '--headers', 'x'], 'LP_CLI_USAGE'],
      [['ots', 'verify', proofFile, '--headers', 'x', '--network', 'moon'], 'LP_BTC_BAD_NETWORK'],
      [['ots', 'verify', target, '--headers', 'x'], 'LP_CLI_USAGE'],
      [['ots', 'verify', proofFile, '-d', 'xyz', '--headers', 'x'], 'LP_OTS_BAD_DIGEST'],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, new RegExp(`^error ${code}: `, 'm'), args.join(' '));
    }
  });
});

describe('lightproof ots info', () => {
  test('prints what formatInfo prints, from a file or stdin', async () => {
    const f = write('i.txt', 'info');
    assert.equal((await cli(['ots', 'stamp', f, ...cals()])).status, 0);
    const expected = formatInfo(parseOts(readFileSync(`${f}.ots`)));
    const r = await cli(['ots', 'info', `${f}.ots`]);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out.toString(), expected);
    assert.match(expected, /^File sha256 hash: [0-9a-f]{64}\nTimestamp:\nappend [0-9a-f]{32}\nsha256\n -> /);
    const piped = await cli(['ots', 'info', '-'], readFileSync(`${f}.ots`));
    assert.equal(piped.out.toString(), expected);
    const verbose = await cli(['ots', 'info', '-v', `${f}.ots`]);
    assert.match(verbose.out.toString(), /\nsha256 == [0-9a-f]{64}\n/);
  });

  test('a damaged or missing proof exits 1 with its code', async () => {
    const f = write('t.txt', 'trunc');
    assert.equal((await cli(['ots', 'stamp', f, '-c', a.url])).status, 0);
    const bytes = readFileSync(`${f}.ots`);
    const cut = write('cut.ots', bytes.subarray(0, bytes.length - 3));
    const r = await cli(['ots', 'info', cut]);
    assert.equal(r.status, 1);
    assert.match(r.err, /^error LP_OTS_TRUNCATED: .*cut\.ots/m);
    const missing = await cli(['ots', 'info', path('none.ots')]);
    assert.equal(missing.status, 1);
    assert.match(missing.err, /^error LP_OTS_FILE_UNREADABLE: /m);
  });

  test('every verb has --help with an example', async () => {
    for (const verb of ['stamp', 'upgrade', 'verify', 'info']) {
      const r = await cli(['ots', verb, '--help']);
      assert.equal(r.status, 0);
      assert.match(r.out.toString(), /Example:\n {2}\$ lightproof ots /, verb);
    }
  });
});

describe('the progress bar', () => {
  const fake = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, stream: { isTTY, columns: 80, write: (t: string) => writes.push(t) } };
  };

  test('draws on a terminal, always at the end, and clears its line', () => {
    const t = fake(true);
    const bar = progressBar({ label: 'hashing', unit: 'bytes', stream: t.stream });
    bar.update(0, 2_500_000);
    bar.update(2_500_000, 2_500_000);
    bar.finish();
    const last = t.writes.at(-2)!;
    assert.ok(
      last.startsWith('\rhashing [#') && last.endsWith('] 100% 2.5 MB/2.5 MB\u001b[K'),
      JSON.stringify(last),
    );
    assert.equal(t.writes.at(-1), '\r\u001b[K');
  });

  test('is silent when not a terminal, or with --quiet', () => {
    for (const [isTTY, quiet] of [
      [false, false],
      [true, true],
    ] as const) {
      const t = fake(isTTY);
      const bar = progressBar({ label: 'x', stream: t.stream, quiet });
      bar.update(1, 1);
      bar.finish();
      assert.deepEqual(t.writes, []);
    }
  });

  test('formats bytes', () => {
    assert.deepEqual([0, 999, 1000, 1_234_567, 5e12].map(formatBytes), [
      '0 B',
      '999 B',
      '1.0 KB',
      '1.2 MB',
      '5.0 TB',
    ]);
  });
});
