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
import {
  type BitcoinNetwork,
  type BlockHeader,
  HEADER_BYTES,
  NETWORKS,
  parseBlockHeader,
  RETARGET_INTERVAL,
  retargetBits,
} from '../header.js';
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

/** What the loader remembers of the line before, to link and to check difficulty. */
interface Previous {
  hash: Uint8Array;
  height: number | undefined;
  bits: number;
  time: number;
}

/**
 * Holds the headers compactly (80 bytes each in one buffer) so a whole-chain file fits in memory;
 * headers are parsed again on lookup, which costs one sha256d.
 */
class HeaderFile implements HeaderSource {
  readonly name: string;
  readonly network: BitcoinNetwork;
  private readonly where: string;
  private readonly raws: Uint8Array;
  private readonly heights: (number | undefined)[] = [];
  private readonly lineOf: number[] = [];
  private readonly byHeight = new Map<number, number>();
  private byRoot: Map<string, number> | undefined;
  /** Headers already asked for, parsed once: verifying many proofs asks for the same few blocks. */
  private readonly parsed = new Map<number, VerifiedHeader>();
  private previous: Previous | undefined;

  constructor(text: string, where: string, network: BitcoinNetwork) {
    this.name = `headers file ${where}`;
    this.where = where;
    this.network = network;
    // Each header takes at least 160 characters, which bounds the buffer by the text, not by its line count.
    this.raws = new Uint8Array((Math.floor(text.length / (HEADER_BYTES * 2)) + 1) * HEADER_BYTES);
    let lineNo = 0;
    for (let start = 0; start <= text.length; ) {
      const end = text.indexOf('\n', start);
      const stop = end === -1 ? text.length : end;
      const parsed = parseLine(text.slice(start, stop), ++lineNo, where);
      start = stop + 1;
      if (parsed) this.load(parsed);
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

  private load(parsed: ParsedLine): void {
    const raw = hexToBytes(parsed.hex);
    const header = parseBlockHeader(raw);
    const prev = this.previous;
    const links = prev !== undefined && equalAt(raw, 4, prev.hash);
    const height = this.heightOf(parsed, header.hash, links);
    if (links && prev && height !== undefined) this.checkDifficulty(parsed.line, header, height, prev);
    checkHeader(header, { network: this.network, height, where: `line ${parsed.line} of ${this.where}` });
    this.previous = { hash: hexToBytes(header.hash).reverse(), height, bits: header.bits, time: header.time };
    if (height !== undefined) {
      const earlier = this.byHeight.get(height);
      if (earlier !== undefined) {
        if (equalAt(this.raws, earlier * HEADER_BYTES, raw)) return;
        throw fileError(
          'LP_BTC_HEADERS_FILE_CONFLICT',
          this.where,
          parsed.line,
          `holds a different header for height ${height} than line ${this.lineOf[earlier]}. Keep the one on the best chain and remove the other.`,
          { height, otherLine: this.lineOf[earlier] },
        );
      }
    }
    const index = this.heights.length;
    this.raws.set(raw, index * HEADER_BYTES);
    this.heights.push(height);
    this.lineOf.push(parsed.line);
    if (height !== undefined) this.byHeight.set(height, index);
  }

  /** The line's own height, or the one its link gives it; the two must agree. */
  private heightOf(parsed: ParsedLine, hash: string, links: boolean): number | undefined {
    const genesis = NETWORKS[this.network].genesisHash;
    const prevHeight = this.previous?.height;
    const inferred = hash === genesis ? 0 : links && prevHeight !== undefined ? prevHeight + 1 : undefined;
    if (parsed.height !== undefined && inferred !== undefined && parsed.height !== inferred) {
      throw fileError(
        'LP_BTC_HEADERS_FILE_CONFLICT',
        this.where,
        parsed.line,
        `says height ${parsed.height}, but the header is at height ${inferred} (${inferred === 0 ? 'it is the genesis block' : 'it links to the line before'}). Fix or drop the height.`,
      );
    }
    if (parsed.height === 0 && hash !== genesis) {
      throw fileError(
        'LP_BTC_HEADERS_FILE_CONFLICT',
        this.where,
        parsed.line,
        `says height 0, but the header is not ${this.network}'s genesis block. Fix the height, or pass the network the file is for.`,
      );
    }
    return parsed.height ?? inferred;
  }

  /**
   * On mainnet a linked header's bits follow from the chain before it, as in consensus: a forger
   * cannot pick easy bits at will, and a forged chain that stays easy must space its timestamps ten
   * minutes a block. That narrows a forgery but does not rule it out; the tip hash, compared with a
   * node or explorer one trusts, is what anchors the file. A retarget is checked when the file holds
   * the period's first block.
   */
  private checkDifficulty(line: number, header: BlockHeader, height: number, prev: Previous): void {
    const params = NETWORKS[this.network];
    if (!params.retargets) return;
    let want = prev.bits;
    if (height % RETARGET_INTERVAL === 0) {
      const first = this.byHeight.get(height - RETARGET_INTERVAL);
      if (first === undefined) return;
      const firstTime = new DataView(this.raws.buffer, first * HEADER_BYTES).getUint32(68, true);
      want = retargetBits(prev.bits, firstTime, prev.time, params.powLimit);
    }
    if (header.bits !== want) {
      const hex = (bits: number) => bits.toString(16).padStart(8, '0');
      throw fileError(
        'LP_BTC_HEADER_BAD_DIFFICULTY',
        this.where,
        line,
        `has difficulty bits ${hex(header.bits)}, but at height ${height} the chain before it requires ${hex(want)}. The header is forged or the file skips or reorders blocks; take the headers from a synced node.`,
        { height, bits: hex(header.bits), expected: hex(want) },
      );
    }
  }

  private entry(index: number): VerifiedHeader {
    let header = this.parsed.get(index);
    if (!header) {
      const raw = this.raws.slice(index * HEADER_BYTES, (index + 1) * HEADER_BYTES);
      header = checkHeader(raw, { network: this.network, height: this.heights[index], where: this.name });
      this.parsed.set(index, header);
    }
    return header;
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
