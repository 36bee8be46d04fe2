export {
  createMcpServer,
  type HttpOptions,
  loadOrCreateToken,
  MCP_PATH,
  type McpServerOptions,
  type RunningHttp,
  type RunningStdio,
  type StdioOptions,
  serveHttp,
  serveStdio,
} from './server.js';
export { MAX_SATS, type McpToolOptions, registerTools } from './tools.js';
