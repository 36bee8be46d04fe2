/**
 * The gateway's admin API, on a listener of its own (keep it on loopback or a private network) and
 * behind its own bearer credential: services, tokens, revenue per service, revocation, proofs for
 * logged receipts, and the Prometheus metrics.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightproofError } from '../core/errors.js';
import { toJson } from '../core/json.js';
import { problem } from '../core/problem.js';
import { writeSecretFile } from '../core/secrets.js';
import type { GatewayMetrics } from './metrics.js';
import type { RevocationCache } from './revocations.js';
import type { GatewayState, TokenRecord } from './state/types.js';

export interface AdminDeps {
  state: GatewayState;
  revocations: RevocationCache;
  metrics: GatewayMetrics;
  credential: string;
  metricsPublic: boolean;
  services: () => Promise<unknown>;
  health: () => Promise<Record<string, unknown>>;
  now: () => number;
  /** The proof bundle for receipt-log entry INDEX; absent when receipts are not logged. */
  receiptProof?: (index: number) => Promise<unknown>;
}

/** Reads the admin credential kept in PATH (0600), creating a random one on first use. */
export function adminCredential(path: string): string {
  if (!existsSync(path)) {
    const fresh = randomBytes(32).toString('hex');
    writeSecretFile(path, `${fresh}\n`);
    return fresh;
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[A-Za-z0-9._~+/-]{32,512}$/.test(text))
    throw new LightproofError(
      'LP_GATEWAY_BAD_ADMIN_CREDENTIAL',
      `${path} does not hold an admin credential (32-512 URL-safe characters); delete it to make a new one.`,
    );
  return text;
}

const TOKEN_ID = /^[0-9a-f]{64}$/;

export class AdminServer {
  readonly #d: AdminDeps;
  readonly #server: http.Server;
  readonly #credential: Buffer;

  constructor(deps: AdminDeps) {
    this.#d = deps;
    this.#credential = Buffer.from(deps.credential);
    this.#server = http.createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => {
        const p =
          err instanceof LightproofError
            ? problem(err.status, err.code, err.message)
            : problem(500, 'LP_ADMIN_INTERNAL', 'The admin request failed; see the gateway log.');
        send(res, p.status, p, 'application/problem+json');
      });
    });
  }

  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const a = this.#server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #authorized(req: IncomingMessage): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]!);
    return given.length === this.#credential.length && timingSafeEqual(given, this.#credential);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    if (url.pathname === '/metrics' && method === 'GET' && this.#d.metricsPublic) return this.#metrics(res);
    if (!this.#authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="lightproof-gateway-admin"');
      throw new LightproofError(
        'LP_ADMIN_UNAUTHORIZED',
        'Send the admin credential (the gateway data directory holds it in admin.token) as "Authorization: Bearer <credential>".',
        { status: 401 },
      );
    }
    const parts = url.pathname.split('/').filter(Boolean);
    const route = `${method} /${parts.map((p, i) => (i === 2 && parts[1] === 'tokens' ? ':id' : p)).join('/')}`;
    switch (route) {
      case 'GET /metrics':
        return this.#metrics(res);
      case 'GET /v1/health':
        return send(res, 200, await this.#d.health());
      case 'GET /v1/services':
        return send(res, 200, { services: await this.#d.services() });
      case 'GET /v1/revenue':
        return send(res, 200, { services: await this.#d.state.revenue() });
      case 'GET /v1/tokens':
        return send(res, 200, { tokens: (await this.#d.state.listTokens(listQuery(url))).map(tokenView) });
      case 'GET /v1/tokens/:id': {
        const token = await this.#d.state.getToken(tokenId(parts[2]!));
        if (!token) throw notFound(parts[2]!);
        return send(res, 200, tokenView(token));
      }
      case 'GET /v1/receipts/proof':
        if (!this.#d.receiptProof) throw noReceiptLog();
        return send(res, 200, await this.#d.receiptProof(logIndex(url)));
      case 'POST /v1/tokens/:id/revoke': {
        const id = tokenId(parts[2]!);
        const changed = await this.#d.state.revoke(id, this.#d.now());
        this.#d.revocations.add(id);
        return send(res, 200, { token_id: id, revoked: true, already_revoked: !changed });
      }
      default:
        throw new LightproofError(
          'LP_ADMIN_NOT_FOUND',
          `${method} ${url.pathname} is not an admin route; see docs/gateway.md for the list.`,
          { status: 404 },
        );
    }
  }

  async #metrics(res: ServerResponse): Promise<void> {
    const body = await this.#d.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': this.#d.metrics.registry.contentType });
    res.end(body);
  }
}

function listQuery(url: URL): { service?: string; limit: number; offset: number } {
  const limit = Number(url.searchParams.get('limit') ?? 100);
  const offset = Number(url.searchParams.get('offset') ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isInteger(offset) || offset < 0)
    throw new LightproofError(
      'LP_ADMIN_BAD_QUERY',
      'limit must be a whole number from 1 to 1000 and offset a whole number from 0.',
      { status: 400 },
    );
  const service = url.searchParams.get('service');
  return { ...(service ? { service } : {}), limit, offset };
}

function logIndex(url: URL): number {
  const raw = url.searchParams.get('index') ?? '';
  if (!/^(0|[1-9][0-9]{0,14})$/.test(raw))
    throw new LightproofError('LP_ADMIN_BAD_QUERY', 'index must be a receipt-log entry number: 0, 1, 2...', {
      status: 400,
    });
  return Number(raw);
}

function noReceiptLog(): LightproofError {
  return new LightproofError(
    'LP_ADMIN_NOT_FOUND',
    'This gateway does not log receipts; turn receipts on and leave receipts.log set.',
    { status: 404 },
  );
}

function tokenId(raw: string): string {
  if (!TOKEN_ID.test(raw))
    throw new LightproofError('LP_ADMIN_BAD_QUERY', 'A token id is 64 lower-case hex characters.', {
      status: 400,
    });
  return raw;
}

function notFound(id: string): LightproofError {
  return new LightproofError('LP_ADMIN_NOT_FOUND', `No token ${id} was minted or used here.`, {
    status: 404,
  });
}

function tokenView(t: TokenRecord): Record<string, unknown> {
  return {
    token_id: t.tokenId,
    payment_hash: t.paymentHash,
    service: t.service,
    price_msat: String(t.priceMsat),
    credit_msat: t.creditMsat === null ? null : String(t.creditMsat),
    remaining_msat: t.remainingMsat === null ? null : String(t.remainingMsat),
    created_at: t.createdAt,
    paid_at: t.paidAt,
    revoked_at: t.revokedAt,
    requests: t.requests,
  };
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(toJson(body));
}
