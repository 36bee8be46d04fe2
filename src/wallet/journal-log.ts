/**
 * The agent's journal, copied into its Merkle log. The store stays the source of truth: each change
 * commits there first, then its events are appended to the log in journal order (`seq`). A log that
 * fails or a crash between the two loses nothing: the next sync, or the next open, appends what the
 * log is missing, found from the `seq` of the last wallet event the log holds.
 */
import { isLightproofError } from '../core/errors.js';
import { type MerkleLog, openLog, readEntry, walletEventEntry } from '../provenance/index.js';
import type { WalletStore } from './types.js';

/** Events appended per log write; bounds memory when catching up on a long journal. */
const BATCH = 1000;

export type JournalSink = Pick<MerkleLog, 'size' | 'entry' | 'appendMany' | 'close'>;

export class JournalLog {
  readonly #store: WalletStore;
  readonly #log: JournalSink;
  readonly #onError: (err: unknown) => void;
  #lastSeq: number | undefined;
  #syncing: Promise<void> = Promise.resolve();

  constructor(store: WalletStore, log: JournalSink, onError: (err: unknown) => void) {
    this.#store = store;
    this.#log = log;
    this.#onError = onError;
  }

  /** Appends every journal event the log does not hold yet. Never rejects; failures go to onError. */
  sync(): Promise<void> {
    this.#syncing = this.#syncing.then(() => this.#copy()).catch(this.#onError);
    return this.#syncing;
  }

  async close(): Promise<void> {
    await this.sync();
    await this.#log.close();
  }

  async #copy(): Promise<void> {
    let after = this.#lastSeq ?? this.#lastLoggedSeq();
    for (;;) {
      const events = await this.#store.events({ afterSeq: after, limit: BATCH });
      if (events.length === 0) break;
      await this.#log.appendMany(events.map((e) => walletEventEntry(e)));
      after = events[events.length - 1]!.seq;
      this.#lastSeq = after;
      if (events.length < BATCH) break;
    }
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
  const journal = new JournalLog(store, log, onError);
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
