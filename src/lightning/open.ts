/**
 * Opening the node a server or wallet is configured with: an account on the embedded node (the default,
 * kept under the data directory) or an LND node over REST.
 */
import { EmbeddedLightning } from './embedded/index.js';
import { LndNode } from './lnd/index.js';
import type { LightningNode } from './types.js';

export type LightningSpec =
  | { kind: 'embedded'; account: string }
  | { kind: 'lnd'; restUrl: string; macaroonPath: string; tlsCertPath: string | null };

export interface OpenedNode {
  node: LightningNode;
  close(): Promise<void>;
}

/** `nodeDir` is where the embedded node keeps its state; LND specs ignore it. */
export function openLightning(spec: LightningSpec, nodeDir: string): OpenedNode {
  if (spec.kind === 'lnd') {
    const node = new LndNode({
      restUrl: spec.restUrl,
      macaroonPath: spec.macaroonPath,
      ...(spec.tlsCertPath ? { tlsCertPath: spec.tlsCertPath } : {}),
    });
    return { node, close: () => node.close() };
  }
  const embedded = EmbeddedLightning.open(nodeDir);
  return {
    node: embedded.ensureAccount(spec.account),
    close: async () => embedded.close(),
  };
}
