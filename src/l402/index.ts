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
