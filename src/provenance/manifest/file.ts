/** Manifest files: read with a size limit and strict parse, written whole or not at all. */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeFileDurably } from '../../core/durable-write.js';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { MAX_MANIFEST_BYTES, type Manifest, parseManifest } from './statement.js';

/** `<dir>.manifest.json` beside the directory, so the manifest is not inside what it describes. */
export const defaultManifestPath = (dir: string): string => `${resolve(dir)}.manifest.json`;

export function manifestExists(path: string): LightproofError {
  return new LightproofError(
    'LP_MANIFEST_OUTPUT_EXISTS',
    `${path} already exists; replace it with --force (a stamp of the old one then no longer matches) or write elsewhere with -o.`,
    { details: { path } },
  );
}

/** Written aside, synced, then moved into place: a crash leaves the old manifest or the whole new one. */
export async function writeManifestFile(path: string, bytes: Uint8Array, replace: boolean): Promise<void> {
  try {
    await writeFileDurably(path, bytes, { replace });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw manifestExists(path);
    throw new LightproofError(
      'LP_MANIFEST_WRITE_FAILED',
      `Cannot write ${path}: ${(err as Error).message}.`,
      {
        details: { path },
      },
    );
  }
}

export function readManifestFile(path: string): { manifest: Manifest; bytes: Uint8Array } {
  let bytes: Uint8Array;
  try {
    if (statSync(path).size > MAX_MANIFEST_BYTES)
      throw new LightproofError(
        'LP_MANIFEST_TOO_LARGE',
        `it is larger than ${MAX_MANIFEST_BYTES} bytes, so it is not a manifest.`,
      );
    bytes = readFileSync(path);
  } catch (err) {
    if (isLightproofError(err)) throw new LightproofError(err.code, `${path}: ${err.message}`);
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LightproofError(
      'LP_MANIFEST_NOT_FOUND',
      missing
        ? `No manifest at ${path}; make one with \`lightproof model hash\` or name it with --manifest.`
        : `Cannot read ${path}: ${(err as Error).message}.`,
      { details: { path } },
    );
  }
  try {
    return { manifest: parseManifest(bytes), bytes };
  } catch (err) {
    if (isLightproofError(err))
      throw new LightproofError(err.code, `${path}: ${err.message}`, { details: { path, ...err.details } });
    throw err;
  }
}
