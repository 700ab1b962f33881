/**
 * The control client, used by the CLI commands (status, flush, stop; later cutover). One connection, many
 * requests (matched by id). Every failure to reach or understand the daemon is a ToolError with exit code 7
 * (ExitCode.unreachable) naming the job and the socket, with a hint: the CLI prints it as is.
 */
import type { Socket } from 'node:net';
import type { JobPaths } from '../daemon/paths.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError } from '../errors/errors.ts';
import { connectUnix } from '../sys/net.ts';
import { encodeFrame, LineSplitter, parseFrame, PROTOCOL_VERSION, type ErrorReason, type Method, type Params, type Result } from './protocol.ts';

export const CONNECT_TIMEOUT_MS = 5_000;
/** status and hello answer from memory; anything slower means the daemon is stuck */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

interface ConnectProblem {
  code: `E_${string}`;
  message: (p: JobPaths) => string;
  hint: (p: JobPaths) => string;
}

const listHint = (p: JobPaths): string => `check the name and --state-dir (running jobs: livesync status --state-dir ${p.stateDir}), or start it with livesync start SRC TARGET`;

/** What a connect errno means to the operator. */
const CONNECT_PROBLEMS: Record<string, ConnectProblem> = {
  // no socket file: the job never started, or stopped cleanly
  ENOENT: { code: 'E_NOT_RUNNING', message: (p) => `no livesync job named ${p.name} is running (no socket at ${p.socket})`, hint: listHint },
  // a socket file nobody listens on: the daemon died without cleaning up
  ECONNREFUSED: { code: 'E_NOT_RUNNING', message: (p) => `no livesync job named ${p.name} is running (stale socket at ${p.socket}: its daemon exited)`, hint: listHint },
  // the socket is root-only (0600 in a 0700 dir)
  EACCES: { code: 'E_CONTROL_DENIED', message: (p) => `permission denied on the control socket ${p.socket} (it is root-only)`, hint: () => 'run the command as root (sudo livesync ...)' },
  EPERM: { code: 'E_CONTROL_DENIED', message: (p) => `permission denied on the control socket ${p.socket} (it is root-only)`, hint: () => 'run the command as root (sudo livesync ...)' },
  // accepted nothing in time: the daemon is alive but stuck
  ETIMEDOUT: { code: 'E_CONTROL_TIMEOUT', message: (p) => `job ${p.name} does not answer on ${p.socket} (connect timed out)`, hint: (p) => `look at the daemon's log; if it hangs, kill it and start it again (the lock names its pid: ${p.lock})` },
  // the state dir path is not a directory
  ENOTDIR: { code: 'E_NOT_RUNNING', message: (p) => `no livesync job named ${p.name} is running (${p.stateDir} is not a directory)`, hint: listHint },
};

function unreachable(code: `E_${string}`, message: string, hint: string): ToolError {
  return new ToolError(code, message, { hint, exitCode: ExitCode.unreachable });
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (err: ToolError) => void;
  timer: NodeJS.Timeout;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export class ControlClient implements AsyncDisposable {
  readonly paths: JobPaths;
  /** Resolves when the connection is gone (the server closed it, or close() was called). */
  readonly closed: Promise<void>;
  #socket: Socket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #splitter = new LineSplitter();
  #gone: ToolError | null = null;

  private constructor(paths: JobPaths, socket: Socket) {
    this.paths = paths;
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', () => socket.destroy());
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.#failAll(this.#gone ?? this.#closedError()));
  }

  /** Connects to the job's socket. Throws ToolError exit 7 when the job is not running or not reachable. */
  static async connect(paths: JobPaths, options: { timeoutMs?: number } = {}): Promise<ControlClient> {
    const connected = await connectUnix(paths.socket, options.timeoutMs ?? CONNECT_TIMEOUT_MS);
    if (connected.ok) return new ControlClient(paths, connected.value);
    const problem = CONNECT_PROBLEMS[connected.errno];
    if (problem) throw unreachable(problem.code, problem.message(paths), problem.hint(paths));
    throw unreachable('E_CONTROL_CONNECT', `cannot connect to job ${paths.name} at ${paths.socket}: ${connected.message}`, listHint(paths));
  }

  #closedError(): ToolError {
    return unreachable('E_CONTROL_CLOSED', `job ${this.paths.name} closed the control connection (it stopped)`, `see its log; start it again with livesync start SRC TARGET`);
  }

  #failAll(err: ToolError): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(err);
    }
  }

  #protocolError(message: string): void {
    this.#gone = unreachable('E_CONTROL_PROTOCOL', `job ${this.paths.name} answered something that is not livesync control protocol v${PROTOCOL_VERSION}: ${message}`, 'make sure the daemon and this CLI are the same livesync version');
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    const lines = this.#splitter.push(chunk);
    if (lines === 'too-long') return this.#protocolError('a line too long');
    for (const line of lines) {
      const frame = parseFrame(line);
      if (frame === null) return this.#protocolError(JSON.stringify(line.slice(0, 80)));
      if ('progress' in frame) continue; // progress frames: no method of v1 sends them yet
      const pending = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined;
      if (pending === undefined || typeof frame.id !== 'number') {
        if (!frame.ok) this.#gone = this.#refused(frame.error.reason, frame.error.message);
        continue;
      }
      this.#pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (frame.ok) pending.resolve(frame.result);
      else pending.reject(this.#refused(frame.error.reason, frame.error.message));
    }
  }

  #refused(reason: ErrorReason, message: string): ToolError {
    if (reason === 'shutting-down') return unreachable('E_NOT_RUNNING', `job ${this.paths.name} is stopping`, 'wait for it to exit, then start it again if needed');
    return unreachable('E_CONTROL_PROTOCOL', `job ${this.paths.name} refused the request (${reason}): ${message}`, 'make sure the daemon and this CLI are the same livesync version');
  }

  /** Sends one request and waits for its answer. Throws ToolError exit 7 on timeout, refusal or disconnect. */
  request<M extends Method>(method: M, params: Params<M>, options: RequestOptions = {}): Promise<Result<M>> {
    if (this.#socket.destroyed) return Promise.reject(this.#gone ?? this.#closedError());
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Result<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(unreachable('E_CONTROL_TIMEOUT', `job ${this.paths.name} did not answer ${method} within ${timeoutMs} ms`, "look at the daemon's log; it may be stuck"));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      this.#socket.write(encodeFrame({ v: PROTOCOL_VERSION, id, method, params } as never));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
  }
}
