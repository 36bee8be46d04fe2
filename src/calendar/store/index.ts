import { LightproofError } from '../../core/errors.js';
import { PostgresCalendarStore } from './postgres.js';
import { SqliteCalendarStore } from './sqlite.js';
import type { CalendarStore } from './types.js';

export { POSTGRES_CALENDAR_MIGRATIONS, PostgresCalendarStore } from './postgres.js';
export { SQLITE_CALENDAR_MIGRATIONS, SqliteCalendarStore } from './sqlite.js';
export type * from './types.js';

export type CalendarStoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** `sqlite:PATH` or `postgres://…` (also `postgresql://…`), as --store takes it. */
export function parseStoreSpec(value: string): CalendarStoreSpec {
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
  if (value.startsWith('sqlite:') && value.length > 'sqlite:'.length) {
    return { kind: 'sqlite', path: value.slice('sqlite:'.length) };
  }
  throw new LightproofError(
    'LP_CAL_BAD_STORE',
    `The store "${value.replace(/\/\/[^@/]*@/, '//…@').slice(0, 120)}" is neither sqlite:PATH nor postgres://user:pass@host/db. Write one of those.`,
  );
}

/** SQLite for one calendar process; PostgreSQL when the operator keeps state there. */
export async function openCalendarStore(spec: CalendarStoreSpec): Promise<CalendarStore> {
  return spec.kind === 'sqlite' ? SqliteCalendarStore.open(spec.path) : PostgresCalendarStore.open(spec.url);
}
