/**
 * A real Lightning network on a private regtest chain, for tests, benchmarks and demos: btcd and
 * three lnd nodes (alice → bob → carol) on 127.0.0.1, built from source by test/regtest/build-daemons.sh.
 */
export {
  type ApertureService,
  type RunningAperture,
  type StartApertureOptions,
  startAperture,
} from './aperture.js';
export { type BitcoinChain, type StartBitcoinChainOptions, startBitcoinChain } from './chain.js';
export { type LndNodeStatus, type RegtestStatus, regtestStatus, stopRegtestNetwork } from './control.js';
export { type DaemonBinaries, locateDaemons } from './daemons.js';
export { lndNodeClient, lndTarget } from './lnd-api.js';
export { type RegtestNetwork, type StartRegtestOptions, startRegtestNetwork } from './network.js';
export { freePorts } from './ports.js';
export { isDaemonAlive } from './processes.js';
export {
  type BtcdInfo,
  type LndNodeInfo,
  type NodeName,
  type RegtestState,
  readRegtestState,
} from './state.js';
