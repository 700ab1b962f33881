/**
 * Glue only: sockets. Listens on a unix socket and sets its file mode, connects to a unix socket, listens for
 * HTTP on a TCP address. No decisions: callers choose paths, modes, timeouts and what to answer. Failures are
 * returned as typed data carrying the errno; nothing here retries.
 *
 * Must not import anything outside node: and ../errors.
 */
import { chmod } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { errnoCode, errorText } from '../errors/errors.ts';

export type NetFailure = { ok: false; errno: string; message: string };
export type NetResult<T> = { ok: true; value: T } | NetFailure;

function failure(err: unknown): NetFailure {
  return { ok: false, errno: errnoCode(err) ?? 'EUNKNOWN', message: errorText(err) };
}

function closeServer(server: Server | ReturnType<typeof createHttpServer>): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface UnixListener {
  readonly path: string;
  /** Stops accepting; resolves once every accepted connection has ended (libuv unlinks the socket file). */
  close(): Promise<void>;
}

/** Listens on `path` (which must not exist) and chmods it to `mode` before the first connection is accepted. */
export async function listenUnix(path: string, mode: number, onConnection: (socket: Socket) => void): Promise<NetResult<UnixListener>> {
  const server = createServer({ pauseOnConnect: true });
  let ready = false;
  const pending: Socket[] = [];
  server.on('connection', (socket: Socket) => {
    if (ready) {
      socket.resume();
      onConnection(socket);
    } else pending.push(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(path, mode);
  } catch (err) {
    for (const socket of pending) socket.destroy();
    if (server.listening) await closeServer(server);
    return failure(err);
  }
  ready = true;
  for (const socket of pending.splice(0)) {
    socket.resume();
    onConnection(socket);
  }
  return { ok: true, value: { path, close: () => closeServer(server) } };
}

/** Connects to the unix socket at `path`; fails with the errno (ENOENT, ECONNREFUSED, EACCES, ETIMEDOUT). */
export function connectUnix(path: string, timeoutMs: number): Promise<NetResult<Socket>> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, errno: 'ETIMEDOUT', message: `connect to ${path} timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve({ ok: true, value: socket });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve(failure(err));
    });
  });
}

export interface HttpListener {
  /** the bound address (the port is the real one when 0 was asked) */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** Listens for HTTP on host:port (port 0 picks a free port). */
export async function listenHttp(host: string, port: number, handler: HttpHandler): Promise<NetResult<HttpListener>> {
  const server = createHttpServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    return failure(err);
  }
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address : { address: host, port };
  return {
    ok: true,
    value: {
      host: bound.address,
      port: bound.port,
      close: async () => {
        const closed = closeServer(server);
        server.closeAllConnections();
        await closed;
      },
    },
  };
}
