/**
 * One request through the gateway: find its service, let free paths and freebies through, check the
 * L402 credential (no database read), apply rate limits, book the payment once, draw prepaid credit,
 * forward upstream, and answer with the upstream's response and a signed receipt.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';
import { errorProblem, type Problem, problem } from '../core/problem.js';
import {
  type AuthOutcome,
  authenticate,
  issueChallenge,
  type KeyRing,
  type VerifiedToken,
} from '../l402/index.js';
import type { LightningNode } from '../lightning/index.js';
import type { GatewayConfig, ServiceConfig } from './config.js';
import type { GatewayMetrics, Outcome } from './metrics.js';
import type { PriceBook } from './pricing.js';
import { UpstreamPool } from './proxy.js';
import { RateLimiter } from './ratelimit.js';
import { type ReceiptContext, type ReceiptIssuer, respondUpstream } from './respond.js';
import type { RevocationCache } from './revocations.js';
import type { GatewayState } from './state/types.js';
import { WELL_KNOWN_PATH } from './wellknown.js';

export interface HandlerDeps {
  config: GatewayConfig;
  node: LightningNode;
  keys: KeyRing;
  state: GatewayState;
  prices: PriceBook;
  revocations: RevocationCache;
  receipts: ReceiptIssuer | null;
  metrics: GatewayMetrics;
  log: Logger;
  wellKnown: () => Promise<unknown>;
  now?: () => number;
}

/** How many verified credentials each process remembers. */
const VERIFIED_CACHE = 50_000;

/** How many paid token ids each process remembers as already booked (their first use is written once). */
const BOOKED_CACHE = 100_000;

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  ip: string;
  service: ServiceConfig | null;
  outcome: Outcome;
  tokenId?: string;
  started: number;
}

export class GatewayHandler {
  readonly #d: HandlerDeps;
  readonly #pool = new UpstreamPool();
  readonly #challengeLimiter: RateLimiter;
  readonly #serviceLimiters: Map<string, RateLimiter>;
  /** Token ids this process has booked, with their price. */
  readonly #booked = new Map<string, Msat>();
  readonly #verified = new Map<string, VerifiedToken>();
  readonly #now: () => number;
  /** Requests per token not yet written to the state; flushed by flushCounts(). */
  #counts = new Map<string, number>();
  #inflight = 0;
  #idle: (() => void) | null = null;

  constructor(deps: HandlerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
    this.#challengeLimiter = new RateLimiter(deps.config.challengeLimits);
    this.#serviceLimiters = new Map(deps.config.services.map((s) => [s.name, new RateLimiter(s.rateLimits)]));
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Resolves once no request is being handled. */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  close(): void {
    this.#pool.close();
  }

  /** Writes the request counts gathered since the last flush. */
  async flushCounts(): Promise<void> {
    if (this.#counts.size === 0) return;
    const counts = this.#counts;
    this.#counts = new Map();
    await this.#d.state.countRequests(counts);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#inflight++;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const ctx: Ctx = {
      req,
      res,
      path: q < 0 ? url : url.slice(0, q),
      ip: this.#clientIp(req),
      service: null,
      outcome: 'not_found',
      started: performance.now(),
    };
    this.#route(ctx)
      .catch((err: unknown) => this.#fail(ctx, err))
      .finally(() => {
        this.#finish(ctx);
      });
  };

  async #route(ctx: Ctx): Promise<void> {
    const { req, path } = ctx;
    if (path === WELL_KNOWN_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      ctx.outcome = 'free';
      return this.#json(ctx, 200, await this.#d.wellKnown());
    }
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const svc = this.#d.config.services.find((s) => s.path.test(path) && (!s.host || s.host.test(host)));
    if (!svc) {
      req.resume();
      return this.#problem(
        ctx,
        problem(
          404,
          'LP_GATEWAY_NO_SERVICE',
          `No service of this gateway serves ${path}; see ${WELL_KNOWN_PATH}.`,
        ),
      );
    }
    ctx.service = svc;
    if (svc.freePaths.some((r) => r.test(path))) {
      ctx.outcome = 'free';
      return this.#forward(ctx, svc, null);
    }
    const authorization = req.headers.authorization;
    if (
      !authorization &&
      svc.freebies > 0 &&
      (await this.#d.state.takeFreebie(svc.name, ctx.ip, svc.freebies))
    ) {
      ctx.outcome = 'freebie';
      return this.#forward(ctx, svc, null);
    }
    const auth = this.#authenticate(svc, authorization);
    if (auth.kind === 'reject') {
      ctx.outcome = 'rejected';
      req.resume();
      return this.#problem(ctx, errorProblem(auth.error));
    }
    if (auth.kind === 'challenge') return this.#challenge(ctx, svc, auth.status, auth.why);
    return this.#paid(ctx, svc, auth.token);
  }

  /**
   * Checks the credential. A credential that passed before is remembered (keyed by service and the
   * exact header), so a reused token costs a map lookup instead of the HMAC chain; revocation and
   * expiry are still checked on every request.
   */
  #authenticate(svc: ServiceConfig, authorization: string | undefined): AuthOutcome {
    const key = authorization ? `${svc.name}\u0000${authorization}` : null;
    const known = key ? this.#verified.get(key) : undefined;
    if (known) {
      const until = known.caveats.validUntil;
      if (!this.#d.revocations.has(known.tokenId) && (until === null || this.#now() < until))
        return { kind: 'pass', token: known };
      this.#verified.delete(key!);
    }
    const auth = authenticate(
      {
        keys: this.#d.keys,
        service: svc.name,
        ...(svc.capability ? { capability: svc.capability } : {}),
        isRevoked: this.#d.revocations.has,
        now: this.#now,
      },
      authorization,
    );
    if (auth.kind === 'pass' && key) {
      if (this.#verified.size >= VERIFIED_CACHE) this.#verified.clear();
      this.#verified.set(key, auth.token);
    }
    return auth;
  }

  async #challenge(ctx: Ctx, svc: ServiceConfig, status: 401 | 402, why?: LightproofError): Promise<void> {
    ctx.req.resume();
    // Each challenge is an invoice on the node: limit them per client before making one.
    const wait = this.#challengeLimiter.take(ctx.ip, ctx.path);
    if (wait > 0) return this.#rateLimited(ctx, wait, 'challenges');
    const priceMsat = await this.#d.prices.price(svc);
    const out = await issueChallenge(
      {
        node: this.#d.node,
        keys: this.#d.keys,
        service: svc.name,
        invoiceExpirySeconds: this.#d.config.invoiceExpirySeconds,
        description: svc.description ?? `L402: ${svc.name}`,
        now: this.#now,
        ...(svc.tokenTimeoutSeconds ? { tokenTtlSeconds: svc.tokenTimeoutSeconds } : {}),
        ...(svc.creditMsat !== null ? { creditMsat: svc.creditMsat } : {}),
      },
      priceMsat,
      status,
      why,
    );
    if (out.minted) {
      await this.#d.state.recordMint({
        tokenId: out.minted.tokenId,
        paymentHash: out.minted.paymentHash,
        service: svc.name,
        priceMsat,
        creditMsat: svc.creditMsat,
        createdAt: this.#now(),
      });
      this.#d.metrics.challenges.inc({ service: svc.name });
      ctx.tokenId = out.minted.tokenId;
    }
    ctx.outcome = out.status === 503 ? 'node_unavailable' : 'challenged';
    this.#send(ctx, out.status, out.headers, JSON.stringify(out.body), 'application/problem+json');
  }

  async #paid(ctx: Ctx, svc: ServiceConfig, token: VerifiedToken): Promise<void> {
    ctx.tokenId = token.tokenId;
    const limiter = this.#serviceLimiters.get(svc.name)!;
    if (!limiter.empty) {
      const wait = limiter.take(token.tokenId, ctx.path);
      if (wait > 0) {
        ctx.req.resume();
        return this.#rateLimited(ctx, wait, 'requests');
      }
    }
    const tokenPrice = await this.#book(svc, token);
    let drawn = 0n;
    const credit = token.caveats.creditMsat;
    if (credit !== null) {
      const want = svc.usage?.reserveMsat ?? svc.perRequestMsat ?? 0n;
      const r = await this.#d.state.debit(token.tokenId, msat(credit), msat(want));
      if (!r.ok) {
        ctx.outcome = 'no_credit';
        return this.#challenge(
          ctx,
          svc,
          402,
          new LightproofError(
            'LP_GATEWAY_CREDIT_EXHAUSTED',
            `This token has ${r.remainingMsat} msat of credit left and the request needs ${want} msat; buy more with the new challenge.`,
            { status: 402 },
          ),
        );
      }
      drawn = want;
      this.#d.metrics.creditDrawn.inc({ service: svc.name }, Number(want));
    }
    ctx.outcome = 'paid';
    const priceMsat = credit !== null ? msat(drawn) : tokenPrice;
    await this.#forward(ctx, svc, { token, drawnMsat: msat(drawn), priceMsat });
  }

  /**
   * Books the token's payment the first time any process sees it proven, and returns its price.
   * Later requests in this process read nothing.
   */
  async #book(svc: ServiceConfig, token: VerifiedToken): Promise<Msat> {
    const known = this.#booked.get(token.tokenId);
    if (known !== undefined) {
      this.#counts.set(token.tokenId, (this.#counts.get(token.tokenId) ?? 0) + 1);
      return known;
    }
    const { firstUse } = await this.#d.state.recordUse(token.tokenId, this.#now(), {
      tokenId: token.tokenId,
      paymentHash: token.paymentHash,
      service: svc.name,
      priceMsat: msat(0),
      creditMsat: token.caveats.creditMsat === null ? null : msat(token.caveats.creditMsat),
      createdAt: this.#now(),
    });
    const priceMsat = (await this.#d.state.getToken(token.tokenId))?.priceMsat ?? msat(0);
    if (firstUse) this.#d.metrics.revenue.inc({ service: svc.name }, Number(priceMsat));
    if (this.#booked.size >= BOOKED_CACHE) this.#booked.clear();
    this.#booked.set(token.tokenId, priceMsat);
    return priceMsat;
  }

  async #forward(
    ctx: Ctx,
    svc: ServiceConfig,
    paid: { token: VerifiedToken; drawnMsat: Msat; priceMsat: Msat } | null,
  ): Promise<void> {
    const { req } = ctx;
    const url = req.url ?? '/';
    const path =
      svc.stripPrefix && url.startsWith(svc.stripPrefix) ? url.slice(svc.stripPrefix.length) || '/' : url;
    const target =
      svc.upstream.pathname === '/' ? path : `${svc.upstream.pathname.replace(/\/$/, '')}${path}`;
    const signer = this.#d.receipts;
    const receipt: ReceiptContext | null =
      paid && signer
        ? {
            signer,
            service: svc,
            token: paid.token,
            priceMsat: paid.priceMsat,
            request: signer.requestHasher(req.method ?? 'GET', url),
            now: this.#now,
          }
        : null;
    if (receipt) req.on('data', (chunk: Buffer) => receipt.request.update(chunk));
    const timer = this.#d.metrics.upstreamSeconds.startTimer({ service: svc.name });
    let upstream: IncomingMessage;
    try {
      upstream = await this.#pool.forward(
        {
          upstream: svc.upstream,
          method: req.method ?? 'GET',
          path: target,
          headers: req.headers,
          // A body the gateway reads (receipt digest, usage) must be the bytes a client can hash too.
          extraHeaders:
            receipt || (paid && svc.usage) ? { ...svc.headers, 'accept-encoding': 'identity' } : svc.headers,
          clientIp: ctx.ip,
          scheme: (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
          timeoutMs: this.#d.config.upstreamTimeoutSeconds * 1000,
        },
        req.method === 'GET' || req.method === 'HEAD' ? null : req,
      );
    } catch (err) {
      // Nothing was served: give back what this request drew from the token's credit.
      if (paid && paid.drawnMsat > 0n) await this.#d.state.settle(paid.token.tokenId, -paid.drawnMsat);
      ctx.outcome = 'upstream_error';
      throw err;
    } finally {
      timer();
    }
    const settled = await respondUpstream({
      res: ctx.res,
      upstream,
      receipt,
      usage: paid && svc.usage ? svc.usage : null,
      drawnMsat: paid?.drawnMsat ?? msat(0),
      maxBufferBytes: this.#d.config.receipts.maxBufferBytes,
    });
    if (paid && settled.deltaMsat !== 0n) {
      await this.#d.state.settle(paid.token.tokenId, settled.deltaMsat);
      if (settled.deltaMsat > 0n)
        this.#d.metrics.creditDrawn.inc({ service: svc.name }, Number(settled.deltaMsat));
    }
  }

  #rateLimited(ctx: Ctx, wait: number, what: string): void {
    ctx.outcome = 'rate_limited';
    const p = problem(
      429,
      'LP_GATEWAY_RATE_LIMITED',
      `Too many ${what} from this ${what === 'challenges' ? 'client' : 'token'}; retry after ${wait} s.`,
    );
    this.#send(ctx, 429, [['retry-after', String(wait)]], JSON.stringify(p), 'application/problem+json');
  }

  #fail(ctx: Ctx, err: unknown): void {
    if (ctx.res.headersSent) {
      // The upstream broke mid-body: the client sees a cut connection rather than a wrong body.
      this.#d.log.warn({ err: String(err), path: ctx.path }, 'response cut short');
      ctx.res.destroy();
      return;
    }
    if (isLightproofError(err)) {
      if (ctx.outcome !== 'upstream_error' && err.status === 503) ctx.outcome = 'node_unavailable';
      const headers: [string, string][] = err.status === 503 ? [['retry-after', '5']] : [];
      this.#send(ctx, err.status, headers, JSON.stringify(errorProblem(err)), 'application/problem+json');
      return;
    }
    this.#d.log.error({ err, path: ctx.path }, 'request failed');
    const p = problem(500, 'LP_GATEWAY_INTERNAL', 'The gateway failed on this request; it has been logged.');
    this.#send(ctx, 500, [], JSON.stringify(p), 'application/problem+json');
  }

  #finish(ctx: Ctx): void {
    const service = ctx.service?.name ?? '';
    this.#d.metrics.requests.inc({ service, outcome: ctx.outcome });
    if (this.#d.config.logRequests) {
      this.#d.log.info(
        {
          method: ctx.req.method,
          path: ctx.path,
          service,
          status: ctx.res.statusCode,
          outcome: ctx.outcome,
          ms: Math.round((performance.now() - ctx.started) * 100) / 100,
          ip: ctx.ip,
          ...(ctx.tokenId ? { token_id: ctx.tokenId } : {}),
        },
        'request',
      );
    }
    if (--this.#inflight === 0 && this.#idle) {
      this.#idle();
      this.#idle = null;
    }
  }

  #problem(ctx: Ctx, p: Problem): void {
    this.#send(ctx, p.status, [], JSON.stringify(p), 'application/problem+json');
  }

  #json(ctx: Ctx, status: number, body: unknown): void {
    this.#send(ctx, status, [['cache-control', 'max-age=60']], JSON.stringify(body), 'application/json');
  }

  #send(ctx: Ctx, status: number, headers: [string, string][], body: string, type: string): void {
    const { res } = ctx;
    if (res.headersSent) return;
    res.statusCode = status;
    for (const [k, v] of headers) {
      const prior = res.getHeader(k);
      res.setHeader(k, prior === undefined ? v : [...(Array.isArray(prior) ? prior : [String(prior)]), v]);
    }
    res.setHeader('content-type', type);
    if (!res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-store');
    res.end(body);
  }

  #clientIp(req: IncomingMessage): string {
    if (this.#d.config.trustProxy) {
      const xff = req.headers['x-forwarded-for'];
      const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }
}
