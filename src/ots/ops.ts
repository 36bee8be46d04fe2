/**
 * The operations of a timestamp's commitment tree (opentimestamps/core/op.py): their one-byte tags,
 * what they compute, and the reference's limits on what goes in and comes out.
 */
import { hash } from 'node:crypto';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { NOT_A_PROOF, otsError } from './errors.js';
import { compareBytes, equalBytes, type Reader, type Writer } from './serialize.js';

export type OpName =
  | 'sha1'
  | 'ripemd160'
  | 'sha256'
  | 'keccak256'
  | 'append'
  | 'prepend'
  | 'reverse'
  | 'hexlify';

export interface Op {
  readonly name: OpName;
  /** Present on append and prepend only: 1..4096 bytes. */
  readonly arg?: Uint8Array;
}

/** An op's input and output are at most 4096 bytes, and its output is never empty. */
export const MAX_MSG_LENGTH = 4096;
export const MAX_RESULT_LENGTH = 4096;

export const OP_TAGS: Readonly<Record<OpName, number>> = {
  sha1: 0x02,
  ripemd160: 0x03,
  sha256: 0x08,
  keccak256: 0x67,
  append: 0xf0,
  prepend: 0xf1,
  reverse: 0xf2,
  hexlify: 0xf3,
};

const BY_TAG = new Map<number, OpName>(Object.entries(OP_TAGS).map(([name, tag]) => [tag, name as OpName]));

export const SHA256: Op = Object.freeze({ name: 'sha256' });
export const SHA1: Op = Object.freeze({ name: 'sha1' });
export const RIPEMD160: Op = Object.freeze({ name: 'ripemd160' });
export const KECCAK256: Op = Object.freeze({ name: 'keccak256' });
export const REVERSE: Op = Object.freeze({ name: 'reverse' });
export const HEXLIFY: Op = Object.freeze({ name: 'hexlify' });

export function append(arg: Uint8Array): Op {
  return { name: 'append', arg: checkArg(arg) };
}

export function prepend(arg: Uint8Array): Op {
  return { name: 'prepend', arg: checkArg(arg) };
}

function checkArg(arg: Uint8Array): Uint8Array {
  if (arg.length < 1 || arg.length > MAX_RESULT_LENGTH) {
    throw otsError(
      'LP_OTS_OP_FAILED',
      `An append/prepend argument must be 1..4096 bytes, not ${arg.length}.`,
    );
  }
  return arg;
}

/** The hash ops a file digest may be made with, and their digest lengths. */
export const DIGEST_LENGTHS = { sha1: 20, ripemd160: 20, sha256: 32, keccak256: 32 } as const;

export function hashWith(name: keyof typeof DIGEST_LENGTHS, data: Uint8Array): Uint8Array {
  switch (name) {
    case 'sha1':
    case 'sha256':
      return nodeHash(name, data);
    case 'ripemd160':
      return ripemd160(data);
    case 'keccak256':
      return keccak_256(data);
  }
}

/**
 * OpenSSL's one-shot hash is about three times as fast as pure-JS SHA-256 on the short messages of a
 * proof, and hashing is most of what verifying costs. RIPEMD-160 is not in OpenSSL 3's default provider.
 */
function nodeHash(name: 'sha1' | 'sha256', data: Uint8Array): Uint8Array {
  const out = hash(name, data, 'buffer');
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

const HEX = new TextEncoder();

export function applyOp(op: Op, msg: Uint8Array): Uint8Array {
  const maxIn = op.name === 'hexlify' ? MAX_RESULT_LENGTH / 2 : MAX_MSG_LENGTH;
  if (msg.length > maxIn) {
    throw otsError(
      'LP_OTS_OP_FAILED',
      `${op.name} was given a ${msg.length}-byte message; at most ${maxIn} bytes are allowed. ${NOT_A_PROOF}`,
      { op: op.name, length: msg.length },
    );
  }
  const out = compute(op, msg);
  if (out.length === 0 || out.length > MAX_RESULT_LENGTH) {
    throw otsError(
      'LP_OTS_OP_FAILED',
      `${op.name} gives a ${out.length}-byte result; results must be 1..${MAX_RESULT_LENGTH} bytes. ${NOT_A_PROOF}`,
      { op: op.name, length: out.length },
    );
  }
  return out;
}

function compute(op: Op, msg: Uint8Array): Uint8Array {
  switch (op.name) {
    case 'sha1':
    case 'ripemd160':
    case 'sha256':
    case 'keccak256':
      return hashWith(op.name, msg);
    case 'append':
      return concat(msg, op.arg!);
    case 'prepend':
      return concat(op.arg!, msg);
    case 'reverse':
      return msg.slice().reverse();
    case 'hexlify':
      return HEX.encode(bytesToHex(msg));
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function writeOp(w: Writer, op: Op): void {
  w.writeByte(OP_TAGS[op.name]);
  if (op.arg) w.writeVarbytes(op.arg);
}

/** Reads the op whose tag was just read. */
export function readOpAfterTag(r: Reader, tag: number): Op {
  const name = BY_TAG.get(tag);
  if (name === undefined) {
    throw otsError(
      'LP_OTS_UNKNOWN_OP',
      `Unknown operation tag 0x${tag.toString(16).padStart(2, '0')} at offset ${r.offset - 1}. ${NOT_A_PROOF}`,
      { offset: r.offset - 1, tag },
    );
  }
  if (name === 'append' || name === 'prepend') {
    return { name, arg: r.readVarbytes(MAX_RESULT_LENGTH, 1) };
  }
  return { name };
}

/** python's Op.__lt__: by tag, then by argument bytes. */
export function compareOps(a: Op, b: Op): number {
  const t = OP_TAGS[a.name] - OP_TAGS[b.name];
  if (t !== 0) return t;
  return compareBytes(a.arg ?? EMPTY, b.arg ?? EMPTY);
}

export function equalOps(a: Op, b: Op): boolean {
  return a.name === b.name && equalBytes(a.arg ?? EMPTY, b.arg ?? EMPTY);
}

/** A map key that is equal exactly when the ops are equal. */
export function opKey(op: Op): string {
  return op.arg ? `${op.name}:${bytesToHex(op.arg)}` : op.name;
}

const EMPTY = new Uint8Array(0);

/** How python's `str_tree` names an op: `sha256`, `append 5d8f…`. */
export function formatOp(op: Op): string {
  return op.arg ? `${op.name} ${bytesToHex(op.arg)}` : op.name;
}
