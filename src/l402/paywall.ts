/**
 * The L402 paywall, written once against Web Request/Response. `handle(request)` either lets the
 * request through with its verified token, or gives the Response to send: a 402 challenge, a 401 for
 * a credential that failed, 503 when no invoice can be made. Framework adapters are thin wrappers.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { errorProblem, problem, problemResponse } from '../core/problem.js';
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

export function createPaywall(options: PaywallOptions): Paywall {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));

  async function challenge(
    request: Request,
    status: 401 | 402 = 402,
    why?: LightproofError,
  ): Promise<PaywallResult> {
    const priceMsat = typeof options.price === 'function' ? await options.price(request) : options.price;
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
        kind: 'respond',
        response: problemResponse(
          problem(
            503,
            'LP_L402_NODE_UNAVAILABLE',
            `The provider cannot create an invoice right now (${cause}); retry later.`,
          ),
          [['retry-after', String(NODE_RETRY_AFTER)]],
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
      kind: 'respond',
      response: problemResponse(body, headers),
      minted: { tokenId: minted.tokenId, paymentHash: minted.paymentHash, priceMsat },
    };
  }

  async function handle(request: Request): Promise<PaywallResult> {
    let credential: ReturnType<typeof parseAuthorization>;
    try {
      credential = parseAuthorization(request.headers.get('authorization'));
    } catch (err) {
      if (!isLightproofError(err)) throw err;
      if (err.status === 431) return { kind: 'respond', response: problemResponse(errorProblem(err)) };
      return challenge(request, 402, err);
    }
    if (!credential) return challenge(request);
    try {
      const target = {
        service: options.service,
        now: now(),
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
            {
              status: 401,
            },
          );
        }
        token ??= v;
      }
      return { kind: 'pass', token: token! };
    } catch (err) {
      if (!isLightproofError(err)) throw err;
      return challenge(request, 401, err);
    }
  }

  return { options, handle, challenge };
}
