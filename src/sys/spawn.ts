/**
 * Glue only: runs one program straight through node:child_process.spawn (an argv array, never a shell) and
 * returns what it did, in the same shape as src/sys/exec.ts. Used on the mirror's hot path (one rsync per batch
 * list, src/engine/batch-runner.ts), where execa's own work per call (option normalisation, stream plumbing,
 * signal-exit hooks) measured ~1.7 ms of every single-write latency; everything else keeps execa
 * (docs/decisions.md). No retries, no decisions: callers classify exit codes through their own tables.
 *
 *   spawnRun   start, write the input, wait for the exit
 *   prespawn   start now, write the input later (`feed`), or kill it unfed (`discard`): the program does its
 *              start-up work while nothing is waiting for it
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import type { ExecResult } from './exec.ts';
import { activity, killTree } from './proc-activity.ts';

export interface StartOptions {
  /** added to the inherited environment */
  env?: Record<string, string>;
  /** stdout/stderr decoding (default utf8) */
  encoding?: 'utf8' | 'latin1';
}

export interface FeedOptions {
  /** written to stdin, which is then closed (closed empty without it) */
  input?: Buffer;
  /** SIGTERM to the child when aborted */
  signal?: AbortSignal;
  /** kill the process tree when it used no CPU and did no I/O for this long (the result has `stalled: true`) */
  stallMs?: number;
}

/** A process started ahead of its input. */
export interface Prespawned {
  /** the process runs and has not been fed: `feed` may be called */
  readonly ready: boolean;
  /** writes the input, closes stdin, resolves when the process exited (durationMs counted from here) */
  feed(options: FeedOptions): Promise<ExecResult>;
  /** kills the process and its descendants unless it was fed */
  discard(): void;
}

export function spawnRun(file: string, args: readonly string[], options: StartOptions & FeedOptions = {}): Promise<ExecResult> {
  return prespawn(file, args, options).feed(options);
}

export function prespawn(file: string, args: readonly string[], options: StartOptions = {}): Prespawned {
  const child: ChildProcessWithoutNullStreams = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ? { ...process.env, ...options.env } : process.env });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let exit: { code: number | null; signal: string | null; spawnError?: string } | null = null;
  let onExit: (() => void) | null = null;
  let fed = false;
  child.on('error', (e) => {
    // spawn failures (ENOENT, EACCES) come here with no pid; a kill error on a live child is not an outcome
    if (child.pid !== undefined || exit !== null) return;
    exit = { code: null, signal: null, spawnError: e.message };
    onExit?.();
  });
  child.on('close', (code, signal) => {
    exit ??= { code, signal };
    onExit?.();
  });
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  // the child may exit before reading all of its input (EPIPE): its exit status says what happened
  child.stdin.on('error', () => {});
  // while it waits for its input, it does not keep the daemon alive (stop discards it anyway)
  const pipes = [child.stdin, child.stdout, child.stderr] as unknown as Socket[];
  child.unref();
  for (const p of pipes) p.unref();
  return {
    get ready(): boolean {
      return !fed && exit === null && child.pid !== undefined;
    },
    feed(feed: FeedOptions): Promise<ExecResult> {
      fed = true;
      const started = performance.now();
      child.ref();
      for (const p of pipes) p.ref();
      child.stdin.end(feed.input);
      const onAbort = (): void => void child.kill('SIGTERM');
      if (feed.signal?.aborted) onAbort();
      else feed.signal?.addEventListener('abort', onAbort, { once: true });
      let stalled = false;
      const watchdog = feed.stallMs && child.pid !== undefined ? stallWatchdog(child.pid, feed.stallMs, () => (stalled = true)) : null;
      return new Promise((resolve) => {
        const done = (): void => {
          if (watchdog) clearInterval(watchdog);
          feed.signal?.removeEventListener('abort', onAbort);
          const encoding = options.encoding ?? 'utf8';
          const e = exit!;
          resolve({
            exitCode: e.code,
            signal: e.signal,
            stdout: Buffer.concat(out).toString(encoding),
            stderr: Buffer.concat(err).toString(encoding),
            durationMs: performance.now() - started,
            ...(e.spawnError === undefined ? {} : { spawnError: e.spawnError }),
            ...(stalled ? { stalled } : {}),
          });
        };
        if (exit !== null) done();
        else onExit = done;
      });
    },
    discard(): void {
      if (fed || exit !== null || child.pid === undefined) return;
      fed = true;
      killTree(child.pid);
    },
  };
}

/** Kills the tree of `pid` once none of its processes used CPU or did I/O for `stallMs`. */
function stallWatchdog(pid: number, stallMs: number, onStall: () => void): NodeJS.Timeout {
  let last = '';
  let lastChange = performance.now();
  const timer = setInterval(() => {
    const now = activity(pid);
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange >= stallMs) {
      onStall();
      killTree(pid);
    }
  }, Math.max(50, Math.floor(stallMs / 4)));
  timer.unref();
  return timer;
}
