/**
 * Test kit for the gateway's tests: a real upstream on 127.0.0.1, a real embedded Lightning node with
 * a provider and an agent account, and a gateway started from a raw config. Not part of the build.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { msat } from '../core/money.js';
import { formatAuthorization, parseChallenges } from '../l402/index.js';
import { EmbeddedLightning, type EmbeddedNode, type LightningNode } from '../lightning/index.js';
import { parseGatewayConfig } from './config.js';
import { type RunningGateway, startGateway } from './server.js';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  url: string;
  seen: Seen[];
  /** Lets a held /sse-gated response finish. */
  release(): void;
  close(): Promise<void>;
}

export const USAGE_BODY = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1000, completion_tokens: 2000, total_tokens: 3000 },
};

export async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((r) => {
    release = r;
  });
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/usage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(USAGE_BODY));
    }
    if (path === '/sse' || path === '/sse-gated') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: {"choices":[{"delta":{"content":"he"}}]}\n\n');
      if (path === '/sse-gated') await gate;
      res.write('data: {"choices":[{"delta":{"content":"llo"}}]}\n\n');
      res.write(
        'data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}\n\n',
      );
      return res.end('data: [DONE]\n\n');
    }
    if (path === '/cut') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('half');
      return setTimeout(() => res.socket?.destroy(), 20);
    }
    if (path === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(Buffer.alloc(Number(new URL(req.url!, 'http://x').searchParams.get('n') ?? 0), 7));
    }
    if (path === '/slow') {
      await new Promise((r) =>
        setTimeout(r, Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0)),
      );
    }
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'x-upstream': 'yes' });
    res.end(JSON.stringify({ ok: true, method: req.method, url: req.url, body }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    release: () => {
      release();
      gate = new Promise<void>((r) => {
        release = r;
      });
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Kit {
  dir: string;
  host: EmbeddedLightning;
  provider: EmbeddedNode;
  agent: EmbeddedNode;
  upstream: Upstream;
  gw: RunningGateway;
  /** The gateway's URL plus PATH. */
  url(path: string): string;
  stop(): Promise<void>;
}

export interface KitOptions {
  /** Top-level config; `services` may use the placeholder UPSTREAM for the upstream URL. */
  config: Record<string, unknown>;
  /** Replaces the provider's node (e.g. one that fails). */
  node?: (provider: EmbeddedNode) => LightningNode;
  now?: () => number;
}

export async function startKit(o: KitOptions): Promise<Kit> {
  const dir = mkdtempSync(join(tmpdir(), 'lightproof-gateway-'));
  const host = EmbeddedLightning.open(join(dir, 'node'));
  const provider = host.ensureAccount('gateway');
  const agent = host.ensureAccount('agent');
  host.deposit('agent', msat(100_000_000n));
  const upstream = await startUpstream();
  const raw = JSON.parse(JSON.stringify(o.config).replaceAll('UPSTREAM', upstream.url)) as Record<
    string,
    unknown
  >;
  const config = parseGatewayConfig({ listen: '127.0.0.1:0', logRequests: false, ...raw }, 'test config', {});
  let gw: RunningGateway;
  try {
    gw = await startGateway({
      config,
      dataDir: join(dir, 'gateway'),
      node: o.node ? o.node(provider) : provider,
      logger: pino({ level: 'silent' }),
      revocationPollMs: 50,
      ...(o.now ? { now: o.now } : {}),
    });
  } catch (err) {
    await upstream.close();
    host.close();
    throw err;
  }
  return {
    dir,
    host,
    provider,
    agent,
    upstream,
    gw,
    url: (path) => `${gw.url}${path}`,
    async stop() {
      await gw.close(1000);
      await upstream.close();
      host.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Paid {
  authorization: string;
  token: string;
  paymentHash: string;
  preimage: string;
}

/** Pays a 402 (or 401) response's L402 challenge from AGENT; returns the credential. */
export async function pay(agent: LightningNode, res: Response): Promise<Paid> {
  assert.ok(res.status === 402 || res.status === 401, `expected a challenge, got ${res.status}`);
  const [challenge] = parseChallenges(res.headers.get('www-authenticate'));
  assert.ok(challenge, 'a parseable L402 challenge');
  const paid = await agent.payInvoice(challenge.invoice);
  return {
    authorization: formatAuthorization([challenge.token], paid.preimage),
    token: challenge.token,
    paymentHash: paid.paymentHash,
    preimage: paid.preimage,
  };
}

export async function problemOf(res: Response): Promise<{ status: number; code: string; detail: string }> {
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  return (await res.json()) as { status: number; code: string; detail: string };
}

/**
 * Msat NODE has spent since the meter's previous call (0 on the first), read from the node's own
 * ledger: the evidence that a payment happened once, or not at all, whatever the payer says.
 */
export function spendMeter(node: LightningNode): () => Promise<bigint> {
  let last: bigint | undefined;
  return async () => {
    const now = (await node.balance()).spendableMsat;
    const spent = last === undefined ? 0n : last - now;
    last = now;
    return spent;
  };
}
