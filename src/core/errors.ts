/**
 * Every error Lightproof throws carries a stable `code` (LP_…) and a message that says what to do.
 * Servers map `status` onto RFC 9457 problem bodies; the CLI prints `code: message` and exits non-zero.
 */
export class LightproofError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LightproofError';
    this.code = code;
    this.status = options.status ?? 400;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isLightproofError(err: unknown, code?: string): err is LightproofError {
  return err instanceof LightproofError && (code === undefined || err.code === code);
}
