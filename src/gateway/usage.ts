/**
 * Tokens used, read from an OpenAI-compatible response, and the price they come to.
 * Shapes read (anything else is "no usage", never an error, since the upstream decides its body):
 *   chat completions, completions, embeddings: {"usage":{"prompt_tokens","completion_tokens"?,"total_tokens"?}}
 *   Responses API:                             {"usage":{"input_tokens","output_tokens","total_tokens"?}}
 *   streams (text/event-stream): the last event carrying either shape, at top level or under
 *   "response" (the Responses API's `response.completed` / `response.incomplete` events).
 */
import { LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';

export interface Usage {
  /** Prompt tokens (chat, completions, embeddings) or input tokens (Responses API). */
  inputTokens: number;
  /** Completion or output tokens, reasoning included; 0 for embeddings. */
  outputTokens: number;
  /** As reported, or input + output when the upstream leaves it out. */
  totalTokens: number;
}

export interface UsageRates {
  inputMsatPerMillion: bigint;
  outputMsatPerMillion: bigint;
  /** The least a request costs, whatever it used. */
  minimumMsat?: bigint;
}

/** Far above any real chunk of a model's stream; larger events are skipped, not buffered. */
export const MAX_SSE_EVENT_BYTES = 1024 * 1024;

const MILLION = 1_000_000n;
const LF = 0x0a;
const CR = 0x0d;
/** Not fatal: a stray byte in an event should cost that event, not the whole stream. */
const decoder = new TextDecoder('utf-8');

/** Rounds the total up to the next msat, so a provider is never paid less than its rates say. */
export function priceForUsage(usage: Usage, rates: UsageRates): Msat {
  const minimum = rates.minimumMsat ?? 0n;
  if (rates.inputMsatPerMillion < 0n || rates.outputMsatPerMillion < 0n || minimum < 0n) {
    throw new LightproofError(
      'LP_USAGE_BAD_RATE',
      'Per-token rates and the minimum must not be negative; fix the service price.',
    );
  }
  const scaled =
    BigInt(usage.inputTokens) * rates.inputMsatPerMillion +
    BigInt(usage.outputTokens) * rates.outputMsatPerMillion;
  const cost = (scaled + MILLION - 1n) / MILLION;
  return msat(cost > minimum ? cost : minimum);
}

/** Usage in a whole JSON response body; null if the body is not JSON or reports none. */
export function usageFromJson(bytes: Uint8Array): Usage | null {
  return usageOf(parseJson(bytes));
}

/**
 * Usage in a whole response body, read as JSON or as an event stream by its Content-Type; null for
 * any other type. Content codings must already be removed.
 */
export function usageFromResponse(contentType: string | null | undefined, body: Uint8Array): Usage | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/event-stream') {
    const sniffer = new UsageSniffer();
    sniffer.push(body);
    return sniffer.finish();
  }
  if (type === 'application/json' || /^application\/[^/]+\+json$/.test(type)) return usageFromJson(body);
  return null;
}

/**
 * Reads usage from a Server-Sent Events stream as it passes by, chunk by chunk, without keeping
 * the stream: only the event being read is held, up to `maxEventBytes`. Lines end in LF, CRLF or
 * CR, and may be split across chunks at any byte. The usage of the last event carrying one wins.
 */
export class UsageSniffer {
  readonly #maxEventBytes: number;
  #usage: Usage | null = null;
  /** The current line's bytes, and the current event's data lines (already decoded). */
  #line: Uint8Array[] = [];
  #lineBytes = 0;
  #data: string[] = [];
  #eventBytes = 0;
  /** The event grew past the cap: ignore it until the blank line that ends it. */
  #skipping = false;
  /** The last byte seen was CR, so an LF first in the next chunk ends nothing new. */
  #afterCR = false;

  constructor(opts: { maxEventBytes?: number } = {}) {
    this.#maxEventBytes = opts.maxEventBytes ?? MAX_SSE_EVENT_BYTES;
  }

  push(chunk: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF && this.#afterCR) {
        this.#afterCR = false;
        start = i + 1;
        continue;
      }
      this.#afterCR = false;
      if (b !== LF && b !== CR) continue;
      this.#append(chunk.subarray(start, i));
      this.#endLine();
      this.#afterCR = b === CR;
      start = i + 1;
    }
    this.#append(chunk.subarray(start));
  }

  /**
   * The usage of the last complete event that carried one; safe to call mid-stream (a client that
   * hung up). An event not closed by a blank line is dropped, as EventSource and OpenAI's SDK drop it.
   */
  finish(): Usage | null {
    return this.#usage;
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#lineBytes += bytes.length;
    if (this.#skipping) return;
    if (this.#eventBytes + this.#lineBytes > this.#maxEventBytes) {
      this.#skipping = true;
      this.#line = [];
      this.#data = [];
      return;
    }
    // Copied: the caller may reuse or transfer the chunk's buffer once push returns.
    this.#line.push(bytes.slice());
  }

  #endLine(): void {
    const lineBytes = this.#lineBytes;
    // A skipped line is not kept, so not decoded either.
    const line = this.#skipping ? '' : decoder.decode(concat(this.#line, lineBytes));
    this.#line = [];
    this.#lineBytes = 0;
    if (lineBytes === 0) {
      this.#dispatch(this.#data.join('\n'));
      this.#data = [];
      this.#eventBytes = 0;
      this.#skipping = false;
      return;
    }
    this.#eventBytes += lineBytes;
    // Comments (":…") have an empty field name, so only data lines stay;
    // the optional space after "data:" is JSON whitespace.
    const colon = line.indexOf(':');
    if ((colon === -1 ? line : line.slice(0, colon)) !== 'data') return;
    this.#data.push(colon === -1 ? '' : line.slice(colon + 1));
  }

  /** `[DONE]` and any other data that is not JSON fail the parse and are passed over. */
  #dispatch(data: string): void {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const usage = usageOf(json) ?? (isRecord(json) ? usageOf(json.response) : null);
    if (usage) this.#usage = usage;
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A count of tokens: a safe, non-negative integer; anything else means the usage is unreadable. */
function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Reads `holder.usage`; a present but unreadable field makes the whole usage null. */
function usageOf(holder: unknown): Usage | null {
  if (!isRecord(holder) || !isRecord(holder.usage)) return null;
  const u = holder.usage;
  const chatShape = 'prompt_tokens' in u;
  const input = count(chatShape ? u.prompt_tokens : u.input_tokens);
  const outputField = chatShape ? u.completion_tokens : u.output_tokens;
  // Embeddings report no completion tokens; the Responses API always reports output tokens.
  const output = outputField === undefined && chatShape ? 0 : count(outputField);
  const total = u.total_tokens === undefined ? null : count(u.total_tokens);
  if (input === null || output === null || (u.total_tokens !== undefined && total === null)) return null;
  const sum = input + output;
  if (!Number.isSafeInteger(sum)) return null;
  return { inputTokens: input, outputTokens: output, totalTokens: total ?? sum };
}
