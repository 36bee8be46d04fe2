/**
 * A JSON-RPC client for bitcoind and btcd. It speaks plain HTTP (bitcoind) and HTTPS with an explicit
 * CA (btcd's self-signed rpc.cert), authenticates with a user/password, a URL's credentials or
 * bitcoind's cookie file, and turns every failure into a typed LightproofError.
 */

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { LightproofError } from '../core/errors.js';

export interface BitcoinRpcOptions {
  /** e.g. http://127.0.0.1:8332 (bitcoind), https://127.0.0.1:18334 (btcd); may carry user:pass@. */
  url: string;
  user?: string;
  pass?: string;
  /** bitcoind's .cookie file (`__cookie__:<password>`); read on every call, since bitcoind rewrites it on restart. */
  cookieFile?: string;
  /** PEM of the node's certificate (btcd's rpc.cert) for https with a self-signed certificate. */
  tlsCert?: string | Buffer;
  /** Deadline for one call, from connect to the last byte of the reply. */
  timeoutMs?: number;
  /** Largest reply accepted; raw blocks are up to a few MB as hex. */
  maxReplyBytes?: number;
}

export interface BitcoinRpc {
  /** The URL without credentials, for messages. */
  readonly url: string;
  call<T = unknown>(method: string, params?: readonly unknown[]): Promise<T>;
  getBlockCount(): Promise<number>;
  getBlockHash(height: number): Promise<string>;
  /** The 80-byte header as 160 hex characters (`getblockheader <hash> false`). */
  getBlockHeaderHex(hash: string): Promise<string>;
  /** The whole serialized block as hex (`getblock <hash> 0`). */
  getRawBlockHex(hash: string): Promise<string>;
  /** Broadcasts a transaction; resolves to its txid. A rejection is LP_BTC_RPC_ERROR with the node's code (-26, -25, …). */
  sendRawTransaction(hex: string): Promise<string>;
  getRawTransactionHex(txid: string): Promise<string>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_REPLY_BYTES = 32 * 1024 * 1024;
const HASH_HEX = /^[0-9a-fA-F]{64}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

interface Endpoint {
  url: URL;
  display: string;
  userinfo: { user: string; pass: string } | undefined;
}

function parseEndpoint(raw: string): Endpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badUrl(raw);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badUrl(raw);
  const userinfo =
    url.username || url.password
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : undefined;
  url.username = '';
  url.password = '';
  return { url, display: url.toString().replace(/\/$/, ''), userinfo };
}

function badUrl(raw: string): LightproofError {
  // The raw URL may hold a password, so it is not echoed.
  return new LightproofError(
    'LP_BTC_RPC_BAD_URL',
    'The Bitcoin node URL is not an http:// or https:// URL. Pass it like http://127.0.0.1:8332 or https://user:pass@127.0.0.1:8334.',
    { details: { length: raw.length } },
  );
}

function authHeader(opts: BitcoinRpcOptions, endpoint: Endpoint): string | undefined {
  let creds: string | undefined;
  if (opts.user !== undefined) creds = `${opts.user}:${opts.pass ?? ''}`;
  else if (endpoint.userinfo) creds = `${endpoint.userinfo.user}:${endpoint.userinfo.pass}`;
  else if (opts.cookieFile !== undefined) creds = readCookie(opts.cookieFile);
  return creds === undefined ? undefined : `Basic ${Buffer.from(creds).toString('base64')}`;
}

function readCookie(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (cause) {
    throw new LightproofError(
      'LP_BTC_RPC_COOKIE',
      `Cannot read the bitcoind cookie file ${path}. Start bitcoind (it writes .cookie in its data directory on start) or pass a user and password instead.`,
      { cause },
    );
  }
  if (!text.includes(':')) {
    throw new LightproofError(
      'LP_BTC_RPC_COOKIE',
      `The cookie file ${path} does not hold user:password. Point at bitcoind's .cookie file, not another file.`,
    );
  }
  return text;
}

interface RawReply {
  status: number;
  body: Buffer;
}

function post(
  endpoint: Endpoint,
  agent: http.Agent,
  headers: Record<string, string>,
  payload: Buffer,
  timeoutMs: number,
  maxBytes: number,
  method: string,
): Promise<RawReply> {
  const isHttps = endpoint.url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: LightproofError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () =>
        fail(
          new LightproofError(
            'LP_BTC_RPC_TIMEOUT',
            `The Bitcoin node at ${endpoint.display} did not answer ${method} within ${timeoutMs} ms. Check that it is running and not still syncing, or raise the timeout.`,
            { status: 504, details: { method, timeoutMs } },
          ),
        ),
      timeoutMs,
    );
    const req = (isHttps ? https : http).request(
      endpoint.url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(payload.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            fail(
              new LightproofError(
                'LP_BTC_RPC_BAD_REPLY',
                `The Bitcoin node at ${endpoint.display} answered ${method} with more than ${maxBytes} bytes. Check that the URL points at a bitcoind or btcd RPC port.`,
                { status: 502, details: { method, maxBytes } },
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => fail(unreachable(endpoint, method, err)));
      },
    );
    req.on('error', (err) => fail(unreachable(endpoint, method, err)));
    req.end(payload);
  });
}

function unreachable(endpoint: Endpoint, method: string, cause: unknown): LightproofError {
  const why = (cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message ?? String(cause);
  const tlsHint =
    endpoint.url.protocol === 'https:'
      ? ' For btcd, pass its rpc.cert as the TLS certificate; for bitcoind, use http://.'
      : '';
  return new LightproofError(
    'LP_BTC_RPC_UNREACHABLE',
    `Cannot reach the Bitcoin node at ${endpoint.display} (${why}). Check that it is running and that the URL and port are right.${tlsHint}`,
    { status: 503, cause, details: { method, reason: why } },
  );
}

function badReply(endpoint: Endpoint, method: string, what: string, status: number): LightproofError {
  return new LightproofError(
    'LP_BTC_RPC_BAD_REPLY',
    `The Bitcoin node at ${endpoint.display} answered ${method} with ${what} (HTTP ${status}). Check that the URL points at a bitcoind or btcd JSON-RPC port.`,
    { status: 502, details: { method, httpStatus: status } },
  );
}

/** Decodes a JSON-RPC 1.0 reply. bitcoind sends errors with HTTP 500/404 and a JSON body; btcd with 200. */
function decodeReply(endpoint: Endpoint, method: string, id: number, reply: RawReply): unknown {
  if (reply.status === 401 || reply.status === 403) {
    throw new LightproofError(
      'LP_BTC_RPC_AUTH',
      `The Bitcoin node at ${endpoint.display} refused the credentials (HTTP ${reply.status}). Pass the rpcuser/rpcpassword from its config, or bitcoind's cookie file.`,
      { status: 502, details: { method, httpStatus: reply.status } },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(reply.body.toString('utf8'));
  } catch {
    throw badReply(endpoint, method, 'something that is not JSON', reply.status);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badReply(endpoint, method, 'JSON that is not a JSON-RPC reply', reply.status);
  }
  const { result, error, id: replyId } = body as { result?: unknown; error?: unknown; id?: unknown };
  if (error !== undefined && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const rpcCode = typeof code === 'number' ? code : undefined;
    const rpcMessage =
      typeof message === 'string' ? message.slice(0, 1000) : JSON.stringify(error).slice(0, 1000);
    throw new LightproofError(
      'LP_BTC_RPC_ERROR',
      `The Bitcoin node refused ${method}: ${rpcMessage}${rpcCode === undefined ? '' : ` (code ${rpcCode})`}. Check the parameters, and that the node has the data (txindex, not pruned).`,
      { status: 502, details: { method, code: rpcCode, message: rpcMessage, httpStatus: reply.status } },
    );
  }
  if (reply.status < 200 || reply.status >= 300) {
    throw badReply(endpoint, method, 'an HTTP error without a JSON-RPC error', reply.status);
  }
  if (!('result' in body) || replyId !== id) {
    throw badReply(endpoint, method, 'a reply that is not for this request', reply.status);
  }
  return result;
}

export function bitcoinRpc(opts: BitcoinRpcOptions): BitcoinRpc {
  const endpoint = parseEndpoint(opts.url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  const agent =
    endpoint.url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, ...(opts.tlsCert ? { ca: opts.tlsCert } : {}) })
      : new http.Agent({ keepAlive: true });
  let nextId = 0;

  async function call<T = unknown>(method: string, params: readonly unknown[] = []): Promise<T> {
    const id = ++nextId;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    const auth = authHeader(opts, endpoint);
    if (auth) headers.authorization = auth;
    const payload = Buffer.from(JSON.stringify({ jsonrpc: '1.0', id, method, params }));
    const reply = await post(endpoint, agent, headers, payload, timeoutMs, maxBytes, method);
    return decodeReply(endpoint, method, id, reply) as T;
  }

  async function hexResult(method: string, params: readonly unknown[], pattern: RegExp): Promise<string> {
    const result = await call(method, params);
    if (typeof result !== 'string' || !pattern.test(result)) {
      throw badReply(endpoint, method, 'a result that is not the expected hex', 200);
    }
    return result.toLowerCase();
  }

  return {
    url: endpoint.display,
    call,
    async getBlockCount() {
      const n = await call('getblockcount');
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        throw badReply(endpoint, 'getblockcount', 'a height that is not a whole number', 200);
      }
      return n;
    },
    async getBlockHash(height) {
      if (!Number.isSafeInteger(height) || height < 0) {
        throw new LightproofError(
          'LP_BTC_BAD_HEIGHT',
          `Block height ${height} is not a whole number ≥ 0. Pass a block height such as 358391.`,
        );
      }
      return hexResult('getblockhash', [height], HASH_HEX);
    },
    async getBlockHeaderHex(hash) {
      return hexResult('getblockheader', [requireHash(hash, 'block hash'), false], /^[0-9a-fA-F]{160}$/);
    },
    async getRawBlockHex(hash) {
      return hexResult('getblock', [requireHash(hash, 'block hash'), 0], HEX);
    },
    async sendRawTransaction(hex) {
      if (!HEX.test(hex) || hex.length === 0) {
        throw new LightproofError(
          'LP_BTC_BAD_HEX',
          'The transaction to broadcast is not hex. Pass the serialized transaction as hex.',
        );
      }
      return hexResult('sendrawtransaction', [hex], HASH_HEX);
    },
    async getRawTransactionHex(txid) {
      return hexResult('getrawtransaction', [requireHash(txid, 'txid'), 0], HEX);
    },
    close() {
      agent.destroy();
    },
  };
}

function requireHash(hash: string, what: string): string {
  if (!HASH_HEX.test(hash)) {
    throw new LightproofError(
      'LP_BTC_BAD_HEX',
      `The ${what} "${hash.slice(0, 80)}" is not 64 hex characters. Pass it as shown by a block explorer.`,
    );
  }
  return hash.toLowerCase();
}
