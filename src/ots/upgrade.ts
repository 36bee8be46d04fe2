/**
 * Upgrading a proof (the reference client's upgrade_timestamp): every pending attestation names a
 * calendar; that calendar is asked for the rest of the path from the attested message, and any reply
 * that brings new attestations is merged in. Merging only adds, so nothing already in the proof is
 * ever lost. Calendars are contacted only when whitelisted, or when the caller names them instead.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { type Attestation, attestationKey } from './attestation.js';
import { CalendarWhitelist, checkCalendarUrl, getTimestamp } from './calendar-client.js';
import type { Timestamp } from './timestamp.js';

export interface UpgradeOptions {
  /** Ask these calendars about every pending commitment instead of the URIs the proof names. */
  calendars?: readonly string[];
  /** Which named calendars may be contacted; default the reference's whitelist. */
  whitelist?: CalendarWhitelist;
  /** Per calendar call; default 10 s. */
  timeoutMs?: number;
  /** Rounds of following newly found pending attestations; default 4. */
  maxRounds?: number;
  /** Calendar calls in flight at once; default 8. */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface UpgradeResult {
  /** New attestations were merged in; the proof should be written again. */
  readonly changed: boolean;
  /** At least one Bitcoin attestation (not yet checked against a block header). */
  readonly complete: boolean;
  readonly added: readonly { calendar: string; attestation: Attestation }[];
  /** Calendars that answered 404: still waiting (their sanitised explanation). */
  readonly pending: readonly { calendar: string; commitment: string; message: string }[];
  readonly errors: readonly { calendar: string; commitment: string; error: LightproofError }[];
  /** Calendars the proof names that were not asked, and why. */
  readonly skipped: readonly { uri: string; reason: string }[];
}

export const DEFAULT_UPGRADE_TIMEOUT_MS = 10_000;

export async function upgradeTimestamp(ts: Timestamp, opts: UpgradeOptions = {}): Promise<UpgradeResult> {
  const override = opts.calendars?.length ? [...new Set(opts.calendars.map(checkCalendarUrl))] : undefined;
  const whitelist = opts.whitelist ?? new CalendarWhitelist();
  const known = new Set(ts.allAttestations().map((a) => attestationKey(a.attestation)));
  const asked = new Set<string>();
  const skipped = new Map<string, string>();
  const result = {
    changed: false,
    added: [] as { calendar: string; attestation: Attestation }[],
    pending: [] as { calendar: string; commitment: string; message: string }[],
    errors: [] as { calendar: string; commitment: string; error: LightproofError }[],
  };
  const maxRounds = opts.maxRounds ?? 4;
  for (let round = 0; round < maxRounds && !ts.isComplete(); round++) {
    const jobs: { node: Timestamp; calendar: string }[] = [];
    for (const node of pendingNodes(ts)) {
      for (const att of node.attestations) {
        if (att.kind !== 'pending') continue;
        let targets = override;
        if (!targets) {
          if (whitelist.has(att.uri)) targets = [att.uri];
          else
            skipped.set(att.uri, 'not on the calendar whitelist (add it with --whitelist, or ask with -c)');
        }
        for (const calendar of targets ?? []) {
          const key = `${calendar} ${bytesToHex(node.msg)}`;
          if (asked.has(key)) continue;
          asked.add(key);
          jobs.push({ node, calendar });
        }
      }
    }
    if (jobs.length === 0) break;
    await eachLimited(jobs, opts.concurrency ?? 8, async ({ node, calendar }) => {
      const commitment = bytesToHex(node.msg);
      let reply: Timestamp | { pending: string };
      try {
        reply = await getTimestamp(calendar, node.msg, {
          timeoutMs: opts.timeoutMs ?? DEFAULT_UPGRADE_TIMEOUT_MS,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (err) {
        if (!isLightproofError(err)) throw err;
        result.errors.push({ calendar, commitment, error: err });
        return;
      }
      if ('pending' in reply) {
        result.pending.push({ calendar, commitment, message: reply.pending });
        return;
      }
      const fresh = reply.allAttestations().filter((a) => !known.has(attestationKey(a.attestation)));
      if (fresh.length === 0) return;
      node.merge(reply);
      result.changed = true;
      for (const { attestation } of fresh) {
        const key = attestationKey(attestation);
        if (known.has(key)) continue;
        known.add(key);
        result.added.push({ calendar, attestation });
      }
    });
  }
  const complete = ts.isComplete();
  if (asked.size === 0 && !complete) {
    const why = [...skipped].map(([uri, reason]) => `${uri} is ${reason}`).join('; ');
    throw new LightproofError(
      'LP_OTS_UPGRADE_NO_CALENDAR',
      why
        ? `No calendar could be asked to upgrade this proof: ${why}.`
        : 'The proof names no calendar to ask (it has no pending attestation) and is not complete; it cannot be upgraded.',
      { details: { skipped: [...skipped.keys()] } },
    );
  }
  return { ...result, complete, skipped: [...skipped].map(([uri, reason]) => ({ uri, reason })) };
}

/**
 * Every node with a pending attestation. The reference stops at the first attested node on a path;
 * going on finds calendars that hand a commitment on to another calendar, and `asked` keeps each
 * question to one.
 */
function* pendingNodes(ts: Timestamp): Generator<Timestamp> {
  if (ts.attestations.some((a) => a.kind === 'pending')) yield ts;
  for (const [, child] of ts.ops) yield* pendingNodes(child);
}

async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
