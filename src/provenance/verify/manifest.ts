/** A model manifest (an in-toto statement, OMS-shaped), its .ots, and optionally the model directory itself. */
import type { HeaderSource } from '../../bitcoin/index.js';
import { parseManifest, verifyModel } from '../manifest/index.js';
import { checkAnchor } from './anchor.js';
import { type ProvenanceReport, ReportBuilder } from './report.js';

export interface VerifyManifestOptions {
  headers?: HeaderSource;
  ots?: Uint8Array;
  otsName?: string;
  /** The model directory to compare with the manifest. */
  dir?: string;
}

export async function verifyManifestFile(
  bytes: Uint8Array,
  opts: VerifyManifestOptions = {},
): Promise<ProvenanceReport> {
  const b = new ReportBuilder('manifest');
  // parseManifest also checks that the subject's root digest is the one the resources hash to.
  const manifest = await b.check('the manifest', () => parseManifest(bytes));
  if (!manifest) return b.done();
  const subject = manifest.subject[0]!;
  const resources = manifest.predicate.resources;
  const root = subject.digest.sha256;
  b.facts.model = subject.name;
  b.facts.root = root;
  b.facts.resources = resources.length;
  b.proved.push(
    `the manifest names model ${subject.name} with root digest ${root} over ${resources.length} ${manifest.predicate.serialization.method === 'shards' ? 'shards' : 'files'}`,
  );
  await checkAnchor(b, {
    what: `the manifest of ${subject.name}`,
    stamped: bytes,
    ots: opts.ots,
    otsName: opts.otsName ?? 'the .ots beside the manifest',
    headers: opts.headers,
  });
  if (opts.dir === undefined) {
    b.notProved.push('that a model directory matches it: give the directory with --dir');
  } else {
    const dir = opts.dir;
    const result = await b.check(`--dir ${dir}`, () => verifyModel(dir, manifest, {}));
    if (result?.ok) {
      b.proved.push(`every file in ${dir} is as the manifest lists it, with none missing or extra`);
    } else if (result) {
      const list = (what: string, names: string[]) =>
        names.length > 0
          ? [`${what}: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}`]
          : [];
      b.fail(
        'LP_MANIFEST_MODEL_CHANGED',
        `${dir} does not match the manifest (${[...list('changed', result.changed), ...list('missing', result.missing), ...list('extra', result.extra)].join('; ')}).`,
      );
    }
  }
  b.notProved.push(
    'who made the model or the manifest: a timestamp is not a signature',
    'that the model is safe or does what it claims',
  );
  return b.done();
}
