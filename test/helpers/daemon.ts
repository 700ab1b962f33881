/**
 * Runs the real `bin/livesync start` as a child process and reads its JSON log lines, the way an operator's
 * tooling would. `waitFor` resolves on the first log record matching a predicate; `stop` sends SIGTERM and
 * waits for the exit code. Dispose kills it if a test failed half-way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = resolve(TOP, 'bin', 'livesync');

export type LogRecord = Record<string, unknown> & { event?: string; msg?: string; state?: string };

export class Daemon implements AsyncDisposable {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  readonly stderr: string[] = [];
  #waiters: Array<{ match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }> = [];
  #exit: Promise<number | string>;

  /** `prefix`: a program (and its arguments) that runs the CLI, e.g. setpriv dropping a capability */
  constructor(args: string[], env: Record<string, string> = {}, prefix: string[] = []) {
    const [file, ...rest] = [...prefix, CLI, 'start', ...args];
    this.child = spawn(file!, rest, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        this.stderr.push(line);
        let rec: LogRecord;
        try {
          rec = JSON.parse(line) as LogRecord;
        } catch {
          continue;
        }
        this.records.push(rec);
        this.#waiters = this.#waiters.filter((w) => (w.match(rec) ? (w.resolve(rec), false) : true));
      }
    });
    this.child.stdout!.resume();
    // killed by a signal: a string naming it with the last log lines, so `assert.equal(await d.stop(), 0)` says why
    this.#exit = new Promise((r) =>
      this.child.on('exit', (code, signal) => r(code ?? `killed by ${signal}; last stderr lines:\n${this.stderr.slice(-20).join('\n')}`)),
    );
  }

  waitFor(match: (r: LogRecord) => boolean, timeoutMs = 60_000, what = 'log record'): Promise<LogRecord> {
    const found = this.records.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last log lines:\n${this.stderr.slice(-15).join('\n')}`)), timeoutMs);
      this.#waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolvePromise(r)) });
      void this.#exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`daemon exited (${code}) while waiting for ${what}; last log lines:\n${this.stderr.slice(-15).join('\n')}`));
      });
    });
  }

  waitState(state: string, timeoutMs = 60_000): Promise<LogRecord> {
    return this.waitFor((r) => r.event === 'state' && r.state === state, timeoutMs, `state ${state}`);
  }

  /** The exit code, or (killed by a signal) a string naming the signal with the last log lines. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.#exit;
  }

  exited(): Promise<number | string> {
    return this.#exit;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.#exit;
    }
  }
}

/**
 * Runs the CLI to completion (status, flush, stop, cutover...). Asynchronous on purpose: a synchronous spawn
 * would stop this process from draining a running daemon's log pipe, and the daemon would block writing it.
 */
export function cli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(CLI, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Synchronous CLI run, for tests with no daemon whose log pipe this process must keep draining. */
export function cliSync(args: string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(CLI, args, { input: options.input ?? '', env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}
