import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { satToMsat } from '../../core/money.js';
import type { PaymentRecord } from '../../wallet/index.js';
import { openWallet } from '../../wallet/index.js';
import { parseSats } from '../args.js';
import { dataDir, print } from '../context.js';

interface FetchOptions {
  request?: string;
  header: string[];
  data?: string;
  output?: string;
  maxSats?: string;
  pay: boolean;
  json?: boolean;
  include?: boolean;
  fail?: boolean;
  approvalWait?: string;
  memo?: string;
  walletConfig?: string;
}

export function registerFetch(program: Command): void {
  program
    .command('fetch')
    .description('Fetch a URL like curl, paying its L402 challenge from the agent wallet within its policy')
    .argument('<url>', 'http:// or https:// URL')
    .option('-X, --request <method>', 'HTTP method (default GET, or POST with --data)')
    .option('-H, --header <header>', "a request header, 'Name: value' (repeatable)", collect, [])
    .option('-d, --data <data>', 'request body: text, @file, or @- for stdin')
    .option('-o, --output <file>', 'write the response body to a file instead of stdout')
    .option('--max-sats <sats>', 'the most this one request may pay (the policy still applies)')
    .option('--no-pay', 'only show what the request would cost; pay nothing')
    .option('--json', 'print status, headers, payment and body as one JSON object')
    .option('-i, --include', 'print the response status and headers before the body')
    .option('-f, --fail', 'exit 22 when the response status is 400 or above (as curl does)')
    .option(
      '--approval-wait <seconds>',
      'wait this long for a person to approve a payment above the threshold',
    )
    .option('--memo <text>', 'why the agent pays, shown to the person who approves')
    .option(
      '--wallet-config <file>',
      'wallet config (default: <data>/wallet/config.yaml, else embedded defaults)',
    )
    .addHelpText(
      'after',
      `
A 402 with an L402 challenge is paid once through the wallet (budgets, allowances, approvals,
freeze), and the request is repeated with the credential. The token is kept in the wallet's
journal, so later requests to the same service reuse it without paying again.

Exit status: 0 on a response, 1 with an LP_* code when nothing could be fetched or paid
(e.g. LP_WALLET_BUDGET_EXCEEDED, LP_L402_PRICE_TOO_HIGH, LP_WALLET_APPROVAL_PENDING), 22 with --fail.

Example:
  $ lightproof fetch http://127.0.0.1:8402/v1/chat -d '{"q":"hi"}' -H 'Content-Type: application/json' --max-sats 50
  $ lightproof fetch --no-pay http://127.0.0.1:8402/v1/chat`,
    )
    .action(async (url: string, opts: FetchOptions, cmd: Command) => {
      const target = parseUrl(url);
      const init = requestInit(opts);
      const opened = await openWallet({
        dataDir: dataDir(cmd),
        ...(opts.walletConfig ? { configPath: opts.walletConfig } : {}),
      });
      try {
        const payments: PaymentRecord[] = [];
        const maxSats = opts.maxSats === undefined ? undefined : parseSats(opts.maxSats, '--max-sats');
        const wait = opts.approvalWait === undefined ? undefined : parseSeconds(opts.approvalWait);
        const l402 = opened.wallet.fetch({
          ...(maxSats === undefined ? {} : { maxPriceMsat: satToMsat(maxSats) }),
          ...(wait === undefined ? {} : { approvalWaitMs: wait * 1000 }),
          ...(opts.memo ? { memo: opts.memo } : {}),
          onPayment: (r) => payments.push(r),
        });
        if (!opts.pay) {
          const quote = await l402.quote(target, init).catch((err: unknown) => unreachable(target, err));
          if (!quote.paymentRequired) {
            await quote.response.body?.cancel();
            print(toJson({ payment_required: false, status: quote.response.status }));
            return;
          }
          print(
            toJson({
              payment_required: true,
              price_msat: quote.priceMsat,
              scheme: quote.scheme,
              services: quote.services,
              payment_hash: quote.invoice.paymentHash,
              invoice: quote.invoice.paymentRequest,
              would_pay: quote.refusal === null,
              refusal: quote.refusal ? { code: quote.refusal.code, message: quote.refusal.message } : null,
            }),
          );
          return;
        }
        const res = await l402(target, init).catch((err: unknown) => unreachable(target, err));
        await report(res, payments, opts);
        if (opts.fail && res.status >= 400) process.exitCode = 22;
      } finally {
        await opened.close();
      }
    });
}

async function report(res: Response, payments: PaymentRecord[], opts: FetchOptions): Promise<void> {
  const paid = payments.map((p) => ({
    payment_id: p.id,
    amount_msat: p.amountMsat,
    fee_msat: p.feeMsat,
    payment_hash: p.paymentHash,
  }));
  if (opts.json) {
    const body = opts.output ? await save(res, opts.output) : await res.text();
    print(
      toJson({
        status: res.status,
        headers: Object.fromEntries(res.headers),
        paid,
        ...(opts.output ? { output: opts.output, bytes: body } : { body }),
      }),
    );
    return;
  }
  if (opts.include) {
    process.stdout.write(`HTTP ${res.status} ${res.statusText}\r\n`);
    for (const [k, v] of res.headers) process.stdout.write(`${k}: ${v}\r\n`);
    process.stdout.write('\r\n');
  }
  for (const p of paid) {
    process.stderr.write(
      `paid ${p.amount_msat} msat (+${p.fee_msat ?? 0} msat fee), payment ${p.payment_id}, hash ${p.payment_hash}\n`,
    );
  }
  if (opts.output) await save(res, opts.output);
  else if (res.body) await pipeline(Readable.fromWeb(res.body as never), process.stdout, { end: false });
}

/** Streams the body to a file; resolves with the byte count. */
async function save(res: Response, path: string): Promise<number> {
  let bytes = 0;
  const out = createWriteStream(path);
  const body = res.body ? Readable.fromWeb(res.body as never) : Readable.from([]);
  body.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  await pipeline(body, out);
  return bytes;
}

/** fetch() reports a refused connection, DNS failure or reset as a bare TypeError: say which and what to do. */
function unreachable(url: URL, err: unknown): never {
  if (!(err instanceof TypeError)) throw err;
  const cause = (err.cause as { code?: string; message?: string } | undefined) ?? {};
  throw new LightproofError(
    'LP_FETCH_UNREACHABLE',
    `Could not reach ${url.origin} (${cause.code ?? cause.message ?? err.message}); check the URL and that the server is running. Any payment already made is listed by \`lightproof wallet history\`.`,
    { status: 502, cause: err },
  );
}

function requestInit(opts: FetchOptions): RequestInit {
  const headers = new Headers();
  for (const h of opts.header) {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new LightproofError('LP_CLI_BAD_HEADER', `-H '${h}' is not 'Name: value'.`);
    }
    headers.append(name, h.slice(colon + 1).trim());
  }
  const body = opts.data === undefined ? undefined : readData(opts.data);
  const method = (opts.request ?? (body === undefined ? 'GET' : 'POST')).toUpperCase();
  if (!/^[A-Z]{1,16}$/.test(method)) {
    throw new LightproofError('LP_CLI_BAD_METHOD', `-X '${opts.request}' is not an HTTP method.`);
  }
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new LightproofError('LP_CLI_BAD_METHOD', `A ${method} request cannot carry --data; add -X POST.`);
  }
  return { method, headers, ...(body === undefined ? {} : { body }) };
}

function readData(data: string): Uint8Array {
  if (!data.startsWith('@')) return Buffer.from(data);
  const file = data.slice(1);
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (cause) {
    throw new LightproofError('LP_CLI_BAD_DATA', `Cannot read --data ${data}: ${(cause as Error).message}.`);
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LightproofError('LP_CLI_BAD_URL', `'${text}' is not a URL; write it as http://host/path.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LightproofError('LP_CLI_BAD_URL', `'${text}' is not an http:// or https:// URL.`);
  }
  return url;
}

function parseSeconds(value: string): number {
  if (!/^\d{1,4}$/.test(value)) {
    throw new LightproofError('LP_CLI_BAD_SECONDS', `--approval-wait '${value}' is not 0-9999 seconds.`);
  }
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
