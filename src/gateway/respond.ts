/**
 * Sends the upstream's response to the client. A response that needs its body read (for a receipt's
 * digest or a per-token price) is buffered up to a limit, so the receipt can travel as a header; an
 * event stream or a larger body is streamed instead, and its receipt follows as an HTTP trailer.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Msat, msat } from '../core/money.js';
import type { VerifiedToken } from '../l402/index.js';
import { RECEIPT_HEADER, type ReceiptFields } from '../provenance/index.js';
import type { ServiceConfig, UsagePricing } from './config.js';
import { downstreamHeaders } from './proxy.js';
import { priceForUsage, type Usage, UsageSniffer, usageFromJson } from './usage.js';

export interface Hasher {
  update(bytes: Uint8Array): void;
  digest(): string;
}

/** What the gateway needs from a receipt signer. */
export interface ReceiptIssuer {
  requestHasher(method: string, pathAndQuery: string): Hasher;
  responseHasher(status: number): Hasher;
  sign(fields: ReceiptFields & { time: number }): string;
  /** Appends a signed receipt to the provider's log; resolves once durable and never rejects. */
  record?(header: string): Promise<void>;
}

export interface ReceiptContext {
  signer: ReceiptIssuer;
  service: ServiceConfig;
  token: VerifiedToken;
  /** What this response cost: the token's price, or the credit it drew. */
  priceMsat: Msat;
  request: Hasher;
  now: () => number;
}

export interface RespondOptions {
  res: ServerResponse;
  upstream: IncomingMessage;
  receipt: ReceiptContext | null;
  usage: UsagePricing | null;
  /** Credit already drawn for this request (a reservation when usage-priced). */
  drawnMsat: Msat;
  maxBufferBytes: number;
}

/** Returns how much more (or, when negative, less) credit the request should draw than it did. */
export async function respondUpstream(o: RespondOptions): Promise<{ deltaMsat: bigint }> {
  const { res, upstream } = o;
  const status = upstream.statusCode ?? 502;
  const headers = downstreamHeaders(upstream.headers);
  if (!o.receipt && !o.usage) {
    res.writeHead(status, headers);
    await relay(upstream, res);
    return { deltaMsat: 0n };
  }
  const hasher = o.receipt?.signer.responseHasher(status) ?? null;
  const isStream = /^text\/event-stream/i.test(String(upstream.headers['content-type'] ?? ''));
  const sniffer = o.usage && isStream ? new UsageSniffer() : null;
  const buffered: Buffer[] = [];
  let size = 0;
  let streaming = false;

  const startStreaming = (): void => {
    streaming = true;
    delete headers['content-length'];
    if (o.receipt) headers.trailer = RECEIPT_HEADER;
    res.writeHead(status, headers);
    for (const b of buffered) res.write(b);
    buffered.length = 0;
  };
  if (isStream) startStreaming();

  for await (const chunk of upstream as AsyncIterable<Buffer>) {
    hasher?.update(chunk);
    sniffer?.push(chunk);
    if (streaming) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      continue;
    }
    buffered.push(chunk);
    size += chunk.length;
    if (size > o.maxBufferBytes) startStreaming();
  }

  let deltaMsat = 0n;
  let priceMsat = o.receipt?.priceMsat ?? msat(0);
  if (o.usage) {
    const usage: Usage | null = sniffer
      ? sniffer.finish()
      : streaming
        ? null
        : usageFromJson(Buffer.concat(buffered));
    // No usage reported: the reservation stands as the price.
    const cost = usage ? priceForUsage(usage, o.usage) : o.drawnMsat;
    deltaMsat = cost - o.drawnMsat;
    priceMsat = cost;
  }
  const receiptHeader = o.receipt && hasher ? sign(o.receipt, priceMsat, hasher.digest()) : null;
  // Logged before it is sent, so every receipt a client holds is in the log (group commit keeps it short).
  if (receiptHeader && o.receipt?.signer.record) await o.receipt.signer.record(receiptHeader);
  if (streaming) {
    if (receiptHeader) res.addTrailers({ [RECEIPT_HEADER]: receiptHeader });
    res.end();
  } else {
    const body = Buffer.concat(buffered);
    const out: OutgoingHttpHeaders = { ...headers, 'content-length': String(body.length) };
    if (receiptHeader) out[RECEIPT_HEADER] = receiptHeader;
    res.writeHead(status, out);
    res.end(body);
  }
  return { deltaMsat };
}

function sign(r: ReceiptContext, priceMsat: Msat, responseDigest: string): string {
  return r.signer.sign({
    service: r.service.name,
    priceMsat,
    paymentHash: r.token.paymentHash,
    tokenId: r.token.tokenId,
    requestDigest: r.request.digest(),
    responseDigest,
    time: r.now(),
  });
}

/**
 * Pipes the upstream's body to the client. Plain pipe() rather than stream.pipeline: on Node 20
 * pipeline builds an AbortController and an exception per call, an eighth of the gateway's CPU.
 * Rejects when the upstream breaks mid-body; a client that goes away stops the upstream read.
 */
function relay(upstream: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = () => {
      if (!res.writableFinished) upstream.destroy();
      resolve();
    };
    upstream.once('error', reject);
    upstream.once('aborted', () => reject(new Error('the upstream closed the connection mid-body')));
    res.once('close', onClose);
    upstream.pipe(res);
  });
}
