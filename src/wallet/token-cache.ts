import type { CachedToken, TokenCache } from '../l402/index.js';
import type { WalletStore } from './types.js';

/** L402 tokens kept in the journal's database, so they outlive the process that bought them. */
export class StoreTokenCache implements TokenCache {
  constructor(private readonly store: WalletStore) {}
  async list(origin: string): Promise<CachedToken[]> {
    return (await this.store.listTokens(origin)).map((t) => JSON.parse(t.json) as CachedToken);
  }
  async put(entry: CachedToken): Promise<void> {
    await this.store.putToken({ key: entry.key, origin: entry.origin, json: JSON.stringify(entry) });
  }
  async delete(key: string): Promise<void> {
    await this.store.deleteToken(key);
  }
}
