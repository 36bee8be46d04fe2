/**
 * Headers from a local text file: one 80-byte header in hex per line, blank lines and `#` comments
 * allowed, each line optionally written `HEIGHT HEX`.
 *
 * A bare line gets a height when it links (its prevHash) to the line before it and that line's height
 * is known; a file that starts at the network's genesis block and links throughout is therefore the
 * chain itself, line N at height N-1. A bare line that links to nothing is found only by merkle root.
 * Every header must carry valid proof of work for its bits, within the network's limit.
 */
import { readFile, stat } from 'node:fs/promises';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LightproofError } from '../../core/errors.js';
import { type BitcoinNetwork, HEADER_BYTES, NETWORKS } from '../header.js';
import {
  checkHeader,
  type HeaderSource,
  headerNotFound,
  requireHeight,
  type VerifiedHeader,
} from './source.js';

export interface HeaderFileOptions {
  network?: BitcoinNetwork;
  /** Refuse files larger than this. Default 256 MiB, room for the whole main chain (~150 MB). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
/** Heights fit a uint32 in the block's coinbase and Bitcoin Core; a bigger number is a typo. */
const MAX_HEIGHT = 0x7fffffff;
const HEX = /^[0-9a-fA-F]*$/;
const DECIMAL = /^\d{1,10}$/;

function fileError(
  code: string,
  where: string,
  line: number | undefined,
  what: string,
  details: Record<string, unknown> = {},
): LightproofError {
  const at = line === undefined ? where : `line ${line} of ${where}`;
  return new LightproofError(code, `${at}: ${what}`, { details: { file: where, line, ...details } });
}

interface ParsedLine {
  line: number;
  height: number | undefined;
  hex: string;
}

function parseLine(text: string, line: number, where: string): ParsedLine | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const fields = trimmed.split(/\s+/);
  const badLine = (what: string) =>
    fileError(
      'LP_BTC_HEADERS_FILE_BAD_LINE',
      where,
      line,
      `${what}. Write one header per line as 160 hex characters, optionally after its height: "358391 0100…".`,
    );
  if (fields.length > 2) throw badLine(`has ${fields.length} fields`);
  const hex = fields.at(-1) as string;
  let height: number | undefined;
  if (fields.length === 2) {
    const h = fields[0] as string;
    if (!DECIMAL.test(h) || Number(h) > MAX_HEIGHT)
      throw badLine(`"${h.slice(0, 20)}" is not a block height`);
    height = Number(h);
  }
  if (!HEX.test(hex)) throw badLine('the header is not hex');
  if (hex.length !== HEADER_BYTES * 2) {
    throw badLine(`the header has ${hex.length} hex characters, not ${HEADER_BYTES * 2} (80 bytes)`);
  }
  return { line, height, hex };
}

function equalAt(a: Uint8Array, aStart: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[aStart + i] !== b[i]) return false;
  return true;
}

/**
 * Holds the headers compactly (80 bytes each in one buffer) so a whole-chain file fits in memory;
 * headers are parsed again on lookup, which costs one sha256d.
 */
class HeaderFile implements HeaderSource {
  readonly name: string;
  readonly network: BitcoinNetwork;
  private readonly raws: Uint8Array;
  private readonly heights: (number | undefined)[];
  private readonly byHeight = new Map<number, number>();
  private byRoot: Map<string, number> | undefined;

  constructor(text: string, where: string, network: BitcoinNetwork) {
    this.name = `headers file ${where}`;
    this.network = network;
    // Each header takes at least 160 characters, which bounds the buffer by the text, not by its line count.
    this.raws = new Uint8Array((Math.floor(text.length / (HEADER_BYTES * 2)) + 1) * HEADER_BYTES);
    this.heights = [];
    const lineOf: number[] = [];
    const genesis = NETWORKS[network].genesisHash;
    let prevHash: Uint8Array | undefined;
    let prevHeight: number | undefined;
    let lineNo = 0;
    for (let start = 0; start <= text.length; ) {
      const end = text.indexOf('\n', start);
      const stop = end === -1 ? text.length : end;
      const parsed = parseLine(text.slice(start, stop), ++lineNo, where);
      start = stop + 1;
      if (!parsed) continue;
      const raw = hexToBytes(parsed.hex);
      const header = checkHeader(raw, {
        network,
        height: parsed.height,
        where: `line ${parsed.line} of ${where}`,
      });
      const links = prevHash !== undefined && equalAt(raw, 4, prevHash);
      const inferred =
        header.hash === genesis ? 0 : links && prevHeight !== undefined ? prevHeight + 1 : undefined;
      if (parsed.height !== undefined && inferred !== undefined && parsed.height !== inferred) {
        throw fileError(
          'LP_BTC_HEADERS_FILE_CONFLICT',
          where,
          parsed.line,
          `says height ${parsed.height}, but the header is at height ${inferred} (${inferred === 0 ? 'it is the genesis block' : 'it links to the line before'}). Fix or drop the height.`,
        );
      }
      if (parsed.height === 0 && header.hash !== genesis) {
        throw fileError(
          'LP_BTC_HEADERS_FILE_CONFLICT',
          where,
          parsed.line,
          `says height 0, but the header is not ${network}'s genesis block. Fix the height, or pass the network the file is for.`,
        );
      }
      const height = parsed.height ?? inferred;
      prevHash = hexToBytes(header.hash).reverse();
      prevHeight = height;
      if (height !== undefined) {
        const earlier = this.byHeight.get(height);
        if (earlier !== undefined) {
          if (equalAt(this.raws, earlier * HEADER_BYTES, raw)) continue;
          throw fileError(
            'LP_BTC_HEADERS_FILE_CONFLICT',
            where,
            parsed.line,
            `holds a different header for height ${height} than line ${lineOf[earlier]}. Keep the one on the best chain and remove the other.`,
            { height, otherLine: lineOf[earlier] },
          );
        }
      }
      const index = this.heights.length;
      this.raws.set(raw, index * HEADER_BYTES);
      this.heights.push(height);
      lineOf.push(parsed.line);
      if (height !== undefined) this.byHeight.set(height, index);
    }
    if (this.heights.length === 0) {
      throw fileError(
        'LP_BTC_HEADERS_FILE_EMPTY',
        where,
        undefined,
        'holds no headers. Write one 80-byte header in hex per line.',
      );
    }
  }

  private entry(index: number): VerifiedHeader {
    const raw = this.raws.subarray(index * HEADER_BYTES, (index + 1) * HEADER_BYTES);
    const height = this.heights[index];
    return checkHeader(raw, { network: this.network, height, where: this.name });
  }

  async headerAt(height: number): Promise<VerifiedHeader> {
    const index = this.byHeight.get(requireHeight(height));
    if (index === undefined) throw headerNotFound(this.name, height, 'no line with that height');
    return this.entry(index);
  }

  async headerWithMerkleRoot(root: Uint8Array): Promise<VerifiedHeader | undefined> {
    if (!this.byRoot) {
      this.byRoot = new Map();
      for (let i = this.heights.length - 1; i >= 0; i--) {
        const at = i * HEADER_BYTES;
        this.byRoot.set(bytesToHex(this.raws.subarray(at + 36, at + 68)), i);
      }
    }
    const index = this.byRoot.get(bytesToHex(root));
    return index === undefined ? undefined : this.entry(index);
  }
}

/** A header source over text already in memory (`where` names it in errors). */
export function headerSourceFromText(
  text: string,
  where: string,
  opts: HeaderFileOptions = {},
): HeaderSource {
  return new HeaderFile(text, where, opts.network ?? 'mainnet');
}

export async function fileHeaderSource(path: string, opts: HeaderFileOptions = {}): Promise<HeaderSource> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > maxBytes) {
      throw fileError(
        'LP_BTC_HEADERS_FILE_TOO_LARGE',
        path,
        undefined,
        `is ${info.size} bytes, more than the ${maxBytes} a headers file may have. Keep only the headers your proofs need.`,
        { size: info.size, maxBytes },
      );
    }
    text = await readFile(path, 'latin1');
  } catch (err) {
    if (err instanceof LightproofError) throw err;
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new LightproofError(
      'LP_BTC_HEADERS_FILE_UNREADABLE',
      `Cannot read the headers file ${path} (${why}). Check the path and its permissions.`,
      { cause: err, details: { file: path, reason: why } },
    );
  }
  // A file that grew between stat and read is still held to the cap.
  if (text.length > maxBytes) {
    throw fileError('LP_BTC_HEADERS_FILE_TOO_LARGE', path, undefined, `is more than ${maxBytes} bytes.`, {
      maxBytes,
    });
  }
  return new HeaderFile(text, path, opts.network ?? 'mainnet');
}
