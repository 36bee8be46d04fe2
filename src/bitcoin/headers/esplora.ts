/**
 * Headers from an Esplora REST API (blockstream.info/api, mempool.space/api, a self-hosted electrs):
 * `GET /block-height/<h>` names the hash, `GET /block/<hash>/header` gives the raw header, and the
 * header must hash to the name and carry its own proof of work.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { LightproofError } from '../../core/errors.js';
import type { BitcoinNetwork } from '../header.js';
import {
  cachedByHeight,
  checkHeader,
  genesisGuard,
  type HeaderSource,
  headerNotFound,
  requireHeight,
  type VerifiedHeader,
} from './source.js';

export interface EsploraHeaderSourceOptions {
  network?: BitcoinNetwork;
  /** Deadline for one HTTP request, body included. Default 10 s. */
  timeoutMs?: number;
  /** How many checked headers to remember; 0 asks every time. Default 1024. */
  cacheSize?: number;
}

/** A hash is 64 characters and a header 160; anything much longer is not an Esplora answer. */
const MAX_REPLY_BYTES = 1024;
const HASH_HEX = /^[0-9a-fA-F]{64}$/;
const HEADER_HEX = /^[0-9a-fA-F]{160}$/;

function normalizeBase(baseUrl: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new LightproofError(
      'LP_BTC_ESPLORA_BAD_URL',
      `"${baseUrl.slice(0, 200)}" is not an Esplora base URL. Pass one like https://blockstream.info/api (http or https, no query).`,
    );
  }
  // Keep the base path (/api): new URL('/block-height/1', base) would drop it.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

interface TextReply {
  status: number;
  text: string;
}

async function readCapped(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function esploraHeaderSource(baseUrl: string, opts: EsploraHeaderSourceOptions = {}): HeaderSource {
  const base = normalizeBase(baseUrl);
  const network = opts.network ?? 'mainnet';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const display = base.toString().replace(/\/$/, '');
  const name = `Esplora at ${display}`;

  const get = async (path: string): Promise<TextReply> => {
    const url = new URL(path, base);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const res = await fetch(url, { signal: controller.signal, headers: { accept: 'text/plain' } });
      const text = await readCapped(res, MAX_REPLY_BYTES);
      if (text === undefined) {
        throw new LightproofError(
          'LP_BTC_ESPLORA_BAD_REPLY',
          `${name} answered GET ${path} with more than ${MAX_REPLY_BYTES} bytes, which is not an Esplora answer. Check the base URL (it usually ends in /api).`,
          { status: 502, details: { path, maxBytes: MAX_REPLY_BYTES } },
        );
      }
      return { status: res.status, text };
    } catch (err) {
      if (err instanceof LightproofError) throw err;
      if (controller.signal.aborted) {
        throw new LightproofError(
          'LP_BTC_ESPLORA_TIMEOUT',
          `${name} did not answer GET ${path} within ${timeoutMs} ms. Try again later, raise the timeout, or use another source.`,
          { status: 504, details: { path, timeoutMs } },
        );
      }
      const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new LightproofError(
        'LP_BTC_ESPLORA_UNREACHABLE',
        `Cannot reach ${name} (${why}). Check the URL and the network connection.`,
        { status: 503, cause: err, details: { path, reason: why } },
      );
    } finally {
      clearTimeout(timer);
    }
  };

  const badReply = (path: string, what: string, status: number) =>
    new LightproofError(
      'LP_BTC_ESPLORA_BAD_REPLY',
      `${name} answered GET ${path} with ${what} (HTTP ${status}). Check that the URL is an Esplora API (it usually ends in /api), or use another source.`,
      { status: 502, details: { path, httpStatus: status } },
    );

  const hashAt = async (height: number): Promise<string> => {
    const path = `block-height/${height}`;
    const reply = await get(path);
    if (reply.status === 404) throw headerNotFound(name, height, 'past its tip');
    if (reply.status !== 200) throw badReply(path, 'an error', reply.status);
    const hash = reply.text.trim();
    if (!HASH_HEX.test(hash)) throw badReply(path, 'something that is not a block hash', reply.status);
    return hash.toLowerCase();
  };

  const ensureNetwork = genesisGuard(name, network, () => hashAt(0));

  const fetchHeader = async (height: number): Promise<VerifiedHeader> => {
    await ensureNetwork();
    const hash = await hashAt(height);
    const path = `block/${hash}/header`;
    const reply = await get(path);
    // The server just named this block, so not knowing it is as wrong as any other error.
    if (reply.status !== 200) throw badReply(path, 'an error for a block it had just named', reply.status);
    const hex = reply.text.trim();
    if (!HEADER_HEX.test(hex))
      throw badReply(path, 'something that is not an 80-byte header in hex', reply.status);
    return checkHeader(hexToBytes(hex), {
      network,
      claimedHash: hash,
      height,
      where: `${name} at height ${height}`,
    });
  };
  const headerAt = cachedByHeight(opts.cacheSize ?? 1024, fetchHeader);

  return { name, network, headerAt: async (height) => headerAt(requireHeight(height)) };
}
