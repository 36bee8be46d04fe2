export { LightproofError, isLightproofError } from './errors.js';
export { toJson } from './json.js';
export { resolveDataDir, ensurePrivateDir } from './datadir.js';
export { writeSecretFile, readSecretFile } from './secrets.js';
export { type Msat, msat, satToMsat, msatToSatCeil } from './money.js';
