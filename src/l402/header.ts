/**
 * L402 headers. Servers emit `WWW-Authenticate: L402 macaroon="…", invoice="…", version="0", token="…"`
 * (macaroon first, which lnget and L402sdk require) plus a legacy `LSAT` challenge; clients send
 * `Authorization: L402 <token>[,<token>…]:<preimage hex>`. Parsing is tolerant of everything the
 * spec allows (scheme case, parameter order, unknown parameters, quoted or bare values, both hex cases)
 * and strict about everything else.
 */
import { LightproofError } from '../core/errors.js';

export const MAX_AUTHORIZATION_LENGTH = 8192;
const MAX_TOKENS = 8;
const TOKEN_CHARS = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

export interface Challenge {
  scheme: 'L402' | 'LSAT';
  /** Base64 macaroon, from `macaroon=` or `token=`. */
  token: string;
  invoice: string;
  version: string | null;
  params: Record<string, string>;
}

export interface Credential {
  scheme: 'L402' | 'LSAT';
  tokens: string[];
  preimage: Uint8Array;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The WWW-Authenticate values a server sends with a 402: L402 first, then the legacy LSAT form. */
export function formatChallenges(token: string, invoice: string): string[] {
  return [
    `L402 macaroon=${quote(token)}, invoice=${quote(invoice)}, version="0", token=${quote(token)}`,
    `LSAT macaroon=${quote(token)}, invoice=${quote(invoice)}`,
  ];
}

export function formatAuthorization(tokens: string[], preimageHex: string): string {
  return `L402 ${tokens.join(',')}:${preimageHex.toLowerCase()}`;
}

interface RawChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** RFC 9110 §11.6.1: one header value may hold several challenges, each with auth-params. */
export function parseAuthenticateHeader(value: string): RawChallenge[] {
  const out: RawChallenge[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && TOKEN_CHARS.test(value[i]!)) i++;
    return value.slice(start, i);
  };
  // Unquoted values in the wild are often base64 (token68: '/', '+', '='), so a bare value runs to ',' or space.
  const readBare = () => {
    const start = i;
    while (i < n && value[i] !== ',' && value[i] !== ' ' && value[i] !== '\t') i++;
    return value.slice(start, i);
  };
  const readQuoted = (): string | null => {
    let s = '';
    i++; // opening quote
    while (i < n) {
      const c = value[i]!;
      if (c === '\\' && i + 1 < n) {
        s += value[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return s;
      } else {
        s += c;
        i++;
      }
    }
    return null; // unterminated
  };
  let current: RawChallenge | null = null;
  while (i < n) {
    skipSpace();
    if (value[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const word = readToken();
    if (!word) return out; // garbage: keep what parsed cleanly
    skipSpace();
    if (value[i] === '=' && current) {
      i++;
      skipSpace();
      const v = value[i] === '"' ? readQuoted() : readBare();
      if (v === null) return out;
      current.params[word.toLowerCase()] = v;
      continue;
    }
    if (value[i] === '=' && !current) return out;
    // A new challenge: the word is its scheme. (A token68 after the scheme is not used by L402.)
    i = start + word.length;
    current = { scheme: word, params: {} };
    out.push(current);
  }
  return out;
}

/** Every usable L402/LSAT challenge in the response's WWW-Authenticate header(s), L402 first. */
export function parseChallenges(values: string | string[] | null | undefined): Challenge[] {
  const list = values === null || values === undefined ? [] : Array.isArray(values) ? values : [values];
  const found: Challenge[] = [];
  for (const raw of list.flatMap(parseAuthenticateHeader)) {
    const scheme = raw.scheme.toUpperCase();
    if (scheme !== 'L402' && scheme !== 'LSAT') continue;
    const token = raw.params.macaroon ?? raw.params.token;
    const invoice = raw.params.invoice;
    if (!token || !invoice) continue;
    found.push({ scheme, token, invoice, version: raw.params.version ?? null, params: raw.params });
  }
  return found.sort((a, b) => (a.scheme === b.scheme ? 0 : a.scheme === 'L402' ? -1 : 1));
}

function badCredential(why: string): LightproofError {
  return new LightproofError(
    'LP_L402_BAD_CREDENTIAL',
    `The Authorization header is not an L402 credential (${why}); send "L402 <macaroon>:<preimage hex>".`,
    { status: 402 },
  );
}

/**
 * Parses an Authorization value. Returns null when it is not L402/LSAT at all (another scheme, or
 * absent), so other authentication can handle it; throws LP_L402_BAD_CREDENTIAL when it claims to be
 * L402 but is malformed, duplicated or oversized.
 */
export function parseAuthorization(value: string | null | undefined): Credential | null {
  if (value === null || value === undefined) return null;
  if (value.length > MAX_AUTHORIZATION_LENGTH) {
    throw new LightproofError(
      'LP_L402_HEADER_TOO_LARGE',
      `The Authorization header is ${value.length} bytes; L402 credentials are at most ${MAX_AUTHORIZATION_LENGTH}.`,
      { status: 431 },
    );
  }
  const m = /^\s*(L402|LSAT)[ \t]+(.*)$/is.exec(value);
  if (!m) return null;
  const scheme = m[1]!.toUpperCase() as 'L402' | 'LSAT';
  const rest = m[2]!.trim();
  if (hasControlCharacter(rest)) throw badCredential('it contains control characters');
  if (/\b(L402|LSAT)[ \t]/i.test(rest)) throw badCredential('it carries more than one credential');
  const colon = rest.lastIndexOf(':');
  if (colon < 0) throw badCredential('no ":" between the macaroon and the preimage');
  const preimageHex = rest.slice(colon + 1).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(preimageHex)) throw badCredential('the preimage is not 64 hex characters');
  const tokens = rest
    .slice(0, colon)
    .split(',')
    .map((t) => t.trim());
  if (tokens.length > MAX_TOKENS) throw badCredential(`more than ${MAX_TOKENS} macaroons`);
  if (tokens.some((t) => !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)))
    throw badCredential('a macaroon is not base64');
  return { scheme, tokens, preimage: new Uint8Array(Buffer.from(preimageHex, 'hex')) };
}

/** CTL characters (RFC 5234: 0x00-0x1f and 0x7f) make a credential invalid. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
