/**
 * What `verifyAny` hands back: the kind of file, each statement it proved, each it could not, and each
 * check that failed with the place it failed. `ok` is true only when nothing failed.
 */
import { isLightproofError } from '../../core/errors.js';

export type VerifyKind = 'receipt' | 'log-proof' | 'checkpoint' | 'manifest' | 'ots';

export interface VerifyFailure {
  code: string;
  /** Says what failed and where (which field, line or step). */
  message: string;
}

export interface ProvenanceReport {
  kind: VerifyKind;
  ok: boolean;
  proved: string[];
  notProved: string[];
  failures: VerifyFailure[];
  /** Facts a program may want: key, origin, index, tree size, block height and time. */
  facts: Record<string, string | number | boolean>;
}

/** Collects one report; `check` runs a step and records its failure instead of throwing. */
export class ReportBuilder {
  readonly proved: string[] = [];
  readonly notProved: string[] = [];
  readonly failures: VerifyFailure[] = [];
  readonly facts: Record<string, string | number | boolean> = {};

  constructor(readonly kind: VerifyKind) {}

  fail(code: string, message: string): void {
    this.failures.push({ code, message });
  }

  /** Runs FN; a LightproofError it throws becomes a failure prefixed with WHERE. Returns undefined then. */
  async check<T>(where: string, fn: () => T | Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (!isLightproofError(err)) throw err;
      this.fail(err.code, `${where}: ${err.message}`);
      return undefined;
    }
  }

  done(): ProvenanceReport {
    return {
      kind: this.kind,
      ok: this.failures.length === 0,
      proved: this.proved,
      notProved: this.notProved,
      failures: this.failures,
      facts: this.facts,
    };
  }
}

/** Plain words, one statement a line, for people. */
export function formatReport(r: ProvenanceReport): string {
  const lines = [`${r.ok ? 'Verified' : 'NOT verified'}: ${KIND_NAMES[r.kind]}`];
  if (r.proved.length > 0) lines.push('Proved:', ...r.proved.map((s) => `  - ${s}`));
  if (r.failures.length > 0) lines.push('Failed:', ...r.failures.map((f) => `  - ${f.code}: ${f.message}`));
  if (r.notProved.length > 0) lines.push('Not proved:', ...r.notProved.map((s) => `  - ${s}`));
  return `${lines.join('\n')}\n`;
}

const KIND_NAMES: Record<VerifyKind, string> = {
  receipt: 'a signed receipt',
  'log-proof': 'a log entry with its inclusion proof',
  checkpoint: 'a signed log checkpoint',
  manifest: 'a model manifest',
  ots: 'an OpenTimestamps proof',
};

export const iso = (unix: number): string => new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
