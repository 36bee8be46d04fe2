/**
 * What a new token costs. A static price, or one read from an HTTP price hook (the energy planner's
 * `lightproof energy signal` serves one), cached per service so a burst of challenges makes one call.
 */
import { LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';
import type { PriceConfig, ServiceConfig } from './config.js';

type HookPrice = Extract<PriceConfig, { kind: 'hook' }>;

/** A price hook answers a few bytes of JSON; anything larger is refused unread. */
const MAX_HOOK_BODY = 64 * 1024;

interface Cached {
  priceMsat: Msat;
  until: number;
}

export class PriceBook {
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<Msat>>();
  readonly #now: () => number;

  constructor(now: () => number = () => Date.now()) {
    this.#now = now;
  }

  /** The price of one token of SERVICE now; throws LP_GATEWAY_PRICE_UNAVAILABLE when unknown. */
  async price(service: ServiceConfig): Promise<Msat> {
    const p = service.price;
    if (p.kind === 'static') return p.msat;
    const hit = this.#cache.get(service.name);
    if (hit && hit.until > this.#now()) return hit.priceMsat;
    let pending = this.#inflight.get(service.name);
    if (!pending) {
      pending = this.#ask(service.name, p).finally(() => this.#inflight.delete(service.name));
      this.#inflight.set(service.name, pending);
    }
    try {
      return await pending;
    } catch (err) {
      if (p.fallbackMsat !== null) return p.fallbackMsat;
      throw err;
    }
  }

  async #ask(name: string, p: HookPrice): Promise<Msat> {
    const url = new URL(p.url);
    url.searchParams.set('service', name);
    let priceMsat: Msat;
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(p.timeoutMs),
        headers: { accept: 'application/json' },
      });
      if (!res.ok) throw new Error(`it answered HTTP ${res.status}`);
      const body = await readCapped(res);
      priceMsat = parseHookBody(body);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new LightproofError(
        'LP_GATEWAY_PRICE_UNAVAILABLE',
        `The price hook ${p.url.origin}${p.url.pathname} for service "${name}" gave no price (${why}); retry later.`,
        { status: 503, cause },
      );
    }
    this.#cache.set(name, { priceMsat, until: this.#now() + p.cacheSeconds * 1000 });
    return priceMsat;
  }
}

async function readCapped(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_HOOK_BODY) throw new Error(`its answer is ${declared} bytes`);
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_HOOK_BODY) {
      await reader.cancel();
      throw new Error(`its answer is larger than ${MAX_HOOK_BODY} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The hook's answer: `{"price_msat": 12000}` (a whole number, or a string of digits). */
export function parseHookBody(text: string): Msat {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('its answer is not JSON');
  }
  const v = (body as { price_msat?: unknown } | null)?.price_msat;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return msat(v);
  if (typeof v === 'string' && /^\d{1,18}$/.test(v)) return msat(v);
  throw new Error('its answer has no "price_msat" holding a whole number of millisatoshis');
}
