/**
 * Signed receipts: the gateway attaches one to every paid response in a `Lightproof-Receipt` header,
 * and anyone can check it offline with only the provider's receipt public key (x-only, hex).
 *
 * Header value: `<payload>.<signature>`, both base64url without padding, at most 1024 bytes.
 * payload   = UTF-8 canonical JSON, keys in this order, no whitespace:
 *             {"v":1,"service":…,"priceMsat":"<decimal>","paymentHash":…,"tokenId":…,
 *              "requestDigest":…,"responseDigest":…,"time":<unix seconds>,"key":…}
 *             (hex fields are 64 lowercase hex characters; `key` is the signer's x-only public key)
 * signature = BIP340 Schnorr over taggedHash("lightproof/receipt/v1", payload)
 * taggedHash(tag, m) = SHA256(SHA256(tag) || SHA256(tag) || m), as in BIP340.
 *
 * requestDigest  = taggedHash("lightproof/receipt/request/v1",
 *                    u32be(len M) || M || u32be(len P) || P || request body)
 *                  M = method as sent (UTF-8), P = path and query as sent (UTF-8, e.g. "/v1/chat?x=1")
 * responseDigest = taggedHash("lightproof/receipt/response/v1", u16be(status) || response body)
 * Bodies are the bytes carried in the message: transfer coding removed, content coding (gzip…) kept.
 * The body comes last so both digests can be computed while the body streams.
 */
import { readFileSync, statSync } from 'node:fs';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64urlnopad } from '@scure/base';
import { z } from 'zod';
import { LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';
import { writeSecretFile } from '../core/secrets.js';
import { Bip340Signer } from './bip340.js';

export const RECEIPT_HEADER = 'Lightproof-Receipt';
export const MAX_RECEIPT_HEADER_BYTES = 1024;
export const RECEIPT_SIGNATURE_TAG = 'lightproof/receipt/v1';
export const RECEIPT_REQUEST_TAG = 'lightproof/receipt/request/v1';
export const RECEIPT_RESPONSE_TAG = 'lightproof/receipt/response/v1';

export interface Receipt {
  v: 1;
  service: string;
  priceMsat: Msat;
  paymentHash: string;
  tokenId: string;
  requestDigest: string;
  responseDigest: string;
  /** Unix seconds. */
  time: number;
  /** The signer's x-only public key, hex. */
  key: string;
}

/** What the gateway supplies; `time` defaults to now. */
export type ReceiptFields = Omit<Receipt, 'v' | 'key' | 'time'> & { time?: number };

export interface SignedReceipt {
  header: string;
  receipt: Receipt;
}

export interface ReceiptRequest {
  method: string;
  pathAndQuery: string;
  body: Uint8Array;
}

export interface ReceiptResponse {
  status: number;
  body: Uint8Array;
}

export interface VerifyReceiptOptions {
  request?: ReceiptRequest;
  response?: ReceiptResponse;
}

const HEX32 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
/** The wire form; the same rule as L402 service names, so every service can be named. */
const payloadSchema = z.strictObject({
  v: z.literal(1),
  service: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected a service name'),
  priceMsat: z.string().regex(/^(0|[1-9][0-9]{0,18})$/, 'expected a whole number of msat as a string'),
  paymentHash: HEX32,
  tokenId: HEX32,
  requestDigest: HEX32,
  responseDigest: HEX32,
  time: z.number().int().nonnegative(),
  key: HEX32,
});
type Payload = z.infer<typeof payloadSchema>;

/** Fixed key order and no whitespace, so one receipt has exactly one byte encoding. */
function canonicalPayload(p: Payload): Uint8Array {
  return utf8ToBytes(
    JSON.stringify({
      v: p.v,
      service: p.service,
      priceMsat: p.priceMsat,
      paymentHash: p.paymentHash,
      tokenId: p.tokenId,
      requestDigest: p.requestDigest,
      responseDigest: p.responseDigest,
      time: p.time,
      key: p.key,
    }),
  );
}

function toPayload(r: Receipt): Payload {
  return { ...r, priceMsat: r.priceMsat.toString() };
}

function taggedSha256(tag: string) {
  const t = sha256(utf8ToBytes(tag));
  return sha256.create().update(t).update(t);
}

/** Hashes a body as it streams past; `digest()` once, at the end. */
export class BodyHasher {
  readonly #hash: ReturnType<typeof taggedSha256>;

  private constructor(tag: string, prefix: Uint8Array) {
    this.#hash = taggedSha256(tag).update(prefix);
  }

  static forRequest(method: string, pathAndQuery: string): BodyHasher {
    return new BodyHasher(RECEIPT_REQUEST_TAG, concatLengthPrefixed([method, pathAndQuery]));
  }

  static forResponse(status: number): BodyHasher {
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw badInput(`${status} is not an HTTP status code`);
    }
    return new BodyHasher(RECEIPT_RESPONSE_TAG, new Uint8Array([status >> 8, status & 0xff]));
  }

  update(chunk: Uint8Array): this {
    this.#hash.update(chunk);
    return this;
  }

  /** Hex of the 32-byte digest. */
  digest(): string {
    return bytesToHex(this.#hash.digest());
  }
}

function concatLengthPrefixed(parts: string[]): Uint8Array {
  const encoded = parts.map(utf8ToBytes);
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of encoded) {
    view.setUint32(at, e.length);
    out.set(e, at + 4);
    at += 4 + e.length;
  }
  return out;
}

export function requestDigest(req: ReceiptRequest): string {
  return BodyHasher.forRequest(req.method, req.pathAndQuery).update(req.body).digest();
}

export function responseDigest(res: ReceiptResponse): string {
  return BodyHasher.forResponse(res.status).update(res.body).digest();
}

function signatureMessage(payload: Uint8Array): Uint8Array {
  return taggedSha256(RECEIPT_SIGNATURE_TAG).update(payload).digest();
}

const storedKeySchema = z.strictObject({
  kind: z.literal('lightproof receipt key'),
  secretKey: HEX32,
  publicKey: HEX32,
  createdAt: z.number().int(),
});
type StoredKey = z.infer<typeof storedKeySchema>;

export class ReceiptSigner {
  readonly #secretKey: Uint8Array;
  readonly #signer: Bip340Signer;
  /** x-only, hex: what `/.well-known/lightproof.json` publishes. */
  readonly publicKeyHex: string;

  constructor(secretKey: Uint8Array) {
    try {
      this.#signer = new Bip340Signer(secretKey);
    } catch (cause) {
      throw badInput('the secret key is not a 32-byte secp256k1 scalar', cause);
    }
    this.publicKeyHex = bytesToHex(this.#signer.publicKey);
    this.#secretKey = Uint8Array.from(secretKey);
  }

  static generate(): ReceiptSigner {
    return new ReceiptSigner(schnorr.utils.randomSecretKey());
  }

  /** Loads the key kept in PATH (mode 0600), creating it on first use. */
  static open(path: string): ReceiptSigner {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw badKeyFile(path, cause);
      const signer = ReceiptSigner.generate();
      signer.save(path);
      return signer;
    }
    // Other users could copy the key and sign receipts in the provider's name.
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      throw new LightproofError(
        'LP_RECEIPT_KEY_FILE_EXPOSED',
        `${path} can be read by other users; run \`chmod 600 ${path}\`, and if others may have copied it, move it aside so a new key is made and publish the new public key.`,
      );
    }
    let stored: StoredKey;
    let signer: ReceiptSigner;
    try {
      stored = storedKeySchema.parse(JSON.parse(text));
      signer = new ReceiptSigner(hexToBytes(stored.secretKey));
    } catch (cause) {
      throw badKeyFile(path, cause);
    }
    if (signer.publicKeyHex !== stored.publicKey) throw badKeyFile(path);
    return signer;
  }

  save(path: string): void {
    const stored: StoredKey = {
      kind: 'lightproof receipt key',
      secretKey: bytesToHex(this.#secretKey),
      publicKey: this.publicKeyHex,
      createdAt: Math.floor(Date.now() / 1000),
    };
    writeSecretFile(path, `${JSON.stringify(stored, null, 2)}\n`);
  }

  sign(fields: ReceiptFields): SignedReceipt {
    const receipt: Receipt = {
      v: 1,
      service: fields.service,
      priceMsat: fields.priceMsat,
      paymentHash: fields.paymentHash,
      tokenId: fields.tokenId,
      requestDigest: fields.requestDigest,
      responseDigest: fields.responseDigest,
      time: fields.time ?? Math.floor(Date.now() / 1000),
      key: this.publicKeyHex,
    };
    const checked = payloadSchema.safeParse(toPayload(receipt));
    if (!checked.success) throw badInput(`cannot sign these fields: ${describeIssues(checked.error)}`);
    const payload = canonicalPayload(checked.data);
    const signature = this.#signer.sign(signatureMessage(payload));
    return {
      header: `${base64urlnopad.encode(payload)}.${base64urlnopad.encode(signature)}`,
      receipt,
    };
  }
}

/**
 * Checks a receipt header against the provider's public key and, when given, the request and
 * response it claims to cover. Returns the receipt; throws LP_RECEIPT_* otherwise.
 */
export function verifyReceipt(
  header: string,
  publicKeyHex: string,
  opts: VerifyReceiptOptions = {},
): Receipt {
  const expectedKey = publicKeyHex.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expectedKey)) {
    throw new LightproofError(
      'LP_RECEIPT_WRONG_KEY',
      `'${publicKeyHex.slice(0, 80)}' is not a receipt public key (64 hex characters, x-only); copy receiptKey from the provider's /.well-known/lightproof.json.`,
    );
  }
  const { payload, signature } = splitHeader(header);
  const receipt = parsePayload(payload);
  const message = signatureMessage(payload);
  if (!schnorr.verify(signature, message, hexToBytes(expectedKey))) {
    if (receipt.key !== expectedKey && schnorr.verify(signature, message, hexToBytes(receipt.key))) {
      throw new LightproofError(
        'LP_RECEIPT_WRONG_KEY',
        `This receipt was signed by key ${receipt.key}, not ${expectedKey}; check that you have the right provider's key, or fetch its current one from /.well-known/lightproof.json.`,
      );
    }
    throw new LightproofError(
      'LP_RECEIPT_BAD_SIGNATURE',
      'The receipt signature does not match its contents and key; it was changed after signing or not made by this provider, so do not rely on it.',
    );
  }
  if (receipt.key !== expectedKey) {
    throw malformed(`it names key ${receipt.key} but is signed by ${expectedKey}`);
  }
  if (opts.request && requestDigest(opts.request) !== receipt.requestDigest) {
    throw digestMismatch('request', `${opts.request.method} ${opts.request.pathAndQuery} and its body`);
  }
  if (opts.response && responseDigest(opts.response) !== receipt.responseDigest) {
    throw digestMismatch('response', `status ${opts.response.status} and its body`);
  }
  return receipt;
}

function splitHeader(header: string): { payload: Uint8Array; signature: Uint8Array } {
  if (Buffer.byteLength(header) > MAX_RECEIPT_HEADER_BYTES) {
    throw new LightproofError(
      'LP_RECEIPT_TOO_LARGE',
      `The receipt is ${Buffer.byteLength(header)} bytes, over the ${MAX_RECEIPT_HEADER_BYTES}-byte limit; it is not a Lightproof receipt, so pass the ${RECEIPT_HEADER} header value alone.`,
    );
  }
  const parts = header.trim().split('.');
  if (parts.length !== 2) throw malformed('it is not two base64url parts joined by a dot');
  const payload = strictBase64url(parts[0]!, 'payload');
  const signature = strictBase64url(parts[1]!, 'signature');
  if (signature.length !== 64) throw malformed(`its signature is ${signature.length} bytes, not 64`);
  return { payload, signature };
}

/** scure refuses padding and non-zero padding bits, so each receipt has one spelling. */
function strictBase64url(text: string, what: string): Uint8Array {
  try {
    return base64urlnopad.decode(text);
  } catch {
    throw malformed(`its ${what} is not unpadded base64url`);
  }
}

function parsePayload(payload: Uint8Array): Receipt {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw malformed('its payload is not UTF-8 JSON');
  }
  if (
    typeof json === 'object' &&
    json !== null &&
    'v' in json &&
    typeof json.v === 'number' &&
    json.v !== 1
  ) {
    throw malformed(
      `it is version ${String(json.v)}; this version of lightproof reads version 1, so upgrade`,
    );
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) throw malformed(describeIssues(parsed.error));
  if (!bytesEqual(canonicalPayload(parsed.data), payload)) {
    throw malformed('its payload is not in canonical form (key order, whitespace or escapes differ)');
  }
  let priceMsat: Msat;
  try {
    priceMsat = msat(parsed.data.priceMsat);
  } catch {
    throw malformed(`its price ${parsed.data.priceMsat} msat is more than all bitcoin`);
  }
  return { ...parsed.data, priceMsat };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

function malformed(why: string): LightproofError {
  return new LightproofError(
    'LP_RECEIPT_MALFORMED',
    `This is not a valid Lightproof receipt (${why}); pass the ${RECEIPT_HEADER} header value exactly as received.`,
  );
}

function digestMismatch(which: 'request' | 'response', what: string): LightproofError {
  return new LightproofError(
    'LP_RECEIPT_DIGEST_MISMATCH',
    `The receipt is genuine but does not cover this ${which} (${what}); pass the exact bytes that were sent, or find the receipt that came with this ${which}.`,
  );
}

function badInput(why: string, cause?: unknown): LightproofError {
  return new LightproofError('LP_RECEIPT_BAD_INPUT', `Cannot make a receipt: ${why}; fix the caller.`, {
    cause,
  });
}

function badKeyFile(path: string, cause?: unknown): LightproofError {
  return new LightproofError(
    'LP_RECEIPT_BAD_KEY_FILE',
    `${path} is not a readable receipt key; restore it from a backup, or move it aside to make a new key and publish the new public key.`,
    { cause },
  );
}
