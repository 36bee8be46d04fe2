/** Hashing a model directory into a manifest, and checking a directory against one. */
import { stat } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { LightproofError } from '../../core/errors.js';
import { hashRanges } from './hash-pool.js';
import {
  type Manifest,
  type ManifestResource,
  PREDICATE_TYPE,
  type ResourceKey,
  resourceAlgorithm,
  resourceKeys,
  resourceName,
  rootDigest,
  type SerializationMethod,
  STATEMENT_TYPE,
  sortResourceKeys,
} from './statement.js';
import { GIT_PATHS, normalizeIgnorePath, type WalkedFile, walkModel } from './walk.js';

/**
 * 64 MiB shards: small enough that one large file spreads over every core, large enough that a
 * 100 GB model stays under 2,000 resources. model_signing's own default is 10^9 bytes.
 */
export const DEFAULT_SHARD_SIZE = 64 * 1024 * 1024;

export interface HashProgress {
  readonly done: number;
  readonly total: number;
}

export interface HashModelOptions {
  /** 'shards' (default) splits files into shardSize ranges hashed in parallel; 'files' is one digest per file. */
  method?: SerializationMethod;
  shardSize?: number;
  /** Worker threads; default every core. */
  workers?: number;
  /** Exact relative paths to leave out; a directory covers everything below it. */
  ignore?: readonly string[];
  /** Leave out .git, .gitattributes, .github and .gitignore, as model_signing does (default true). */
  ignoreGitPaths?: boolean;
  allowSymlinks?: boolean;
  /** Where the manifest goes; if inside the model it is left out and recorded in ignore_paths. */
  manifestPath?: string;
  onProgress?: (p: HashProgress) => void;
}

export interface VerifyModelOptions {
  workers?: number;
  manifestPath?: string;
  onProgress?: (p: HashProgress) => void;
}

export interface VerifyModelResult {
  /** True only when every listed file matches and nothing is missing or extra. */
  readonly ok: boolean;
  readonly changed: string[];
  readonly missing: string[];
  readonly extra: string[];
  /** Files the manifest lists. */
  readonly listed: number;
  /** The manifest's root digest (its subject). */
  readonly root: string;
}

interface PlannedResource extends ResourceKey {
  readonly file: WalkedFile;
}

export async function hashModel(dir: string, opts: HashModelOptions = {}): Promise<Manifest> {
  const method = opts.method ?? 'shards';
  const shardSize = method === 'shards' ? checkShardSize(opts.shardSize ?? DEFAULT_SHARD_SIZE) : undefined;
  if (method === 'files' && opts.shardSize !== undefined)
    throw new LightproofError(
      'LP_MANIFEST_BAD_SHARD_SIZE',
      'A shard size only applies to the shards method.',
    );
  const ignore = new Set([
    ...(opts.ignoreGitPaths === false ? [] : GIT_PATHS),
    ...(opts.ignore ?? []).map(normalizeIgnorePath),
  ]);
  const self = insidePath(dir, opts.manifestPath);
  if (self !== undefined) ignore.add(self);
  const ignorePaths = [...ignore].sort();
  const allowSymlinks = opts.allowSymlinks ?? false;
  const files = await walkModel(dir, { allowSymlinks, ignore: ignorePaths });
  const planned = plan(files, method, shardSize);
  if (planned.length === 0) {
    throw new LightproofError(
      'LP_MANIFEST_EMPTY',
      `${dir} holds no files to hash${ignorePaths.length ? ' (after ignored paths)' : ''}; a manifest of nothing proves nothing. Check the directory.`,
    );
  }
  const digests = await hashPlanned(planned, method, opts);
  await checkUnchanged(files);
  const algorithm = resourceAlgorithm(method, shardSize);
  const resources: ManifestResource[] = planned.map((p, i) => ({
    name: resourceName(p, method),
    algorithm,
    digest: Buffer.from(digests[i]!).toString('hex'),
  }));
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: basename(resolve(dir)), digest: { sha256: rootDigest(resources) } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      serialization: {
        method,
        hash_type: 'sha256',
        allow_symlinks: allowSymlinks,
        ...(shardSize !== undefined ? { shard_size: shardSize } : {}),
        ignore_paths: ignorePaths,
      },
      resources,
    },
  };
}

export async function verifyModel(
  dir: string,
  manifest: Manifest,
  opts: VerifyModelOptions = {},
): Promise<VerifyModelResult> {
  const s = manifest.predicate.serialization;
  const ignore = [...s.ignore_paths];
  const self = insidePath(dir, opts.manifestPath);
  if (self !== undefined) ignore.push(self);
  const files = await walkModel(dir, { allowSymlinks: s.allow_symlinks, ignore });
  const onDisk = new Map(files.map((f) => [f.name, f]));

  const expected = new Map<string, Map<string, string>>();
  const keys = resourceKeys(manifest);
  for (const [i, k] of keys.entries()) {
    const r = manifest.predicate.resources[i]!;
    const m = expected.get(k.path) ?? new Map<string, string>();
    m.set(resourceName(k, s.method), r.digest);
    expected.set(k.path, m);
  }
  const missing = [...expected.keys()].filter((p) => !onDisk.has(p));
  // In shard mode an empty file has no shards, so model_signing and we never list it.
  const extra = files
    .filter((f) => !expected.has(f.name) && !(s.method === 'shards' && f.size === 0))
    .map((f) => f.name);

  const changed = new Set<string>();
  const toHash: WalkedFile[] = [];
  for (const f of files) {
    const want = expected.get(f.name);
    if (!want) continue;
    const names = plan([f], s.method, s.shard_size).map((p) => resourceName(p, s.method));
    // A different size means different shard names: changed, without reading a byte.
    if (names.length !== want.size || names.some((n) => !want.has(n))) changed.add(f.name);
    else toHash.push(f);
  }
  const planned = plan(toHash, s.method, s.shard_size);
  const digests = await hashPlanned(planned, s.method, opts);
  await checkUnchanged(toHash);
  for (const [i, p] of planned.entries()) {
    const want = expected.get(p.path)!.get(resourceName(p, s.method));
    if (Buffer.from(digests[i]!).toString('hex') !== want) changed.add(p.path);
  }
  const sorted = (xs: Iterable<string>) =>
    [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const result = { changed: sorted(changed), missing: sorted(missing), extra: sorted(extra) };
  return {
    ok: result.changed.length + result.missing.length + result.extra.length === 0,
    ...result,
    listed: expected.size,
    root: manifest.subject[0].digest.sha256,
  };
}

function checkShardSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new LightproofError(
      'LP_MANIFEST_BAD_SHARD_SIZE',
      `Shard size ${n} must be a whole number of bytes, at least 1 (default ${DEFAULT_SHARD_SIZE}).`,
    );
  }
  return n;
}

/** The manifest's path relative to the model root, when it lies inside it. */
function insidePath(dir: string, manifestPath: string | undefined): string | undefined {
  if (manifestPath === undefined) return undefined;
  const rel = relative(resolve(dir), resolve(manifestPath));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

function plan(
  files: readonly WalkedFile[],
  method: SerializationMethod,
  shardSize?: number,
): PlannedResource[] {
  const out: PlannedResource[] = [];
  for (const file of files) {
    if (method === 'files') {
      out.push({ path: file.name, start: 0, end: -1, file });
      continue;
    }
    for (let start = 0; start < file.size; start += shardSize!)
      out.push({ path: file.name, start, end: Math.min(start + shardSize!, file.size), file });
  }
  return sortResourceKeys(out);
}

async function hashPlanned(
  planned: readonly PlannedResource[],
  method: SerializationMethod,
  opts: { workers?: number; onProgress?: (p: HashProgress) => void },
): Promise<Uint8Array[]> {
  const tasks = planned.map((p) =>
    method === 'files'
      ? { path: p.file.path, start: 0, end: p.file.size }
      : { path: p.file.path, start: p.start, end: p.end },
  );
  const total = tasks.reduce((n, t) => n + t.end - t.start, 0);
  let done = 0;
  opts.onProgress?.({ done, total });
  return hashRanges(tasks, {
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    onBytes: (n) => {
      done += n;
      opts.onProgress?.({ done, total });
    },
  });
}

/** A file whose size or mtime moved while it was read may be hashed half old, half new. */
async function checkUnchanged(files: readonly WalkedFile[]): Promise<void> {
  const BATCH = 64;
  for (let i = 0; i < files.length; i += BATCH) {
    const batch = files.slice(i, i + BATCH);
    const now = await Promise.all(batch.map((f) => stat(f.path, { bigint: true }).catch(() => undefined)));
    const moved = batch.find((f, j) => {
      const st = now[j];
      return !st || Number(st.size) !== f.size || st.mtimeNs !== f.mtimeNs;
    });
    if (moved) {
      throw new LightproofError(
        'LP_MANIFEST_CHANGED_WHILE_HASHING',
        `${moved.name} changed while it was hashed; hash the model again once nothing writes to it.`,
        { details: { name: moved.name } },
      );
    }
  }
}
