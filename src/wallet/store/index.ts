import type { WalletStore } from '../types.js';
import { PostgresWalletStore } from './postgres.js';
import { SqliteWalletStore } from './sqlite.js';

export { POSTGRES_WALLET_MIGRATIONS, PostgresWalletStore } from './postgres.js';
export { SQLITE_WALLET_MIGRATIONS, SqliteWalletStore } from './sqlite.js';

export type WalletStoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** SQLite for one machine's payers, PostgreSQL when payers on several machines share one wallet. */
export async function openWalletStore(spec: WalletStoreSpec): Promise<WalletStore> {
  return spec.kind === 'sqlite' ? SqliteWalletStore.open(spec.path) : PostgresWalletStore.open(spec.url);
}
