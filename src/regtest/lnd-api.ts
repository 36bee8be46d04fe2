/**
 * The few lnd REST calls the harness makes, each parsed at the boundary into a small typed value.
 * lnd's JSON: snake_case names, int64 as strings, bytes as base64.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LightproofError } from '../core/index.js';
import { type HttpTarget, requestJson, streamJson } from '../lightning/http.js';
import { LndNode } from '../lightning/index.js';
import type { LndNodeInfo } from './state.js';

/** An lnd REST endpoint with the node's CA and, unless omitted, its admin macaroon. */
export function lndTarget(
  node: Pick<LndNodeInfo, 'restUrl' | 'tlsCertPath' | 'adminMacaroonPath'>,
): HttpTarget {
  return {
    url: node.restUrl,
    tlsCert: readFileSync(node.tlsCertPath),
    headers: { 'Grpc-Metadata-macaroon': readFileSync(node.adminMacaroonPath).toString('hex') },
  };
}

/** Lightproof's LND client for a node of the network. */
export function lndNodeClient(
  node: Pick<LndNodeInfo, 'restUrl' | 'tlsCertPath' | 'adminMacaroonPath'>,
): LndNode {
  return new LndNode({
    restUrl: node.restUrl,
    macaroonPath: node.adminMacaroonPath,
    tlsCertPath: node.tlsCertPath,
  });
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new LightproofError(
      'LP_REGTEST_LND_BAD_REPLY',
      `lnd answered ${what} in an unexpected shape (${parsed.error.issues[0]?.message}). Check that lnd is v0.21.x.`,
    );
  }
  return parsed.data;
}

const ErrorBody = z.object({ message: z.string() }).partial();

export async function lndCall<T>(
  target: HttpTarget,
  method: 'GET' | 'POST',
  path: string,
  schema: z.ZodType<T>,
  body?: unknown,
): Promise<T> {
  const res = await requestJson(target, method, path, body, { timeoutMs: 30_000 });
  if (res.status < 200 || res.status >= 300) {
    const message = ErrorBody.safeParse(res.body).data?.message ?? JSON.stringify(res.body);
    throw new LightproofError(
      'LP_REGTEST_LND_RPC',
      `lnd at ${target.url} refused ${method} ${path} (HTTP ${res.status}): ${message}. See that node's log.`,
      { details: { status: res.status, message } },
    );
  }
  return parse(schema, res.body, `${method} ${path}`);
}

const int = z.union([z.string(), z.number()]).transform((v) => Number(v));

export async function walletState(url: string, tlsCert: Buffer): Promise<string> {
  const s = await lndCall({ url, tlsCert }, 'GET', '/v1/state', z.object({ state: z.string() }));
  return s.state;
}

const GetInfo = z.object({
  identity_pubkey: z.string(),
  block_height: int,
  synced_to_chain: z.boolean(),
  num_active_channels: int,
  num_peers: int,
});
export type GetInfo = z.infer<typeof GetInfo>;

export const getInfo = (t: HttpTarget): Promise<GetInfo> => lndCall(t, 'GET', '/v1/getinfo', GetInfo);

export async function newAddress(t: HttpTarget): Promise<string> {
  const r = await lndCall(
    t,
    'GET',
    '/v1/newaddress?type=WITNESS_PUBKEY_HASH',
    z.object({ address: z.string() }),
  );
  return r.address;
}

export async function confirmedBalance(t: HttpTarget): Promise<bigint> {
  const r = await lndCall(t, 'GET', '/v1/balance/blockchain', z.object({ confirmed_balance: z.string() }));
  return BigInt(r.confirmed_balance);
}

export async function connectPeer(t: HttpTarget, pubkey: string, host: string): Promise<void> {
  try {
    await lndCall(t, 'POST', '/v1/peers', z.unknown(), {
      addr: { pubkey, host },
      perm: false,
      timeout: '10',
    });
  } catch (err) {
    // Both sides may dial each other; a connection either way is what we want.
    if (!(err instanceof LightproofError && /already connected/i.test(err.message))) throw err;
  }
}

/** Opens a public channel and returns its channel point "txid:index" once the funding tx is broadcast. */
export async function openChannel(
  t: HttpTarget,
  pubkey: string,
  sats: bigint,
  pushSats: bigint,
): Promise<string> {
  const r = await lndCall(
    t,
    'POST',
    '/v1/channels',
    z.object({ funding_txid_bytes: z.string(), output_index: int }),
    {
      node_pubkey: Buffer.from(pubkey, 'hex').toString('base64'),
      local_funding_amount: sats.toString(),
      push_sat: pushSats.toString(),
      sat_per_vbyte: '2',
      private: false,
    },
  );
  // lnd sends the txid in internal byte order, the reverse of how txids are displayed.
  const txid = Buffer.from(r.funding_txid_bytes, 'base64').reverse().toString('hex');
  return `${txid}:${r.output_index}`;
}

const Channel = z.object({ channel_point: z.string(), chan_id: z.string(), remote_pubkey: z.string() });
export type Channel = z.infer<typeof Channel>;

export async function activeChannels(t: HttpTarget): Promise<Channel[]> {
  const r = await lndCall(
    t,
    'GET',
    '/v1/channels?active_only=true',
    z.object({ channels: z.array(Channel) }),
  );
  return r.channels;
}

/** True once both directions of the channel carry a policy in T's graph, so it can route over it. */
export async function edgeHasPolicies(t: HttpTarget, chanId: string): Promise<boolean> {
  const r = await lndCall(
    t,
    'GET',
    `/v1/graph/edge/${chanId}`,
    z.object({ node1_policy: z.unknown(), node2_policy: z.unknown() }),
  );
  return r.node1_policy != null && r.node2_policy != null;
}

export async function addInvoice(
  t: HttpTarget,
  sats: number,
  memo: string,
): Promise<{ paymentRequest: string }> {
  const r = await lndCall(t, 'POST', '/v1/invoices', z.object({ payment_request: z.string() }), {
    value: String(sats),
    memo,
  });
  return { paymentRequest: r.payment_request };
}

const Payment = z.object({ status: z.string(), failure_reason: z.string().optional() });

/** Pays through /v2/router/send and returns the final status (SUCCEEDED or FAILED with its reason). */
export async function payInvoice(
  t: HttpTarget,
  paymentRequest: string,
  feeLimitSat: number,
  timeoutSeconds: number,
): Promise<{ status: string; failureReason: string }> {
  const body = {
    payment_request: paymentRequest,
    fee_limit_sat: String(feeLimitSat),
    timeout_seconds: timeoutSeconds,
    no_inflight_updates: true,
  };
  const signal = AbortSignal.timeout((timeoutSeconds + 10) * 1000);
  for await (const line of streamJson(t, 'POST', '/v2/router/send', body, { signal })) {
    const update = line.body as { result?: unknown; error?: { message?: unknown }; message?: unknown };
    if (update.error !== undefined || line.status >= 300) {
      const message = update.error?.message ?? update.message;
      return { status: 'FAILED', failureReason: String(message) };
    }
    const p = parse(Payment, update.result, 'POST /v2/router/send');
    if (p.status === 'SUCCEEDED' || p.status === 'FAILED') {
      return { status: p.status, failureReason: p.failure_reason ?? '' };
    }
  }
  return { status: 'FAILED', failureReason: 'the payment stream ended without a final status' };
}
