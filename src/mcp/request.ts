/**
 * The HTTP side of fetch_paid and quote: the request a model describes, checked; the parts of a
 * response worth showing it; and a body read only up to a cap.
 */
import { z } from 'zod';
import { LightproofError } from '../core/errors.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** Headers a model may not set: the wallet owns the credential, node:fetch owns the framing. */
const FORBIDDEN = new Set(['authorization', 'host', 'content-length', 'transfer-encoding', 'connection']);

export const requestShape = {
  url: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .max(8192)
    .describe('The http:// or https:// URL to request.'),
  method: z
    .enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
    .optional()
    .describe('HTTP method; GET by default, POST when a body is given.'),
  headers: z
    .record(z.string().regex(HEADER_NAME, 'expected an HTTP header name'), z.string().max(8192))
    .optional()
    .describe(
      'Request headers, e.g. {"content-type": "application/json"}. Authorization is set by the wallet.',
    ),
  body: z
    .string()
    .max(1024 * 1024)
    .optional()
    .describe('Request body as text (at most 1 MiB).'),
};

export interface RequestArgs {
  url: string;
  method?: string | undefined;
  headers?: Record<string, string> | undefined;
  body?: string | undefined;
}

export function requestInit(a: RequestArgs, signal?: AbortSignal): RequestInit {
  const headers = new Headers();
  for (const [name, value] of Object.entries(a.headers ?? {})) {
    if (FORBIDDEN.has(name.toLowerCase())) {
      throw new LightproofError(
        'LP_MCP_BAD_REQUEST',
        `The ${name} header cannot be set here: the wallet adds the L402 credential itself.`,
      );
    }
    if (/[\r\n\0]/.test(value)) {
      throw new LightproofError('LP_MCP_BAD_REQUEST', `The ${name} header's value contains a line break.`);
    }
    headers.set(name, value);
  }
  const method = a.method ?? (a.body === undefined ? 'GET' : 'POST');
  if (a.body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new LightproofError('LP_MCP_BAD_REQUEST', `A ${method} request cannot carry a body; use POST.`);
  }
  return {
    method,
    headers,
    ...(a.body === undefined ? {} : { body: a.body }),
    ...(signal ? { signal } : {}),
  };
}

/** Response headers a model may need; cookies and anything else are left out. */
const SHOWN = [
  'content-type',
  'content-length',
  'content-language',
  'cache-control',
  'etag',
  'last-modified',
  'location',
  'retry-after',
  'www-authenticate',
  'lightproof-receipt',
  'x-request-id',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
];

export function selectHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SHOWN) {
    const v = h.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}

const TEXTUAL =
  /^(text\/|application\/([\w.+-]*\+)?(json|xml|yaml|javascript|x-www-form-urlencoded|x-ndjson|graphql)\b)/i;

export interface BodyText {
  body: string;
  body_encoding: 'utf8' | 'base64';
  body_bytes: number;
  truncated: boolean;
}

/** Reads at most MAX bytes (the rest is discarded); text as UTF-8, anything else as base64. */
export async function readCapped(res: Response, max: number): Promise<BodyText> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > max) {
        chunks.push(value.subarray(0, max - size));
        size = max;
        truncated = true;
        await reader.cancel().catch(() => {});
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  }
  const bytes = Buffer.concat(chunks);
  const type = res.headers.get('content-type');
  const text = type === null || TEXTUAL.test(type);
  return {
    body: text ? new TextDecoder('utf-8').decode(bytes) : bytes.toString('base64'),
    body_encoding: text ? 'utf8' : 'base64',
    body_bytes: size,
    truncated,
  };
}
