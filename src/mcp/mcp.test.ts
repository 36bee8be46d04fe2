import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { msat } from '../core/money.js';
import { type Kit, spendMeter, startKit } from '../gateway/gateway.testkit.js';
import { decodeInvoice } from '../lightning/index.js';
import { parsePolicy } from '../wallet/policy.js';
import { SqliteWalletStore } from '../wallet/store/index.js';
import type { Policy } from '../wallet/types.js';
import { Wallet } from '../wallet/wallet.js';
import { type RunningHttp, serveHttp } from './server.js';

const PRICE = 10_000n; // msat: every service below costs 10 sat
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = [
  'balance',
  'budget_status',
  'create_invoice',
  'fetch_paid',
  'history',
  'pay_invoice',
  'quote',
  'request_approval',
];

let kit: Kit;
let tmp: string;

before(async () => {
  const service = (name: string, price = 10) => ({
    name,
    path: `^/${name}`,
    upstream: 'UPSTREAM',
    price,
    tokenTimeout: '1h',
  });
  kit = await startKit({
    config: {
      challengeLimits: [{ requests: 1000, per: '1s', burst: 1000 }],
      services: [
        service('chat'),
        service('held'),
        service('cold'),
        service('dear', 50),
        service('big'),
        service('quoted'),
      ],
    },
  });
  spent = spendMeter(kit.agent);
  tmp = mkdtempSync(join(tmpdir(), 'lightproof-mcp-'));
});

after(async () => {
  await kit.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Msat the agent's embedded account spent since the last call, from the node's own ledger. */
let spent: () => Promise<bigint>;

interface Result {
  isError: boolean;
  text: string;
  data: Record<string, unknown>;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Result> {
  const r = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    content: { type: string; text?: string }[];
    structuredContent?: Record<string, unknown>;
  };
  const text = r.content.map((c) => c.text ?? '').join('');
  if (r.structuredContent)
    assert.deepEqual(JSON.parse(text), r.structuredContent, 'text and structured agree');
  return { isError: r.isError === true, text, data: r.structuredContent ?? {} };
}

async function okCall(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = await call(client, name, args);
  assert.equal(r.isError, false, `${name} failed: ${r.text}`);
  return r.data;
}

async function errCall(client: Client, name: string, args: Record<string, unknown>, code: string) {
  const r = await call(client, name, args);
  assert.equal(r.isError, true, `${name} should fail with ${code}: ${r.text}`);
  assert.equal(r.data.code, code, r.text);
  assert.doesNotMatch(r.text, /\n\s+at /, 'no stack trace');
  return r.data;
}

/** The SDK's own input validation: an error result naming the argument, before any tool code runs. */
async function invalid(client: Client, name: string, args: Record<string, unknown>, field: string) {
  const r = await call(client, name, args);
  assert.equal(r.isError, true, `${name} should reject ${JSON.stringify(args)}`);
  assert.match(r.text, /Input validation error/);
  assert.match(r.text, new RegExp(field));
}

function policy(extra: Record<string, unknown> = {}): Policy {
  return parsePolicy({ perRequest: '1000 sat', maxFee: '0 sat', ...extra }, 'test');
}

/** Every key, at any depth. */
function keys(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keys(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keys(v, out);
    }
  }
  return out;
}

describe('lightproof mcp over stdio (the real CLI, paying on the embedded node)', () => {
  let client: Client;
  /** The person's side: the same journal, opened from this process as `lightproof wallet` would. */
  let operator: Wallet;
  let stderr = '';

  before(async () => {
    const env = { ...process.env } as Record<string, string>;
    delete env.LIGHTPROOF_DATA_DIR;
    delete env.LIGHTPROOF_WALLET_CONFIG;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', 'src/cli/main.ts', '--data-dir', kit.dir, 'mcp'],
      cwd: REPO,
      env,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    client = new Client({ name: 'mcp-test', version: '0' });
    await client.connect(transport);
    operator = await Wallet.open({
      node: kit.agent,
      store: SqliteWalletStore.open(join(kit.dir, 'wallet', 'wallet.db')),
      pollMs: 10,
    });
    await operator.setPolicy(policy());
  });

  after(async () => {
    await client.close();
    await operator.close();
  });

  it('offers exactly the eight tools, none that approves, rejects, freezes or changes budgets', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    for (const name of ['fetch_paid', 'pay_invoice']) {
      const tool = tools.find((t) => t.name === name)!;
      assert.ok(tool.inputSchema.required?.includes('max_sats'), `${name} requires max_sats`);
      assert.match(tool.description ?? '', /max_sats/);
    }
    assert.match(tools.find((t) => t.name === 'fetch_paid')!.description ?? '', /[Qq]uote first/);
    assert.match(tools.find((t) => t.name === 'request_approval')!.description ?? '', /does NOT approve/);
    assert.match(client.getInstructions() ?? '', /cannot approve/);
    assert.match(stderr, /serving the wallet/, 'human messages go to stderr');
  });

  it('fetch_paid pays a real paywall once, and a second call reuses the token without paying', async () => {
    await spent();
    const first = await okCall(client, 'fetch_paid', { url: kit.url('/chat/a'), max_sats: 20, memo: 'test' });
    assert.equal(first.status, 200);
    assert.match(String(first.body), /"ok":true/);
    assert.equal(first.truncated, false);
    const paid = first.paid as { payment_id: number; amount_msat: number; fee_msat: number }[];
    assert.equal(paid.length, 1);
    assert.equal(paid[0]!.amount_msat, Number(PRICE));
    assert.equal(await spent(), PRICE, 'the node paid exactly the price, once');

    const second = await okCall(client, 'fetch_paid', { url: kit.url('/chat/b'), max_sats: 20 });
    assert.equal(second.status, 200);
    assert.deepEqual(second.paid, []);
    assert.equal(await spent(), 0n, 'the token was reused');
    assert.equal((await operator.store.list({ states: ['paid'] })).length, 1);
  });

  it('quote tells the price and the verdict and pays nothing', async () => {
    await spent();
    const q = await okCall(client, 'quote', { url: kit.url('/quoted/x') });
    assert.equal(q.payment_required, true);
    assert.equal(q.price_msat, Number(PRICE));
    assert.equal(q.price_sats, 10);
    assert.equal(q.would_pay, true);
    assert.equal(q.refusal, null);
    assert.deepEqual(q.services, ['quoted']);
    const dear = await okCall(client, 'quote', { url: kit.url('/dear/x') });
    assert.equal(dear.price_sats, 50);
    await operator.setPolicy(policy({ perRequest: '20 sat' }));
    const capped = await okCall(client, 'quote', { url: kit.url('/dear/x') });
    assert.equal(capped.would_pay, false);
    assert.equal((capped.refusal as { code: string }).code, 'LP_WALLET_OVER_REQUEST_CAP');
    await operator.setPolicy(policy());
    const free = await okCall(client, 'quote', { url: `${kit.upstream.url}/free` });
    assert.equal(free.payment_required, false);
    assert.equal(free.status, 200);
    assert.equal(await spent(), 0n);
    assert.equal((await operator.store.list()).length, 1, 'quotes journal nothing');
  });

  it('refuses a price above max_sats with LP_L402_PRICE_TOO_HIGH and pays nothing', async () => {
    await spent();
    const before = (await operator.store.list()).length;
    const err = await errCall(
      client,
      'fetch_paid',
      { url: kit.url('/dear/x'), max_sats: 20 },
      'LP_L402_PRICE_TOO_HIGH',
    );
    assert.match(String(err.message), /50 sats.*max_sats 20/);
    assert.match(String(err.what_to_do), /do not raise it/);
    assert.equal(await spent(), 0n);
    assert.equal((await operator.store.list()).length, before);
  });

  it('rejects missing or malformed arguments through the SDK validation, paying nothing', async () => {
    await spent();
    await invalid(client, 'fetch_paid', { url: kit.url('/dear/x') }, 'max_sats');
    await invalid(client, 'fetch_paid', { url: kit.url('/dear/x'), max_sats: -5 }, 'max_sats');
    await invalid(client, 'fetch_paid', { url: kit.url('/dear/x'), max_sats: 0 }, 'max_sats');
    await invalid(client, 'fetch_paid', { url: kit.url('/dear/x'), max_sats: 2.5 }, 'max_sats');
    await invalid(client, 'fetch_paid', { url: kit.url('/dear/x'), max_sats: '100' }, 'max_sats');
    await invalid(client, 'fetch_paid', { url: 'not a url', max_sats: 100 }, 'url');
    await invalid(client, 'fetch_paid', { url: 'file:///etc/passwd', max_sats: 100 }, 'url');
    await invalid(client, 'quote', { url: 'javascript:alert(1)' }, 'url');
    await invalid(client, 'pay_invoice', { invoice: 'lnbcrt1xxxxxxxxxxxx' }, 'max_sats');
    await invalid(client, 'history', { limit: 1000 }, 'limit');
    await invalid(
      client,
      'request_approval',
      { payment_id: 1, reason: 'x', wait_seconds: 301 },
      'wait_seconds',
    );
    const body = await errCall(
      client,
      'fetch_paid',
      { url: kit.url('/dear/x'), max_sats: 100, method: 'GET', body: 'x' },
      'LP_MCP_BAD_REQUEST',
    );
    assert.match(String(body.message), /cannot carry a body/);
    await errCall(
      client,
      'fetch_paid',
      { url: kit.url('/dear/x'), max_sats: 100, headers: { Authorization: 'L402 stolen' } },
      'LP_MCP_BAD_REQUEST',
    );
    assert.equal(await spent(), 0n);
  });

  it('history shows payments but never a token or a preimage', async () => {
    const [record] = await operator.store.list({ states: ['paid'] });
    assert.ok(record?.preimage && record.token, 'the journal does hold both');
    const h = await call(client, 'history', { limit: 200 });
    assert.equal(h.isError, false);
    const payments = h.data.payments as Record<string, unknown>[];
    assert.ok(payments.some((p) => p.payment_id === record.id && p.state === 'paid'));
    for (const k of keys(h.data)) assert.doesNotMatch(k, /token|preimage|macaroon|payment_request/i);
    assert.ok(!h.text.includes(record.preimage), 'no preimage in the text');
    assert.ok(!h.text.includes(record.token.slice(0, 40)), 'no token in the text');
    const paidOnly = await okCall(client, 'history', { state: 'paid' });
    assert.ok((paidOnly.payments as { state: string }[]).every((p) => p.state === 'paid'));
  });

  it('holds a payment above the threshold until a person approves it, then pays it exactly once', async () => {
    await operator.setPolicy(policy({ approvalAbove: '5 sat' }));
    await spent();
    const held = await okCall(client, 'fetch_paid', {
      url: kit.url('/held/1'),
      max_sats: 20,
      memo: 'needed',
    });
    assert.equal(held.status, 'awaiting-approval');
    const id = held.payment_id as number;
    assert.ok(Number.isInteger(id));
    assert.match(String(held.message), /request_approval/);
    assert.equal(await spent(), 0n, 'nothing paid while waiting');

    const again = await okCall(client, 'fetch_paid', { url: kit.url('/held/2'), max_sats: 20 });
    assert.equal(again.status, 'awaiting-approval');
    assert.equal(again.payment_id, id, 'a repeated request points at the same approval');
    assert.equal(
      (await operator.store.list({ states: ['awaiting-approval'] })).length,
      1,
      'no second approval',
    );

    const status = await okCall(client, 'budget_status');
    const waiting = status.awaiting_approval as { payment_id: number; memo: string; amount_sats: number }[];
    assert.deepEqual(
      waiting.map((w) => [w.payment_id, w.memo, w.amount_sats]),
      [[id, 'needed', 10]],
    );

    const now = await okCall(client, 'request_approval', { payment_id: id, reason: 'the user asked for it' });
    assert.equal(now.state, 'awaiting-approval');
    const [decision] = await Promise.all([
      okCall(client, 'request_approval', { payment_id: id, reason: 'still needed', wait_seconds: 30 }),
      new Promise((r) => setTimeout(r, 300)).then(() => operator.approve(id, 'test')),
    ]);
    assert.equal(decision.state, 'reserved');
    assert.equal(decision.decided_by, 'test');
    assert.ok((decision.waited_seconds as number) < 20, 'returned as soon as the person decided');
    const reasons = (await operator.store.events({ paymentId: id }))
      .map((e) => e.detail)
      .filter((d) => d?.requestedBy === 'mcp')
      .map((d) => d?.reason);
    assert.deepEqual(reasons, ['the user asked for it', 'still needed'], 'the reasons are journaled');
    assert.equal(await spent(), 0n, 'approval alone pays nothing');

    const done = await okCall(client, 'fetch_paid', { url: kit.url('/held/1'), max_sats: 20 });
    assert.equal(done.status, 200);
    assert.deepEqual(
      (done.paid as { payment_id: number }[]).map((p) => p.payment_id),
      [id],
    );
    assert.equal(await spent(), PRICE, 'the approved invoice, once');
    const twice = await okCall(client, 'fetch_paid', { url: kit.url('/held/1'), max_sats: 20 });
    assert.equal(twice.status, 200);
    assert.deepEqual(twice.paid, []);
    assert.equal(await spent(), 0n);
    assert.equal((await operator.store.get(id))?.state, 'paid');
    await errCall(client, 'request_approval', { payment_id: id, reason: 'x' }, 'LP_WALLET_NOT_AWAITING');
    await operator.setPolicy(policy());
  });

  it('pays nothing while a person has frozen the wallet', async () => {
    await operator.setPolicy(policy());
    await operator.freeze('incident');
    await spent();
    const err = await errCall(
      client,
      'fetch_paid',
      { url: kit.url('/cold/1'), max_sats: 20 },
      'LP_WALLET_FROZEN',
    );
    assert.match(String(err.what_to_do), /froze/);
    assert.equal(await spent(), 0n);
    const status = await okCall(client, 'budget_status');
    assert.equal(status.frozen, true);
    assert.equal(status.frozen_reason, 'incident');
    const q = await okCall(client, 'quote', { url: kit.url('/cold/1') });
    assert.equal(q.would_pay, false);
    assert.equal((q.refusal as { code: string }).code, 'LP_WALLET_FROZEN');
    await operator.unfreeze();
    const thawed = await okCall(client, 'fetch_paid', { url: kit.url('/cold/2'), max_sats: 20 });
    assert.equal(thawed.status, 200);
    assert.equal(await spent(), PRICE);
  });
});

describe('lightproof mcp over streamable HTTP (in process)', () => {
  let wallet: Wallet;
  let served: RunningHttp;
  let token: string;
  const tokenPath = () => join(tmp, 'mcp.token');

  const connect = async (bearer: string) => {
    const client = new Client({ name: 'mcp-http-test', version: '0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(served.url), {
        requestInit: { headers: { authorization: `Bearer ${bearer}` } },
      }),
    );
    return client;
  };

  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
  });

  /** A raw POST with node:http, so Host can be anything. */
  function post(
    headers: Record<string, string>,
    path = '/mcp',
  ): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
    const u = new URL(served.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end(initialize);
    });
  }

  before(async () => {
    wallet = await Wallet.open({
      node: kit.agent,
      store: SqliteWalletStore.open(join(tmp, 'http.db')),
      pollMs: 10,
    });
    await wallet.setPolicy(policy());
    served = await serveHttp({ wallet, tokenPath: tokenPath(), maxBodyBytes: 1000, pollMs: 20 });
    token = readFileSync(tokenPath(), 'utf8');
  });

  after(async () => {
    await served.close();
    await wallet.close();
  });

  it('keeps a random 32-byte token in a 0600 file and reuses it on restart', async () => {
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(statSync(tokenPath()).mode & 0o777, 0o600);
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const again = await serveHttp({ wallet, tokenPath: join(tmp, 'mcp.token') });
    await again.close();
    assert.equal(readFileSync(tokenPath(), 'utf8'), token);
  });

  it('answers 401 without the token or with a wrong one, 403 to a foreign Host or Origin', async () => {
    const none = await post({});
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assert.equal((await post({ authorization: `Bearer ${'0'.repeat(64)}` })).status, 401);
    assert.equal((await post({ authorization: token })).status, 401, 'the scheme is required');
    const good = { authorization: `Bearer ${token}` };
    assert.equal((await post({ ...good, origin: 'https://evil.example' })).status, 403);
    assert.equal((await post({ ...good, host: 'evil.example' })).status, 403, 'DNS rebinding');
    assert.equal((await post({ ...good, host: 'evil.example:80', origin: 'http://127.0.0.1' })).status, 403);
    assert.equal((await post(good, '/other')).status, 404);
    for (const r of [none]) assert.ok(!r.body.includes(token));
    const fine = await post({ ...good, origin: 'http://localhost:3000' });
    assert.equal(fine.status, 200, fine.body);
    assert.match(fine.body, /"serverInfo"/);
    await assert.rejects(connect('f'.repeat(64)), 'the SDK client fails with a wrong token');
  });

  it('serves the tools to an SDK client holding the token: balance, invoices, budgets', async () => {
    const client = await connect(token);
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), TOOLS);
      const bal = await okCall(client, 'balance');
      const real = (await kit.agent.balance()).spendableMsat;
      assert.equal(bal.spendable_msat, Number(real));
      assert.equal(bal.spendable_sats, Number(real / 1000n));

      const inv = await okCall(client, 'create_invoice', { amount_sats: 7, description: 'tip' });
      const decoded = decodeInvoice(String(inv.payment_request));
      assert.equal(decoded.amountMsat, 7000n);
      assert.equal(decoded.paymentHash, inv.payment_hash);
      await invalid(client, 'create_invoice', { amount_sats: -1 }, 'amount_sats');

      await spent();
      const bill = await kit.provider.createInvoice({ amountMsat: msat(PRICE) });
      const over = await errCall(
        client,
        'pay_invoice',
        { invoice: bill.paymentRequest, max_sats: 5 },
        'LP_WALLET_OVER_MAX',
      );
      assert.match(String(over.message), /10 sats.*max_sats 5/);
      assert.equal(await spent(), 0n);
      const paid = await okCall(client, 'pay_invoice', {
        invoice: `lightning:${bill.paymentRequest}`,
        max_sats: 10,
      });
      assert.equal(paid.status, 'paid');
      assert.equal(paid.amount_msat, Number(PRICE));
      assert.ok(!('preimage' in paid));
      const again = await okCall(client, 'pay_invoice', { invoice: bill.paymentRequest, max_sats: 10 });
      assert.equal(again.payment_id, paid.payment_id, 'the same invoice is the same payment');
      assert.equal(await spent(), PRICE, 'paid once');
      await errCall(
        client,
        'pay_invoice',
        { invoice: 'lnbcrt1notaninvoice', max_sats: 10 },
        'LP_BOLT11_MALFORMED',
      );

      const status = await okCall(client, 'budget_status');
      const wallet_ = status.wallet as { per_request: string; budgets: Record<string, unknown> };
      assert.equal(wallet_.per_request, '1000 sat');
      assert.equal(status.frozen, false);
      assert.deepEqual(status.awaiting_approval, []);

      await errCall(client, 'request_approval', { payment_id: 999_999, reason: 'x' }, 'LP_WALLET_NOT_FOUND');
      await errCall(
        client,
        'request_approval',
        { payment_id: paid.payment_id, reason: 'x' },
        'LP_WALLET_NOT_AWAITING',
      );
    } finally {
      await client.close();
    }
  });

  it('caps the body it returns, and counts the day budget it spent', async () => {
    await wallet.setPolicy(policy({ budgets: { day: '100 sat' } }));
    const client = await connect(token);
    try {
      await spent();
      const big = await okCall(client, 'fetch_paid', { url: kit.url('/big?n=5000'), max_sats: 10 });
      assert.equal(big.status, 200);
      assert.equal(big.truncated, true);
      assert.equal(big.body_bytes, 1000);
      assert.equal(big.body_encoding, 'base64');
      assert.equal(Buffer.from(String(big.body), 'base64').length, 1000);
      assert.equal(await spent(), PRICE);
      const status = await okCall(client, 'budget_status');
      const day = (
        status.wallet as { budgets: Record<string, { spent_msat: number; remaining_sats: number }> }
      ).budgets.day!;
      assert.equal(day.spent_msat, 2 * Number(PRICE), 'the invoice and this request');
      assert.equal(day.remaining_sats, 80);
    } finally {
      await client.close();
    }
  });
});
