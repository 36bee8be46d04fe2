/**
 * dir/state.json describes a running network: where each daemon listens, its credentials and pid.
 * It is how `lightproof regtest status|down` find a network that an earlier process started.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LightproofError, writeSecretFile } from '../core/index.js';

export const NODE_NAMES = ['alice', 'bob', 'carol'] as const;
export type NodeName = (typeof NODE_NAMES)[number];

const LndNodeInfo = z.object({
  name: z.enum(NODE_NAMES),
  pubkey: z.string().regex(/^0[23][0-9a-f]{64}$/),
  /** https://127.0.0.1:PORT */
  restUrl: z.string(),
  /** 127.0.0.1:PORT */
  grpcHost: z.string(),
  /** 127.0.0.1:PORT, the Lightning peer-to-peer listener. */
  p2pHost: z.string(),
  lndDir: z.string(),
  tlsCertPath: z.string(),
  adminMacaroonPath: z.string(),
  invoiceMacaroonPath: z.string(),
  pid: z.number().int().positive(),
});
export type LndNodeInfo = z.infer<typeof LndNodeInfo>;

const BtcdInfo = z.object({
  /** https://127.0.0.1:PORT, JSON-RPC 1.0 with basic auth; trust certPath. */
  rpcUrl: z.string(),
  rpcUser: z.string(),
  rpcPass: z.string(),
  certPath: z.string(),
  pid: z.number().int().positive(),
});
export type BtcdInfo = z.infer<typeof BtcdInfo>;

const RegtestState = z.object({
  version: z.literal(1),
  dir: z.string(),
  startedAt: z.string(),
  detached: z.boolean(),
  btcd: BtcdInfo,
  nodes: z.object({ alice: LndNodeInfo, bob: LndNodeInfo, carol: LndNodeInfo }),
});
export type RegtestState = z.infer<typeof RegtestState>;

export const statePath = (dir: string): string => join(dir, 'state.json');

/** Mode 0600: the file holds btcd's RPC password. */
export function writeRegtestState(state: RegtestState): void {
  writeSecretFile(statePath(state.dir), `${JSON.stringify(state, null, 2)}\n`);
}

export function removeRegtestState(dir: string): void {
  rmSync(statePath(dir), { force: true });
}

export function readRegtestState(dir: string): RegtestState {
  const path = statePath(dir);
  if (!existsSync(path)) {
    throw new LightproofError(
      'LP_REGTEST_NOT_RUNNING',
      `No regtest network runs in ${dir} (${path} is missing). Run \`lightproof regtest up\` to start one.`,
      { status: 404 },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw badState(path, (cause as Error).message);
  }
  const parsed = RegtestState.safeParse(json);
  if (!parsed.success) throw badState(path, parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}

function badState(path: string, why: string): LightproofError {
  return new LightproofError(
    'LP_REGTEST_BAD_STATE',
    `${path} is not a regtest state file (${why}). Stop stray btcd/lnd processes by hand, delete the file, and run \`lightproof regtest up\` again.`,
  );
}
