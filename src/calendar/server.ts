/**
 * The public calendar API of opentimestamps-server on node:http, with no framework on the hot path:
 * POST /digest, GET /timestamp/<hex>, GET /tip and GET / (stats). Texts and cache headers the
 * protocol fixes are kept as the reference sends them; other errors are RFC 9457 problem JSON.
 */
import type http from 'node:http';
import { hexToBytes } from '@noble/hashes/utils.js';
import { LightproofError } from '../core/errors.js';
import { errorProblem, problem } from '../core/problem.js';
import type { Aggregator } from './aggregator.js';
import { MAX_DIGEST_BYTES } from './round.js';
import type { CalendarStore } from './store/types.js';

export interface ChainView {
  /** The best block the wallet has processed; null when no Bitcoin node is configured. */
  height(): number | null;
  /** The OP_RETURN data of the anchor waiting for confirmation, if any. */
  pendingTip(): Uint8Array | null;
}

export interface HandlerOptions {
  aggregator: Aggregator;
  store: CalendarStore;
  chain: ChainView;
  minConfirmations: number;
  /** The JSON behind GET / (Accept: application/json). */
  status: () => Promise<Record<string, unknown>>;
}

const CORS: [string, string] = ['access-control-allow-origin', '*'];
const OCTETS: [string, string][] = [['content-type', 'application/octet-stream'], CORS];
const FOREVER = 'public, max-age=31536000';
const MINUTE = 'public, max-age=60';
/** A commitment is 44 bytes; anything much longer is not one of ours, so it is not looked up. */
const MAX_COMMITMENT_HEX = 2 * 1024;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

function send(
  res: http.ServerResponse,
  status: number,
  headers: [string, string][],
  body: string | Uint8Array,
): void {
  const flat: string[] = [];
  for (const [k, v] of headers) flat.push(k, v);
  flat.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
  res.writeHead(status, flat);
  res.end(body);
}

function text(res: http.ServerResponse, status: number, body: string, cache: string, close = false): void {
  const headers: [string, string][] = [
    ['content-type', 'text/plain; charset=utf-8'],
    ['cache-control', cache],
    CORS,
  ];
  if (close) headers.push(['connection', 'close']);
  send(res, status, headers, body);
}

function fail(res: http.ServerResponse, err: LightproofError, extraHeaders: [string, string][] = []): void {
  const p = errorProblem(err);
  send(
    res,
    p.status,
    [['content-type', 'application/problem+json'], ['cache-control', 'no-store'], CORS, ...extraHeaders],
    JSON.stringify(p),
  );
}

export function createCalendarHandler(o: HandlerOptions): http.RequestListener {
  function postDigest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > MAX_DIGEST_BYTES) {
      // The body is never read; closing the connection keeps it from being parsed as a next request.
      text(res, 400, 'digest too long', 'no-store', true);
      req.destroy();
      return;
    }
    let body: Buffer | null = null;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      body = body === null ? chunk : Buffer.concat([body, chunk]);
      if (body.length > MAX_DIGEST_BYTES) {
        refused = true;
        text(res, 400, 'digest too long', 'no-store', true);
        req.destroy();
      }
    });
    req.on('end', () => {
      if (refused) return;
      const digest: Buffer | null = body;
      if (digest === null || digest.length === 0) {
        fail(
          res,
          new LightproofError(
            'LP_CAL_EMPTY_DIGEST',
            'The request body is empty. POST the raw digest bytes (1 to 64 bytes), e.g. a 32-byte SHA-256.',
          ),
        );
        return;
      }
      const accepted = o.aggregator.submit(digest, (err, reply) => {
        if (err) fail(res, err, [['retry-after', '1']]);
        else send(res, 200, OCTETS, reply!);
      });
      if (!accepted) {
        fail(
          res,
          new LightproofError(
            'LP_CAL_BUSY',
            'The calendar has as many digests waiting as it accepts; retry in a second, or aggregate locally first.',
            { status: 503 },
          ),
          [['retry-after', '1']],
        );
      }
    });
  }

  async function getTimestamp(path: string, res: http.ServerResponse): Promise<void> {
    const hex = path.slice('/timestamp/'.length);
    if (hex.length > MAX_COMMITMENT_HEX || !HEX.test(hex)) {
      fail(
        res,
        new LightproofError(
          'LP_CAL_BAD_COMMITMENT',
          'The commitment must be hex-encoded bytes (an even number of 0-9a-f characters), as in GET /timestamp/<hex>.',
        ),
      );
      return;
    }
    const found = await o.store.lookup(hexToBytes(hex));
    if (!found) {
      text(res, 404, 'Not found', MINUTE);
      return;
    }
    const height = o.chain.height();
    const confirmations = found.anchor && height !== null ? height - found.anchor.height + 1 : 0;
    if (found.proof && confirmations >= o.minConfirmations) {
      send(res, 200, [...OCTETS, ['cache-control', FOREVER]], found.proof);
      return;
    }
    if (found.anchor) {
      const waiting = Math.max(1, o.minConfirmations - confirmations);
      text(
        res,
        404,
        `Timestamped by transaction ${found.anchor.txid}; waiting for ${waiting} confirmations`,
        MINUTE,
      );
      return;
    }
    text(res, 404, 'Pending confirmation in Bitcoin blockchain', MINUTE);
  }

  function getTip(res: http.ServerResponse): void {
    const tip = o.chain.pendingTip();
    if (!tip) text(res, 404, 'No anchor is waiting for confirmation', 'public, max-age=10');
    else send(res, 200, [...OCTETS, ['cache-control', 'public, max-age=10']], tip);
  }

  async function getIndex(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const status = await o.status();
    const headers: [string, string][] = [['cache-control', 'public, max-age=5'], ['vary', 'Accept'], CORS];
    if ((req.headers.accept ?? '').includes('application/json')) {
      send(res, 200, [['content-type', 'application/json'], ...headers], JSON.stringify(status));
      return;
    }
    const rows = Object.entries(status)
      .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(JSON.stringify(v))}</td></tr>`)
      .join('');
    const html = `<!doctype html><meta charset="utf-8"><title>OpenTimestamps calendar</title><h1>OpenTimestamps calendar (Lightproof)</h1><table>${rows}</table>`;
    send(res, 200, [['content-type', 'text/html; charset=utf-8'], ...headers], html);
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const method = req.method ?? 'GET';
    if (method === 'POST' && path === '/digest') return postDigest(req, res);
    if (method === 'OPTIONS') {
      return send(
        res,
        204,
        [
          CORS,
          ['access-control-allow-methods', 'GET, POST, OPTIONS'],
          ['access-control-allow-headers', 'Content-Type, Accept'],
          ['access-control-max-age', '86400'],
        ],
        '',
      );
    }
    const known = path === '/digest' || path === '/' || path === '/tip' || path.startsWith('/timestamp/');
    if (known && method !== 'GET' && method !== 'HEAD') {
      return fail(
        res,
        new LightproofError(
          'LP_CAL_METHOD',
          `${method} is not allowed on ${path}; use GET (POST for /digest).`,
          {
            status: 405,
          },
        ),
        [['allow', path === '/digest' ? 'POST' : 'GET']],
      );
    }
    let work: Promise<void> | void;
    if (path.startsWith('/timestamp/')) work = getTimestamp(path, res);
    else if (path === '/tip') work = getTip(res);
    else if (path === '/') work = getIndex(req, res);
    else {
      return send(
        res,
        404,
        [['content-type', 'application/problem+json'], ['cache-control', 'public, max-age=3600'], CORS],
        JSON.stringify(
          problem(
            404,
            'LP_CAL_NOT_FOUND',
            `Nothing is served at ${path.slice(0, 200)}; the calendar serves POST /digest and GET /timestamp/<hex>.`,
          ),
        ),
      );
    }
    work?.catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      fail(
        res,
        err instanceof LightproofError
          ? err
          : new LightproofError(
              'LP_CAL_STORE_FAILED',
              `The calendar's store failed: ${(err as Error).message}. Retry shortly.`,
              {
                status: 503,
                cause: err,
              },
            ),
      );
    });
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
