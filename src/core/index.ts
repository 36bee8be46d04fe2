export { ensurePrivateDir, resolveDataDir } from './datadir.js';
export { isLightproofError, LightproofError } from './errors.js';
export { toJson } from './json.js';
export { type Msat, msat, msatToSatCeil, satToMsat } from './money.js';
export { readSecretFile, writeSecretFile } from './secrets.js';
