import { PostgresGatewayState } from './postgres.js';
import { SqliteGatewayState } from './sqlite.js';
import type { GatewayState } from './types.js';

export { POSTGRES_GATEWAY_MIGRATIONS, PostgresGatewayState } from './postgres.js';
export { SQLITE_GATEWAY_MIGRATIONS, SqliteGatewayState } from './sqlite.js';
export type { DebitResult, GatewayState, MintRecord, ServiceRevenue, TokenRecord } from './types.js';

export type GatewayStateSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** SQLite for one gateway process, PostgreSQL when several share their tokens, credit and revenue. */
export async function openGatewayState(spec: GatewayStateSpec): Promise<GatewayState> {
  return spec.kind === 'sqlite' ? SqliteGatewayState.open(spec.path) : PostgresGatewayState.open(spec.url);
}
