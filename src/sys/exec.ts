/**
 * Glue only: the one importer of execa. Runs a program with an argv array (never a shell), returns what it
 * did. No retries, no decisions: callers classify exit codes through their own tables.
 */
import { execa, type ResultPromise } from 'execa';
import { activity, killTree } from './proc-activity.ts';

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** killed by the stall watchdog (stallMs) */
  stalled?: boolean;
  /** spawn failure (ENOENT etc.), when the program could not run at all */
  spawnError?: string;
}

export interface ExecOptions {
  input?: Buffer | string;
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** called with each stdout chunk as it arrives (progress parsing) */
  onStdout?: (chunk: string) => void;
  env?: Record<string, string>;
  /**
   * Kill the process and its descendants when none of them used CPU or did I/O for this long (a deadlocked or
   * hung child); the result then has `stalled: true`.
   */
  stallMs?: number;
  /** stdout/stderr decoding; 'latin1' keeps file names byte-exact (one char per byte, like RelPath) */
  encoding?: 'utf8' | 'latin1';
}

export async function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const child: ResultPromise = execa(file, args, {
    reject: false,
    stripFinalNewline: false,
    input: options.input,
    cwd: options.cwd,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    env: options.env,
    extendEnv: true,
    buffer: { stdout: options.onStdout === undefined, stderr: true },
    encoding: options.encoding ?? 'utf8',
  });
  const streamed: string[] = [];
  if (options.onStdout && child.stdout) {
    const onStdout = options.onStdout;
    child.stdout.setEncoding(options.encoding ?? 'utf8');
    child.stdout.on('data', (chunk: string) => {
      streamed.push(chunk);
      onStdout(chunk);
    });
  }
  let stalled = false;
  let watchdog: NodeJS.Timeout | null = null;
  if (options.stallMs && child.pid !== undefined) {
    const pid = child.pid;
    let last = '';
    let lastChange = performance.now();
    watchdog = setInterval(() => {
      const now = activity(pid);
      if (now !== last) {
        last = now;
        lastChange = performance.now();
      } else if (performance.now() - lastChange >= options.stallMs!) {
        stalled = true;
        killTree(pid);
      }
    }, Math.max(50, Math.floor(options.stallMs / 4)));
    watchdog.unref();
  }
  const result = await child;
  if (watchdog) clearInterval(watchdog);
  const durationMs = performance.now() - started;
  const spawnError = result.failed && result.exitCode === undefined && !result.signal ? (result.cause instanceof Error ? result.cause.message : result.shortMessage) : undefined;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: typeof result.stdout === 'string' ? result.stdout : streamed.join(''),
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    durationMs,
    ...(spawnError === undefined ? {} : { spawnError }),
    ...(stalled ? { stalled } : {}),
  };
}
