export { formatAmount, parseAmount, toMsat } from './amount.js';
export { DEFAULT_WALLET_CONFIG, loadWalletConfig, parseWalletConfig, type WalletConfig } from './config.js';
export { closeDefaultWallet, l402Fetch } from './default.js';
export { WalletKeys, type WalletNetwork } from './keys.js';
export { type OpenedWallet, type OpenWalletOptions, openWallet } from './open.js';
export {
  allowanceFor,
  type BudgetLine,
  type BudgetStatus,
  budgetStatus,
  DEFAULT_POLICY,
  decide,
  hostAllowed,
  loadPolicyFile,
  matchHost,
  mergePolicy,
  type PolicyChanges,
  type PolicyDocument,
  parsePolicy,
  policyFromJson,
  policyToDocument,
  policyToJson,
  renewsAt,
  type ScopeStatus,
  windowStarts,
} from './policy.js';
export { FixedRate, HttpRate, type RateSource, rateSourceFor } from './rates.js';
export {
  openWalletStore,
  PostgresWalletStore,
  SqliteWalletStore,
  type WalletStoreSpec,
} from './store/index.js';
export type {
  Amount,
  Decision,
  Limits,
  NewPayment,
  PaymentRecord,
  PaymentSource,
  PaymentState,
  Period,
  Policy,
  RateSpec,
  SpendSnapshot,
  WalletEvent,
  WalletSettings,
  WalletStore,
} from './types.js';
export { COUNTED_STATES, PAYMENT_STATES } from './types.js';
export {
  type PayerOptions,
  type PayRequest,
  type ReconcileReport,
  Wallet,
  type WalletOptions,
  type WalletStatus,
} from './wallet.js';
