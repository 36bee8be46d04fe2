/**
 * Serves the embedded node over the subset of LND's REST API that the `lnd` client uses, with LND's
 * JSON shapes (bytes in base64, int64 as strings, streams as newline-delimited {"result": …}).
 * Typed errors travel as LND-style {code, message} bodies plus `lightproof_code`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightproofError } from '../../core/errors.js';
import { msat } from '../../core/money.js';
import { readLimited } from '../http.js';
import type { InvoiceStatus, PaymentStatus } from '../types.js';
import type { EmbeddedLightning } from './host.js';
import type { EmbeddedNode } from './node.js';

const MAX_BODY_BYTES = 64 * 1024;
/** gRPC status codes, which LND puts in the `code` field of REST errors. */
const GRPC_CODE: Record<number, number> = {
  400: 3,
  401: 16,
  402: 9,
  404: 5,
  409: 6,
  413: 8,
  502: 14,
  503: 14,
};

type Json = Record<string, unknown>;

function hexToB64(hex: string | null): string {
  return hex ? Buffer.from(hex, 'hex').toString('base64') : '';
}

function invoiceJson(s: InvoiceStatus): Json {
  const amount = s.amountMsat ?? 0n;
  return {
    memo: s.description ?? '',
    r_preimage: hexToB64(s.preimage),
    r_hash: hexToB64(s.paymentHash),
    value: (amount / 1000n).toString(),
    value_msat: amount.toString(),
    settled: s.state === 'settled',
    creation_date: String(s.createdAt),
    settle_date: String(s.settledAt ?? 0),
    payment_request: s.paymentRequest,
    state: s.state.toUpperCase(),
    amt_paid_sat: (s.amountPaidMsat / 1000n).toString(),
    amt_paid_msat: s.amountPaidMsat.toString(),
  };
}

function paymentJson(p: PaymentStatus, paymentRequest = ''): Json {
  return {
    payment_hash: p.paymentHash,
    value_sat: (p.amountMsat / 1000n).toString(),
    value_msat: p.amountMsat.toString(),
    payment_preimage: p.preimage ?? '',
    payment_request: paymentRequest,
    status: p.state === 'succeeded' ? 'SUCCEEDED' : p.state === 'failed' ? 'FAILED' : 'IN_FLIGHT',
    fee_sat: (p.feeMsat / 1000n).toString(),
    fee_msat: p.feeMsat.toString(),
    failure_reason: p.failureReason ?? 'FAILURE_REASON_NONE',
  };
}

function errorJson(err: unknown): { status: number; body: Json } {
  if (err instanceof LightproofError) {
    return {
      status: err.status,
      body: {
        code: GRPC_CODE[err.status] ?? 2,
        message: err.message,
        details: [],
        lightproof_code: err.code,
      },
    };
  }
  return { status: 500, body: { code: 13, message: 'internal error in the embedded node', details: [] } };
}

async function readBody(req: http.IncomingMessage): Promise<Json> {
  const body = await readLimited(
    req,
    MAX_BODY_BYTES,
    () =>
      new LightproofError(
        'LP_HTTP_BODY_TOO_LARGE',
        `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`,
        {
          status: 413,
        },
      ),
  );
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Json;
  } catch {}
  throw new LightproofError('LP_HTTP_BAD_JSON', 'The request body must be a JSON object.', { status: 400 });
}

function optionalMsat(value: unknown, field: string): bigint | undefined {
  if (value === undefined || value === null || value === '' || value === '0' || value === 0) return undefined;
  if ((typeof value !== 'string' && typeof value !== 'number') || !/^\d+$/.test(String(value))) {
    throw new LightproofError('LP_HTTP_BAD_FIELD', `${field} must be a whole number of millisatoshis.`, {
      status: 400,
    });
  }
  return msat(String(value));
}

export class EmbeddedRestServer {
  readonly host: EmbeddedLightning;
  readonly server: http.Server;

  constructor(host: EmbeddedLightning) {
    this.host = host;
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => this.fail(res, err));
    });
  }

  /** Listens on HOST:PORT (port 0 picks a free one) and returns the base URL. */
  async listen(hostname = '127.0.0.1', port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, hostname, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${h}:${addr.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private fail(res: http.ServerResponse, err: unknown): void {
    const { status, body } = errorJson(err);
    if (res.headersSent) {
      res.end(`${JSON.stringify({ error: body })}\n`);
      return;
    }
    this.send(res, status, body);
  }

  private send(res: http.ServerResponse, status: number, body: Json): void {
    // After a refused oversized body the rest of it is unread: answer, then close the connection.
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(status === 413 ? { connection: 'close' } : {}),
    });
    res.end(JSON.stringify(body));
  }

  private account(req: http.IncomingMessage): EmbeddedNode {
    const header = req.headers['grpc-metadata-macaroon'];
    const hex = Array.isArray(header) ? header[0] : header;
    if (!hex || !/^([0-9a-fA-F]{2})+$/.test(hex)) {
      throw new LightproofError(
        'LP_LN_AUTH_FAILED',
        'expected 1 macaroon in the Grpc-Metadata-macaroon header, got 0.',
        {
          status: 401,
        },
      );
    }
    return this.host.accountByCredential(Buffer.from(hex, 'hex'));
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://embedded');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/v1/state') return this.send(res, 200, { state: 'SERVER_ACTIVE' });
    const node = this.account(req);
    if (method === 'GET' && path === '/v1/getinfo') {
      const info = await node.getInfo();
      return this.send(res, 200, {
        identity_pubkey: info.pubkey,
        alias: info.alias,
        block_height: 0,
        synced_to_chain: true,
        version: info.version,
        chains: [{ chain: 'bitcoin', network: info.network }],
      });
    }
    if (method === 'GET' && path === '/v1/balance/channels') {
      const b = await node.balance();
      return this.send(res, 200, {
        local_balance: { sat: (b.spendableMsat / 1000n).toString(), msat: b.spendableMsat.toString() },
        remote_balance: { sat: '0', msat: '0' },
      });
    }
    if (method === 'POST' && path === '/v1/invoices') {
      const body = await readBody(req);
      const sat = optionalMsat(body.value, 'value');
      const amount =
        optionalMsat(body.value_msat, 'value_msat') ?? (sat === undefined ? undefined : sat * 1000n);
      const expiry = body.expiry === undefined ? undefined : Number(body.expiry);
      const created = await node.createInvoice({
        amountMsat: amount === undefined ? null : msat(amount),
        ...(typeof body.memo === 'string' ? { description: body.memo } : {}),
        ...(typeof body.description_hash === 'string' && body.description_hash
          ? { descriptionHash: Buffer.from(body.description_hash, 'base64') }
          : {}),
        ...(expiry !== undefined ? { expirySeconds: expiry } : {}),
      });
      return this.send(res, 200, {
        r_hash: hexToB64(created.paymentHash),
        payment_request: created.paymentRequest,
      });
    }
    const invoiceMatch = /^\/v1\/invoice\/([^/]+)$/.exec(path);
    if (method === 'GET' && invoiceMatch) {
      return this.send(res, 200, invoiceJson(await node.lookupInvoice(invoiceMatch[1]!)));
    }
    if (method === 'POST' && path === '/v2/router/send') {
      const body = await readBody(req);
      if (typeof body.payment_request !== 'string') {
        throw new LightproofError('LP_HTTP_BAD_FIELD', 'payment_request is required.', { status: 400 });
      }
      const amount = optionalMsat(body.amt_msat, 'amt_msat');
      const result = await node.payInvoice(
        body.payment_request,
        amount === undefined ? {} : { amountMsat: msat(amount) },
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(`${JSON.stringify({ result: paymentJson(result, body.payment_request) })}\n`);
    }
    const trackMatch = /^\/v2\/router\/track\/([^/]+)$/.exec(path);
    if (method === 'GET' && trackMatch) {
      const hash = Buffer.from(trackMatch[1]!, 'base64url').toString('hex');
      const payment = await node.lookupPayment(hash);
      if (!payment) {
        throw new LightproofError('LP_LN_PAYMENT_NOT_FOUND', "payment isn't initiated", { status: 404 });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(`${JSON.stringify({ result: paymentJson(payment) })}\n`);
    }
    if (method === 'GET' && path === '/v1/invoices/subscribe') {
      const stop = new AbortController();
      res.on('close', () => stop.abort());
      res.writeHead(200, { 'content-type': 'application/json' });
      for await (const status of node.subscribeInvoices({ signal: stop.signal })) {
        res.write(`${JSON.stringify({ result: invoiceJson(status) })}\n`);
      }
      return void res.end();
    }
    throw new LightproofError(
      'LP_HTTP_NOT_FOUND',
      `${method} ${path} is not part of the embedded node's API.`,
      {
        status: 404,
      },
    );
  }
}
