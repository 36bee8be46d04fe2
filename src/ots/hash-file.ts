/**
 * Hashing what gets stamped: files and streams are read in chunks, never whole, so a model's weights
 * hash in constant memory. sha256 and sha1 use node's native hashes (several times faster on
 * gigabytes); ripemd160 and keccak256 use noble, which every platform has.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { LightproofError } from '../core/errors.js';
import type { FileHashOp } from './file.js';

interface Hasher {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array;
}

function hasher(op: FileHashOp): Hasher {
  if (op === 'sha256' || op === 'sha1') {
    const h = createHash(op);
    return { update: (c) => h.update(c), digest: () => new Uint8Array(h.digest()) };
  }
  const h = op === 'ripemd160' ? ripemd160.create() : keccak_256.create();
  return { update: (c) => h.update(c), digest: () => h.digest() };
}

/** Hashes a stream of chunks; onBytes hears each chunk's size, for a progress bar. */
export async function hashStream(
  chunks: AsyncIterable<Uint8Array>,
  op: FileHashOp = 'sha256',
  onBytes?: (n: number) => void,
): Promise<Uint8Array> {
  const h = hasher(op);
  for await (const chunk of chunks) {
    h.update(chunk);
    onBytes?.(chunk.length);
  }
  return h.digest();
}

/** The size of a regular file, or a typed error naming what is wrong with the path. */
export async function fileSize(path: string): Promise<number> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    throw unreadable(path, err);
  }
  if (!info.isFile()) {
    throw new LightproofError(
      'LP_OTS_FILE_UNREADABLE',
      `${path} is not a regular file; stamp files one by one (a directory's files can be listed with find).`,
      { details: { path } },
    );
  }
  return info.size;
}

export async function hashFile(
  path: string,
  op: FileHashOp = 'sha256',
  onBytes?: (n: number) => void,
): Promise<Uint8Array> {
  await fileSize(path);
  try {
    return await hashStream(createReadStream(path, { highWaterMark: 1 << 20 }), op, onBytes);
  } catch (err) {
    throw unreadable(path, err);
  }
}

function unreadable(path: string, err: unknown): LightproofError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'it does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : (err as Error).message;
  return new LightproofError('LP_OTS_FILE_UNREADABLE', `Cannot read ${path}: ${why}. Check the path.`, {
    details: { path },
    cause: err,
  });
}
