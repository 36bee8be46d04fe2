/**
 * Collects digests and closes a round every interval: one Merkle tree, one commitment, one store
 * transaction (group commit). Each submitter is answered only after that transaction has committed,
 * so an acknowledged digest is never lost; if the write fails, the whole round is refused instead.
 */
import type { Logger } from 'pino';
import { LightproofError } from '../core/errors.js';
import { buildRound } from './round.js';
import type { CalendarStore } from './store/types.js';

export type SubmitCallback = (err: LightproofError | null, reply?: Buffer) => void;

export interface AggregatorOptions {
  store: CalendarStore;
  hmacKey: Uint8Array;
  /** Written into every pending attestation. */
  uri: string;
  intervalMs: number;
  /** Digests queued at most; beyond that submit() refuses, and the server answers 503. */
  maxPending: number;
  log: Logger;
  /** Unix seconds. */
  now?: () => number;
}

export interface RoundSummary {
  readonly id: number;
  readonly commitment: Uint8Array;
  readonly time: number;
  readonly digests: number;
  /** From closing the round to its commit, in milliseconds. */
  readonly commitMs: number;
}

export class Aggregator {
  private digests: Uint8Array[] = [];
  private callbacks: SubmitCallback[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private last: RoundSummary | null = null;
  private readonly now: () => number;

  constructor(private readonly o: AggregatorOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  start(): void {
    this.schedule(this.o.intervalMs);
  }

  /** Queues a digest; false when the queue is full or the calendar is closing. */
  submit(digest: Uint8Array, done: SubmitCallback): boolean {
    if (this.closed || this.digests.length >= this.o.maxPending) return false;
    this.digests.push(digest);
    this.callbacks.push(done);
    return true;
  }

  get queued(): number {
    return this.digests.length;
  }

  get lastRound(): RoundSummary | null {
    return this.last;
  }

  /** Stops taking digests and closes one last round for those already queued. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.closeRound();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      const started = performance.now();
      this.running = this.closeRound().finally(() => {
        this.running = null;
        this.schedule(Math.max(0, this.o.intervalMs - (performance.now() - started)));
      });
    }, ms);
  }

  private async closeRound(): Promise<void> {
    if (this.digests.length === 0) return;
    const digests = this.digests;
    const callbacks = this.callbacks;
    this.digests = [];
    this.callbacks = [];
    const started = performance.now();
    let replies: readonly Buffer[];
    try {
      const round = buildRound(digests, { time: this.now(), hmacKey: this.o.hmacKey, uri: this.o.uri });
      const id = await this.o.store.addRound({
        time: round.time,
        tip: round.tip,
        commitment: round.commitment,
        digests: digests.length,
        leaves: round.leaves,
      });
      replies = round.replies;
      this.last = {
        id,
        commitment: round.commitment,
        time: round.time,
        digests: digests.length,
        commitMs: performance.now() - started,
      };
    } catch (cause) {
      this.o.log.error({ err: String(cause), digests: digests.length }, 'could not store a round');
      const err = new LightproofError(
        'LP_CAL_STORE_FAILED',
        `The calendar could not store this round (${(cause as Error).message}); nothing was acknowledged. Submit the digest again.`,
        { status: 503, cause },
      );
      for (const cb of callbacks) cb(err);
      return;
    }
    for (let i = 0; i < callbacks.length; i++) callbacks[i]!(null, replies[i]);
  }
}
