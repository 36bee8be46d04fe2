import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ensurePrivateDir } from '../../core/datadir.js';
import { LightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import { readSecretFile, writeSecretFile } from '../../core/secrets.js';
import { openSqlite, type SqliteDb } from '../../store/index.js';
import type { Network } from '../bolt11.js';
import type { InvoiceStatus } from '../types.js';
import { EmbeddedNode } from './node.js';
import { EMBEDDED_MIGRATIONS } from './schema.js';

const ACCOUNT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface EmbeddedOptions {
  /** Invoices carry this network's prefix; regtest (lnbcrt) unless told otherwise. */
  network?: Network;
  alias?: string;
  /** Test seam: runs inside a payment's transaction after the debit, before commit. */
  beforePaymentCommit?: () => void;
}

export interface AccountRow {
  id: bigint;
  name: string;
  balance_msat: bigint;
  created_at: bigint;
}

/**
 * The embedded Lightning node: one node key, many accounts, real signed invoices with real
 * preimages, instant settlement between its own accounts, everything in one SQLite file.
 * It stands in for a Lightning node in demos and fast tests; it cannot reach other nodes.
 */
export class EmbeddedLightning {
  readonly dir: string;
  readonly network: Network;
  readonly alias: string;
  readonly pubkey: string;
  readonly db: SqliteDb;
  readonly events = new EventEmitter();
  readonly options: EmbeddedOptions;
  readonly #secretKey: Uint8Array;

  private constructor(dir: string, db: SqliteDb, secretKey: Uint8Array, options: EmbeddedOptions) {
    this.dir = dir;
    this.db = db;
    this.#secretKey = secretKey;
    this.options = options;
    this.network = options.network ?? 'regtest';
    this.alias = options.alias ?? 'lightproof-embedded';
    this.pubkey = bytesToHex(secp256k1.getPublicKey(secretKey, true));
    this.events.setMaxListeners(0);
  }

  /** Opens the node kept in DIR (creating its key and database on first use). */
  static open(dir: string, options: EmbeddedOptions = {}): EmbeddedLightning {
    ensurePrivateDir(join(dir, 'accounts'));
    const keyPath = join(dir, 'node.key');
    if (!existsSync(keyPath)) writeSecretFile(keyPath, secp256k1.utils.randomSecretKey());
    const key = new Uint8Array(readSecretFile(keyPath));
    if (key.length !== 32 || !secp256k1.utils.isValidSecretKey(key)) {
      throw new LightproofError(
        'LP_LN_BAD_NODE_KEY',
        `${keyPath} is not a 32-byte secp256k1 secret key. Restore it from a backup; without it invoices cannot be signed.`,
      );
    }
    const db = openSqlite(join(dir, 'embedded.sqlite'), EMBEDDED_MIGRATIONS);
    db.defaultSafeIntegers(true);
    return new EmbeddedLightning(dir, db, key, options);
  }

  get secretKey(): Uint8Array {
    return this.#secretKey;
  }

  credentialPath(name: string): string {
    return join(this.dir, 'accounts', `${name}.macaroon`);
  }

  /** Creates an account and its credential file (mode 0600). Fails if the name is taken. */
  createAccount(name: string): EmbeddedNode {
    if (!ACCOUNT_NAME.test(name)) {
      throw new LightproofError(
        'LP_LN_BAD_ACCOUNT_NAME',
        `'${name}' is not a valid account name: use 1-32 lower-case letters, digits, '-' or '_'.`,
      );
    }
    const credential = randomBytes(32);
    try {
      this.db
        .prepare('INSERT INTO accounts (name, credential_hash, balance_msat, created_at) VALUES (?, ?, 0, ?)')
        .run(name, Buffer.from(sha256(credential)), BigInt(nowSeconds()));
    } catch (cause) {
      if (String((cause as Error).message).includes('UNIQUE')) {
        throw new LightproofError(
          'LP_LN_ACCOUNT_EXISTS',
          `An account named '${name}' already exists; pick another name.`,
        );
      }
      throw cause;
    }
    writeSecretFile(this.credentialPath(name), credential);
    return this.account(name);
  }

  /** The account's node, creating the account if it does not exist yet. */
  ensureAccount(name: string): EmbeddedNode {
    return this.findAccount(name) ? this.account(name) : this.createAccount(name);
  }

  findAccount(name: string): AccountRow | undefined {
    return this.db
      .prepare('SELECT id, name, balance_msat, created_at FROM accounts WHERE name = ?')
      .get(name) as AccountRow | undefined;
  }

  listAccounts(): AccountRow[] {
    return this.db
      .prepare('SELECT id, name, balance_msat, created_at FROM accounts ORDER BY id')
      .all() as AccountRow[];
  }

  account(name: string): EmbeddedNode {
    const row = this.findAccount(name);
    if (!row) {
      const known = this.listAccounts().map((a) => a.name);
      throw new LightproofError(
        'LP_LN_UNKNOWN_ACCOUNT',
        `No account named '${name}' on this embedded node${known.length ? ` (accounts: ${known.join(', ')})` : ''}; create it first.`,
      );
    }
    return new EmbeddedNode(this, row.id, row.name);
  }

  /** The account a credential (the bytes of its .macaroon file) belongs to. */
  accountByCredential(credential: Uint8Array): EmbeddedNode {
    const hash = Buffer.from(sha256(credential));
    const rows = this.db.prepare('SELECT name, credential_hash FROM accounts').all() as {
      name: string;
      credential_hash: Buffer;
    }[];
    const match = rows.find(
      (r) => r.credential_hash.length === hash.length && timingSafeEqual(r.credential_hash, hash),
    );
    if (!match) {
      throw new LightproofError(
        'LP_LN_AUTH_FAILED',
        'The macaroon was not accepted by the node: use the credential file of one of its accounts.',
        { status: 401 },
      );
    }
    return this.account(match.name);
  }

  /**
   * Adds money to an account out of thin air. The embedded node has no chain, so this is how a demo
   * or a test funds its accounts; every deposit is kept in the ledger.
   */
  deposit(name: string, amountMsat: Msat, memo = 'deposit'): Msat {
    const account = this.account(name);
    const amount = msat(amountMsat);
    return this.db
      .transaction(() => {
        this.db
          .prepare('UPDATE accounts SET balance_msat = balance_msat + ? WHERE id = ?')
          .run(amount, account.accountId);
        this.db
          .prepare('INSERT INTO ledger (account_id, delta_msat, kind, memo, at) VALUES (?, ?, ?, ?, ?)')
          .run(account.accountId, amount, 'deposit', memo, BigInt(nowSeconds()));
        const row = this.db
          .prepare('SELECT balance_msat FROM accounts WHERE id = ?')
          .get(account.accountId) as {
          balance_msat: bigint;
        };
        return row.balance_msat as Msat;
      })
      .immediate();
  }

  emitInvoice(accountId: bigint, status: InvoiceStatus): void {
    this.events.emit('invoice', accountId, status);
  }

  /** Names of accounts whose credential files exist, for `lightproof node` to print. */
  credentialFiles(): string[] {
    return readdirSync(join(this.dir, 'accounts')).filter((f) => f.endsWith('.macaroon'));
  }

  close(): void {
    this.events.removeAllListeners();
    if (this.db.open) this.db.close();
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
