/**
 * `ots info`: the proof tree as text, character for character what the reference client prints
 * (python-opentimestamps' Timestamp.str_tree under otsclient's info_command), so the two can be diffed.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describeAttestation } from './attestation.js';
import type { DetachedTimestampFile } from './file.js';
import { applyOp, formatOp } from './ops.js';
import type { Timestamp } from './timestamp.js';

export interface InfoOptions {
  /** `ots -v info`: each op's result, with its argument in bold (ANSI), as the reference prints it. */
  verbose?: boolean;
}

export function formatInfo(file: DetachedTimestampFile, opts: InfoOptions = {}): string {
  // The reference prints hashlib's name; keccak256 has none there (it crashes), so its op name stands in.
  return `File ${file.hashOp} hash: ${bytesToHex(file.digest)}\nTimestamp:\n${strTree(file.timestamp, 0, opts.verbose ?? false)}\n`;
}

const BOLD = '\u001b[1m';
const ENDC = '\u001b[0m';

/** str_tree: attestations first, then one op on the same indent, or several as ` -> ` forks indented by 4. */
export function strTree(ts: Timestamp, indent = 0, verbose = false): string {
  const pad = ' '.repeat(indent);
  let r = '';
  for (const att of ts.attestations) {
    r += `${pad}verify ${describeAttestation(att)}\n`;
    if (att.kind === 'bitcoin') r += `${pad}# Bitcoin block merkle root ${displayHex(ts.msg)}\n`;
    if (att.kind === 'litecoin') r += `${pad}# Litecoin block merkle root ${displayHex(ts.msg)}\n`;
  }
  const ops = ts.ops;
  if (ops.length === 0) return r;
  const txid = isTransaction(ts.msg) ? displayHex(sha256(sha256(ts.msg))) : null;
  if (ops.length === 1) {
    const [op, child] = ops[0]!;
    if (txid) r += `${pad}# Transaction id ${txid}\n`;
    r += `${pad}${formatOp(op)}${result(verbose, op.arg, applyOp(op, ts.msg))}\n`;
    return r + strTree(child, indent, verbose);
  }
  for (const [op, child] of ops) {
    if (txid) r += `${pad}* Transaction id ${txid}\n`;
    r += `${pad} -> ${formatOp(op)}${result(verbose, op.arg, applyOp(op, ts.msg))}\n`;
    r += strTree(child, indent + 4, verbose);
  }
  return r;
}

/** str_result: ` == <result hex>`, the argument's first occurrence in bold (and, as there, nothing after it). */
function result(verbose: boolean, arg: Uint8Array | undefined, out: Uint8Array): string {
  if (!verbose) return '';
  const hex = bytesToHex(out);
  if (!arg) return ` == ${hex}`;
  const argHex = bytesToHex(arg);
  const at = hex.indexOf(argHex);
  if (at < 0) return ` == ${hex}`;
  const bold = `${BOLD}${argHex}${ENDC}`;
  return at === 0 ? ` == ${bold}${hex.slice(argHex.length)}` : ` == ${hex.slice(0, at)}${bold}`;
}

/** b2lx: hashes as Bitcoin shows them, byte-reversed. */
function displayHex(b: Uint8Array): string {
  return bytesToHex(b.slice().reverse());
}

/**
 * Whether msg is exactly one serialized transaction, as python-bitcoinlib's CTransaction.deserialize
 * decides (segwit marker and flag honoured, every byte consumed); that is when the reference prints
 * a "Transaction id" line.
 */
export function isTransaction(msg: Uint8Array): boolean {
  let at = 0;
  const take = (n: number): number => {
    if (n > msg.length - at) throw RangeError('short');
    const start = at;
    at += n;
    return start;
  };
  const varint = (): number => {
    const first = msg[take(1)]!;
    if (first < 0xfd) return first;
    const width = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    const s = take(width);
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + msg[s + i]!;
    return v;
  };
  try {
    take(4);
    const segwit = msg.length - at >= 2 && msg[at] === 0 && msg[at + 1] === 1;
    if (segwit) at += 2;
    const inputs = varint();
    for (let i = 0; i < inputs; i++) {
      take(36);
      take(varint());
      take(4);
    }
    const outputs = varint();
    for (let i = 0; i < outputs; i++) {
      take(8);
      take(varint());
    }
    if (segwit) {
      for (let i = 0; i < inputs; i++) {
        const items = varint();
        for (let j = 0; j < items; j++) take(varint());
      }
    }
    take(4);
    return at === msg.length;
  } catch {
    return false;
  }
}
