import { join } from 'node:path';
import type { Command } from 'commander';
import { toJson } from '../../core/json.js';
import { serveHttp, serveStdio } from '../../mcp/index.js';
import { openWallet } from '../../wallet/open.js';
import { dataDir } from '../context.js';
import { parseListen } from '../listen.js';

interface McpFlags {
  http?: string;
  walletConfig?: string;
  allowHost?: string[];
  allowOrigin?: string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description("Give an AI agent the wallet's tools over MCP (stdio by default, or streamable HTTP)")
    .option('--http <host:port>', 'serve streamable HTTP here instead of stdio (port 0 picks one)')
    .option(
      '--wallet-config <file>',
      'wallet config (default: <data>/wallet/config.yaml, else embedded defaults)',
    )
    .option('--allow-host <host>', 'with --http: also accept this Host header (repeatable)', collect)
    .option('--allow-origin <origin>', 'with --http: also accept this browser Origin (repeatable)', collect)
    .addHelpText(
      'after',
      `
Tools: quote, fetch_paid, pay_invoice, create_invoice, balance, budget_status, request_approval,
history. Every payment goes through the wallet's policy (caps, budgets, allowances, approvals,
freeze) and the model's own max_sats. There is deliberately no tool to approve, reject, freeze or
change budgets: a person does that with \`lightproof wallet\`.

Over stdio, stdout carries only the protocol; messages go to stderr. With --http, one JSON line
{url, token_path} is printed, and every request needs "Authorization: Bearer <token>" with the
token from token_path (<data-dir>/wallet/mcp.token, mode 0600). Only loopback Host and Origin
headers are accepted unless --allow-host/--allow-origin add more. See docs/mcp.md.

Example:
  $ lightproof mcp
  $ lightproof --data-dir ~/.lightproof mcp --wallet-config wallet.yaml
  $ lightproof mcp --http 127.0.0.1:8765`,
    )
    .action(async (flags: McpFlags, cmd: Command) => {
      const listen = flags.http === undefined ? undefined : parseListen(flags.http);
      const opened = await openWallet({
        dataDir: dataDir(cmd),
        ...(flags.walletConfig ? { configPath: flags.walletConfig } : {}),
      });
      try {
        if (listen === undefined) {
          // Anything a library prints must not corrupt the protocol on stdout.
          console.log = console.error;
          console.info = console.error;
          const served = await serveStdio({ wallet: opened.wallet });
          process.stderr.write(`lightproof mcp: serving the wallet in ${opened.dir} on stdio\n`);
          await untilSignal(served.closed);
          await served.close();
          return;
        }
        const served = await serveHttp({
          wallet: opened.wallet,
          host: listen.host,
          port: listen.port,
          tokenPath: join(opened.dir, 'mcp.token'),
          allowedHosts: flags.allowHost ?? [],
          allowedOrigins: flags.allowOrigin ?? [],
        });
        if (!LOOPBACK.has(listen.host)) {
          process.stderr.write(
            'lightproof mcp: warning: listening beyond loopback over plain HTTP; the bearer token crosses the network unencrypted. Put TLS in front.\n',
          );
        }
        process.stdout.write(`${toJson({ url: served.url, token_path: served.tokenPath }, 0)}\n`);
        await untilSignal(new Promise<void>(() => {}));
        await served.close();
      } finally {
        await opened.close();
      }
    });
}

/** Resolves on DONE, SIGINT or SIGTERM. */
function untilSignal(done: Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void done.then(stop);
  });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
