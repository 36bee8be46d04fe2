/**
 * A small but honest OpenTimestamps calendar for tests, on 127.0.0.1 and a port the system picks:
 * `POST /digest` answers with a real subtree (a random nonce appended, sha256, a pending attestation
 * naming this calendar); `GET /timestamp/<hex>` answers 404 until the test completes it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { append, SHA256 } from './ops.js';
import { Timestamp, writeTimestamp } from './timestamp.js';

export interface FakeCalendar {
  readonly url: string;
  /** Digests submitted, in arrival order. */
  readonly received: Uint8Array[];
  /** Requests seen, as `METHOD path`. */
  readonly requests: string[];
  /** Commitments handed out in pending attestations, hex. */
  readonly commitments: string[];
  /** From now on, GET /timestamp answers these commitments (hex; default every one so far) with `reply`. */
  complete(reply: (commitment: Uint8Array) => Timestamp, which?: readonly string[]): void;
  close(): Promise<void>;
}

export interface FakeCalendarOptions {
  /** The URI written into pending attestations; default this calendar's own URL. */
  uri?: (url: string) => string;
  /** Answer a request yourself (return true) instead of the calendar, e.g. to misbehave. */
  intercept?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;
}

/** A reply that anchors the commitment in "block" height: sha256, then a Bitcoin attestation. */
export function bitcoinReply(height: number): (commitment: Uint8Array) => Timestamp {
  return (commitment) => {
    const ts = new Timestamp(commitment);
    ts.add(SHA256).attest({ kind: 'bitcoin', height });
    return ts;
  };
}

export async function startFakeCalendar(opts: FakeCalendarOptions = {}): Promise<FakeCalendar> {
  const received: Uint8Array[] = [];
  const requests: string[] = [];
  const commitments: string[] = [];
  const done = new Map<string, (c: Uint8Array) => Timestamp>();
  let url = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push(`${req.method} ${req.url}`);
      if (opts.intercept?.(req, res, body)) return;
      if (req.method === 'POST' && req.url === '/digest') {
        received.push(new Uint8Array(body));
        const ts = new Timestamp(new Uint8Array(body));
        const commitment = ts.add(append(randomBytes(16))).add(SHA256);
        commitment.attest({ kind: 'pending', uri: opts.uri ? opts.uri(url) : url });
        commitments.push(bytesToHex(commitment.msg));
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(writeTimestamp(ts));
        return;
      }
      const m = /^\/timestamp\/([0-9a-f]+)$/.exec(req.url ?? '');
      const reply = m ? done.get(m[1]!) : undefined;
      if (m && reply) {
        res.writeHead(200).end(writeTimestamp(reply(hexToBytes(m[1]!))));
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Pending confirmation in Bitcoin blockchain');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    requests,
    commitments,
    complete(reply, which = commitments) {
      for (const c of which) done.set(c, reply);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
