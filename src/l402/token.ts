/**
 * L402 tokens: go-macaroon V2 binary macaroons, location "lsat", Aperture's 66-byte identifier.
 * Root keys are derived from a master secret and the identifier, so verifying reads no database;
 * master secrets rotate in a key ring, and a `lightproof_key` caveat names the one that signed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LightproofError } from '../core/errors.js';
import { writeSecretFile } from '../core/secrets.js';
import {
  type CaveatSummary,
  CREDIT_CONDITION,
  checkCaveats,
  encodeCaveat,
  KEY_CONDITION,
  type RequestTarget,
  type ServiceGrant,
  servicesCaveat,
} from './caveats.js';
import { decodeIdentifier, encodeIdentifier } from './identifier.js';
import { Macaroon } from './macaroon.js';

/** Aperture mints with this location; tokens look the same as Aperture's down to the first bytes. */
export const TOKEN_LOCATION = 'lsat';
const ROOT_KEY_LABEL = new TextEncoder().encode('lightproof/l402/root-key/v1');
/** Far above any real token (a few hundred bytes); refuses hostile blobs before parsing. */
export const MAX_TOKEN_BYTES = 4096;

interface StoredRing {
  current: number;
  keys: { index: number; secret: string; createdAt: number }[];
}

export class KeyRing {
  readonly #keys: Map<number, Uint8Array>;
  readonly current: number;

  constructor(keys: { index: number; secret: Uint8Array }[], current: number) {
    this.#keys = new Map(keys.map((k) => [k.index, k.secret]));
    if (!this.#keys.has(current))
      throw new LightproofError('LP_L402_BAD_KEYRING', `Key ${current} is not in the ring.`);
    for (const k of keys) {
      if (k.secret.length !== 32)
        throw new LightproofError('LP_L402_BAD_KEYRING', 'Master secrets are 32 bytes.');
    }
    this.current = current;
  }

  static generate(): KeyRing {
    return new KeyRing([{ index: 1, secret: randomBytes(32) }], 1);
  }

  /** Loads the ring kept in PATH (mode 0600), creating it with one fresh secret on first use. */
  static open(path: string): KeyRing {
    if (!existsSync(path)) {
      const ring = KeyRing.generate();
      ring.save(path);
      return ring;
    }
    try {
      const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredRing;
      return new KeyRing(
        stored.keys.map((k) => ({ index: k.index, secret: hexToBytes(k.secret) })),
        stored.current,
      );
    } catch (cause) {
      if (cause instanceof LightproofError) throw cause;
      throw new LightproofError(
        'LP_L402_BAD_KEYRING',
        `${path} is not a readable L402 key ring; restore it from a backup (without it, issued tokens cannot be verified).`,
        { cause },
      );
    }
  }

  save(path: string): void {
    const stored: StoredRing = {
      current: this.current,
      keys: [...this.#keys].map(([index, secret]) => ({
        index,
        secret: bytesToHex(secret),
        createdAt: Date.now(),
      })),
    };
    writeSecretFile(path, `${JSON.stringify(stored, null, 2)}\n`);
  }

  /** A new ring whose new secret signs from now on; older secrets still verify what they signed. */
  rotate(): KeyRing {
    const next = Math.max(...this.#keys.keys()) + 1;
    return new KeyRing(
      [
        ...[...this.#keys].map(([index, secret]) => ({ index, secret })),
        { index: next, secret: randomBytes(32) },
      ],
      next,
    );
  }

  /** Drops a master secret: every token it signed stops verifying. */
  retire(index: number): KeyRing {
    if (index === this.current)
      throw new LightproofError('LP_L402_BAD_KEYRING', 'Rotate before retiring the current key.');
    return new KeyRing(
      [...this.#keys].filter(([i]) => i !== index).map(([i, secret]) => ({ index: i, secret })),
      this.current,
    );
  }

  indexes(): number[] {
    return [...this.#keys.keys()];
  }

  rootKey(index: number, identifier: Uint8Array): Uint8Array | undefined {
    const secret = this.#keys.get(index);
    return secret ? hmac(sha256, secret, new Uint8Array([...ROOT_KEY_LABEL, ...identifier])) : undefined;
  }
}

export interface MintRequest {
  paymentHash: Uint8Array;
  services: ServiceGrant[];
  /** Seconds since 1970 after which the token stops working, per service name. */
  validUntil?: Record<string, number>;
  capabilities?: Record<string, string[]>;
  creditMsat?: bigint;
  extraCaveats?: string[];
}

export interface MintedToken {
  macaroon: Macaroon;
  /** Standard base64 of the V2 binary macaroon, as it goes into headers. */
  token: string;
  tokenId: string;
  paymentHash: string;
}

export function mintToken(ring: KeyRing, req: MintRequest): MintedToken {
  const tokenId = randomBytes(32);
  const identifier = encodeIdentifier({ paymentHash: req.paymentHash, tokenId });
  const mac = Macaroon.create(ring.rootKey(ring.current, identifier)!, identifier, TOKEN_LOCATION);
  mac.addFirstPartyCaveat(encodeCaveat(KEY_CONDITION, String(ring.current)));
  mac.addFirstPartyCaveat(servicesCaveat(req.services));
  for (const [service, caps] of Object.entries(req.capabilities ?? {})) {
    mac.addFirstPartyCaveat(encodeCaveat(`${service}_capabilities`, caps.join(',')));
  }
  for (const [service, until] of Object.entries(req.validUntil ?? {})) {
    mac.addFirstPartyCaveat(encodeCaveat(`${service}_valid_until`, String(Math.floor(until))));
  }
  if (req.creditMsat !== undefined)
    mac.addFirstPartyCaveat(encodeCaveat(CREDIT_CONDITION, req.creditMsat.toString()));
  for (const c of req.extraCaveats ?? []) mac.addFirstPartyCaveat(c);
  return {
    macaroon: mac,
    token: Buffer.from(mac.toBinary()).toString('base64'),
    tokenId: bytesToHex(tokenId),
    paymentHash: bytesToHex(req.paymentHash),
  };
}

export function decodeToken(token: string | Uint8Array): Macaroon {
  let bytes: Uint8Array;
  if (typeof token === 'string') {
    if (token.length > (MAX_TOKEN_BYTES * 4) / 3 + 4 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(token)) {
      throw badToken('it is not base64 of a macaroon');
    }
    bytes = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  } else bytes = token;
  if (bytes.length === 0 || bytes.length > MAX_TOKEN_BYTES) throw badToken(`it is ${bytes.length} bytes`);
  return Macaroon.fromBinary(bytes);
}

function badToken(why: string): LightproofError {
  return new LightproofError(
    'LP_L402_BAD_TOKEN',
    `The L402 token cannot be read (${why}); pay a new challenge.`,
    {
      status: 401,
    },
  );
}

export interface VerifiedToken {
  tokenId: string;
  paymentHash: string;
  caveats: CaveatSummary;
}

export interface VerifyOptions {
  target: RequestTarget;
  isRevoked?: (tokenId: string) => boolean;
}

/**
 * Verifies a token and its preimage for a request, cheapest check first: the preimage against the
 * identifier's payment hash, revocation, then the HMAC chain, then the caveats.
 */
export function verifyToken(
  ring: KeyRing,
  token: string | Macaroon,
  preimage: Uint8Array,
  opts: VerifyOptions,
): VerifiedToken {
  const mac = typeof token === 'string' ? decodeToken(token) : token;
  const id = decodeIdentifier(mac.identifier);
  if (preimage.length !== 32 || bytesToHex(sha256(preimage)) !== bytesToHex(id.paymentHash)) {
    throw new LightproofError(
      'LP_L402_WRONG_PREIMAGE',
      "The preimage does not match the token's payment hash; send the preimage of the invoice that came with this token.",
      { status: 401 },
    );
  }
  const tokenId = bytesToHex(id.tokenId);
  if (opts.isRevoked?.(tokenId)) {
    throw new LightproofError(
      'LP_L402_REVOKED',
      'This token was revoked by the provider; pay a new challenge.',
      {
        status: 401,
      },
    );
  }
  const hinted = keyHint(mac);
  const candidates = hinted !== null ? [hinted] : ring.indexes();
  const verified = candidates.some((index) => {
    const rootKey = ring.rootKey(index, mac.identifier);
    return rootKey !== undefined && mac.verifySignature(rootKey);
  });
  if (!verified) {
    throw new LightproofError(
      'LP_L402_BAD_SIGNATURE',
      'The token was not signed by this server, or was changed after signing; pay a new challenge.',
      { status: 401 },
    );
  }
  return {
    tokenId,
    paymentHash: bytesToHex(id.paymentHash),
    caveats: checkCaveats(mac.conditions(), opts.target),
  };
}

function keyHint(mac: Macaroon): number | null {
  for (const c of mac.caveats) {
    if (c.verificationId) continue;
    const text = Buffer.from(c.identifier).toString('utf8');
    const m = /^lightproof_key=(\d{1,6})$/.exec(text);
    if (m) return Number(m[1]);
  }
  return null;
}
