/**
 * Token buckets, as Aperture uses them: each key (a token id, or a client IP before it has one) gets
 * BURST requests at once, refilled at REQUESTS per PER seconds. Kept in memory per process: a limit
 * protects this process, and a restart forgives everyone, which is what a rate limit is for.
 */

export interface RateRule {
  /** Applies only to paths this matches; every path when absent. */
  path?: RegExp;
  requests: number;
  perSeconds: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets idle this long are full again, so they are forgotten (bounds memory under IP churn). */
const SWEEP_EVERY = 10_000;

export class RateLimiter {
  readonly #rules: readonly RateRule[];
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  #checks = 0;

  constructor(rules: readonly RateRule[], now: () => number = () => performance.now() / 1000) {
    this.#rules = rules;
    this.#now = now;
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /**
   * Takes one request for KEY on PATH from every matching rule. Returns 0 when allowed, else the
   * seconds to wait (rounded up, at least 1) until every matching rule would allow it; nothing is
   * taken from any bucket when one refuses.
   */
  take(key: string, path: string): number {
    if (++this.#checks % SWEEP_EVERY === 0) this.#sweep();
    const now = this.#now();
    let wait = 0;
    const granted: Bucket[] = [];
    for (let i = 0; i < this.#rules.length; i++) {
      const rule = this.#rules[i]!;
      if (rule.path && !rule.path.test(path)) continue;
      const id = `${i}\u0000${key}`;
      let b = this.#buckets.get(id);
      const rate = rule.requests / rule.perSeconds;
      if (!b) {
        b = { tokens: rule.burst, at: now };
        this.#buckets.set(id, b);
      } else {
        b.tokens = Math.min(rule.burst, b.tokens + (now - b.at) * rate);
        b.at = now;
      }
      if (b.tokens >= 1) granted.push(b);
      else wait = Math.max(wait, (1 - b.tokens) / rate);
    }
    if (wait > 0) return Math.max(1, Math.ceil(wait));
    for (const b of granted) b.tokens -= 1;
    return 0;
  }

  #sweep(): void {
    const now = this.#now();
    const longest = Math.max(...this.#rules.map((r) => (r.burst * r.perSeconds) / r.requests));
    for (const [id, b] of this.#buckets) if (now - b.at > longest) this.#buckets.delete(id);
  }
}
