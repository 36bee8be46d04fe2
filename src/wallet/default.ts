/**
 * `l402Fetch`: fetch() that pays L402 challenges from the wallet in the default data directory
 * ($LIGHTPROOF_DATA_DIR or the per-user one), opened on first use and kept for the process.
 */
import type { L402Fetch } from '../l402/index.js';
import { type OpenedWallet, openWallet } from './open.js';

let shared: Promise<{ opened: OpenedWallet; fetch: L402Fetch }> | undefined;

export async function l402Fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  shared ??= openWallet().then((opened) => ({ opened, fetch: opened.wallet.fetch() }));
  const { fetch } = await shared.catch((err) => {
    shared = undefined;
    throw err;
  });
  return fetch(input, init);
}

/** Closes the wallet `l402Fetch` opened (its database and node), e.g. before the process exits. */
export async function closeDefaultWallet(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current) await (await current).opened.close();
}
