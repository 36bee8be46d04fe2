/** Prometheus metrics for one gateway process, in a registry of its own (tests run several at once). */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type Outcome =
  | 'paid'
  | 'free'
  | 'freebie'
  | 'challenged'
  | 'rejected'
  | 'rate_limited'
  | 'no_credit'
  | 'upstream_error'
  | 'node_unavailable'
  | 'not_found';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'lightproof_gateway_requests_total',
    help: 'Requests answered, by service and outcome.',
    labelNames: ['service', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly challenges = new Counter({
    name: 'lightproof_gateway_challenges_total',
    help: 'L402 challenges issued (each one an invoice and a token).',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly revenue = new Counter({
    name: 'lightproof_gateway_revenue_msat_total',
    help: 'Millisatoshis earned: token prices booked when a payment is first proven.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly settled = new Counter({
    name: 'lightproof_gateway_invoices_settled_total',
    help: 'Challenge invoices the Lightning node reported settled.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly creditDrawn = new Counter({
    name: 'lightproof_gateway_credit_drawn_msat_total',
    help: 'Millisatoshis drawn from prepaid token credit.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly upstreamSeconds = new Histogram({
    name: 'lightproof_gateway_upstream_seconds',
    help: 'Time from forwarding a request to the upstream until its response headers arrived.',
    labelNames: ['service'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'lightproof_gateway_' });
  }
}
