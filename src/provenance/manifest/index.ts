/** Model and dataset manifests shaped as OpenSSF Model Signing v1.0 in-toto statements. */

export { defaultManifestPath, manifestExists, readManifestFile, writeManifestFile } from './file.js';
export {
  DEFAULT_SHARD_SIZE,
  type HashModelOptions,
  type HashProgress,
  hashModel,
  type VerifyModelOptions,
  type VerifyModelResult,
  verifyModel,
} from './hash-model.js';
export {
  MAX_MANIFEST_BYTES,
  type Manifest,
  type ManifestResource,
  PREDICATE_TYPE,
  parseManifest,
  rootDigest,
  type SerializationMethod,
  STATEMENT_TYPE,
  serializeManifest,
} from './statement.js';
export { GIT_PATHS, normalizeIgnorePath } from './walk.js';
