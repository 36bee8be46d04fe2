/**
 * Timestamps as ISOs publish them. ERCOT writes Central Prevailing Time (a date, an hour ending
 * 1..24 and a flag for the repeated hour when clocks fall back); PJM's Data Miner writes
 * "1/31/2024 5:00:00 AM" in UTC; CAISO and generic files write ISO 8601 with an offset.
 * The US daylight-saving rule is coded here rather than read from ICU, so results do not depend on
 * the time-zone data Node was built with.
 */

const HOUR = 3_600_000;

/** Wall-clock parts read as if they were UTC: the "local epoch" that rules below compare against. */
function wall(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** The n-th Sunday (1-based) of a month, as a local-epoch midnight. */
function nthSunday(y: number, mo: number, n: number): number {
  const first = new Date(Date.UTC(y, mo - 1, 1)).getUTCDay();
  return wall(y, mo, 1 + ((7 - first) % 7) + 7 * (n - 1));
}

/**
 * UTC of a Central Prevailing Time wall-clock instant (CST = UTC-6, CDT = UTC-5; since 2007 DST runs
 * from the second Sunday of March, 02:00, to the first Sunday of November, 02:00). In the repeated
 * hour, `repeated` picks the second pass (standard time).
 */
export function centralToUtc(localEpoch: number, repeated: boolean): number {
  const y = new Date(localEpoch).getUTCFullYear();
  const start = nthSunday(y, 3, 2) + 2 * HOUR;
  const end = nthSunday(y, 11, 1) + 2 * HOUR;
  const dst = localEpoch >= start && (localEpoch < end - HOUR || (localEpoch < end && !repeated));
  return localEpoch + (dst ? 5 : 6) * HOUR;
}

/** "MM/DD/YYYY" (ERCOT) or "YYYY-MM-DD" as a local-epoch midnight; NaN when neither. */
export function parseDay(text: string): number {
  let m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
  if (m) return checked(Number(m[3]), Number(m[1]), Number(m[2]));
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m) return checked(Number(m[1]), Number(m[2]), Number(m[3]));
  return Number.NaN;
}

/** A real calendar time, or NaN (Date.UTC would quietly turn 30 February into 2 March). */
function checked(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 ? (leap ? 29 : 28) : mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 59) return Number.NaN;
  return wall(y, mo, d, h, mi, s);
}

/** ERCOT's "Hour Ending": "01:00".."24:00", or a bare 1..24. Returns 1..24 or NaN. */
export function parseHourEnding(text: string): number {
  const m = /^(\d{1,2})(?::00)?$/.exec(text);
  const h = m ? Number(m[1]) : Number.NaN;
  return h >= 1 && h <= 24 ? h : Number.NaN;
}

/** PJM Data Miner's "1/31/2024 5:00:00 AM" (or 24-hour "1/31/2024 05:00"), read as UTC. */
export function parsePjmTime(text: string): number {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AP]M))?$/i.exec(text);
  if (!m) return Number.NaN;
  let h = Number(m[4]);
  const ampm = m[7]?.toUpperCase();
  if (ampm) {
    if (h < 1 || h > 12) return Number.NaN;
    h = (h % 12) + (ampm === 'PM' ? 12 : 0);
  }
  return checked(Number(m[3]), Number(m[1]), Number(m[2]), h, Number(m[5]), Number(m[6] ?? 0));
}

/** ISO 8601 with Z or an offset; a bare local time is refused unless `assumeUtc` (a *_utc column). */
export function parseIsoInstant(text: string, assumeUtc: boolean): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    text,
  );
  if (!m) return Number.NaN;
  if (!m[7] && !assumeUtc) return Number.NaN;
  const base = checked(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
  if (!m[7] || m[7] === 'Z') return base;
  const off = /^([+-])(\d{2}):?(\d{2})$/.exec(m[7])!;
  const minutes = Number(off[2]) * 60 + Number(off[3]);
  return base - (off[1] === '-' ? -1 : 1) * minutes * 60_000;
}
