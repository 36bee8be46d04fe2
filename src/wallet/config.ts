/**
 * Where the agent's wallet finds its node and journal. With no file it runs on embedded defaults: the
 * "agent" account of the embedded node and a SQLite journal in the data directory. The spending policy
 * is not here: it lives in the journal's database, so every process sharing a wallet obeys one policy
 * and a freeze reaches them all at once.
 */
import { z } from 'zod';
import { describeIssues, readConfigFile } from '../core/config-file.js';
import { LightproofError } from '../core/errors.js';
import type { LightningSpec } from '../lightning/index.js';

export interface WalletConfig {
  source: string;
  lightning: LightningSpec;
  store: { kind: 'sqlite'; path: string | null } | { kind: 'postgres'; url: string };
  /** How long a payment above the approval threshold waits for a person before giving up. */
  approvalWaitSeconds: number;
}

const schema = z.strictObject({
  lightning: z
    .discriminatedUnion('kind', [
      z.strictObject({
        kind: z.literal('embedded'),
        account: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1-32 lower-case letters, digits, - or _')
          .default('agent'),
      }),
      z.strictObject({
        kind: z.literal('lnd'),
        restUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s):// URL' }),
        macaroonPath: z.string().min(1),
        tlsCertPath: z.string().min(1).optional(),
      }),
    ])
    .default({ kind: 'embedded', account: 'agent' }),
  store: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('sqlite'), path: z.string().min(1).optional() }),
      z.strictObject({
        kind: z.literal('postgres'),
        url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL'),
      }),
    ])
    .default({ kind: 'sqlite' }),
  approvalWaitSeconds: z.number().int().min(0).max(3600).default(0),
});

export const DEFAULT_WALLET_CONFIG: WalletConfig = parseWalletConfig({}, '(defaults)');

export function parseWalletConfig(raw: unknown, source: string): WalletConfig {
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = describeIssues(parsed.error.issues);
    throw new LightproofError(
      'LP_WALLET_CONFIG',
      `${source} is not a valid wallet config: ${lines.join('; ')}.`,
      { details: { issues: lines } },
    );
  }
  const c = parsed.data;
  return {
    source,
    lightning:
      c.lightning.kind === 'lnd'
        ? {
            kind: 'lnd',
            restUrl: new URL(c.lightning.restUrl).origin,
            macaroonPath: c.lightning.macaroonPath,
            tlsCertPath: c.lightning.tlsCertPath ?? null,
          }
        : c.lightning,
    store: c.store.kind === 'sqlite' ? { kind: 'sqlite', path: c.store.path ?? null } : c.store,
    approvalWaitSeconds: c.approvalWaitSeconds,
  };
}

export function loadWalletConfig(path: string): WalletConfig {
  return parseWalletConfig(readConfigFile(path, 'LP_WALLET_CONFIG', 'wallet config'), path);
}
