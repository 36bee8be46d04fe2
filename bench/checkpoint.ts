/**
 * Checkpoint benchmarks: signed checkpoints made (format + Ed25519 signature) and opened (parse +
 * signature check) per second, against the bare node:crypto (OpenSSL) Ed25519 call on the same bytes
 * in the same run, so the ratio is the share of time left to the signed-note format itself.
 * LIGHTPROOF_BENCH_SECONDS (5) bounds each timed loop. Figures are printed, never asserted.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import {
  formatCheckpoint,
  generateNoteKey,
  noteSigner,
  noteVerifier,
  openCheckpoint,
  signNote,
} from '../src/provenance/index.js';

const SECONDS = Number(process.env.LIGHTPROOF_BENCH_SECONDS ?? 5);

function perSecond(fn: (i: number) => void): number {
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < end) for (let k = 0; k < 32; k++) fn(n++);
  return n / ((performance.now() - t0) / 1000);
}

export async function benchCheckpoint(): Promise<void> {
  const { signerKey, verifierKey } = generateNoteKey('bench.example/log');
  const signer = noteSigner(signerKey);
  const verifier = noteVerifier(verifierKey);
  const root = new Uint8Array(32).fill(1);
  const text = (size: number) =>
    formatCheckpoint({ origin: 'bench.example/log', size, root, extensions: [] });
  const note = signNote(text(1_000_000), signer);

  const seed = Buffer.from(signerKey.split('+').slice(4).join('+'), 'base64').subarray(1);
  // PKCS#8 for a raw Ed25519 seed: a fixed 16-byte prefix, then the seed.
  const priv = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const pub = createPublicKey(priv);
  const message = Buffer.from(text(1_000_000));
  const nodeSig = sign(null, message, priv);

  const made = perSecond((i) => signNote(text(i), signer));
  const opened = perSecond(() => openCheckpoint(note, [verifier], 'bench.example/log'));
  const nodeSign = perSecond(() => sign(null, message, priv));
  const nodeVerify = perSecond(() => verify(null, message, pub, nodeSig));
  console.log('checkpoints (C2SP signed note, Ed25519)');
  console.log(
    `  signed:   ${made.toFixed(0)}/s  (node:crypto sign alone ${nodeSign.toFixed(0)}/s, ratio ${(made / nodeSign).toFixed(2)})`,
  );
  console.log(
    `  opened:   ${opened.toFixed(0)}/s  (node:crypto verify alone ${nodeVerify.toFixed(0)}/s, ratio ${(opened / nodeVerify).toFixed(2)})`,
  );
}
