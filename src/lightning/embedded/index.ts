export { EmbeddedLightning, type EmbeddedOptions } from './host.js';
export { EMBEDDED_VERSION, EmbeddedNode } from './node.js';
