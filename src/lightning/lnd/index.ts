export { LndNode, type LndOptions } from './client.js';
