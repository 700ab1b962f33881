/**
 * Glue only: unix sockets. Listens on one and sets its file mode, connects to one. No decisions: callers choose
 * paths, modes, timeouts and what to answer. Failures are returned as typed data carrying the errno; nothing
 * here retries. (HTTP is in http-listen.ts: node:http costs ~30 ms to load, which `livesync status` must not pay.)
 *
 * Must not import anything outside node: and ../errors.
 */
import { chmod } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { errnoCode, errorText } from '../errors/errors.ts';

export type NetFailure = { ok: false; errno: string; message: string };
export type NetResult<T> = { ok: true; value: T } | NetFailure;

export function netFailure(err: unknown): NetFailure {
  return { ok: false, errno: errnoCode(err) ?? 'EUNKNOWN', message: errorText(err) };
}

function closeServer(server: Server): Promise<void> {
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
    return netFailure(err);
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
      resolve(netFailure(err));
    });
  });
}
