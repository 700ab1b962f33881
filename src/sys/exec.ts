/**
 * Glue only: the one importer of execa. Runs a program with an argv array (never a shell), returns what it
 * did. No retries, no decisions: callers classify exit codes through their own tables.
 */
import { execa, type ResultPromise } from 'execa';

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
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
  const result = await child;
  const durationMs = performance.now() - started;
  const spawnError = result.failed && result.exitCode === undefined && !result.signal ? (result.cause instanceof Error ? result.cause.message : result.shortMessage) : undefined;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: typeof result.stdout === 'string' ? result.stdout : streamed.join(''),
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    durationMs,
    ...(spawnError === undefined ? {} : { spawnError }),
  };
}
