/**
 * Glue only: an HTTP listener on a TCP address (the metrics endpoint). No decisions: the caller's handler
 * answers. Failures are typed data carrying the errno.
 *
 * Must not import anything outside node: and ./net.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { netFailure, type NetResult } from './net.ts';

export interface HttpListener {
  /** the bound address (the port is the real one when 0 was asked) */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** Listens for HTTP on host:port (port 0 picks a free port). */
export async function listenHttp(host: string, port: number, handler: HttpHandler): Promise<NetResult<HttpListener>> {
  const server: Server = createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    return netFailure(err);
  }
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address : { address: host, port };
  return {
    ok: true,
    value: {
      host: bound.address,
      port: bound.port,
      close: async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      },
    },
  };
}
