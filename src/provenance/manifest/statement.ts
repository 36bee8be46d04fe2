/**
 * The manifest: an in-toto Statement v1 shaped as OpenSSF Model Signing (OMS) v1.0 writes it, so the
 * DSSE payload model_signing signs and our manifest list the same resources in the same order under
 * the same root digest. Parsing is strict: a manifest is the thing verification trusts, so anything
 * that is not exactly a well-formed statement is refused with a typed error.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { LightproofError } from '../../core/errors.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://model_signing/signature/v1.0';
/** A manifest of a million resources is about 150 MB; past this it is not a manifest we wrote. */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
export const MAX_RESOURCES = 2_000_000;

export type SerializationMethod = 'files' | 'shards';

export interface ManifestResource {
  /** `path` (files) or `path:start:end` (shards), the path relative to the model root, '/'-separated. */
  readonly name: string;
  /** `sha256` (files) or `sha256-sharded-<shard_size>` (shards), as model_signing writes them. */
  readonly algorithm: string;
  /** 64 lowercase hex characters. */
  readonly digest: string;
}

export interface Manifest {
  readonly _type: typeof STATEMENT_TYPE;
  readonly subject: readonly [{ readonly name: string; readonly digest: { readonly sha256: string } }];
  readonly predicateType: typeof PREDICATE_TYPE;
  readonly predicate: {
    readonly serialization: {
      readonly method: SerializationMethod;
      readonly hash_type: 'sha256';
      readonly allow_symlinks: boolean;
      readonly shard_size?: number;
      readonly ignore_paths: readonly string[];
    };
    readonly resources: readonly ManifestResource[];
  };
}

/** A resource name split into what it covers; files cover [0, size), recorded as start 0, end -1. */
export interface ResourceKey {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

export function resourceAlgorithm(method: SerializationMethod, shardSize?: number): string {
  return method === 'files' ? 'sha256' : `sha256-sharded-${shardSize}`;
}

export function resourceName(key: ResourceKey, method: SerializationMethod): string {
  return method === 'files' ? key.path : `${key.path}:${key.start}:${key.end}`;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/**
 * model_signing sorts resources as Python orders (PurePosixPath, start, end): path components
 * compared one by one in code point order (bytewise UTF-8), then offsets as numbers. So `a/b` comes
 * before `a.txt`, and shard `:2000:` before `:10000:`, unlike a plain string sort.
 */
export function sortResourceKeys<T extends ResourceKey>(keys: readonly T[]): T[] {
  const parts = new Map<string, Buffer[]>();
  const partsOf = (p: string) => {
    let v = parts.get(p);
    if (!v) {
      v = p.split('/').map(utf8);
      parts.set(p, v);
    }
    return v;
  };
  return [...keys].sort((a, b) => {
    if (a.path !== b.path) {
      const pa = partsOf(a.path);
      const pb = partsOf(b.path);
      for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
        const c = Buffer.compare(pa[i]!, pb[i]!);
        if (c !== 0) return c;
      }
      return pa.length - pb.length;
    }
    return a.start - b.start || a.end - b.end;
  });
}

/** OMS §6.5.1: SHA-256 over the raw resource digests, concatenated in the order listed. */
export function rootDigest(resources: readonly ManifestResource[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(Buffer.from(r.digest, 'hex'));
  return h.digest('hex');
}

/** Canonical JSON (RFC 8785): keys in code point order, no whitespace. The manifest's bytes are what a stamp covers. */
export function serializeManifest(m: Manifest): Uint8Array {
  const s = m.predicate.serialization;
  const canonical = {
    _type: m._type,
    predicate: {
      resources: m.predicate.resources.map((r) => ({
        algorithm: r.algorithm,
        digest: r.digest,
        name: r.name,
      })),
      serialization: {
        allow_symlinks: s.allow_symlinks,
        hash_type: s.hash_type,
        // A set in meaning; model_signing writes it in a Python frozenset's arbitrary order.
        ignore_paths: [...s.ignore_paths].sort(),
        method: s.method,
        ...(s.shard_size !== undefined ? { shard_size: s.shard_size } : {}),
      },
    },
    predicateType: m.predicateType,
    subject: m.subject.map((x) => ({ digest: { sha256: x.digest.sha256 }, name: x.name })),
  };
  return new Uint8Array(utf8(JSON.stringify(canonical)));
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A relative, '/'-separated path that stays inside the model root. */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 4096 || p.startsWith('/') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

const schema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z
    .array(
      z.strictObject({ name: z.string().min(1).max(4096), digest: z.strictObject({ sha256: z.string() }) }),
    )
    .length(1),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: z.strictObject({
    serialization: z.strictObject({
      method: z.enum(['files', 'shards']),
      hash_type: z.literal('sha256'),
      allow_symlinks: z.boolean(),
      shard_size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
      ignore_paths: z.array(z.string()).max(100_000),
    }),
    resources: z
      .array(z.strictObject({ name: z.string(), algorithm: z.string(), digest: z.string() }))
      .max(MAX_RESOURCES),
  }),
});

function bad(code: string, message: string, details?: Record<string, unknown>): LightproofError {
  return new LightproofError(code, message, details ? { details } : {});
}

/** Parses manifest bytes into a checked Manifest; every refusal is an LP_MANIFEST_* error naming what is wrong. */
export function parseManifest(bytes: Uint8Array, opts: { maxBytes?: number } = {}): Manifest {
  const max = opts.maxBytes ?? MAX_MANIFEST_BYTES;
  if (bytes.length > max) {
    throw bad(
      'LP_MANIFEST_TOO_LARGE',
      `The manifest is ${bytes.length} bytes, more than the ${max} a manifest may have.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw bad(
      'LP_MANIFEST_BAD_JSON',
      `The manifest is not valid UTF-8 JSON (${(err as Error).message}); it may be truncated. Write it again with \`lightproof model hash\`.`,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw bad(
      'LP_MANIFEST_BAD_SHAPE',
      `The manifest is not an OMS v1.0 in-toto statement: at ${issue.path.join('.') || '(top)'}: ${issue.message}.`,
      { path: issue.path.map(String) },
    );
  }
  const m = parsed.data;
  const s = m.predicate.serialization;
  if (s.method === 'shards' && s.shard_size === undefined)
    throw bad('LP_MANIFEST_BAD_SHAPE', 'A shards manifest must record serialization.shard_size.');
  if (s.method === 'files' && s.shard_size !== undefined)
    throw bad('LP_MANIFEST_BAD_SHAPE', 'A files manifest must not record serialization.shard_size.');
  for (const p of s.ignore_paths) {
    if (!isSafeRelativePath(p))
      throw bad(
        'LP_MANIFEST_BAD_PATH',
        `ignore_paths holds '${p.slice(0, 200)}', which is not a relative path inside the model.`,
      );
  }
  const subjectDigest = m.subject[0]!.digest.sha256;
  if (!HEX64.test(subjectDigest))
    throw bad('LP_MANIFEST_BAD_DIGEST', 'subject[0].digest.sha256 is not 64 lowercase hex characters.');
  checkResources(m.predicate.resources, s.method, s.shard_size);
  const root = rootDigest(m.predicate.resources);
  if (root !== subjectDigest) {
    throw bad(
      'LP_MANIFEST_ROOT_MISMATCH',
      `The subject digest ${subjectDigest} is not the SHA-256 of the listed resource digests (${root}); the manifest was altered.`,
    );
  }
  return m as unknown as Manifest;
}

/** Splits `path:start:end` on its last two colons (OMS §6.3.2: paths may contain ':'). */
export function parseShardName(name: string): ResourceKey | undefined {
  const m = /^(.+):(0|[1-9][0-9]{0,15}):(0|[1-9][0-9]{0,15})$/.exec(name);
  if (!m) return undefined;
  const start = Number(m[2]);
  const end = Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  return { path: m[1]!, start, end };
}

function checkResources(
  resources: readonly ManifestResource[],
  method: SerializationMethod,
  shardSize: number | undefined,
): void {
  const want = resourceAlgorithm(method, shardSize);
  const names = new Set<string>();
  const shards = new Map<string, ResourceKey[]>();
  for (const [i, r] of resources.entries()) {
    const at = `resources[${i}] '${r.name.slice(0, 200)}'`;
    if (names.has(r.name)) throw bad('LP_MANIFEST_DUPLICATE', `${at} is listed twice.`, { name: r.name });
    names.add(r.name);
    if (!HEX64.test(r.digest))
      throw bad('LP_MANIFEST_BAD_DIGEST', `${at} has a digest that is not 64 lowercase hex characters.`);
    // model_signing labels shards 'sha256-sharded-N'; a plain 'sha256' says the same hash.
    if (r.algorithm !== want && r.algorithm !== 'sha256')
      throw bad(
        'LP_MANIFEST_BAD_SHAPE',
        `${at} uses algorithm '${r.algorithm.slice(0, 100)}', expected '${want}'.`,
      );
    const key = method === 'files' ? { path: r.name, start: 0, end: -1 } : parseShardName(r.name);
    if (!key) throw bad('LP_MANIFEST_BAD_SHARD', `${at} is not named path:start:end.`);
    if (!isSafeRelativePath(key.path))
      throw bad(
        'LP_MANIFEST_BAD_PATH',
        `${at} is not a relative path inside the model (no '..', no leading '/').`,
      );
    if (method === 'shards') {
      const list = shards.get(key.path) ?? [];
      list.push(key);
      shards.set(key.path, list);
    }
  }
  for (const [path, list] of shards) checkShardRanges(path, list, shardSize!);
}

/** A file's shards must tile it: from 0, back to back, every one shard_size long but the last. */
function checkShardRanges(path: string, list: ResourceKey[], shardSize: number): void {
  list.sort((a, b) => a.start - b.start || a.end - b.end);
  let expected = 0;
  let previous: ResourceKey | undefined;
  for (const k of list) {
    const name = `${path}:${k.start}:${k.end}`;
    if (k.end <= k.start || k.end - k.start > shardSize)
      throw bad('LP_MANIFEST_BAD_SHARD', `Shard ${name} is empty or longer than shard_size ${shardSize}.`);
    if (k.start < expected)
      throw bad(
        'LP_MANIFEST_SHARD_OVERLAP',
        `Shard ${name} overlaps the shard before it, which ends at ${expected}.`,
      );
    if (k.start > expected)
      throw bad(
        'LP_MANIFEST_SHARD_GAP',
        `Shards of ${path} leave bytes ${expected} to ${k.start} uncovered.`,
      );
    if (previous && previous.end - previous.start !== shardSize)
      throw bad(
        'LP_MANIFEST_BAD_SHARD',
        `Shard ${path}:${previous.start}:${previous.end} is shorter than shard_size ${shardSize} but is not the last.`,
      );
    expected = k.end;
    previous = k;
  }
}

/** The resource keys of a parsed manifest, in listed order. */
export function resourceKeys(m: Manifest): ResourceKey[] {
  const method = m.predicate.serialization.method;
  return m.predicate.resources.map((r) =>
    method === 'files' ? { path: r.name, start: 0, end: -1 } : parseShardName(r.name)!,
  );
}
