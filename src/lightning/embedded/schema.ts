import type { Migration } from '../../store/index.js';

export const EMBEDDED_MIGRATIONS: readonly Migration[] = [
  {
    module: 'lightning-embedded',
    version: 1,
    sql: `
      CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        credential_hash BLOB NOT NULL UNIQUE,
        balance_msat INTEGER NOT NULL CHECK (balance_msat >= 0),
        created_at INTEGER NOT NULL
      );
      CREATE TABLE invoices (
        payment_hash BLOB PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        preimage BLOB NOT NULL,
        payment_request TEXT NOT NULL,
        amount_msat INTEGER,
        description TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'settled', 'canceled')),
        amount_paid_msat INTEGER NOT NULL DEFAULT 0,
        settled_at INTEGER,
        add_index INTEGER NOT NULL UNIQUE,
        settle_index INTEGER UNIQUE
      );
      CREATE TABLE payments (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        payment_hash BLOB NOT NULL,
        payment_request TEXT NOT NULL,
        amount_msat INTEGER NOT NULL,
        fee_msat INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('succeeded', 'failed')),
        preimage BLOB,
        failure_reason TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, payment_hash)
      );
      CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        delta_msat INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('deposit', 'payment', 'invoice')),
        ref BLOB,
        memo TEXT,
        at INTEGER NOT NULL
      );
    `,
  },
];
