import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError, type LightproofError } from '../../core/errors.js';
import { sha256d } from '../header.js';
import { fileHeaderSource, type HeaderFileOptions, headerSourceFromText } from './file.js';
import {
  hexLines,
  MAINNET_HEADERS,
  mineHeader,
  REGTEST_GENESIS,
  regtestChain,
  rootFor,
  unminedHeader,
} from './headers.testkit.js';

const REGTEST: HeaderFileOptions = { network: 'regtest' };
const chain = regtestChain(8);
const hex = (i: number) => bytesToHex(chain[i] as Uint8Array);

/** Asserts that loading `text` fails with `code` and names `line` in the message and details. */
function refuses(
  text: string,
  code: string,
  line: number | undefined,
  opts: HeaderFileOptions = REGTEST,
): void {
  assert.throws(
    () => headerSourceFromText(text, 'h.txt', opts),
    (err) => {
      assert.ok(isLightproofError(err, code), `expected ${code}, got ${(err as Error).message}`);
      if (line !== undefined) {
        assert.match((err as LightproofError).message, new RegExp(`line ${line} of h\\.txt`));
      }
      return true;
    },
  );
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err) => isLightproofError(err, code));
}

describe('headers file: heights', () => {
  it('reads a chain from genesis as line N = height N-1, with comments, blank lines and CRLF', async () => {
    const text = `# regtest headers\n\n${chain.map((h) => bytesToHex(h)).join('\r\n')}\r\n\n# end`;
    const source = headerSourceFromText(text, 'h.txt', REGTEST);
    assert.equal(source.network, 'regtest');
    for (let h = 1; h < chain.length; h++) {
      const header = await source.headerAt(h);
      assert.equal(header.height, h);
      assert.deepEqual(header.merkleRoot, rootFor(h));
    }
    assert.equal(
      (await source.headerAt(0)).hash,
      '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    );
    await rejectsWith(source.headerAt(chain.length), 'LP_BTC_HEADER_NOT_FOUND');
    await rejectsWith(source.headerAt(-1), 'LP_BTC_BAD_HEIGHT');
  });

  it('reads real mainnet headers 0, 1 and 2 under the default network', async () => {
    const source = headerSourceFromText(MAINNET_HEADERS.join('\n'), 'main.txt');
    const two = await source.headerAt(2);
    assert.equal(two.hash, '000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd');
    assert.equal(two.height, 2);
  });

  it('takes explicit heights, and infers the next height for a bare line that links to one', async () => {
    const text = `3 ${hex(3)}\n${hex(4)}\n6   ${hex(6)}\n`;
    const source = headerSourceFromText(text, 'h.txt', REGTEST);
    assert.deepEqual((await source.headerAt(3)).merkleRoot, rootFor(3));
    assert.deepEqual((await source.headerAt(4)).merkleRoot, rootFor(4));
    assert.deepEqual((await source.headerAt(6)).merkleRoot, rootFor(6));
    await rejectsWith(source.headerAt(5), 'LP_BTC_HEADER_NOT_FOUND');
  });

  it('finds a bare, unlinked line only by merkle root, without a height', async () => {
    const source = headerSourceFromText(`${hex(5)}\n${hex(2)}\n`, 'h.txt', REGTEST);
    await rejectsWith(source.headerAt(5), 'LP_BTC_HEADER_NOT_FOUND');
    const found = await source.headerWithMerkleRoot?.(rootFor(5));
    assert.equal(found?.height, undefined);
    assert.equal(found?.hash, bytesToHex(sha256d(chain[5] as Uint8Array).reverse()));
    assert.equal(await source.headerWithMerkleRoot?.(rootFor(7)), undefined);
  });

  it('accepts the same header twice at the same height', async () => {
    const source = headerSourceFromText(`${hexLines(chain)}2 ${hex(2)}\n`, 'h.txt', REGTEST);
    assert.equal((await source.headerAt(2)).height, 2);
  });
});

describe('headers file: refusals', () => {
  it('names the line of bad hex, a wrong length, too many fields and a bad height', () => {
    refuses(`${hex(0)}\n\n${hex(1).replace('a', 'g')}\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 3);
    refuses(`${hex(0)}\n${hex(1).slice(2)}\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 2);
    refuses(`${hex(0)}\n${hex(1)}00\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 2);
    refuses(`1 2 ${hex(1)}\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 1);
    refuses(`-1 ${hex(1)}\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 1);
    refuses(`0x1 ${hex(1)}\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 1);
    refuses(`99999999999 ${hex(1)}\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 1);
    refuses(`${hex(1)} # block one\n`, 'LP_BTC_HEADERS_FILE_BAD_LINE', 1);
  });

  it('refuses a header without proof of work, with impossible bits, or easier than the network allows', () => {
    const lazy = unminedHeader({ prev: sha256d(chain[2] as Uint8Array), merkleRoot: rootFor(3) });
    refuses(`${hexLines(chain.slice(0, 3))}${bytesToHex(lazy)}\n`, 'LP_BTC_HEADER_BAD_POW', 4);
    const negative = Uint8Array.from(chain[1] as Uint8Array);
    new DataView(negative.buffer).setUint32(72, 0x1d80ffff, true);
    refuses(`# x\n${bytesToHex(negative)}\n`, 'LP_BTC_HEADER_BAD_BITS', 2);
    // A header "mined" at regtest difficulty is refused on mainnet: anyone can make one in a moment.
    const forged = mineHeader({ prev: new Uint8Array(32).fill(7), merkleRoot: rootFor(1) });
    refuses(`358391 ${bytesToHex(forged)}\n`, 'LP_BTC_HEADER_POW_LIMIT', 1, {});
  });

  it('refuses a mainnet header whose bits differ from the chain before it inside a period', () => {
    const raw = hexToBytes(MAINNET_HEADERS[2]);
    const next = Uint8Array.from(raw);
    next.set(sha256d(raw), 4);
    new DataView(next.buffer).setUint32(72, 0x1c00ffff, true);
    refuses(`${MAINNET_HEADERS.join('\n')}\n${bytesToHex(next)}\n`, 'LP_BTC_HEADER_BAD_DIFFICULTY', 4, {});
  });

  it('refuses a chain from another network than the one asked for', () => {
    refuses(hexLines(chain), 'LP_BTC_WRONG_NETWORK', 1, {});
    refuses(`${MAINNET_HEADERS[0]}\n`, 'LP_BTC_WRONG_NETWORK', 1, REGTEST);
    refuses(`${MAINNET_HEADERS[0]}\n`, 'LP_BTC_WRONG_NETWORK', 1, { network: 'testnet' });
  });

  it('refuses two different headers for one height, naming both lines', () => {
    const text = `${hexLines(chain.slice(0, 4))}# again\n2 ${hex(3)}\n`;
    assert.throws(
      () => headerSourceFromText(text, 'h.txt', REGTEST),
      (err) =>
        isLightproofError(err, 'LP_BTC_HEADERS_FILE_CONFLICT') &&
        /line 6 of h\.txt/.test(err.message) &&
        /line 3/.test(err.message) &&
        err.details?.otherLine === 3,
    );
    refuses(`5 ${hex(5)}\n5 ${hex(6)}\n`, 'LP_BTC_HEADERS_FILE_CONFLICT', 2);
  });

  it('refuses a height that contradicts the chain or calls a non-genesis header height 0', () => {
    refuses(`${hex(0)}\n${hex(1)}\n7 ${hex(2)}\n`, 'LP_BTC_HEADERS_FILE_CONFLICT', 3);
    refuses(`5 ${hex(0)}\n`, 'LP_BTC_HEADERS_FILE_CONFLICT', 1);
    refuses(`0 ${hex(4)}\n`, 'LP_BTC_HEADERS_FILE_CONFLICT', 1);
  });

  it('refuses a file with no headers', () => {
    refuses('', 'LP_BTC_HEADERS_FILE_EMPTY', undefined);
    refuses('# only a comment\n\n   \n', 'LP_BTC_HEADERS_FILE_EMPTY', undefined);
  });
});

describe('fileHeaderSource', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lp-headers-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file from disk', async () => {
    const path = join(dir, 'regtest.txt');
    writeFileSync(path, hexLines(chain));
    const source = await fileHeaderSource(path, REGTEST);
    assert.match(source.name, /regtest\.txt/);
    assert.deepEqual((await source.headerAt(7)).merkleRoot, rootFor(7));
  });

  it('refuses a file over the size cap before reading it', async () => {
    const path = join(dir, 'big.txt');
    writeFileSync(path, hexLines(chain));
    await rejectsWith(
      fileHeaderSource(path, { ...REGTEST, maxBytes: 1000 }),
      'LP_BTC_HEADERS_FILE_TOO_LARGE',
    );
  });

  it('reports a missing file, a directory and bytes that are not text', async () => {
    await rejectsWith(fileHeaderSource(join(dir, 'missing.txt')), 'LP_BTC_HEADERS_FILE_UNREADABLE');
    await rejectsWith(fileHeaderSource(dir), 'LP_BTC_HEADERS_FILE_UNREADABLE');
    const path = join(dir, 'binary.txt');
    writeFileSync(path, Buffer.concat([hexToBytes(REGTEST_GENESIS), Buffer.from([0xff, 0xfe, 0x0a])]));
    await rejectsWith(fileHeaderSource(path, REGTEST), 'LP_BTC_HEADERS_FILE_BAD_LINE');
  });
});
