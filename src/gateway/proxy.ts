/**
 * Forwarding one request to its upstream over node:http(s) with keep-alive, streaming both ways.
 * Hop-by-hop headers stay on their hop (RFC 9110 §7.6.1); the L402 credential never reaches the
 * upstream; the service's configured headers replace whatever the client sent under those names.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { LightproofError } from '../core/errors.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export interface UpstreamRequest {
  upstream: URL;
  method: string;
  /** Path and query as the upstream should see them. */
  path: string;
  headers: IncomingHttpHeaders;
  extraHeaders: Record<string, string>;
  clientIp: string;
  /** The scheme the client used, for X-Forwarded-Proto. */
  scheme: 'http' | 'https';
  timeoutMs: number;
}

export class UpstreamPool {
  readonly #http = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  readonly #https = new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

  /**
   * Sends the request, streaming BODY to the upstream, and resolves with the upstream's response
   * once its headers arrive. Rejects with LP_GATEWAY_UPSTREAM_DOWN (502) or _TIMEOUT (504).
   */
  forward(req: UpstreamRequest, body: IncomingMessage | null): Promise<IncomingMessage> {
    const secure = req.upstream.protocol === 'https:';
    const headers = upstreamHeaders(req);
    return new Promise((resolve, reject) => {
      const out = (secure ? https : http).request({
        agent: secure ? this.#https : this.#http,
        protocol: req.upstream.protocol,
        hostname: req.upstream.hostname,
        port: req.upstream.port || (secure ? 443 : 80),
        method: req.method,
        path: req.path,
        headers,
        timeout: req.timeoutMs,
      });
      out.on('response', resolve);
      out.on('timeout', () =>
        out.destroy(
          new LightproofError(
            'LP_GATEWAY_UPSTREAM_TIMEOUT',
            `The upstream ${req.upstream.origin} did not answer within ${req.timeoutMs / 1000} s; retry later.`,
            { status: 504 },
          ),
        ),
      );
      out.on('error', (err) => reject(upstreamError(err, req.upstream)));
      if (body) {
        body.pipe(out);
        body.on('error', (err) => out.destroy(err));
      } else out.end();
    });
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

function upstreamError(err: Error, upstream: URL): LightproofError {
  if (err instanceof LightproofError) return err;
  return new LightproofError(
    'LP_GATEWAY_UPSTREAM_DOWN',
    `The upstream ${upstream.origin} cannot be reached (${(err as NodeJS.ErrnoException).code ?? err.message}); retry later.`,
    { status: 502, cause: err },
  );
}

function upstreamHeaders(req: UpstreamRequest): OutgoingHttpHeaders {
  const named = connectionTokens(req.headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k)) continue;
    if (k === 'authorization' && typeof v === 'string' && /^\s*(l402|lsat)\s/i.test(v)) continue;
    out[k] = v;
  }
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${req.clientIp}` : req.clientIp;
  out['x-forwarded-proto'] = req.scheme;
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host;
  out.host = req.upstream.host;
  for (const [k, v] of Object.entries(req.extraHeaders)) out[k] = v;
  return out;
}

/** Response headers for the client: the upstream's, minus hop-by-hop ones. */
export function downstreamHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k)) continue;
    out[k] = v;
  }
  return out;
}

function connectionTokens(value: string | undefined): Set<string> {
  if (!value) return new Set();
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()));
}
