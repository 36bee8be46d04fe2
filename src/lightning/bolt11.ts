/**
 * BOLT 11 invoices: decode (every reader rule of the spec, signature checked) and encode + sign.
 * Written here because no maintained npm codec both signs and verifies without native modules
 * (see src/lightning/README.md).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { base58check, bech32, bech32m } from '@scure/base';
import { LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';

export type Network = 'mainnet' | 'testnet' | 'signet' | 'regtest' | 'simnet';

const PREFIX_NETWORK: Record<string, Network> = {
  bc: 'mainnet',
  tb: 'testnet',
  tbs: 'signet',
  bcrt: 'regtest',
  sb: 'simnet',
};
const NETWORK_PREFIX = Object.fromEntries(Object.entries(PREFIX_NETWORK).map(([k, v]) => [v, k])) as Record<
  Network,
  string
>;
/** Address versions and segwit prefixes for fallback addresses, per network. */
const ADDRESS_PARAMS: Record<Network, { p2pkh: number; p2sh: number; hrp: string }> = {
  mainnet: { p2pkh: 0x00, p2sh: 0x05, hrp: 'bc' },
  testnet: { p2pkh: 0x6f, p2sh: 0xc4, hrp: 'tb' },
  signet: { p2pkh: 0x6f, p2sh: 0xc4, hrp: 'tb' },
  regtest: { p2pkh: 0x6f, p2sh: 0xc4, hrp: 'bcrt' },
  simnet: { p2pkh: 0x3f, p2sh: 0x7b, hrp: 'sb' },
};

/** Feature bits BOLT 9 allows in invoices: var_onion_optin, payment_secret, basic_mpp, payment_metadata. */
const KNOWN_FEATURES = new Set([8, 9, 14, 15, 16, 17, 48, 49]);
/** Longer than any invoice a wallet would show as a QR code; refuses hostile megabyte strings early. */
export const MAX_INVOICE_LENGTH = 8192;
const MSAT_PER_BTC = 100_000_000_000n;
const MULTIPLIER_MSAT: Record<string, bigint> = { m: 100_000_000n, u: 100_000n, n: 100n };
const SIGNATURE_WORDS = 104;
const TIMESTAMP_WORDS = 7;

enum Tag {
  PaymentHash = 1,
  RouteHint = 3,
  Features = 5,
  Expiry = 6,
  Fallback = 9,
  Description = 13,
  PaymentSecret = 16,
  Payee = 19,
  DescriptionHash = 23,
  MinFinalCltv = 24,
  Metadata = 27,
}

export interface RouteHop {
  pubkey: string;
  shortChannelId: string;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
}

export interface Fallback {
  version: number;
  program: string;
  address: string | null;
}

export interface DecodedInvoice {
  paymentRequest: string;
  network: Network;
  amountMsat: Msat | null;
  timestamp: number;
  expiry: number;
  paymentHash: string;
  paymentSecret: string | null;
  description: string | null;
  descriptionHash: string | null;
  payee: string;
  minFinalCltvExpiry: number;
  fallbacks: Fallback[];
  routeHints: RouteHop[][];
  metadata: string | null;
  features: { bits: number[]; unknownRequired: number[] };
  signature: string;
  recoveryId: number;
}

function fail(code: string, message: string): never {
  throw new LightproofError(code, message);
}

function malformed(why: string): never {
  fail('LP_BOLT11_MALFORMED', `This is not a valid BOLT 11 invoice: ${why}. Copy the whole invoice again.`);
}

/** 5-bit words to bytes, dropping the final partial byte (the spec's zero padding). */
function wordsToBytes(words: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.floor((words.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < words.length; i++) {
    acc = (acc << 5) | words[i]!;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** Bytes to 5-bit words, padding the last word with zero bits. */
function bytesToWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

function wordsToInt(words: ArrayLike<number>): number {
  let v = 0;
  for (let i = 0; i < words.length; i++) {
    v = v * 32 + words[i]!;
    if (v > Number.MAX_SAFE_INTEGER) malformed('an integer field is too large');
  }
  return v;
}

function intToWords(value: number, minWords = 1): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0) {
    out.unshift(v % 32);
    v = Math.floor(v / 32);
  }
  while (out.length < minWords) out.unshift(0);
  return out;
}

function parseAmount(digits: string | undefined, multiplier: string | undefined): Msat | null {
  if (digits === undefined) return null;
  const n = BigInt(digits);
  let value: bigint;
  if (multiplier === undefined) value = n * MSAT_PER_BTC;
  else if (multiplier === 'p') {
    if (n % 10n !== 0n) {
      fail(
        'LP_BOLT11_BAD_AMOUNT',
        `The amount ${digits}p is not a whole number of millisatoshis; the invoice is invalid, ask the payee for a new one.`,
      );
    }
    value = n / 10n;
  } else if (MULTIPLIER_MSAT[multiplier] !== undefined) value = n * MULTIPLIER_MSAT[multiplier];
  else {
    fail(
      'LP_BOLT11_BAD_AMOUNT',
      `'${multiplier}' is not an amount multiplier (m, u, n or p); the invoice is invalid.`,
    );
  }
  try {
    return msat(value);
  } catch {
    return fail(
      'LP_BOLT11_BAD_AMOUNT',
      `The amount ${digits}${multiplier ?? ''} exceeds the bitcoin supply.`,
    );
  }
}

function encodeAmount(amount: Msat): string {
  if (amount === 0n)
    fail('LP_BAD_AMOUNT', 'An invoice amount must be positive; omit it for an amountless invoice.');
  if (amount % MSAT_PER_BTC === 0n) return (amount / MSAT_PER_BTC).toString();
  for (const [m, unit] of Object.entries(MULTIPLIER_MSAT)) {
    if (amount % unit === 0n) return `${amount / unit}${m}`;
  }
  return `${amount * 10n}p`;
}

function fallbackAddress(network: Network, version: number, program: Uint8Array): string | null {
  const p = ADDRESS_PARAMS[network];
  if (version === 17 && program.length === 20)
    return base58check(sha256).encode(Uint8Array.of(p.p2pkh, ...program));
  if (version === 18 && program.length === 20)
    return base58check(sha256).encode(Uint8Array.of(p.p2sh, ...program));
  if (version <= 16 && program.length >= 2 && program.length <= 40) {
    const coder = version === 0 ? bech32 : bech32m;
    return coder.encode(p.hrp, [version, ...coder.toWords(program)]);
  }
  return null;
}

function parseRouteHint(bytes: Uint8Array): RouteHop[] {
  if (bytes.length === 0 || bytes.length % 51 !== 0) malformed('a route hint (r field) has a partial entry');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hops: RouteHop[] = [];
  for (let o = 0; o < bytes.length; o += 51) {
    hops.push({
      pubkey: bytesToHex(bytes.subarray(o, o + 33)),
      shortChannelId: bytesToHex(bytes.subarray(o + 33, o + 41)),
      feeBaseMsat: view.getUint32(o + 41),
      feeProportionalMillionths: view.getUint32(o + 45),
      cltvExpiryDelta: view.getUint16(o + 49),
    });
  }
  return hops;
}

function featureBits(words: ArrayLike<number>): number[] {
  const bits: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[words.length - 1 - i]!;
    for (let b = 0; b < 5; b++) if (w & (1 << b)) bits.push(i * 5 + b);
  }
  return bits;
}

function splitHrp(hrp: string): { network: Network; amountMsat: Msat | null } {
  const m = /^ln([a-z]+)(?:(\d+)([a-z])?)?$/.exec(hrp);
  if (!m) {
    if (!hrp.startsWith('ln')) malformed(`it starts with '${hrp.slice(0, 8)}', not 'ln'`);
    fail(
      'LP_BOLT11_BAD_AMOUNT',
      `The amount in '${hrp}' is not digits followed by an optional m, u, n or p.`,
    );
  }
  const network = PREFIX_NETWORK[m[1]!];
  if (!network) {
    fail(
      'LP_BOLT11_UNKNOWN_NETWORK',
      `'ln${m[1]}' is not a known Lightning currency prefix (lnbc, lntb, lntbs, lnbcrt, lnsb).`,
    );
  }
  return { network, amountMsat: parseAmount(m[2], m[3]) };
}

/** Decodes and verifies a BOLT 11 invoice. Throws LightproofError (LP_BOLT11_…) on any defect. */
export function decodeInvoice(input: string): DecodedInvoice {
  if (typeof input !== 'string') malformed('it is not a string');
  let text = input.trim();
  if (/^lightning:/i.test(text)) text = text.slice('lightning:'.length);
  if (text.length > MAX_INVOICE_LENGTH) {
    fail(
      'LP_BOLT11_TOO_LONG',
      `The invoice is ${text.length} characters; invoices are at most ${MAX_INVOICE_LENGTH}.`,
    );
  }
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) {
    malformed('it mixes upper and lower case');
  }
  text = text.toLowerCase();
  const sep = text.lastIndexOf('1');
  if (sep < 1) malformed("it has no '1' separator between the prefix and the data");
  if (!/^[qpzry9x8gf2tvdw0s3jn54khce6mua7l]*$/.test(text.slice(sep + 1))) {
    malformed('its data part has a character outside the bech32 alphabet');
  }
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(text as `${string}1${string}`, false);
  } catch {
    fail(
      'LP_BOLT11_BAD_CHECKSUM',
      'The invoice checksum is wrong: a character was changed or lost. Copy it again.',
    );
  }
  const { prefix: hrp, words } = decoded;
  const { network, amountMsat } = splitHrp(hrp);
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) {
    fail(
      'LP_BOLT11_TOO_SHORT',
      'The invoice is too short to hold a timestamp and a signature; it was cut off.',
    );
  }
  const dataEnd = words.length - SIGNATURE_WORDS;
  const timestamp = wordsToInt(words.slice(0, TIMESTAMP_WORDS));

  const out = {
    paymentHash: null as Uint8Array | null,
    paymentSecret: null as string | null,
    description: null as string | null,
    descriptionHash: null as string | null,
    payee: null as Uint8Array | null,
    expiry: 3600,
    minFinalCltvExpiry: 18,
    fallbacks: [] as Fallback[],
    routeHints: [] as RouteHop[][],
    metadata: null as string | null,
    featureWords: [] as number[],
  };
  for (let i = TIMESTAMP_WORDS; i < dataEnd; ) {
    if (i + 3 > dataEnd) malformed('a tagged field header is cut off');
    const tag = words[i]!;
    const len = words[i + 1]! * 32 + words[i + 2]!;
    const field = words.slice(i + 3, i + 3 + len);
    if (i + 3 + len > dataEnd) malformed('a tagged field runs past the signature');
    i += 3 + len;
    switch (tag) {
      case Tag.PaymentHash:
        if (len === 52 && !out.paymentHash) out.paymentHash = wordsToBytes(field);
        break;
      case Tag.PaymentSecret:
        if (len === 52 && !out.paymentSecret) out.paymentSecret = bytesToHex(wordsToBytes(field));
        break;
      case Tag.DescriptionHash:
        if (len === 52 && !out.descriptionHash) out.descriptionHash = bytesToHex(wordsToBytes(field));
        break;
      case Tag.Payee:
        if (len === 53 && !out.payee) out.payee = wordsToBytes(field);
        break;
      case Tag.Description:
        try {
          out.description ??= new TextDecoder('utf-8', { fatal: true }).decode(wordsToBytes(field));
        } catch {
          malformed('its description is not valid UTF-8');
        }
        break;
      case Tag.Expiry:
        out.expiry = wordsToInt(field);
        break;
      case Tag.MinFinalCltv:
        out.minFinalCltvExpiry = wordsToInt(field);
        break;
      case Tag.Fallback: {
        const version = field[0];
        if (version === undefined || version > 18) break; // unknown versions are skipped by the spec
        const program = wordsToBytes(field.slice(1));
        out.fallbacks.push({
          version,
          program: bytesToHex(program),
          address: fallbackAddress(network, version, program),
        });
        break;
      }
      case Tag.RouteHint:
        out.routeHints.push(parseRouteHint(wordsToBytes(field)));
        break;
      case Tag.Features:
        out.featureWords = field;
        break;
      case Tag.Metadata:
        out.metadata = bytesToHex(wordsToBytes(field));
        break;
      default:
        break; // unknown fields are skipped, as the spec requires
    }
  }
  if (!out.paymentHash) {
    fail('LP_BOLT11_MISSING_FIELD', 'The invoice has no payment hash (p field); it cannot be paid.');
  }

  const sigBytes = wordsToBytes(words.slice(dataEnd));
  const recoveryId = sigBytes[64]!;
  const compact = sigBytes.subarray(0, 64);
  const digest = signingDigest(hrp, words.slice(0, dataEnd));
  let payee: Uint8Array;
  if (out.payee) {
    let ok = false;
    try {
      ok = secp256k1.verify(compact, digest, out.payee, { prehash: false, lowS: false });
    } catch {
      ok = false;
    }
    if (!ok)
      fail('LP_BOLT11_BAD_SIGNATURE', 'The invoice signature does not match its payee key; do not pay it.');
    payee = out.payee;
  } else {
    if (recoveryId > 3)
      fail('LP_BOLT11_BAD_SIGNATURE', `The signature's recovery id ${recoveryId} is not 0 to 3.`);
    try {
      payee = secp256k1.recoverPublicKey(Uint8Array.of(recoveryId, ...compact), digest, { prehash: false });
    } catch {
      fail(
        'LP_BOLT11_BAD_SIGNATURE',
        'The invoice signature is not recoverable to a payee key; do not pay it.',
      );
    }
  }

  const bits = featureBits(out.featureWords);
  return {
    paymentRequest: text,
    network,
    amountMsat,
    timestamp,
    expiry: out.expiry,
    paymentHash: bytesToHex(out.paymentHash),
    paymentSecret: out.paymentSecret,
    description: out.description,
    descriptionHash: out.descriptionHash,
    payee: bytesToHex(payee),
    minFinalCltvExpiry: out.minFinalCltvExpiry,
    fallbacks: out.fallbacks,
    routeHints: out.routeHints,
    metadata: out.metadata,
    features: {
      bits,
      unknownRequired: bits.filter(
        (b) => b % 2 === 0 && !KNOWN_FEATURES.has(b) && !KNOWN_FEATURES.has(b + 1),
      ),
    },
    signature: bytesToHex(compact),
    recoveryId,
  };
}

/** The signed message: the human-readable part's bytes, then the data words zero-padded to a byte boundary. */
function signingDigest(hrp: string, words: number[]): Uint8Array {
  const data = wordsToBytes([...words, 0, 0]).subarray(0, Math.ceil((words.length * 5) / 8));
  return sha256(new Uint8Array([...new TextEncoder().encode(hrp), ...data]));
}

export interface InvoiceFields {
  network: Network;
  amountMsat: Msat | null;
  timestamp: number;
  paymentHash: Uint8Array;
  paymentSecret?: Uint8Array;
  description?: string;
  descriptionHash?: Uint8Array;
  expiry?: number;
  minFinalCltvExpiry?: number;
  featureBits?: number[];
  /** Adds the payee's key as an `n` field, saving the reader a signature recovery. */
  includePayee?: boolean;
}

function tagged(tag: number, data: number[]): number[] {
  if (data.length > 1023)
    fail('LP_BOLT11_FIELD_TOO_LONG', `A tagged field of ${data.length} words exceeds 1023.`);
  return [tag, data.length >> 5, data.length & 31, ...data];
}

function expectBytes(name: string, value: Uint8Array | undefined, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    fail('LP_BOLT11_BAD_FIELD', `${name} must be ${length} bytes.`);
  }
  return value;
}

/** Encodes and signs an invoice with the payee's 32-byte secret key (RFC 6979, so deterministic). */
export function encodeInvoice(fields: InvoiceFields, secretKey: Uint8Array): string {
  const prefix = NETWORK_PREFIX[fields.network];
  if (!prefix) fail('LP_BOLT11_BAD_FIELD', `Unknown network '${String(fields.network)}'.`);
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0 || fields.timestamp >= 2 ** 35) {
    fail('LP_BOLT11_BAD_FIELD', 'timestamp must be seconds since 1970 and fit in 35 bits.');
  }
  if ((fields.description === undefined) === (fields.descriptionHash === undefined)) {
    fail('LP_BOLT11_BAD_FIELD', 'An invoice needs exactly one of description or descriptionHash.');
  }
  const hrp = `ln${prefix}${fields.amountMsat === null ? '' : encodeAmount(fields.amountMsat)}`;
  const words: number[] = [...intToWords(fields.timestamp, TIMESTAMP_WORDS)];
  words.push(...tagged(Tag.PaymentHash, bytesToWords(expectBytes('paymentHash', fields.paymentHash, 32))));
  if (fields.description !== undefined) {
    words.push(...tagged(Tag.Description, bytesToWords(new TextEncoder().encode(fields.description))));
  } else {
    words.push(
      ...tagged(
        Tag.DescriptionHash,
        bytesToWords(expectBytes('descriptionHash', fields.descriptionHash, 32)),
      ),
    );
  }
  if (fields.paymentSecret !== undefined) {
    words.push(
      ...tagged(Tag.PaymentSecret, bytesToWords(expectBytes('paymentSecret', fields.paymentSecret, 32))),
    );
  }
  if (fields.expiry !== undefined) words.push(...tagged(Tag.Expiry, intToWords(fields.expiry)));
  if (fields.minFinalCltvExpiry !== undefined) {
    words.push(...tagged(Tag.MinFinalCltv, intToWords(fields.minFinalCltvExpiry)));
  }
  const payee = secp256k1.getPublicKey(secretKey, true);
  if (fields.includePayee) words.push(...tagged(Tag.Payee, bytesToWords(payee)));
  if (fields.featureBits && fields.featureBits.length > 0) {
    const top = Math.max(...fields.featureBits);
    const featureWords = new Array<number>(Math.floor(top / 5) + 1).fill(0);
    for (const bit of fields.featureBits)
      featureWords[featureWords.length - 1 - Math.floor(bit / 5)]! |= 1 << (bit % 5);
    words.push(...tagged(Tag.Features, featureWords));
  }
  const rec = secp256k1.sign(signingDigest(hrp, words), secretKey, { prehash: false, format: 'recovered' });
  const sig = new Uint8Array(65);
  sig.set(rec.subarray(1), 0);
  sig[64] = rec[0]!;
  return bech32.encode(hrp, [...words, ...bytesToWords(sig)], false);
}

/** Seconds since 1970 at which the invoice stops being payable. */
export function invoiceExpiresAt(inv: Pick<DecodedInvoice, 'timestamp' | 'expiry'>): number {
  return inv.timestamp + inv.expiry;
}
