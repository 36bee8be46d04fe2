/**
 * Talking to OpenTimestamps calendars (python-opentimestamps' RemoteCalendar): `POST <url>/digest`
 * stamps a digest, `GET <url>/timestamp/<hex>` fetches the completed path. A calendar is a stranger
 * on the network, so every reply is bounded (10,000 bytes, a timeout), parsed as a subtree of the
 * digest asked about, and any text it sends back is cut down to harmless characters.
 */
import { createRequire } from 'node:module';
import { bytesToHex } from '@noble/hashes/utils.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { MAX_URI_LENGTH } from './attestation.js';
import { readTimestamp, type Timestamp } from './timestamp.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The aggregators the reference client stamps with (opentimestamps/calendar.py DEFAULT_AGGREGATORS). */
export const DEFAULT_CALENDARS: readonly string[] = Object.freeze([
  'https://a.pool.opentimestamps.org',
  'https://b.pool.opentimestamps.org',
  'https://a.pool.eternitywall.com',
  'https://ots.btc.catallaxy.com',
]);

/** Calendars an upgrade may contact on a proof's say-so (DEFAULT_CALENDAR_WHITELIST). */
export const DEFAULT_WHITELIST: readonly string[] = Object.freeze([
  'https://*.calendar.opentimestamps.org',
  'https://*.calendar.eternitywall.com',
  'https://*.calendar.catallaxy.com',
]);

/** The reference reads at most this much of a reply; more is refused rather than buffered. */
export const MAX_REPLY_BYTES = 10_000;
export const DEFAULT_CALENDAR_TIMEOUT_MS = 5_000;
/** The reference calendar refuses longer digests ("digest too long"). */
export const MAX_DIGEST_LENGTH = 64;

export interface CalendarRequestOptions {
  /** Whole exchange, connect to last byte. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type CalendarErrorCode =
  | 'LP_OTS_CALENDAR_BAD_URL'
  | 'LP_OTS_CALENDAR_TIMEOUT'
  | 'LP_OTS_CALENDAR_UNREACHABLE'
  | 'LP_OTS_CALENDAR_TOO_LARGE'
  | 'LP_OTS_CALENDAR_BAD_REPLY'
  | 'LP_OTS_CALENDAR_REDIRECT'
  | 'LP_OTS_CALENDAR_CANCELLED'
  | 'LP_OTS_BAD_DIGEST';

function calendarError(
  code: CalendarErrorCode,
  message: string,
  details: Record<string, unknown>,
  cause?: unknown,
): LightproofError {
  return new LightproofError(code, message, { status: 502, details, ...(cause ? { cause } : {}) });
}

const URI_CHARS = /^[A-Za-z0-9\-._/:]+$/;

/**
 * Checks a calendar URL against the rules a pending attestation's URI must meet (it will be written
 * into proofs), and returns it without trailing slashes so paths join cleanly.
 */
export function checkCalendarUrl(url: string): string {
  const bad = (why: string) =>
    new LightproofError(
      'LP_OTS_CALENDAR_BAD_URL',
      `Calendar URL ${JSON.stringify(url.slice(0, 120))} ${why}`,
      {
        details: { url: url.slice(0, MAX_URI_LENGTH) },
      },
    );
  if (!/^https?:\/\//i.test(url)) throw bad('is not http:// or https://; write it as https://host[/path].');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('is not a URL; write it as https://host[/path].');
  }
  if (url.includes('@'))
    throw bad('carries credentials; calendars are public, drop the user:password@ part.');
  if (url.includes('?') || url.includes('#'))
    throw bad('has a query or fragment; calendars take a plain path.');
  if (url.length > MAX_URI_LENGTH) throw bad(`is longer than ${MAX_URI_LENGTH} characters.`);
  if (!URI_CHARS.test(url) || parsed.hostname === '') {
    throw bad('holds a character a proof cannot record; use only A-Z a-z 0-9 - . _ / :.');
  }
  return url.replace(/\/+$/, '');
}

/** Stamps digest at one calendar; the reply is a timestamp rooted at digest (usually ending pending). */
export async function submitDigest(
  calendarUrl: string,
  digest: Uint8Array,
  opts: CalendarRequestOptions = {},
): Promise<Timestamp> {
  if (digest.length === 0 || digest.length > MAX_DIGEST_LENGTH) {
    throw new LightproofError(
      'LP_OTS_BAD_DIGEST',
      `A calendar takes a 1..${MAX_DIGEST_LENGTH}-byte digest, not ${digest.length} bytes.`,
    );
  }
  const base = checkCalendarUrl(calendarUrl);
  const reply = await exchange(base, `${base}/digest`, opts, {
    method: 'POST',
    body: digest,
    // The reference clients send this type too (urllib's default), so a calendar sees the same request.
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  if (reply.status !== 200) throw unexpectedStatus(base, reply);
  return parseReply(base, reply.body, digest);
}

/**
 * Asks a calendar for the path from commitment onwards. A 404 means the calendar has not finished
 * (or never saw it); its explanation comes back sanitised as `pending`.
 */
export async function getTimestamp(
  calendarUrl: string,
  commitment: Uint8Array,
  opts: CalendarRequestOptions = {},
): Promise<Timestamp | { pending: string }> {
  const base = checkCalendarUrl(calendarUrl);
  const reply = await exchange(base, `${base}/timestamp/${bytesToHex(commitment)}`, opts, { method: 'GET' });
  if (reply.status === 404) return { pending: sanitiseMessage(reply.body) };
  if (reply.status !== 200) throw unexpectedStatus(base, reply);
  return parseReply(base, reply.body, commitment);
}

/** get_sanitised_resp_msg: the first 160 bytes, every byte outside `A-Za-z0-9#-.,; ` turned into `_`. */
export function sanitiseMessage(body: Uint8Array): string {
  let out = '';
  for (const b of body.subarray(0, 160)) out += SAFE_MESSAGE_BYTES.has(b) ? String.fromCharCode(b) : '_';
  return out;
}

const SAFE_MESSAGE_BYTES = new Set(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789#-.,; '].map((c) => c.charCodeAt(0)),
);

interface Reply {
  status: number;
  body: Uint8Array;
}

async function exchange(
  base: string,
  url: string,
  opts: CalendarRequestOptions,
  init: { method: string; body?: Uint8Array; headers?: Record<string, string> },
): Promise<Reply> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CALENDAR_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const failed = (err: unknown): LightproofError => {
    if (isLightproofError(err)) return err;
    if (opts.signal?.aborted) {
      return calendarError('LP_OTS_CALENDAR_CANCELLED', `The request to ${base} was cancelled.`, {
        calendar: base,
      });
    }
    if (timeout.aborted) {
      return calendarError(
        'LP_OTS_CALENDAR_TIMEOUT',
        `${base} did not answer within ${timeoutMs / 1000} s; try again, raise --timeout, or use another calendar.`,
        { calendar: base, timeoutMs },
      );
    }
    const cause = ((err as Error).cause as { code?: string; message?: string } | undefined) ?? {};
    return calendarError(
      'LP_OTS_CALENDAR_UNREACHABLE',
      `Could not reach ${base} (${cause.code ?? cause.message ?? (err as Error).message}); check the URL and your network, or use another calendar.`,
      { calendar: base },
      err,
    );
  };
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: {
        Accept: 'application/vnd.opentimestamps.v1',
        'User-Agent': `lightproof/${version}`,
        ...init.headers,
      },
      ...(init.body ? { body: init.body } : {}),
      // A redirect could lead an upgrade to a host the whitelist never allowed.
      redirect: 'manual',
      signal,
    });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const to = (res.headers.get('location') ?? '').slice(0, 200).replace(/[^A-Za-z0-9\-._/:]/g, '_');
      throw calendarError(
        'LP_OTS_CALENDAR_REDIRECT',
        `${base} redirected (HTTP ${res.status}) to ${to || 'nowhere'}; redirects are not followed. If you trust that address, pass it with -c.`,
        { calendar: base, status: res.status },
      );
    }
    return { status: res.status, body: await readLimited(base, res) };
  } catch (err) {
    throw failed(err);
  }
}

async function readLimited(base: string, res: Response): Promise<Uint8Array> {
  const tooLarge = () =>
    calendarError(
      'LP_OTS_CALENDAR_TOO_LARGE',
      `${base} sent more than ${MAX_REPLY_BYTES} bytes; a real calendar reply is far smaller. Use another calendar.`,
      { calendar: base, limit: MAX_REPLY_BYTES },
    );
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_REPLY_BYTES) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_REPLY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function unexpectedStatus(base: string, reply: Reply): LightproofError {
  return calendarError(
    'LP_OTS_CALENDAR_BAD_REPLY',
    `${base} answered HTTP ${reply.status} (${sanitiseMessage(reply.body) || 'no text'}); try again later or use another calendar.`,
    { calendar: base, status: reply.status },
  );
}

function parseReply(base: string, body: Uint8Array, msg: Uint8Array): Timestamp {
  try {
    return readTimestamp(body, msg);
  } catch (err) {
    throw calendarError(
      'LP_OTS_CALENDAR_BAD_REPLY',
      `${base} answered with something that is not a timestamp for ${bytesToHex(msg)} (${isLightproofError(err) ? err.code : 'unreadable'}); use another calendar.`,
      { calendar: base },
      err,
    );
  }
}

interface UrlPattern {
  scheme: string;
  host: RegExp;
  path: string;
  text: string;
}

/**
 * python's UrlWhitelist: a calendar URL is allowed when its scheme and path equal a pattern's and
 * its host matches the pattern's host glob (`*` stands for any run of characters). A pattern without
 * a scheme allows both http and https. URLs with a query or fragment never match.
 */
export class CalendarWhitelist {
  private readonly patterns: UrlPattern[] = [];

  constructor(patterns: Iterable<string> = DEFAULT_WHITELIST) {
    for (const p of patterns) this.add(p);
  }

  add(pattern: string): this {
    if (!/^https?:\/\//i.test(pattern)) {
      this.add(`http://${pattern}`);
      return this.add(`https://${pattern}`);
    }
    const parts = splitUrl(pattern);
    if (!parts || /[?#;]/.test(pattern)) {
      throw new LightproofError(
        'LP_OTS_CALENDAR_BAD_URL',
        `Whitelist entry ${JSON.stringify(pattern.slice(0, 120))} must look like https://*.example.org[/path], with no query or fragment.`,
      );
    }
    const glob = parts.host.replace(/[.+?^${}()|[\]\\*]/g, (c) => (c === '*' ? '.*' : `\\${c}`));
    this.patterns.push({
      scheme: parts.scheme,
      host: new RegExp(`^${glob}$`),
      path: parts.path,
      text: pattern,
    });
    return this;
  }

  has(url: string): boolean {
    const parts = splitUrl(url);
    if (!parts || /[?#;]/.test(url)) return false;
    return this.patterns.some(
      (p) => p.scheme === parts.scheme && p.path === parts.path && p.host.test(parts.host),
    );
  }

  list(): string[] {
    return this.patterns.map((p) => p.text);
  }
}

function splitUrl(url: string): { scheme: string; host: string; path: string } | null {
  const m = /^(https?):\/\/([^/]*)(.*)$/i.exec(url);
  if (!m || m[2] === '') return null;
  return { scheme: m[1]!.toLowerCase(), host: m[2]!.toLowerCase(), path: m[3]! };
}
