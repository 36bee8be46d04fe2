/**
 * The L402 client. `createL402Fetch` returns a function with fetch's signature: on a 402 it pays the
 * challenge's invoice through a `Payer`, repeats the request with `Authorization: L402 <mac>:<preimage>`,
 * and keeps the token for later requests to the same origin. Spending policy belongs to the Payer;
 * the only rule here is the most a single challenge may cost.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import {
  type DecodedInvoice,
  decodeInvoice,
  invoiceExpiresAt,
  type LightningNode,
  type Network,
} from '../lightning/index.js';
import { type Challenge, formatAuthorization, parseChallenges } from './header.js';
import { decodeIdentifier } from './identifier.js';
import { decodeToken } from './token.js';

export interface PayContext {
  url: URL;
  amountMsat: Msat;
  paymentHash: string;
  /** The macaroon the payment unlocks (base64), so a payer can journal it and recover it after a crash. */
  token: string;
  /** The first service the macaroon names, or null. */
  service: string | null;
  /** Unix seconds the token stops being valid, from its caveats, or null. */
  validUntil: number | null;
}

/** Pays one invoice and returns its preimage (hex). Budgets and approvals live behind this. */
export interface Payer {
  pay(invoice: DecodedInvoice, ctx: PayContext): Promise<{ preimage: string }>;
  /** The network the payer's node runs on, used when the client is not told one. */
  network?(): Promise<Network>;
}

/** A Payer that pays straight from a Lightning node (idempotent by payment hash, as nodes are). */
export function payerFromNode(node: LightningNode, opts: { maxFeeMsat?: Msat } = {}): Payer {
  const payOptions = opts.maxFeeMsat === undefined ? {} : { maxFeeMsat: opts.maxFeeMsat };
  return {
    pay: async (invoice) => ({
      preimage: (await node.payInvoice(invoice.paymentRequest, payOptions)).preimage,
    }),
    // Asked per challenge, not cached: one getInfo is nothing beside a payment, and a node may restart.
    network: async () => (await node.getInfo()).network,
  };
}

export interface CachedToken {
  /** origin + the token's first service, or origin + path prefix when it names none. */
  key: string;
  origin: string;
  service: string | null;
  /** The directory of the path that earned the token (as cookies default their path). */
  pathPrefix: string;
  /** Paths the server has accepted the token on (the most recent few). */
  paths: string[];
  token: string;
  preimage: string;
  paymentHash: string;
  /** Seconds since 1970 after which the server will refuse it, from `<service>_valid_until`. */
  validUntil: number | null;
  storedAt: number;
}

/** Where paid tokens are kept (in memory by default); a persistent one keeps them across restarts. */
export interface TokenCache {
  list(origin: string): CachedToken[] | Promise<CachedToken[]>;
  put(entry: CachedToken): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

export class MemoryTokenCache implements TokenCache {
  readonly #entries = new Map<string, CachedToken>();
  list(origin: string): CachedToken[] {
    return [...this.#entries.values()].filter((e) => e.origin === origin);
  }
  put(entry: CachedToken): void {
    this.#entries.set(entry.key, entry);
  }
  delete(key: string): void {
    this.#entries.delete(key);
  }
}

export interface L402FetchOptions {
  payer: Payer;
  /** The most one challenge may cost; a dearer invoice is refused before anything is paid. */
  maxPriceMsat: Msat;
  /** Invoices for any other network are refused; by default the payer's network. */
  network?: Network;
  fetch?: (request: Request) => Promise<Response>;
  cache?: TokenCache;
  /** Request bodies are buffered so they can be sent again after paying; 10 MiB by default. */
  maxBodyBytes?: number;
  /** Seconds since 1970, for invoice and token expiry. */
  now?: () => number;
}

/** What paying a request's challenge would cost, found without paying. */
export interface L402Quote extends Offer {
  paymentRequired: true;
  url: URL;
  /** Why the fetch would refuse to pay this challenge, or null when it would pay. */
  refusal: LightproofError | null;
}

export type QuoteResult = L402Quote | { paymentRequired: false; response: Response };

export interface L402Fetch {
  (input: Input, init?: RequestInit): Promise<Response>;
  quote(input: Input, init?: RequestInit): Promise<QuoteResult>;
  readonly cache: TokenCache;
}

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const MAX_PATHS = 32;
const ignore = () => {};

interface Prepared {
  url: URL;
  request: Request;
  body: Uint8Array | null;
  /** The caller sent its own Authorization: a cached token must not replace it. */
  callerAuth: boolean;
}

export interface Offer {
  scheme: 'L402' | 'LSAT';
  token: string;
  invoice: DecodedInvoice;
  /** null for an amountless invoice, which the client refuses. */
  priceMsat: Msat | null;
  /** From the macaroon's caveats; empty when the token is not an Aperture-style macaroon. */
  services: string[];
  validUntil: number | null;
}

/** A cached token chosen for a request; proven when the server accepted it on this very path. */
interface Held {
  entry: CachedToken;
  proven: boolean;
}

export function createL402Fetch(options: L402FetchOptions): L402Fetch {
  const cache = options.cache ?? new MemoryTokenCache();
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  /** The tail of each origin's payment queue: parallel requests pay one after another, never twice. */
  const locks = new Map<string, Promise<void>>();

  async function refusal(offer: Offer): Promise<LightproofError | null> {
    const { invoice } = offer;
    if (!options.network && !options.payer.network) {
      throw new LightproofError('LP_L402_NO_NETWORK', 'The payer does not say its network; pass `network`.');
    }
    const expected = options.network ?? (await options.payer.network!());
    if (invoice.network !== expected) {
      return new LightproofError(
        'LP_L402_WRONG_NETWORK',
        `The server's invoice is for ${invoice.network} but the payer is on ${expected}; use a server on ${expected}.`,
      );
    }
    if (now() >= invoiceExpiresAt(invoice)) {
      return new LightproofError(
        'LP_L402_INVOICE_EXPIRED',
        'The server sent an invoice that has already expired; check its clock, or retry for a fresh challenge.',
      );
    }
    if (invoice.amountMsat === null) {
      return new LightproofError(
        'LP_L402_AMOUNTLESS_INVOICE',
        'The server sent an invoice without an amount, so its price is unknown; nothing was paid. Ask the provider for priced invoices.',
      );
    }
    if (invoice.amountMsat > options.maxPriceMsat) {
      return new LightproofError(
        'LP_L402_PRICE_TOO_HIGH',
        `The server asks ${invoice.amountMsat} msat, above the limit of ${options.maxPriceMsat} msat; nothing was paid. Raise maxPriceMsat to pay it.`,
        { details: { priceMsat: String(invoice.amountMsat), maxPriceMsat: String(options.maxPriceMsat) } },
      );
    }
    return null;
  }

  /** The token this URL most likely takes: one it already opened, then its directory's, then any. */
  async function pick(url: URL): Promise<Held | undefined> {
    const fresh: CachedToken[] = [];
    for (const e of await cache.list(url.origin)) {
      if (e.validUntil !== null && now() >= e.validUntil) await cache.delete(e.key);
      else fresh.push(e);
    }
    fresh.sort((a, b) => b.storedAt - a.storedAt);
    const proven = fresh.find((e) => e.paths.includes(url.pathname));
    if (proven) return { entry: proven, proven: true };
    const guess =
      fresh
        .filter((e) => url.pathname.startsWith(e.pathPrefix))
        .sort((a, b) => b.pathPrefix.length - a.pathPrefix.length)[0] ?? fresh.find((e) => e.service);
    return guess ? { entry: guess, proven: false } : undefined;
  }

  function attempt(p: Prepared, credential?: CachedToken): Promise<Response> {
    const headers = new Headers(p.request.headers);
    if (credential)
      headers.set('authorization', formatAuthorization([credential.token], credential.preimage));
    return send(new Request(p.request, { headers, ...(p.body ? { body: p.body } : {}) }));
  }

  async function payFor(p: Prepared, offer: Offer): Promise<CachedToken> {
    const { invoice } = offer;
    const service = offer.services[0] ?? null;
    const ctx: PayContext = {
      url: p.url,
      amountMsat: invoice.amountMsat as Msat,
      paymentHash: invoice.paymentHash,
      token: offer.token,
      service,
      validUntil: offer.validUntil,
    };
    const { preimage } = await options.payer.pay(invoice, ctx);
    const hex = typeof preimage === 'string' ? preimage.toLowerCase() : '';
    if (!/^[0-9a-f]{64}$/.test(hex) || bytesToHex(sha256(hexToBytes(hex))) !== invoice.paymentHash) {
      throw new LightproofError(
        'LP_L402_BAD_PREIMAGE',
        `The payer returned a preimage that does not match payment hash ${invoice.paymentHash}; check the payment in the node before retrying.`,
        { details: { paymentHash: invoice.paymentHash } },
      );
    }
    const entry = tokenEntry(p.url, ctx, hex);
    await cache.put(entry);
    return entry;
  }

  /** Records a path a guessed token opened, so the next request there sends it as proven. */
  async function accepted(p: Prepared, held: Held | undefined, res: Response): Promise<Response> {
    if (held && !held.proven) {
      await cache.put({ ...held.entry, paths: [p.url.pathname, ...held.entry.paths].slice(0, MAX_PATHS) });
    }
    return res;
  }

  async function l402Fetch(input: Input, init?: RequestInit): Promise<Response> {
    const p = await prepare(input, init, maxBody);
    const held = p.callerAuth ? undefined : await pick(p.url);
    const first = await attempt(p, held?.entry);
    if (!isChallenge(first, held !== undefined)) return accepted(p, held, first);
    // One payment at a time per origin: a request that waited may find its token already bought.
    return locked(p.url.origin, async () => {
      let res = first;
      let sent = held;
      const latest = p.callerAuth ? undefined : await pick(p.url);
      if (latest && latest.entry.token !== held?.entry.token) {
        await discard(res);
        sent = latest;
        res = await attempt(p, latest.entry);
        if (!isChallenge(res, true)) return accepted(p, latest, res);
      }
      // A refused guess may still open the path that earned it; a token refused where it worked is spent.
      if (sent?.proven) await cache.delete(sent.entry.key);
      return payAndRetry(p, res);
    });
  }

  async function payAndRetry(p: Prepared, challenge: Response): Promise<Response> {
    const offer = await takeOffer(challenge);
    if (!offer) return challenge;
    const refused = await refusal(offer);
    if (refused) throw refused;
    const credential = await payFor(p, offer);
    const retry = await attempt(p, credential);
    if (!isChallenge(retry, true)) return retry;
    await cache.delete(credential.key);
    await discard(retry);
    const { paymentHash, preimage, token } = credential;
    throw new LightproofError(
      'LP_L402_PAID_BUT_REFUSED',
      `Paid ${offer.invoice.amountMsat} msat (payment hash ${credential.paymentHash}) but the server answered ${retry.status} to the paid credential; nothing more was paid. Show the provider the payment hash and preimage.`,
      { status: 502, details: { url: p.url.href, status: retry.status, paymentHash, preimage, token } },
    );
  }

  function locked<T>(origin: string, fn: () => Promise<T>): Promise<T> {
    const run = (locks.get(origin) ?? Promise.resolve()).then(fn);
    const tail = run.then(ignore, ignore);
    locks.set(origin, tail);
    void tail.then(() => locks.get(origin) === tail && locks.delete(origin));
    return run;
  }

  async function quote(input: Input, init?: RequestInit): Promise<QuoteResult> {
    const p = await prepare(input, init, maxBody);
    const response = await attempt(p);
    const offer = isChallenge(response, false) ? await takeOffer(response) : null;
    if (!offer) return { paymentRequired: false, response };
    return { paymentRequired: true, url: p.url, ...offer, refusal: await refusal(offer) };
  }

  return Object.assign(l402Fetch, { quote, cache });
}

type Input = string | URL | Request;

/** The cache entry for a paid token: keyed by origin and service (or the path's directory without one). */
export function tokenEntry(
  url: URL,
  paid: Pick<PayContext, 'token' | 'service' | 'validUntil' | 'paymentHash'>,
  preimage: string,
): CachedToken {
  const pathPrefix = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1) || '/';
  const { service } = paid;
  return {
    key: `${url.origin} ${service === null ? `path:${pathPrefix}` : `service:${service}`}`,
    origin: url.origin,
    service,
    pathPrefix,
    paths: [url.pathname],
    token: paid.token,
    preimage,
    paymentHash: paid.paymentHash,
    validUntil: paid.validUntil,
    storedAt: Date.now(),
  };
}

async function prepare(input: Input, init: RequestInit | undefined, max: number): Promise<Prepared> {
  const request = new Request(input, init);
  let body: Uint8Array | null = null;
  if (request.body) {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > max) {
        throw new LightproofError(
          'LP_L402_BODY_TOO_LARGE',
          `The request body is over ${max} bytes; the L402 client buffers bodies to resend them after paying. Raise maxBodyBytes or send a smaller body.`,
        );
      }
      chunks.push(chunk);
    }
    body = new Uint8Array(Buffer.concat(chunks));
  }
  return { url: new URL(request.url), request, body, callerAuth: request.headers.has('authorization') };
}

/** 402 always; 401 only after sending a credential, when it carries a fresh L402 challenge. */
function isChallenge(res: Response, sentCredential: boolean): boolean {
  if (res.status === 402) return true;
  return res.status === 401 && sentCredential && mentionsL402(res.headers.get('www-authenticate'));
}

function mentionsL402(header: string | null): boolean {
  return header !== null && /\b(L402|LSAT)\b/i.test(header);
}

/**
 * The first usable L402 challenge of a response, or null when it offers none (another 402 scheme).
 * A challenge that names L402 but cannot be paid safely is LP_L402_BAD_CHALLENGE.
 */
function readOffer(res: Response): Offer | null {
  const header = res.headers.get('www-authenticate');
  const challenges = parseChallenges(header);
  if (challenges.length === 0) {
    if (mentionsL402(header)) throw badChallenge('its WWW-Authenticate header has no macaroon and invoice');
    return null;
  }
  const reasons = challenges.map(offerFrom);
  const offer = reasons.find((r): r is Offer => typeof r !== 'string');
  if (offer) return offer;
  throw badChallenge(String(reasons[0]));
}

/** An offer, or why the challenge cannot be paid safely. */
function offerFrom(c: Challenge): Offer | string {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(c.token)) return 'the macaroon is not base64';
  let invoice: DecodedInvoice;
  try {
    invoice = decodeInvoice(c.invoice);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const { scheme, token } = c;
  const offer: Offer = {
    scheme,
    token,
    invoice,
    priceMsat: invoice.amountMsat,
    services: [],
    validUntil: null,
  };
  let conditions: string[];
  try {
    const mac = decodeToken(c.token);
    conditions = mac.conditions();
    const { paymentHash } = decodeIdentifier(mac.identifier);
    if (bytesToHex(paymentHash) !== invoice.paymentHash) {
      return "the macaroon's payment hash is not the invoice's, so paying would not unlock it";
    }
  } catch {
    return offer; // not an Aperture-style macaroon: the server binds it to the payment its own way
  }
  const last = (name: string) =>
    conditions.findLast((cond) => cond.startsWith(`${name}=`))?.slice(name.length + 1);
  offer.services = (last('services') ?? '')
    .split(',')
    .map((s) => s.split(':')[0]!.trim())
    .filter((s) => s !== '');
  const until = offer.services[0] && last(`${offer.services[0]}_valid_until`);
  if (until && /^\d{1,15}$/.test(until)) offer.validUntil = Number(until);
  return offer;
}

/** The response's offer; its body is dropped unless it is handed back to the caller (no offer). */
async function takeOffer(res: Response): Promise<Offer | null> {
  try {
    const offer = readOffer(res);
    if (offer) {
      await checkAdvertisedPrice(res, offer);
      await discard(res);
    }
    return offer;
  } catch (err) {
    await discard(res);
    throw err;
  }
}

const MAX_PROBLEM_BYTES = 64 * 1024;

/**
 * A 402 whose JSON body states a price (`amount_msat`, as Lightproof's gateway writes it) must carry an
 * invoice for that price: a server that advertises one amount and bills another is refused unpaid.
 */
async function checkAdvertisedPrice(res: Response, offer: Offer): Promise<void> {
  if (!/^application\/(problem\+)?json\b/i.test(res.headers.get('content-type') ?? '')) return;
  const text = await readCapped(res, MAX_PROBLEM_BYTES);
  if (text === null) return;
  let advertised: unknown;
  try {
    advertised = (JSON.parse(text) as { amount_msat?: unknown } | null)?.amount_msat;
  } catch {
    return; // an unreadable body advertises nothing; the invoice alone is the price
  }
  if (advertised === undefined) return;
  const asText = typeof advertised === 'number' || typeof advertised === 'string' ? String(advertised) : '';
  if (!/^\d{1,19}$/.test(asText) || BigInt(asText) !== offer.invoice.amountMsat) {
    throw new LightproofError(
      'LP_L402_PRICE_MISMATCH',
      `The server advertises ${asText || 'an unreadable price'} msat but its invoice asks ${offer.invoice.amountMsat ?? 'no fixed amount'} msat; nothing was paid. Report it to the provider.`,
      {
        status: 502,
        details: { advertisedMsat: asText, invoiceMsat: String(offer.invoice.amountMsat) },
      },
    );
  }
}

/** The body as text, or null when it is longer than `max` bytes (then it is not read further). */
async function readCapped(res: Response, max: number): Promise<string | null> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function badChallenge(why: string): LightproofError {
  return new LightproofError(
    'LP_L402_BAD_CHALLENGE',
    `The server's L402 challenge cannot be paid safely (${why}); nothing was paid. Report it to the provider.`,
    { status: 502 },
  );
}

/** Frees a response's connection; one already read or closed needs nothing. */
async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}
