export { MAX_ENTRY_BYTES } from './frames.js';
export { type MerkleLog, type OpenLogOptions, openLog } from './log.js';
