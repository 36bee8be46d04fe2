import type { LightproofError } from './errors.js';

/** The JSON body of an RFC 9457 problem response. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  404: 'Not Found',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function problem(
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem {
  return {
    type: `https://lightproof.dev/problems/${code.toLowerCase().replace(/^lp_/, '').replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extensions,
  };
}

/** An RFC 9457 response (application/problem+json) with extra headers. */
export function problemResponse(p: Problem, headers: [string, string][] = []): Response {
  const h = new Headers({ 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
  for (const [k, v] of headers) h.append(k, v);
  return new Response(JSON.stringify(p), { status: p.status, headers: h });
}

export function errorProblem(err: LightproofError, extensions: Record<string, unknown> = {}): Problem {
  return problem(err.status, err.code, err.message, extensions);
}
