import type { MiddlewareHandler } from 'hono';
import type { Paywall } from '../paywall.js';
import type { VerifiedToken } from '../token.js';

/** Hono middleware: `app.use('/paid/*', l402Hono(paywall))`; the token is `c.get('l402')`. */
export function l402Hono(paywall: Paywall): MiddlewareHandler<{ Variables: { l402: VerifiedToken } }> {
  return async (c, next) => {
    const result = await paywall.handle(c.req.raw);
    if (result.kind === 'respond') return result.response;
    c.set('l402', result.token);
    await next();
  };
}
