/**
 * Revoked token ids, held in memory so checking one costs a Set lookup, and refreshed from the shared
 * state so a revocation made through any gateway process reaches every other within one interval.
 */
import type { Logger } from 'pino';
import type { GatewayState } from './state/types.js';

export class RevocationCache {
  readonly #revoked = new Set<string>();
  readonly #state: GatewayState;
  readonly #log: Logger;
  #cursor = 0;
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;

  constructor(state: GatewayState, log: Logger) {
    this.#state = state;
    this.#log = log;
  }

  /** Loads every revocation, then polls every INTERVAL ms. */
  async start(intervalMs: number): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) =>
        this.#log.warn({ err: String(err) }, 'could not refresh revocations; retrying'),
      );
    }, intervalMs);
    this.#timer.unref();
  }

  has = (tokenId: string): boolean => this.#revoked.has(tokenId);

  /** Marks a token revoked here at once (the state is written by the caller). */
  add(tokenId: string): void {
    this.#revoked.add(tokenId);
  }

  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        for (;;) {
          const { tokenIds, cursor } = await this.#state.revokedSince(this.#cursor);
          for (const id of tokenIds) this.#revoked.add(id);
          const advanced = cursor !== this.#cursor;
          this.#cursor = cursor;
          if (!advanced || tokenIds.length === 0) break;
        }
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
