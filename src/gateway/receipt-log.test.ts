import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { formatReport, verifyAny } from '../provenance/index.js';
import { parseGatewayConfig } from './config.js';
import { type Kit, pay, problemOf, startKit } from './gateway.testkit.js';
import { openReceiptLog } from './receipt-log.js';

describe('gateway: the receipt log', () => {
  let kit: Kit;
  let admin: (path: string) => Promise<Response>;
  before(async () => {
    kit = await startKit({
      config: {
        admin: { listen: '127.0.0.1:0' },
        receipts: { log: { calendars: [], checkpointEvery: '1h' } },
        services: [{ name: 'chat', path: '^/v1/', upstream: 'UPSTREAM', price: 21 }],
      },
    });
    const credential = readFileSync(kit.gw.adminCredentialPath, 'utf8').trim();
    admin = (path) =>
      fetch(`${kit.gw.adminUrl}${path}`, { headers: { authorization: `Bearer ${credential}` } });
  });
  after(() => kit.stop());

  it('logs every receipt it hands out, publishes the log, and proves an entry anyone can verify', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/v1/chat')));
    const headers = { authorization: paid.authorization };
    const first = await fetch(kit.url('/v1/chat?n=1'), { headers });
    await first.text();
    const streamed = await fetch(kit.url('/v1/sse'), { headers });
    await streamed.text();
    const receipts = [first.headers.get('lightproof-receipt')];
    assert.ok(receipts[0]);

    const wk = (await (await fetch(kit.url('/.well-known/lightproof.json'))).json()) as {
      receipts: { public_key: string };
      receipt_log: { origin: string; verifier_key: string; size: number };
    };
    assert.equal(
      wk.receipt_log.size,
      2,
      'a buffered and a streamed response, each logged before it was sent',
    );
    assert.match(wk.receipt_log.origin, /^lightproof\.local\/receipts-[0-9a-f]{16}$/);
    assert.ok(wk.receipt_log.verifier_key.startsWith(`${wk.receipt_log.origin}+`));

    const res = await admin('/v1/receipts/proof?index=0');
    assert.equal(res.status, 200);
    const bundle = new Uint8Array(await res.arrayBuffer());
    const report = await verifyAny(bundle, { keys: [wk.receipt_log.verifier_key, wk.receipts.public_key] });
    assert.equal(report.ok, true, formatReport(report));
    assert.equal(report.kind, 'log-proof');
    assert.equal(report.facts.receiptKey, wk.receipts.public_key);
    const entry = JSON.parse(
      Buffer.from(JSON.parse(new TextDecoder().decode(bundle)).entry, 'base64').toString(),
    );
    assert.equal(entry.header, receipts[0]);

    assert.equal((await problemOf(await admin('/v1/receipts/proof?index=x'))).code, 'LP_ADMIN_BAD_QUERY');
    assert.equal(
      (await problemOf(await admin('/v1/receipts/proof?index=7'))).code,
      'LP_LOG_INDEX_OUT_OF_RANGE',
    );
  });
});

describe('gateway: receipt log configuration and failures', () => {
  const parse = (receipts: unknown) =>
    parseGatewayConfig(
      { receipts, services: [{ name: 'a', path: '^/', upstream: 'http://127.0.0.1:1', price: 1 }] },
      't',
      {},
    );

  it('logs by default when receipts are on, and not when either is off', () => {
    assert.deepEqual(parse(undefined).receipts.log, {
      dir: null,
      origin: null,
      checkpointEverySeconds: 600,
      calendars: null,
    });
    assert.equal(parse({ log: false }).receipts.log, null);
    assert.equal(parse({ enabled: false }).receipts.log, null);
    assert.equal(
      parse({ log: { dir: '/x', checkpointEvery: '5m', calendars: [] } }).receipts.log
        ?.checkpointEverySeconds,
      300,
    );
    assert.throws(() => parse({ log: { calendars: ['not a url'] } }), /LP_GATEWAY_CONFIG|calendar URL/);
    assert.throws(() => parse({ log: { every: 5 } }), /every/);
  });

  it('signs a checkpoint on demand, and never rejects a receipt, even when the log is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-receipt-log-'));
    try {
      const log = await openReceiptLog({
        config: { dir: null, origin: null, checkpointEverySeconds: 3600, calendars: [] },
        dataDir: dir,
        receiptKey: 'ab'.repeat(32),
        log: pino({ level: 'silent' }),
      });
      await log.record('a.b');
      assert.equal(log.size(), 1);
      await log.checkpoint();
      assert.ok(existsSync(join(dir, 'receipt-log', 'checkpoints', '1.txt')), 'signed');
      assert.ok(
        !existsSync(join(dir, 'receipt-log', 'checkpoints', '1.txt.ots')),
        'not stamped: no calendars',
      );
      await log.close();
      await log.record('c.d');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps an existing log and its origin when the receipt key changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-receipt-log-'));
    const open = (receiptKey: string, origin: string | null = null) =>
      openReceiptLog({
        config: { dir: null, origin, checkpointEverySeconds: 3600, calendars: [] },
        dataDir: dir,
        receiptKey,
        log: pino({ level: 'silent' }),
      });
    try {
      const first = await open('ab'.repeat(32));
      await first.record('a.b');
      await first.close();
      const rotated = await open('cd'.repeat(32));
      assert.equal(rotated.origin, first.origin, 'the log keeps the origin it was made with');
      assert.equal(rotated.size(), 1);
      await rotated.close();
      await assert.rejects(open('cd'.repeat(32), 'example.com/other'), { code: 'LP_LOG_BAD_ORIGIN' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
