import { LightproofError } from '../core/errors.js';

/** Aperture's token identifier: uint16 version (0), 32-byte payment hash, 32-byte token id; 66 bytes. */
export const IDENTIFIER_LENGTH = 66;

export interface TokenIdentifier {
  version: 0;
  paymentHash: Uint8Array;
  tokenId: Uint8Array;
}

export function encodeIdentifier(id: { paymentHash: Uint8Array; tokenId: Uint8Array }): Uint8Array {
  if (id.paymentHash.length !== 32 || id.tokenId.length !== 32) {
    throw new LightproofError(
      'LP_L402_BAD_IDENTIFIER',
      'A token identifier needs a 32-byte payment hash and token id.',
    );
  }
  const out = new Uint8Array(IDENTIFIER_LENGTH);
  out.set(id.paymentHash, 2);
  out.set(id.tokenId, 34);
  return out;
}

export function decodeIdentifier(bytes: Uint8Array): TokenIdentifier {
  if (bytes.length !== IDENTIFIER_LENGTH) {
    throw new LightproofError(
      'LP_L402_BAD_IDENTIFIER',
      `The macaroon's identifier is ${bytes.length} bytes, not the ${IDENTIFIER_LENGTH} of an L402 token; it was not issued by an L402 server.`,
      { status: 401 },
    );
  }
  const version = (bytes[0]! << 8) | bytes[1]!;
  if (version !== 0) {
    throw new LightproofError(
      'LP_L402_BAD_IDENTIFIER',
      `Token identifier version ${version} is unknown (only 0 is).`,
      {
        status: 401,
      },
    );
  }
  return { version: 0, paymentHash: bytes.slice(2, 34), tokenId: bytes.slice(34, 66) };
}
