/**
 * The benchmark's upstream, run as its own process so it never shares an event loop with a proxy:
 * answers every request with one small fixed JSON body and prints {"url"} on stdout when listening.
 *   node --import tsx bench/upstream.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from(
  JSON.stringify({ id: 'bench', object: 'text_completion', choices: [{ index: 0, text: 'ok' }] }),
);

const server = http.createServer((req, res) => {
  // Drain any request body so keep-alive connections stay usable.
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` }));
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
