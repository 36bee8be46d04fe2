/**
 * Re-checks test/vectors/ots/mainnet-headers.txt against the "Verified headers" table of the README
 * beside it: every header hashes (sha256d, shown reversed) to the block hash the table lists for its
 * height, and that hash meets the target the header's own bits encode, within mainnet's limit. Proof
 * of work is what makes these bytes trustworthy: a forged header would cost as much as mining the block.
 *
 * Deliberately independent of src/bitcoin, so a bug there cannot vouch for its own test data.
 * Run: node --import tsx test/vectors/ots/check-headers.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const HEADERS_FILE = join(HERE, 'mainnet-headers.txt');
const README = join(HERE, 'README.md');
/** Bitcoin Core's powLimit for mainnet: no valid header may claim an easier target. */
const MAINNET_POW_LIMIT = (1n << 224n) - 1n;

export interface CheckedHeader {
  height: number;
  /** Display order, as explorers show it. */
  hash: string;
  /** The header's nTime: what python-opentimestamps reports as the attested time. */
  time: number;
  /** Internal byte order (header bytes 36..68): what an OpenTimestamps path ends in. */
  merkleRoot: string;
}

/** Expands compact `bits`; undefined for a negative or overflowing encoding, which consensus rejects. */
function targetOf(bits: number): bigint | undefined {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if (bits & 0x00800000 || mantissa === 0) return undefined;
  const target =
    exponent <= 3
      ? BigInt(mantissa >>> (8 * (3 - exponent)))
      : BigInt(mantissa) << BigInt(8 * (exponent - 3));
  return target > MAINNET_POW_LIMIT ? undefined : target;
}

/** Block hashes by height from the README's "Verified headers" table. */
function listedHashes(readme: string): Map<number, string> {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Verified headers'));
  if (!section) throw new Error(`${README} has no "## Verified headers" section`);
  const listed = new Map<number, string>();
  for (const row of section.matchAll(/^\|\s*(\d+)\s*\|\s*`([0-9a-f]{64})`\s*\|/gm)) {
    const height = Number(row[1]);
    if (listed.has(height)) throw new Error(`${README} lists height ${height} twice`);
    listed.set(height, row[2] as string);
  }
  return listed;
}

function checkLine(line: string, lineNo: number, listed: Map<number, string>): CheckedHeader {
  const where = `line ${lineNo} of ${HEADERS_FILE}`;
  const match = /^(\d+) ([0-9a-f]{160})$/.exec(line);
  if (!match) throw new Error(`${where}: expected "HEIGHT HEX" with 160 lower-case hex characters`);
  const height = Number(match[1]);
  const raw = hexToBytes(match[2] as string);
  const hash = bytesToHex(sha256(sha256(raw)).reverse());
  const want = listed.get(height);
  if (want === undefined) throw new Error(`${where}: height ${height} is not in the README's table`);
  if (hash !== want) throw new Error(`${where}: hashes to ${hash}, but the README lists ${want}`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const bits = view.getUint32(72, true);
  const target = targetOf(bits);
  if (target === undefined) throw new Error(`${where}: bits ${bits.toString(16)} encode no valid target`);
  if (BigInt(`0x${hash}`) > target) throw new Error(`${where}: hash ${hash} is above its target`);
  return { height, hash, time: view.getUint32(68, true), merkleRoot: bytesToHex(raw.subarray(36, 68)) };
}

/** Checks every header and that the file and the README's table cover the same heights. */
export function checkMainnetHeaders(): CheckedHeader[] {
  const listed = listedHashes(readFileSync(README, 'utf8'));
  const checked: CheckedHeader[] = [];
  readFileSync(HEADERS_FILE, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const line = text.trim();
      if (line === '' || line.startsWith('#')) return;
      const header = checkLine(line, i + 1, listed);
      if (checked.some((c) => c.height === header.height)) {
        throw new Error(`line ${i + 1} of ${HEADERS_FILE}: height ${header.height} appears twice`);
      }
      checked.push(header);
    });
  const missing = [...listed.keys()].filter((h) => !checked.some((c) => c.height === h));
  if (missing.length > 0) throw new Error(`${HEADERS_FILE} has no header for height ${missing.join(', ')}`);
  return checked;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    for (const h of checkMainnetHeaders()) {
      console.log(`ok ${h.height} ${h.hash} ${new Date(h.time * 1000).toISOString()}`);
    }
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  }
}
