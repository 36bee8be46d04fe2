/**
 * `lightproof energy signal`: serves a plan's price floor over HTTP in the form the gateway's
 * dynamic price hook reads (src/gateway/pricing.ts): `GET /price?service=NAME` answers
 * `{"price_msat": N, ...}` for the interval that holds the current time. Outside the plan it
 * answers 503, so the gateway falls back to its configured price or refuses to sell.
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { describeIssues } from '../core/config-file.js';
import { LightproofError } from '../core/errors.js';
import { problem } from '../core/problem.js';

export type FloorUnit = 'request' | '1k-tokens';

const MAX_PLAN_BYTES = 256 * 1024 * 1024;
const MAX_BODY = 64 * 1024;

const msatInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const planSchema = z.object({
  version: z.literal(1),
  site: z.string(),
  step_minutes: z.number().int().min(1).max(1440),
  intervals: z
    .array(
      z.object({
        start: z.iso.datetime({ offset: true }),
        value_usd_per_mwh: z.number().finite(),
        floor_msat_per_request: msatInt,
        floor_msat_per_1k_tokens: msatInt,
      }),
    )
    .min(1)
    .max(200_000),
});

/** What the signal needs from a plan: regular interval starts and a floor per interval. */
export interface SignalPlan {
  site: string;
  stepMs: number;
  start: number;
  value: Float64Array;
  perRequest: Float64Array;
  per1kTokens: Float64Array;
}

export function loadSignalPlan(path: string): SignalPlan {
  let raw: unknown;
  try {
    if (statSync(path).size > MAX_PLAN_BYTES) throw new Error('it is larger than 256 MiB');
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new LightproofError(
      'LP_ENERGY_PLAN_FILE',
      `Cannot read the plan ${path}: ${(cause as Error).message}. Write one with lightproof energy plan --out plan.json.`,
      { cause },
    );
  }
  return parseSignalPlan(raw, path);
}

export function parseSignalPlan(raw: unknown, source: string): SignalPlan {
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = describeIssues(parsed.error.issues);
    throw new LightproofError(
      'LP_ENERGY_PLAN_FILE',
      `${source} is not a plan from lightproof energy plan: ${lines.join('; ')}.`,
      {
        details: { issues: lines },
      },
    );
  }
  const p = parsed.data;
  const stepMs = p.step_minutes * 60_000;
  const start = Date.parse(p.intervals[0]!.start);
  p.intervals.forEach((r, i) => {
    if (Date.parse(r.start) !== start + i * stepMs) {
      throw new LightproofError(
        'LP_ENERGY_PLAN_FILE',
        `${source}: intervals[${i}].start is ${r.start}, but the plan's intervals are ${p.step_minutes} minutes apart from ${p.intervals[0]!.start}.`,
      );
    }
  });
  return {
    site: p.site,
    stepMs,
    start,
    value: Float64Array.from(p.intervals, (r) => r.value_usd_per_mwh),
    perRequest: Float64Array.from(p.intervals, (r) => r.floor_msat_per_request),
    per1kTokens: Float64Array.from(p.intervals, (r) => r.floor_msat_per_1k_tokens),
  };
}

export interface SignalOptions {
  plan: SignalPlan;
  host?: string;
  port?: number;
  unit?: FloorUnit;
  now?: () => number;
}

export interface RunningSignal {
  url: string;
  close(): Promise<void>;
}

export async function startSignal(o: SignalOptions): Promise<RunningSignal> {
  const now = o.now ?? Date.now;
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': status >= 400 ? 'application/problem+json' : 'application/json',
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        send(
          413,
          problem(413, 'LP_ENERGY_SIGNAL_BODY', 'The price hook takes no request body larger than 64 KiB.'),
          { connection: 'close' },
        );
        req.destroy();
      }
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const url = new URL(req.url ?? '/', 'http://signal');
      if (url.pathname !== '/price' && url.pathname !== '/') {
        return send(
          404,
          problem(
            404,
            'LP_ENERGY_SIGNAL_PATH',
            `Nothing at ${url.pathname.slice(0, 100)}; the price floor is at /price.`,
          ),
        );
      }
      if (!['GET', 'HEAD', 'POST'].includes(req.method ?? '')) {
        return send(405, problem(405, 'LP_ENERGY_SIGNAL_METHOD', 'Use GET (or POST) /price.'), {
          allow: 'GET, HEAD, POST',
        });
      }
      const answer = priceAt(o.plan, url, o.unit ?? 'request', now());
      if ('problem' in answer) return send(answer.problem.status, answer.problem, { 'retry-after': '60' });
      send(200, answer.body, { 'cache-control': `max-age=${answer.maxAge}` });
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Answer = { body: Record<string, unknown>; maxAge: number } | { problem: ReturnType<typeof problem> };

function priceAt(plan: SignalPlan, url: URL, defaultUnit: FloorUnit, nowMs: number): Answer {
  const at = url.searchParams.get('at');
  const t = at === null ? nowMs : Date.parse(at);
  const unit = url.searchParams.get('unit') ?? defaultUnit;
  if (Number.isNaN(t) || (unit !== 'request' && unit !== '1k-tokens')) {
    return {
      problem: problem(
        400,
        'LP_ENERGY_SIGNAL_QUERY',
        'at must be an ISO 8601 time and unit one of request, 1k-tokens.',
      ),
    };
  }
  const i = Math.floor((t - plan.start) / plan.stepMs);
  const n = plan.value.length;
  if (i < 0 || i >= n) {
    const end = new Date(plan.start + n * plan.stepMs).toISOString();
    return {
      problem: problem(
        503,
        'LP_ENERGY_SIGNAL_OUT_OF_PLAN',
        `The plan covers ${new Date(plan.start).toISOString()} to ${end}; ${new Date(t).toISOString()} is outside it. Plan the coming intervals.`,
      ),
    };
  }
  const intervalStart = plan.start + i * plan.stepMs;
  return {
    body: {
      price_msat: unit === 'request' ? plan.perRequest[i]! : plan.per1kTokens[i]!,
      unit,
      service: url.searchParams.get('service'),
      site: plan.site,
      interval_start: new Date(intervalStart).toISOString(),
      interval_minutes: plan.stepMs / 60_000,
      value_usd_per_mwh: plan.value[i]!,
    },
    maxAge: Math.max(0, Math.floor((intervalStart + plan.stepMs - t) / 1000)),
  };
}
