/**
 * The agent's journal, copied into its Merkle log. The store stays the source of truth: each change
 * commits there first, then its events are appended to the log in journal order (`seq`). A log that
 * fails or a crash between the two loses nothing: the next sync, or the next open, appends what the
 * log is missing, found from the `seq` of the last wallet event the log holds.
 *
 * Seqs can become visible out of order, and some never do: in PostgreSQL a sequence value is taken
 * when a row is inserted, not when its transaction commits, and a rolled-back transaction burns its
 * value. So the copy is strictly in seq order and never moves past a missing seq while it may still
 * commit: with 9 copied, 11 visible and 10 missing, 11 waits. A missing seq is taken as never to come
 * (and the copy moves on) once it has been missing for the grace period, counted from the `at` of the
 * first event above it or from when this copier first saw the gap, whichever is earlier; the first
 * lets short-lived processes, which each see a gap only briefly, still get past a burned seq (it takes
 * the writers' clocks to agree with this one to well within the grace). The log's
 * last wallet event is therefore the whole copy state: every seq at or below it is in the log or was
 * given up, none above it is, so a restart neither copies an event twice nor skips one.
 */
import { isLightproofError } from '../core/errors.js';
import { type MerkleLog, openLog, readEntry, walletEventEntry } from '../provenance/index.js';
import type { WalletEvent, WalletStore } from './types.js';

/** Events appended per log write; bounds memory when catching up on a long journal. */
const BATCH = 1000;

/**
 * A wallet transaction takes milliseconds (a few statements under one lock); a seq still missing a
 * minute later belongs to a transaction that rolled back or died.
 */
const GRACE_MS = 60_000;

export type JournalSink = Pick<MerkleLog, 'size' | 'entry' | 'appendMany' | 'close'>;

export interface JournalLogOptions {
  /** How long a missing seq may stay missing before the copy moves past it; 60 s by default. */
  graceMs?: number;
  /** The clock, in milliseconds since the epoch; Date.now by default. */
  now?: () => number;
}

export class JournalLog {
  readonly #store: WalletStore;
  readonly #log: JournalSink;
  readonly #onError: (err: unknown) => void;
  readonly #graceMs: number;
  readonly #now: () => number;
  /** The seq of the last event copied or given up; unknown until read from the log. */
  #lastSeq: number | undefined;
  /** The lowest missing seq the copy waits on, and when this copier first saw it missing. */
  #gap: { seq: number; seenAt: number } | undefined;
  /** A sync at the moment the gap expires, so an idle process still copies what waits behind it. */
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  #syncing: Promise<void> = Promise.resolve();

  constructor(
    store: WalletStore,
    log: JournalSink,
    onError: (err: unknown) => void,
    options: JournalLogOptions = {},
  ) {
    this.#store = store;
    this.#log = log;
    this.#onError = onError;
    this.#graceMs = options.graceMs ?? GRACE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Appends every journal event the log does not hold yet. Never rejects; failures go to onError. */
  sync(): Promise<void> {
    this.#syncing = this.#syncing.then(() => this.#copy()).catch(this.#onError);
    return this.#syncing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.sync();
    await this.#log.close();
  }

  async #copy(): Promise<void> {
    clearTimeout(this.#retry);
    let after = this.#lastSeq ?? this.#lastLoggedSeq();
    try {
      for (;;) {
        const events = await this.#store.events({ afterSeq: after, limit: BATCH });
        const ready = this.#ready(after, events);
        if (ready.length > 0) {
          await this.#log.appendMany(ready.map((e) => walletEventEntry(e)));
          after = ready[ready.length - 1]!.seq;
          this.#lastSeq = after;
        }
        if (ready.length < events.length || events.length < BATCH) break;
      }
    } catch (err) {
      // Whatever failed, the log itself says what it holds: read it again on the next sync.
      this.#lastSeq = undefined;
      throw err;
    }
  }

  /** The leading EVENTS (in seq order, all above AFTER) that may go into the log now. */
  #ready(after: number, events: readonly WalletEvent[]): readonly WalletEvent[] {
    const now = this.#now();
    let expected = after + 1;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.seq !== expected && !this.#gapExpired(expected, event, now)) return events.slice(0, i);
      expected = event.seq + 1;
    }
    return events;
  }

  /** Whether MISSING (and every seq up to NEXT's) may be given up; if not, a sync is set for when it may. */
  #gapExpired(missing: number, next: WalletEvent, now: number): boolean {
    if (this.#gap?.seq !== missing) this.#gap = { seq: missing, seenAt: now };
    const expiresAt = Math.min(this.#gap.seenAt, next.at * 1000) + this.#graceMs;
    if (now >= expiresAt) return true;
    if (!this.#closed) {
      this.#retry = setTimeout(() => void this.sync(), Math.max(1, expiresAt - now));
      this.#retry.unref();
    }
    return false;
  }

  /** Entries the agent appended itself (`lightproof log append`) are passed over. */
  #lastLoggedSeq(): number {
    for (let i = this.#log.size() - 1; i >= 0; i--) {
      const entry = readEntry(this.#log.entry(i));
      if (entry.type === 'wallet-event') return entry.seq;
    }
    return 0;
  }
}

/**
 * Opens (or starts) the journal log in DIR; a new log gets a random origin, so two agents' logs differ.
 * Null when another process holds the log: that process copies every event, this one's included, on
 * its next sync, since it reads them from the shared store.
 */
export async function openJournalLog(
  dir: string,
  store: WalletStore,
  onError: (err: unknown) => void,
  options: JournalLogOptions = {},
): Promise<JournalLog | null> {
  let log: MerkleLog;
  try {
    log = await openLog(dir);
  } catch (err) {
    if (isLightproofError(err, 'LP_LOG_LOCKED')) return null;
    if (!isLightproofError(err, 'LP_LOG_NOT_FOUND')) throw err;
    const suffix = Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex');
    log = await openLog(dir, { create: true, origin: `lightproof.local/agent-log-${suffix}` });
  }
  const journal = new JournalLog(store, log, onError, options);
  await journal.sync();
  return journal;
}

const CHANGES: ReadonlySet<PropertyKey> = new Set([
  'begin',
  'approve',
  'transition',
  'setPolicy',
  'setFrozen',
]);

/** STORE, with every change followed by a sync of the journal into the log, and close closing both. */
export function journaledStore(store: WalletStore, journal: JournalLog): WalletStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      if (prop === 'close') {
        return async () => {
          await journal.close();
          await method();
        };
      }
      if (!CHANGES.has(prop)) return method;
      return async (...args: unknown[]) => {
        const result = await method(...args);
        await journal.sync();
        return result;
      };
    },
  });
}
