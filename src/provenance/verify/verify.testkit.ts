/** Signed, anchored samples of every kind `verifyAny` reads, and the regtest headers that anchor them. */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { hexLines, regtestChain, rootFor } from '../../bitcoin/headers/headers.testkit.js';
import { type HeaderSource, headerSourceFromText } from '../../bitcoin/index.js';
import { msat } from '../../core/money.js';
import { append, DetachedTimestampFile, SHA256, serializeOts, Timestamp } from '../../ots/index.js';
import { formatCheckpoint } from '../checkpoint.js';
import { inclusionProof, leafHash, rootOf } from '../merkle.js';
import { generateNoteKey, noteSigner, signNote } from '../note.js';
import { ReceiptSigner } from '../receipt.js';
import { LOG_PROOF_TYPE, receiptEntry } from './index.js';

export const HEX = (c: string) => c.repeat(64);
export const signer = ReceiptSigner.generate();
export const header = signer.sign({
  service: 'chat',
  priceMsat: msat(1000),
  paymentHash: HEX('a'),
  tokenId: HEX('b'),
  requestDigest: HEX('c'),
  responseDigest: HEX('d'),
  time: 1_700_000_000,
}).header;
export const enc = (s: string) => utf8ToBytes(s);

/** An .ots over BYTES attested at block 3 of a regtest chain, and a header source holding that chain. */
export function anchored(bytes: Uint8Array): { ots: Uint8Array; headers: HeaderSource; headersText: string } {
  const ts = new Timestamp(sha256(bytes));
  const tip = ts.add(append(new Uint8Array(16).fill(7))).add(SHA256);
  tip.attest({ kind: 'bitcoin', height: 3 });
  const chain = regtestChain(5, (h) => (h === 3 ? tip.msg : rootFor(h)));
  const headersText = hexLines(chain);
  return {
    ots: serializeOts(new DetachedTimestampFile('sha256', ts)),
    headers: headerSourceFromText(headersText, 'chain.txt', { network: 'regtest' }),
    headersText,
  };
}

export const ORIGIN = 'example.com/log';
export const key = generateNoteKey(ORIGIN);
export const entries = [enc('a'), receiptEntry(header), enc('c'), enc('d'), enc('e')];

export function checkpointNote(size = entries.length): string {
  const root = rootOf(entries.slice(0, size).map(leafHash));
  return signNote(
    formatCheckpoint({ origin: ORIGIN, size, root, extensions: [] }),
    noteSigner(key.signerKey),
  );
}

export function bundle(index = 1): { bytes: Uint8Array; headers: HeaderSource; headersText: string } {
  const checkpoint = checkpointNote();
  const { ots, headers, headersText } = anchored(enc(checkpoint));
  const json = {
    type: LOG_PROOF_TYPE,
    origin: ORIGIN,
    index,
    treeSize: entries.length,
    entry: base64.encode(entries[index]!),
    inclusion: inclusionProof(entries.map(leafHash), index, entries.length).map(bytesToHex),
    checkpoint,
    verifierKey: key.verifierKey,
    ots: base64.encode(ots),
  };
  return { bytes: enc(JSON.stringify(json, null, 2)), headers, headersText };
}
