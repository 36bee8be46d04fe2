/**
 * Opening the agent's wallet from a data directory: `<data>/wallet/config.yaml` if present (or the file
 * named by LIGHTPROOF_WALLET_CONFIG), else embedded defaults.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, resolveDataDir } from '../core/datadir.js';
import { openLightning } from '../lightning/index.js';
import { DEFAULT_WALLET_CONFIG, loadWalletConfig, type WalletConfig } from './config.js';
import { journaledStore, openJournalLog } from './journal-log.js';
import { openWalletStore } from './store/index.js';
import { Wallet } from './wallet.js';

export interface OpenWalletOptions {
  /** The data directory; by default $LIGHTPROOF_DATA_DIR or the per-user one. */
  dataDir?: string;
  /** A wallet config file; by default $LIGHTPROOF_WALLET_CONFIG, else `<data>/wallet/config.yaml` if it exists. */
  configPath?: string;
  config?: WalletConfig;
}

export interface OpenedWallet {
  wallet: Wallet;
  config: WalletConfig;
  /** `<data>/wallet`: the journal (SQLite), the seed, and `log/`, the journal's Merkle log. */
  dir: string;
  close(): Promise<void>;
}

export async function openWallet(options: OpenWalletOptions = {}): Promise<OpenedWallet> {
  const base = ensurePrivateDir(resolveDataDir(options.dataDir));
  const dir = ensurePrivateDir(join(base, 'wallet'));
  const config = options.config ?? readConfig(dir, options.configPath);
  const opened = openLightning(config.lightning, join(base, 'node'));
  try {
    const store = await openWalletStore(
      config.store.kind === 'sqlite'
        ? { kind: 'sqlite', path: config.store.path ?? join(dir, 'wallet.db') }
        : config.store,
    );
    const journal = await openJournalLog(join(dir, 'log'), store, journalLogFailed()).catch(async (err) => {
      await store.close();
      throw err;
    });
    const wallet = await Wallet.open({
      node: opened.node,
      store: journal ? journaledStore(store, journal) : store,
      approvalWaitMs: config.approvalWaitSeconds * 1000,
    }).catch(async (err) => {
      await store.close();
      throw err;
    });
    return {
      wallet,
      config,
      dir,
      close: async () => {
        await wallet.close();
        await opened.close();
      },
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/** The journal stays whole in the store; a log that cannot keep up is reported, not fatal. */
function journalLogFailed(): (err: unknown) => void {
  let failures = 0;
  return (err) => {
    if (failures++ % 1000 !== 0) return;
    process.emitWarning(
      `The wallet journal could not be copied into its log (${String(err)}); the next change retries.`,
      {
        code: 'LP_WALLET_LOG_FAILED',
      },
    );
  };
}

function readConfig(dir: string, explicit: string | undefined): WalletConfig {
  const path = explicit ?? process.env.LIGHTPROOF_WALLET_CONFIG;
  if (path) return loadWalletConfig(path);
  const standard = join(dir, 'config.yaml');
  return existsSync(standard) ? loadWalletConfig(standard) : DEFAULT_WALLET_CONFIG;
}
