import type { IncomingMessage, ServerResponse } from 'node:http';

/** A Web Request with the method, URL and headers of a Node request (the paywall reads no body). */
export function toWebRequest(req: IncomingMessage, originalUrl?: string): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const host = req.headers.host ?? 'localhost';
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return new Request(`${scheme}://${host}${originalUrl ?? req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
  });
}

/** Writes a Web Response to a Node response, keeping repeated headers such as WWW-Authenticate. */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const grouped = new Map<string, string[]>();
  response.headers.forEach((value, key) => {
    // Headers joins repeated values with ", "; WWW-Authenticate must stay separate headers.
    const values = key === 'www-authenticate' ? splitChallenges(value) : [value];
    grouped.set(key, [...(grouped.get(key) ?? []), ...values]);
  });
  res.statusCode = response.status;
  for (const [k, v] of grouped) res.setHeader(k, v.length === 1 ? v[0]! : v);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/** Splits a joined WWW-Authenticate value back into one challenge per L402/LSAT scheme. */
export function splitChallenges(value: string): string[] {
  return value.split(/,\s*(?=(?:L402|LSAT)\s)/i);
}

/** Every WWW-Authenticate value of a Web Response, one per challenge. */
export function challengeHeaders(response: Response): string[] {
  const joined = response.headers.get('www-authenticate');
  return joined ? splitChallenges(joined) : [];
}
