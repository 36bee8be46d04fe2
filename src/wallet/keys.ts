/**
 * The wallet's on-chain keys: a BIP39 mnemonic kept in `<dir>/seed` (mode 0600, created on first
 * use), and BIP84 native-segwit receive addresses derived from it. The words never appear in an error
 * or a log line; an object holding them keeps them in private fields, out of JSON and util.inspect.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HDKey } from '@scure/bip32';
import { generateMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { NETWORK, p2wpkh, TEST_NETWORK } from '@scure/btc-signer';
import { ensurePrivateDir } from '../core/datadir.js';
import { LightproofError } from '../core/errors.js';
import { readSecretFile, writeSecretFile } from '../core/secrets.js';

export type WalletNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest';

const NETWORKS: Record<WalletNetwork, typeof NETWORK> = {
  mainnet: NETWORK,
  testnet: TEST_NETWORK,
  signet: TEST_NETWORK,
  regtest: { ...TEST_NETWORK, bech32: 'bcrt' },
};

/** BIP32 serialization versions: xprv/xpub on mainnet, tprv/tpub elsewhere. */
const MAINNET_VERSIONS = { private: 0x0488ade4, public: 0x0488b21e };
const TEST_VERSIONS = { private: 0x04358394, public: 0x043587cf };

const MAX_SEED_FILE_BYTES = 4096;
const MAX_INDEX = 0x7fffffff;

export class WalletKeys {
  readonly network: WalletNetwork;
  readonly #account: HDKey;

  private constructor(mnemonic: string, network: WalletNetwork) {
    if (!Object.hasOwn(NETWORKS, network)) {
      throw new LightproofError(
        'LP_WALLET_BAD_NETWORK',
        `${JSON.stringify(String(network)).slice(0, 40)} is not a network; use mainnet, testnet, signet or regtest.`,
      );
    }
    this.network = network;
    const versions = network === 'mainnet' ? MAINNET_VERSIONS : TEST_VERSIONS;
    const root = HDKey.fromMasterSeed(mnemonicToSeedSync(mnemonic), versions);
    this.#account = root.derive(`m/84'/${network === 'mainnet' ? 0 : 1}'/0'`);
  }

  /**
   * The keys kept in `<dir>/seed`; on first use a new 24-word mnemonic is written there (mode 0600).
   * Two processes opening a new wallet at once end up with the same seed: the file is created
   * exclusively, and the one that loses the race reads the winner's.
   */
  static open(dir: string, network: WalletNetwork): WalletKeys {
    ensurePrivateDir(dir);
    const path = join(dir, 'seed');
    if (!existsSync(path)) create(path);
    return new WalletKeys(readSeed(path), network);
  }

  /** Keys from the given words (checked like a seed file, but never stored). */
  static fromMnemonic(words: string, network: WalletNetwork): WalletKeys {
    const mnemonic = normalize(words);
    if (mnemonic === null) {
      throw new LightproofError(
        'LP_WALLET_BAD_SEED',
        'Those words are not a valid BIP39 English mnemonic (wrong word count, an unknown word or a bad checksum).',
      );
    }
    return new WalletKeys(mnemonic, network);
  }

  /** The BIP84 receive address m/84'/coin'/0'/0/INDEX (bc1q…, tb1q…, bcrt1q…). */
  address(index = 0): string {
    if (!Number.isSafeInteger(index) || index < 0 || index > MAX_INDEX) {
      throw new LightproofError(
        'LP_WALLET_BAD_INDEX',
        `Address index ${index} is not a whole number from 0 to ${MAX_INDEX}.`,
      );
    }
    const key = this.#account.deriveChild(0).deriveChild(index);
    const address = p2wpkh(key.publicKey!, NETWORKS[this.network]).address;
    if (!address) throw new Error('p2wpkh gave no address');
    return address;
  }

  /** The account's extended public key m/84'/coin'/0' (xpub on mainnet, tpub elsewhere): watch-only. */
  accountXpub(): string {
    return this.#account.publicExtendedKey;
  }

  toJSON(): Record<string, unknown> {
    return { network: this.network, accountXpub: this.accountXpub() };
  }
}

/** Creates the seed file exclusively with complete contents: written aside, then hard-linked in. */
function create(path: string): void {
  const aside = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeSecretFile(aside, `${generateMnemonic(wordlist, 256)}\n`);
  try {
    linkSync(aside, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // another process won; its seed is the one
    throw new LightproofError(
      'LP_WALLET_SEED_UNWRITABLE',
      `Cannot create the wallet seed ${path} (${code ?? (err as Error).message}); use a data directory on a local file system you can write to.`,
      { cause: err },
    );
  } finally {
    try {
      unlinkSync(aside);
    } catch {}
  }
}

function readSeed(path: string): string {
  const bad = (why: string) =>
    new LightproofError(
      'LP_WALLET_BAD_SEED',
      `The wallet seed ${path} ${why}. It was not changed; restore it from your backup of the 24 words, or move it aside to start a new, empty wallet.`,
    );
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw bad(`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (size > MAX_SEED_FILE_BYTES) throw bad('is too large to be a mnemonic');
  let text: string;
  try {
    text = readSecretFile(path).toString('utf8');
  } catch (err) {
    throw bad(`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const mnemonic = normalize(text);
  if (mnemonic === null)
    throw bad('is not a valid BIP39 English mnemonic (wrong word count, an unknown word or a bad checksum)');
  if (process.platform !== 'win32') {
    try {
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    } catch {}
  }
  return mnemonic;
}

/** Single-spaced, lower-case words if they form a valid English mnemonic, else null. */
function normalize(text: string): string | null {
  if (typeof text !== 'string' || text.length > MAX_SEED_FILE_BYTES) return null;
  const words = text.normalize('NFKD').trim().toLowerCase().split(/\s+/).join(' ');
  return validateMnemonic(words, wordlist) ? words : null;
}
