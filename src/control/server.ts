/**
 * The control server: answers the protocol of src/control/protocol.ts on `<state-dir>/<name>.sock` for one
 * running job. Requests run concurrently (a long `flush` does not block `status`); each handler is a row of
 * HANDLERS and only calls the JobControl or reads the StatusTracker.
 *
 * Access: the socket is mode 0600 inside the 0700 root-owned state dir, so only root can connect. Node does not
 * expose SO_PEERCRED, so the server does not check the peer's uid itself; the file permissions are the guard.
 *
 * Lifecycle: serveControl needs the job lock (a stale socket left by a crash is removed under it), listens,
 * and chmods the socket before accepting. Dispose: refuse new requests, let running ones finish (bounded), end
 * every connection, remove the socket.
 */
import type { Socket } from 'node:net';
import type { JobControl } from '../engine/job.ts';
import type { CutoverParams } from './protocol.ts';
import type { CutoverReport } from '../cutover/types.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { errorText, ToolError } from '../errors/errors.ts';
import type { JobLock } from '../daemon/lock.ts';
import { statusJsonText } from '../status/json-text.ts';
import type { StatusTracker } from '../status/tracker.ts';
import { listenUnix } from '../sys/net.ts';
import { removePath, statPath } from '../sys/state-files.ts';
import { encodeFrame, LineSplitter, METHODS, parseRequest, PROTOCOL_VERSION, SUPPORTED_VERSIONS, type ControlRequest, type ControlResponse, type Method, type Params, type ProtocolError, type Result } from './protocol.ts';

const SOCKET_MODE = 0o600;
/** on dispose, running requests get this long to answer (a stop answers once the job has stopped) */
const DRAIN_MS = 10_000;
/** then connections get this long to flush what was written before they are cut */
const END_GRACE_MS = 1_000;

export interface ControlServer extends AsyncDisposable {
  readonly socketPath: string;
  /** Resolves when a client asked the job to stop: the daemon's lifecycle races it with the signals. */
  readonly stopRequested: Promise<void>;
  /** Number of open client connections (for tests and the log). */
  readonly connections: number;
  close(): Promise<void>;
}

export interface ServeControlOptions {
  /** livesync version, reported by `hello` */
  version?: string;
  /** runs a cutover for this job (the daemon wires src/cutover/handler.ts); absent: the method fails */
  cutover?: (params: CutoverParams) => Promise<CutoverReport>;
}

interface Context {
  job: JobControl;
  tracker: StatusTracker;
  version: string | null;
  requestStop: () => void;
  cutover: ServeControlOptions['cutover'];
}

type Handlers = { [M in Method]: (ctx: Context, params: Params<M>) => Promise<Result<M>> };

/** What each method does. */
const HANDLERS: Handlers = {
  // identity and capabilities: the client learns the pid and which methods exist
  hello: async (ctx) => ({
    protocol: PROTOCOL_VERSION,
    supported: SUPPORTED_VERSIONS,
    server: 'livesync',
    version: ctx.version,
    job: { name: ctx.job.info.name, pid: ctx.job.info.pid, startedAt: ctx.job.info.startedAt, stateDir: ctx.job.info.stateDir },
    methods: METHODS,
  }),
  // the snapshot is derived from events by the tracker; identity the engine did not announce comes from JobInfo
  status: async (ctx, params) => {
    const snapshot = ctx.tracker.snapshot(params.historyS === undefined ? {} : { historyS: params.historyS });
    const { info } = ctx.job;
    return {
      ...snapshot,
      name: snapshot.name || info.name,
      source: snapshot.source || info.source,
      target: snapshot.target || info.target,
      pid: snapshot.pid ?? info.pid,
      startedAt: snapshot.startedAt ?? info.startedAt,
      watcher: snapshot.watcher ?? info.watcher,
      version: snapshot.version ?? ctx.version,
    };
  },
  // the same snapshot as the exact `status --json` text: the C client of bin/livesync copies it to stdout as is
  'status-text': async (ctx) => statusJsonText(await HANDLERS.status(ctx, {})),
  // the barrier; a failed flush is a result ({ok: false, reason}), not a protocol error
  flush: (ctx, params) => ctx.job.flush(params.timeoutMs),
  // tell the lifecycle, then wait for the job itself to stop (JobControl.stop is idempotent)
  stop: async (ctx) => {
    ctx.requestStop();
    await ctx.job.stop();
    return { stopped: true };
  },
  // the cutover runs inside the daemon: it owns the watcher and the dirty set the final delta drains
  cutover: async (ctx, params) => {
    if (!ctx.cutover) throw new ToolError('E_NO_CUTOVER', 'this daemon cannot run a cutover', { exitCode: ExitCode.precondition });
    return ctx.cutover(params);
  },
};

function raceTimeout(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function removeStaleSocket(path: string): Promise<void> {
  const info = await statPath(path);
  if (!info.ok) return; // nothing there
  if (info.value.kind !== 'socket') {
    throw new ToolError('E_CONTROL_SOCKET', `${path} exists and is not a socket`, { hint: 'remove it, or choose another --state-dir', exitCode: ExitCode.config });
  }
  // We hold the job lock, so no live daemon owns this socket: a crash left it behind.
  const removed = await removePath(path);
  if (!removed.ok && removed.errno !== 'ENOENT') {
    throw new ToolError('E_CONTROL_SOCKET', `cannot remove stale socket ${path}: ${removed.message}`, { hint: 'remove it by hand', exitCode: ExitCode.config });
  }
}

/**
 * Serves the control socket of `job` until disposed. Needs the job's lock (`lock` proves we own the name).
 * Throws ToolError (exit 3) when the socket cannot be created.
 */
export async function serveControl(job: JobControl, tracker: StatusTracker, lock: JobLock, options: ServeControlOptions = {}): Promise<ControlServer> {
  const path = lock.paths.socket;
  await removeStaleSocket(path);

  let closing = false;
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  const ctx: Context = { job, tracker, version: options.version ?? null, requestStop, cutover: options.cutover };
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();

  const answer = async (request: ControlRequest): Promise<ControlResponse> => {
    if (closing && request.method !== 'stop') return { v: PROTOCOL_VERSION, id: request.id, ok: false, error: { reason: 'shutting-down', message: 'the job is stopping' } };
    const handler = HANDLERS[request.method] as (c: Context, p: unknown) => Promise<unknown>;
    try {
      return { v: PROTOCOL_VERSION, id: request.id, ok: true, result: await handler(ctx, request.params) };
    } catch (err) {
      return { v: PROTOCOL_VERSION, id: request.id, ok: false, error: { reason: 'internal', message: errorText(err) } };
    }
  };

  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter();
    const send = (response: ControlResponse): void => {
      if (!socket.destroyed && socket.writable) socket.write(encodeFrame(response));
    };
    const refuse = (id: ControlResponse['id'], error: ProtocolError): void => send({ v: PROTOCOL_VERSION, id, ok: false, error });
    socket.on('data', (chunk: string) => {
      const lines = splitter.push(chunk);
      if (lines === 'too-long') {
        refuse(null, { reason: 'request-too-large', message: 'request line too long; closing the connection' });
        socket.end();
        return;
      }
      for (const line of lines) {
        const parsed = parseRequest(line);
        if (!parsed.ok) {
          refuse(parsed.id, parsed.error);
          continue;
        }
        const work = answer(parsed.request).then(send);
        inFlight.add(work);
        void work.finally(() => inFlight.delete(work));
      }
    });
    socket.on('error', () => socket.destroy()); // the client went away (EPIPE, ECONNRESET): nothing to do
    socket.on('close', () => sockets.delete(socket));
  };

  const listened = await listenUnix(path, SOCKET_MODE, onConnection);
  if (!listened.ok) {
    throw new ToolError('E_CONTROL_SOCKET', `cannot listen on control socket ${path}: ${listened.message}`, {
      hint: 'check the state dir (--state-dir) is writable and on a local filesystem',
      exitCode: ExitCode.config,
    });
  }
  const listener = listened.value;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      const stopped = listener.close();
      await raceTimeout(Promise.allSettled([...inFlight]), DRAIN_MS);
      for (const socket of sockets) socket.end();
      await raceTimeout(stopped, END_GRACE_MS);
      for (const socket of sockets) socket.destroy();
      await stopped;
      await removePath(path); // libuv unlinks it on close already; ENOENT is fine
    })());

  return {
    socketPath: path,
    stopRequested,
    get connections() {
      return sockets.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
