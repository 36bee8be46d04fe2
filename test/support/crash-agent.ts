/**
 * An agent that dies by SIGKILL the instant its node reports a payment succeeded: after the node paid,
 * before the journal could record it. The regtest test restarts the wallet on the same journal.
 */
import { msat } from '../../src/core/money.js';
import { type LightningNode, LndNode } from '../../src/lightning/index.js';
import { SqliteWalletStore, Wallet } from '../../src/wallet/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const lnd = new LndNode({
  restUrl: env('CRASH_LND_REST'),
  macaroonPath: env('CRASH_LND_MACAROON'),
  tlsCertPath: env('CRASH_LND_TLS'),
});
const node: LightningNode = {
  getInfo: () => lnd.getInfo(),
  createInvoice: (req) => lnd.createInvoice(req),
  lookupInvoice: (hash) => lnd.lookupInvoice(hash),
  lookupPayment: (hash) => lnd.lookupPayment(hash),
  balance: () => lnd.balance(),
  subscribeInvoices: (opts) => lnd.subscribeInvoices(opts),
  close: () => lnd.close(),
  payInvoice: async (request, opts) => {
    await lnd.payInvoice(request, opts);
    process.kill(process.pid, 'SIGKILL');
    return new Promise(() => {});
  },
};

const wallet = await Wallet.open({ node, store: SqliteWalletStore.open(env('CRASH_DB')) });
await wallet.fetch({ maxPriceMsat: msat(1_000_000n) })(env('CRASH_URL'));
throw new Error('unreachable: the agent should have been killed while paying');
