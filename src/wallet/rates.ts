/**
 * Where USD budgets get the price of a bitcoin: a fixed number from the policy, or a JSON price feed
 * read over HTTP with a timeout, a size cap and a short cache. When the feed fails, USD budgets cannot
 * be checked, so the payment is refused rather than judged against a price that may be far off.
 */
import { LightproofError } from '../core/errors.js';
import { normalizeUsdPerBtc } from './amount.js';
import type { RateSpec } from './types.js';

export interface RateSource {
  /** USD per BTC as a positive decimal string, e.g. "97123.45". */
  usdPerBtc(): Promise<string>;
}

export class FixedRate implements RateSource {
  readonly #value: string;

  constructor(usdPerBtc: string) {
    this.#value = normalizeUsdPerBtc(usdPerBtc);
  }

  async usdPerBtc(): Promise<string> {
    return this.#value;
  }
}

export interface HttpRateOptions {
  url: string;
  /** Dotted path to the price in the JSON body, e.g. "data.amount" (array indices as digits). */
  field: string;
  maxAgeSeconds: number;
  /** Per request, headers and body together; 5 s by default. */
  timeoutMs?: number;
  /** Milliseconds; for tests. */
  now?: () => number;
}

const MAX_BODY_BYTES = 64 * 1024;
/** A price older than this many maxAges is never used, even when the feed is down. */
const STALE_FACTOR = 10;

export class HttpRate implements RateSource {
  readonly url: string;
  readonly field: string;
  readonly maxAgeSeconds: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #cached: { value: string; at: number } | null = null;
  #inflight: Promise<string> | null = null;

  constructor(options: HttpRateOptions) {
    this.url = options.url;
    this.field = options.field;
    this.maxAgeSeconds = options.maxAgeSeconds;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  async usdPerBtc(): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < this.maxAgeSeconds * 1000) return cached.value;
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #refresh(): Promise<string> {
    try {
      const value = await this.#fetch();
      this.#cached = { value, at: this.#now() };
      return value;
    } catch (err) {
      const cached = this.#cached;
      if (cached && this.#now() - cached.at <= STALE_FACTOR * this.maxAgeSeconds * 1000) return cached.value;
      throw new LightproofError(
        'LP_WALLET_RATE_UNAVAILABLE',
        `The USD/BTC price from ${this.url} is unavailable (${(err as Error).message}), so USD budgets cannot be checked and nothing was paid. Fix the price URL, or set a fixed rate (rate: { usdPerBtc: "…" }), or write budgets in sat.`,
        { status: 503, details: { url: this.url }, cause: err },
      );
    }
  }

  async #fetch(): Promise<string> {
    const res = await fetch(this.url, {
      signal: AbortSignal.timeout(this.#timeoutMs),
      headers: { accept: 'application/json' },
    }).catch((err: Error) => {
      throw new Error(err.name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : reason(err));
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`HTTP ${res.status}`);
    }
    const text = await readCapped(res, this.#timeoutMs);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error('the body is not JSON');
    }
    const raw = pick(body, this.field);
    if (raw === undefined) throw new Error(`the JSON has no "${this.field}"`);
    if (typeof raw !== 'string' && typeof raw !== 'number')
      throw new Error(`"${this.field}" is not a number`);
    try {
      return normalizeUsdPerBtc(raw);
    } catch {
      throw new Error(`"${this.field}" is ${JSON.stringify(raw).slice(0, 40)}, not a positive decimal`);
    }
  }
}

async function readCapped(res: Response, timeoutMs: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > MAX_BODY_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`the body is larger than ${MAX_BODY_BYTES / 1024} KiB`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((err: Error) => {
        throw new Error(err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : reason(err));
      });
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) throw new Error(`the body is larger than ${MAX_BODY_BYTES / 1024} KiB`);
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** body.a.b.0.c, through own properties only. */
function pick(body: unknown, field: string): unknown {
  let v: unknown = body;
  for (const part of field.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function reason(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

/** One HttpRate per feed, so its cache lasts across payments (the wallet asks per payment). */
const feeds = new Map<string, HttpRate>();

export function rateSourceFor(spec: RateSpec): RateSource {
  if (spec.kind === 'fixed') return new FixedRate(spec.usdPerBtc);
  const key = JSON.stringify([spec.url, spec.field, spec.maxAgeSeconds]);
  let feed = feeds.get(key);
  if (!feed) {
    if (feeds.size >= 16) feeds.delete(feeds.keys().next().value as string);
    feed = new HttpRate(spec);
    feeds.set(key, feed);
  }
  return feed;
}
