/**
 * A small JSON-over-HTTP(S) client for LND-style REST APIs. Node 20's global fetch cannot trust a
 * self-signed certificate such as LND's tls.cert, so this uses node:https with an explicit CA.
 */
import http from 'node:http';
import https from 'node:https';
import { LightproofError } from '../core/errors.js';

export interface HttpTarget {
  /** Base URL, e.g. https://127.0.0.1:8080 */
  url: string;
  /** PEM of the server's certificate (LND's tls.cert); required for https with a self-signed cert. */
  tlsCert?: string | Buffer;
  headers?: Record<string, string>;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** Larger than any reply LND's REST API gives for the calls we make; caps a hostile server. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

function unreachable(target: HttpTarget, cause: unknown): LightproofError {
  const why = (cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message ?? String(cause);
  return new LightproofError(
    'LP_LN_NODE_UNREACHABLE',
    `Cannot reach the Lightning node at ${target.url} (${why}). Check that it is running and that the URL, port and TLS certificate are right.`,
    { status: 503, cause },
  );
}

function open(
  target: HttpTarget,
  method: string,
  path: string,
  body: unknown,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<http.IncomingMessage> {
  const url = new URL(path, target.url);
  const isHttps = url.protocol === 'https:';
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = (isHttps ? https : http).request(
      url,
      {
        method,
        headers: {
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(payload.length) }
            : {}),
          ...target.headers,
        },
        ...(isHttps && target.tlsCert ? { ca: target.tlsCert } : {}),
        signal,
        timeout: timeoutMs,
      },
      resolve,
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(signal?.aborted ? signal.reason : unreachable(target, err)));
    req.end(payload);
  });
}

/** Reads a whole HTTP message, refusing one longer than `max` bytes (the caller decides what to do with the rest). */
export async function readLimited(
  stream: http.IncomingMessage,
  max: number,
  tooLarge: () => LightproofError,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(text: string, what: string): unknown {
  try {
    return text.length === 0 ? {} : JSON.parse(text);
  } catch {
    throw new LightproofError(
      'LP_LN_BAD_RESPONSE',
      `The node answered ${what} with something that is not JSON.`,
    );
  }
}

export async function requestJson(
  target: HttpTarget,
  method: string,
  path: string,
  body?: unknown,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<JsonResponse> {
  const res = await open(target, method, path, body, opts.signal, opts.timeoutMs ?? 30_000);
  const tooLarge = () => {
    res.destroy(); // a client drops an oversized reply instead of reading it to the end
    return new LightproofError('LP_LN_BAD_RESPONSE', `The node's reply exceeded ${MAX_BODY_BYTES} bytes.`);
  };
  const text = (await readLimited(res, MAX_BODY_BYTES, tooLarge)).toString('utf8');
  return { status: res.statusCode ?? 0, body: parseJson(text, `${method} ${path}`) };
}

/**
 * Opens a streaming call and yields each newline-delimited JSON object (LND's `{"result":…}` lines).
 * Non-2xx answers yield their JSON body once.
 */
export async function* streamJson(
  target: HttpTarget,
  method: string,
  path: string,
  body?: unknown,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): AsyncGenerator<{ status: number; body: unknown }> {
  const res = await open(target, method, path, body, opts.signal, opts.timeoutMs ?? 0);
  const status = res.statusCode ?? 0;
  let buffered = '';
  try {
    for await (const chunk of res) {
      buffered += (chunk as Buffer).toString('utf8');
      if (buffered.length > MAX_BODY_BYTES) {
        throw new LightproofError(
          'LP_LN_BAD_RESPONSE',
          'A streamed line from the node exceeded the size limit.',
        );
      }
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) yield { status, body: parseJson(line, `${method} ${path}`) };
        nl = buffered.indexOf('\n');
      }
    }
    if (buffered.trim()) yield { status, body: parseJson(buffered.trim(), `${method} ${path}`) };
  } catch (err) {
    if (opts.signal?.aborted) return;
    if (err instanceof LightproofError) throw err;
    throw unreachable(target, err);
  } finally {
    res.destroy();
  }
}
