import { createServer, type Server } from 'node:net';

/**
 * Picks N distinct free TCP ports on 127.0.0.1 by binding port 0 and closing again. All sockets stay
 * open until every port is known, so the N ports differ; another program could still grab one before
 * the daemon binds it, which a daemon reports as a bind error in its log.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
