/**
 * The L402 paywall, written once against Web Request/Response. `handle(request)` either lets the
 * request through with its verified token, or gives the Response to send: a 402 challenge, a 401 for
 * a credential that failed, 503 when no invoice can be made. Framework adapters are thin wrappers.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { errorProblem, type Problem, problem, problemResponse } from '../core/problem.js';
import type { LightningNode } from '../lightning/index.js';
import { formatChallenges, parseAuthorization } from './header.js';
import { type KeyRing, mintToken, type VerifiedToken, verifyToken } from './token.js';

export type PriceFn = (request: Request) => Msat | Promise<Msat>;

export interface PaywallOptions {
  node: LightningNode;
  keys: KeyRing;
  /** The service name written into tokens (services=<name>:0). */
  service: string;
  /** Millisatoshis per token, or a function of the request (a dynamic price). */
  price: Msat | PriceFn;
  /** Tokens stop working this many seconds after minting (<service>_valid_until); unlimited if unset. */
  tokenTtlSeconds?: number;
  /** How long a challenge's invoice can be paid; 600 s by default. */
  invoiceExpirySeconds?: number;
  /** Prepaid credit each token carries (lightproof_credit_msat), drawn down by the server. */
  creditMsat?: Msat;
  capability?: string;
  description?: string;
  isRevoked?: (tokenId: string) => boolean;
  now?: () => number;
}

export type PaywallResult =
  | { kind: 'pass'; token: VerifiedToken }
  | {
      kind: 'respond';
      response: Response;
      minted?: { tokenId: string; paymentHash: string; priceMsat: Msat };
    };

/** Seconds a client should wait before retrying when the Lightning node cannot make invoices. */
const NODE_RETRY_AFTER = 5;

export interface Paywall {
  readonly options: PaywallOptions;
  handle(request: Request): Promise<PaywallResult>;
  /** A fresh 402 challenge for this request (also used after a rejected credential). */
  challenge(request: Request, status?: 401 | 402, why?: LightproofError): Promise<PaywallResult>;
}

/** What a challenge needs to know, without the request: the gateway calls this directly. */
export type ChallengeOptions = Pick<
  PaywallOptions,
  | 'node'
  | 'keys'
  | 'service'
  | 'tokenTtlSeconds'
  | 'invoiceExpirySeconds'
  | 'creditMsat'
  | 'description'
  | 'now'
>;

/** A response to send, as plain data (status, headers, RFC 9457 body). */
export interface ChallengeOutcome {
  status: number;
  headers: [string, string][];
  body: Problem;
  minted?: { tokenId: string; paymentHash: string; priceMsat: Msat };
}

/**
 * Creates an invoice for PRICE and a token bound to its payment hash, and describes the 402 (or 401
 * after a rejected credential) that carries them. When the node cannot make an invoice: 503 with
 * Retry-After, and no token.
 */
export async function issueChallenge(
  options: ChallengeOptions,
  priceMsat: Msat,
  status: 401 | 402 = 402,
  why?: LightproofError,
): Promise<ChallengeOutcome> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  let invoice: { paymentRequest: string; paymentHash: string };
  try {
    invoice = await options.node.createInvoice({
      amountMsat: priceMsat,
      description: options.description ?? `L402: ${options.service}`,
      expirySeconds: options.invoiceExpirySeconds ?? 600,
    });
  } catch (err) {
    // No invoice, no token: the client learns to come back, nothing is owed.
    const cause = isLightproofError(err) ? err.message : String(err);
    return {
      status: 503,
      headers: [['retry-after', String(NODE_RETRY_AFTER)]],
      body: problem(
        503,
        'LP_L402_NODE_UNAVAILABLE',
        `The provider cannot create an invoice right now (${cause}); retry later.`,
      ),
    };
  }
  const minted = mintToken(options.keys, {
    paymentHash: hexToBytes(invoice.paymentHash),
    services: [{ name: options.service, tier: 0 }],
    ...(options.tokenTtlSeconds
      ? { validUntil: { [options.service]: now() + options.tokenTtlSeconds } }
      : {}),
    ...(options.creditMsat !== undefined ? { creditMsat: options.creditMsat } : {}),
  });
  const headers = formatChallenges(minted.token, invoice.paymentRequest).map((v): [string, string] => [
    'www-authenticate',
    v,
  ]);
  const detail = why
    ? `${why.message} A new challenge is attached.`
    : `Pay the invoice, then repeat the request with "Authorization: L402 <macaroon>:<preimage>".`;
  const body = problem(status, why?.code ?? 'LP_L402_PAYMENT_REQUIRED', detail, {
    amount_msat: Number(priceMsat),
    invoice: invoice.paymentRequest,
    macaroon: minted.token,
  });
  return {
    status,
    headers,
    body,
    minted: { tokenId: minted.tokenId, paymentHash: minted.paymentHash, priceMsat },
  };
}

export interface AuthOptions {
  keys: KeyRing;
  service: string;
  capability?: string;
  isRevoked?: (tokenId: string) => boolean;
  now?: () => number;
}

export type AuthOutcome =
  | { kind: 'pass'; token: VerifiedToken }
  /** No credential (402), or one that failed and earns a fresh challenge (401 or 402). */
  | { kind: 'challenge'; status: 401 | 402; why?: LightproofError }
  /** A header too large to read (431): answered without minting anything. */
  | { kind: 'reject'; error: LightproofError };

/** Checks an Authorization header value against the service, reading no database. */
export function authenticate(options: AuthOptions, authorization: string | null | undefined): AuthOutcome {
  let credential: ReturnType<typeof parseAuthorization>;
  try {
    credential = parseAuthorization(authorization);
  } catch (err) {
    if (!isLightproofError(err)) throw err;
    if (err.status === 431) return { kind: 'reject', error: err };
    return { kind: 'challenge', status: 402, why: err };
  }
  if (!credential) return { kind: 'challenge', status: 402 };
  try {
    const target = {
      service: options.service,
      now: (options.now ?? (() => Math.floor(Date.now() / 1000)))(),
      ...(options.capability ? { capability: options.capability } : {}),
    };
    const verifyOpts = { target, ...(options.isRevoked ? { isRevoked: options.isRevoked } : {}) };
    // Several macaroons may be sent; each must hold for this request, and they share one payment.
    let token: VerifiedToken | undefined;
    for (const t of credential.tokens) {
      const v = verifyToken(options.keys, t, credential.preimage, verifyOpts);
      if (token && v.paymentHash !== token.paymentHash) {
        throw new LightproofError(
          'LP_L402_BAD_CREDENTIAL',
          'The macaroons in one credential belong to different payments.',
          { status: 401 },
        );
      }
      token ??= v;
    }
    return { kind: 'pass', token: token! };
  } catch (err) {
    if (!isLightproofError(err)) throw err;
    return { kind: 'challenge', status: 401, why: err };
  }
}

function toResponse(outcome: ChallengeOutcome): PaywallResult {
  return {
    kind: 'respond',
    response: problemResponse(outcome.body, outcome.headers),
    ...(outcome.minted ? { minted: outcome.minted } : {}),
  };
}

export function createPaywall(options: PaywallOptions): Paywall {
  async function challenge(
    request: Request,
    status: 401 | 402 = 402,
    why?: LightproofError,
  ): Promise<PaywallResult> {
    const priceMsat = typeof options.price === 'function' ? await options.price(request) : options.price;
    return toResponse(await issueChallenge(options, priceMsat, status, why));
  }

  async function handle(request: Request): Promise<PaywallResult> {
    const outcome = authenticate(options, request.headers.get('authorization'));
    if (outcome.kind === 'pass') return outcome;
    if (outcome.kind === 'reject')
      return { kind: 'respond', response: problemResponse(errorProblem(outcome.error)) };
    return challenge(request, outcome.status, outcome.why);
  }

  return { options, handle, challenge };
}
