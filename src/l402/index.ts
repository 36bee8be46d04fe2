export { l402Express } from './adapters/express.js';
export { l402Fastify } from './adapters/fastify.js';
export { l402Hono } from './adapters/hono.js';
export { challengeHeaders, sendWebResponse, toWebRequest } from './adapters/node.js';
export {
  type CaveatSummary,
  CREDIT_CONDITION,
  checkCaveats,
  encodeCaveat,
  type RequestTarget,
  type ServiceGrant,
  servicesCaveat,
} from './caveats.js';
export {
  type CachedToken,
  createL402Fetch,
  type L402Fetch,
  type L402FetchOptions,
  type L402Quote,
  MemoryTokenCache,
  type Offer,
  type PayContext,
  type Payer,
  payerFromNode,
  type QuoteResult,
  type TokenCache,
  tokenEntry,
} from './client.js';
export {
  type Challenge,
  type Credential,
  formatAuthorization,
  formatChallenges,
  MAX_AUTHORIZATION_LENGTH,
  parseAuthenticateHeader,
  parseAuthorization,
  parseChallenges,
} from './header.js';
export { decodeIdentifier, encodeIdentifier, IDENTIFIER_LENGTH, type TokenIdentifier } from './identifier.js';
export { type Caveat, Macaroon } from './macaroon.js';
export {
  type AuthOptions,
  type AuthOutcome,
  authenticate,
  type ChallengeOptions,
  type ChallengeOutcome,
  createPaywall,
  issueChallenge,
  type Paywall,
  type PaywallOptions,
  type PaywallResult,
  type PriceFn,
} from './paywall.js';
export {
  decodeToken,
  KeyRing,
  MAX_TOKEN_BYTES,
  type MintedToken,
  type MintRequest,
  mintToken,
  TOKEN_LOCATION,
  type VerifiedToken,
  type VerifyOptions,
  verifyToken,
} from './token.js';
