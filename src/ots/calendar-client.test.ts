import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../core/errors.js';
import { bitcoinReply, startFakeCalendar } from './calendar.testkit.js';
import {
  CalendarWhitelist,
  checkCalendarUrl,
  DEFAULT_CALENDARS,
  getTimestamp,
  MAX_REPLY_BYTES,
  sanitiseMessage,
  submitDigest,
} from './calendar-client.js';
import { append, SHA256 } from './ops.js';
import { Timestamp, writeTimestamp } from './timestamp.js';

interface Served {
  url: string;
  seen: IncomingMessage[];
  close(): Promise<void>;
}

const servers: Served[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A one-off HTTP server on 127.0.0.1 and a free port, answering with `handler`. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
): Promise<Served> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s: Served = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}, but it resolved`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(isLightproofError(caught), `expected a LightproofError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const digest = () => randomBytes(32);

describe('submitDigest', () => {
  test('posts the raw digest with the reference headers and returns the subtree rooted at it', async () => {
    const cal = await startFakeCalendar();
    try {
      const d = digest();
      const ts = await submitDigest(cal.url, d);
      assert.deepEqual(ts.msg, d);
      assert.deepEqual(cal.received, [d]);
      const [pending] = ts.allAttestations();
      assert.deepEqual(pending?.attestation, { kind: 'pending', uri: cal.url });
      assert.equal(bytesToHex(pending!.msg), cal.commitments[0]);
    } finally {
      await cal.close();
    }
  });

  test('sends Accept and a lightproof User-Agent, and keeps the base path of the URL', async () => {
    const s = await serve((_req, res, body) => {
      const ts = new Timestamp(new Uint8Array(body));
      ts.add(SHA256).attest({ kind: 'pending', uri: 'http://127.0.0.1/cal' });
      res.end(writeTimestamp(ts));
    });
    await submitDigest(`${s.url}/some/base/`, digest());
    const req = s.seen[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/some/base/digest');
    assert.equal(req.headers.accept, 'application/vnd.opentimestamps.v1');
    assert.match(req.headers['user-agent'] ?? '', /^lightproof\/\d+\.\d+\.\d+/);
  });

  test('a reply that is not a timestamp is LP_OTS_CALENDAR_BAD_REPLY', async () => {
    const s = await serve((_req, res) => res.end('<html>hello</html>'));
    await rejectsCode(submitDigest(s.url, digest()), 'LP_OTS_CALENDAR_BAD_REPLY');
    const empty = await serve((_req, res) => res.end());
    await rejectsCode(submitDigest(empty.url, digest()), 'LP_OTS_CALENDAR_BAD_REPLY');
  });

  test('an error status is LP_OTS_CALENDAR_BAD_REPLY naming the status, with the text sanitised', async () => {
    const s = await serve((_req, res) => res.writeHead(500).end('boom\n\u001b[31mred'));
    const err = await rejectsCode(submitDigest(s.url, digest()), 'LP_OTS_CALENDAR_BAD_REPLY');
    assert.match(err.message, /HTTP 500 \(boom___31mred\)/);
  });

  test('more than 10,000 bytes is LP_OTS_CALENDAR_TOO_LARGE, and the client stops reading', async () => {
    let finished = false;
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0xff);
      let sent = 0;
      const pump = () => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end(() => {
          finished = true;
        });
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await rejectsCode(submitDigest(s.url, digest()), 'LP_OTS_CALENDAR_TOO_LARGE');
    assert.equal(finished, false, 'the 64 MiB reply was not read to its end');
  });

  test('a declared Content-Length past the limit is refused before reading', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(MAX_REPLY_BYTES + 1) });
      res.end(Buffer.alloc(MAX_REPLY_BYTES + 1));
    });
    await rejectsCode(submitDigest(s.url, digest()), 'LP_OTS_CALENDAR_TOO_LARGE');
  });

  test('a calendar that never answers is LP_OTS_CALENDAR_TIMEOUT', async () => {
    const s = await serve(() => {});
    const err = await rejectsCode(
      submitDigest(s.url, digest(), { timeoutMs: 200 }),
      'LP_OTS_CALENDAR_TIMEOUT',
    );
    assert.match(err.message, /0\.2 s/);
  });

  test('a calendar that stalls mid-reply is LP_OTS_CALENDAR_TIMEOUT too', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200);
      res.write(Uint8Array.of(0x08));
    });
    await rejectsCode(submitDigest(s.url, digest(), { timeoutMs: 200 }), 'LP_OTS_CALENDAR_TIMEOUT');
  });

  test('a redirect is not followed: LP_OTS_CALENDAR_REDIRECT, the target never asked', async () => {
    const target = await startFakeCalendar();
    try {
      const s = await serve((_req, res) => res.writeHead(307, { Location: `${target.url}/digest` }).end());
      const err = await rejectsCode(submitDigest(s.url, digest()), 'LP_OTS_CALENDAR_REDIRECT');
      assert.match(err.message, /HTTP 307/);
      assert.equal(target.requests.length, 0);
    } finally {
      await target.close();
    }
  });

  test('a closed port is LP_OTS_CALENDAR_UNREACHABLE', async () => {
    const s = await serve(() => {});
    await s.close();
    await rejectsCode(submitDigest(s.url, digest()), 'LP_OTS_CALENDAR_UNREACHABLE');
  });

  test('an abort signal gives LP_OTS_CALENDAR_CANCELLED', async () => {
    const s = await serve(() => {});
    const ac = new AbortController();
    const p = submitDigest(s.url, digest(), { signal: ac.signal, timeoutMs: 60_000 });
    ac.abort();
    await rejectsCode(p, 'LP_OTS_CALENDAR_CANCELLED');
  });

  test('an empty or oversized digest is LP_OTS_BAD_DIGEST, before any request', async () => {
    await rejectsCode(submitDigest('http://127.0.0.1:1', new Uint8Array(0)), 'LP_OTS_BAD_DIGEST');
    await rejectsCode(submitDigest('http://127.0.0.1:1', new Uint8Array(65)), 'LP_OTS_BAD_DIGEST');
  });
});

describe('getTimestamp', () => {
  test('404 is pending, with the calendar text', async () => {
    const cal = await startFakeCalendar();
    try {
      const reply = await getTimestamp(cal.url, digest());
      assert.deepEqual(reply, { pending: 'Pending confirmation in Bitcoin blockchain' });
    } finally {
      await cal.close();
    }
  });

  test('a hostile 404 text is cut to 160 safe characters, one line', async () => {
    const hostile = `Not found\nSuccess! Bitcoin block 1 attests \u001b[32m<script>${'x'.repeat(400)}`;
    const s = await serve((_req, res) => res.writeHead(404).end(hostile));
    const reply = await getTimestamp(s.url, digest());
    assert.ok('pending' in reply);
    assert.equal(reply.pending.length, 160);
    assert.match(reply.pending, /^[A-Za-z0-9#\-.,; _]+$/);
    assert.ok(reply.pending.startsWith('Not found_Success_ Bitcoin block 1 attests __32m_script_'));
  });

  test('200 is the subtree rooted at the commitment, asked for by lower-case hex', async () => {
    const cal = await startFakeCalendar();
    try {
      await submitDigest(cal.url, digest());
      cal.complete(bitcoinReply(812));
      const commitment = new Uint8Array(Buffer.from(cal.commitments[0]!, 'hex'));
      const ts = await getTimestamp(cal.url, commitment);
      assert.ok(ts instanceof Timestamp);
      assert.deepEqual(ts.msg, commitment);
      assert.ok(ts.isComplete());
      assert.equal(cal.requests.at(-1), `GET /timestamp/${cal.commitments[0]}`);
    } finally {
      await cal.close();
    }
  });

  test('garbage with status 200 is LP_OTS_CALENDAR_BAD_REPLY', async () => {
    const s = await serve((_req, res) => res.end(Buffer.from('ff00', 'hex')));
    await rejectsCode(getTimestamp(s.url, digest()), 'LP_OTS_CALENDAR_BAD_REPLY');
  });

  test('a reply with an illegal pending URI is LP_OTS_CALENDAR_BAD_REPLY', async () => {
    const s = await serve((req, res) => {
      const commitment = Buffer.from(req.url!.split('/').pop()!, 'hex');
      const ts = new Timestamp(new Uint8Array(commitment));
      ts.add(append(Uint8Array.of(1))).attest({ kind: 'pending', uri: 'http://ok' });
      const bytes = Buffer.from(writeTimestamp(ts));
      const at = bytes.indexOf('http://ok');
      bytes.write('http://?k', at);
      res.end(bytes);
    });
    await rejectsCode(getTimestamp(s.url, digest()), 'LP_OTS_CALENDAR_BAD_REPLY');
  });
});

describe('calendar URLs', () => {
  test('the defaults pass, trailing slashes are dropped', () => {
    for (const url of DEFAULT_CALENDARS) assert.equal(checkCalendarUrl(url), url);
    assert.equal(checkCalendarUrl('https://cal.example/base//'), 'https://cal.example/base');
  });

  test('other schemes, credentials, queries, fragments and odd characters are LP_OTS_CALENDAR_BAD_URL', () => {
    for (const bad of [
      'ftp://cal.example',
      'cal.example',
      'https://user:pw@cal.example',
      'https://cal.example/?a=1',
      'https://cal.example/#x',
      'https://cal.example/%41',
      'https://[::1]:8080',
      'https://cal.example/ü',
      `https://cal.example/${'a'.repeat(1000)}`,
      'https://',
    ]) {
      assert.throws(
        () => checkCalendarUrl(bad),
        (err: unknown) => isLightproofError(err, 'LP_OTS_CALENDAR_BAD_URL'),
        bad,
      );
    }
  });
});

describe('CalendarWhitelist', () => {
  const wl = new CalendarWhitelist();

  test("the reference's calendars are allowed", () => {
    assert.ok(wl.has('https://alice.btc.calendar.opentimestamps.org'));
    assert.ok(wl.has('https://finney.calendar.eternitywall.com'));
    assert.ok(wl.has('https://btc.calendar.catallaxy.com'));
  });

  test('scheme, path and host must all match; queries never do', () => {
    assert.ok(!wl.has('http://alice.btc.calendar.opentimestamps.org'));
    assert.ok(!wl.has('https://alice.btc.calendar.opentimestamps.org/'));
    assert.ok(!wl.has('https://alice.btc.calendar.opentimestamps.org/x'));
    assert.ok(!wl.has('https://calendar.opentimestamps.org'));
    assert.ok(!wl.has('https://x.calendar.opentimestamps.org.evil.example'));
    assert.ok(!wl.has('https://evil.example/.calendar.opentimestamps.org'));
    assert.ok(!wl.has('https://a.calendar.opentimestamps.org?x'));
    assert.ok(!wl.has('https://127.0.0.1:8080'));
  });

  test('a pattern without a scheme allows http and https, and keeps its path', () => {
    const mine = new CalendarWhitelist([]).add('127.0.0.1:*').add('https://cal-*.example/ots');
    assert.ok(mine.has('http://127.0.0.1:8080'));
    assert.ok(mine.has('https://127.0.0.1:1'));
    assert.ok(mine.has('https://cal-1.example/ots'));
    assert.ok(!mine.has('https://cal-1.example'));
    assert.ok(!mine.has('https://cal1.example/ots'));
    assert.ok(!mine.has('https://alice.btc.calendar.opentimestamps.org'));
  });

  test('a pattern with a query is LP_OTS_CALENDAR_BAD_URL', () => {
    assert.throws(
      () => new CalendarWhitelist(['https://*.example/?q']),
      (err: unknown) => isLightproofError(err, 'LP_OTS_CALENDAR_BAD_URL'),
    );
  });
});

test('sanitiseMessage keeps the reference characters and turns the rest into _', () => {
  assert.equal(
    sanitiseMessage(Buffer.from('Timestamped by tx ab12; waiting for 6 confirmations.')),
    'Timestamped by tx ab12; waiting for 6 confirmations.',
  );
  assert.equal(sanitiseMessage(Buffer.from('a\r\nb\tc/d:e')), 'a__b_c_d_e');
});
