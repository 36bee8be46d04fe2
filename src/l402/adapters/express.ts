import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Paywall } from '../paywall.js';
import type { VerifiedToken } from '../token.js';
import { sendWebResponse, toWebRequest } from './node.js';

type ExpressRequest = IncomingMessage & { originalUrl?: string; l402?: VerifiedToken };

/** Express middleware: `app.use('/paid', l402Express(paywall))`; the token is `req.l402`. */
export function l402Express(paywall: Paywall) {
  return (req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    paywall
      .handle(toWebRequest(req, req.originalUrl))
      .then(async (result) => {
        if (result.kind === 'respond') return sendWebResponse(res, result.response);
        req.l402 = result.token;
        next();
      })
      .catch(next);
  };
}
