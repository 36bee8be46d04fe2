import type { IncomingMessage } from 'node:http';
import type { Paywall } from '../paywall.js';
import type { VerifiedToken } from '../token.js';
import { challengeHeaders, toWebRequest } from './node.js';

interface FastifyLikeRequest {
  raw: IncomingMessage;
  url: string;
  l402?: VerifiedToken;
}
interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  header(name: string, value: string | string[]): FastifyLikeReply;
  send(body: unknown): FastifyLikeReply;
}

/** Fastify onRequest hook: `app.addHook('onRequest', l402Fastify(paywall))`; the token is `request.l402`. */
export function l402Fastify(paywall: Paywall) {
  return async (
    request: FastifyLikeRequest,
    reply: FastifyLikeReply,
  ): Promise<FastifyLikeReply | undefined> => {
    const result = await paywall.handle(toWebRequest(request.raw, request.url));
    if (result.kind === 'pass') {
      request.l402 = result.token;
      return undefined;
    }
    const res = result.response;
    reply.code(res.status);
    res.headers.forEach((value, key) => {
      if (key !== 'www-authenticate') reply.header(key, value);
    });
    const challenges = challengeHeaders(res);
    if (challenges.length) reply.header('www-authenticate', challenges);
    // Returning the reply tells Fastify the hook answered the request.
    return reply.send(Buffer.from(await res.arrayBuffer()));
  };
}
