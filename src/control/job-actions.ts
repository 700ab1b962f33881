/**
 * `livesync flush` and `livesync stop`: ask a running job over its control socket, turn the answer into output
 * or a ToolError with the documented exit code. The failure reasons map to exit codes through FLUSH_FAILURES.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FlushResult } from '../engine/job.ts';
import { resolveJob } from '../daemon/registry.ts';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.ts';
import { ToolError } from '../errors/errors.ts';
import { formatDuration } from '../status/render.ts';
import { processStartTime } from '../sys/state-files.ts';
import { ControlClient } from './client.ts';

/** the daemon answers a flush by itself at its timeout; the client waits this much longer before giving up */
const FLUSH_GRACE_MS = 5_000;
/** how often `stop` looks whether the daemon's process has exited */
const EXIT_POLL_MS = 50;

export const DEFAULT_FLUSH_TIMEOUT_MS = 60_000;
export const DEFAULT_STOP_TIMEOUT_MS = 300_000;

type FlushFailure = Extract<FlushResult, { ok: false }>['reason'];

/** What a failed flush means for a script. */
const FLUSH_FAILURES: Record<FlushFailure, { code: `E_${string}`; what: string; exitCode: ExitCodeValue; hint: string }> = {
  // the barrier did not pass in time: the job is behind or the target is slow
  timeout: { code: 'E_FLUSH_TIMEOUT', what: 'timed out', exitCode: ExitCode.timeout, hint: 'the job is behind (see livesync status NAME); retry with a longer --timeout' },
  // the job refuses to propagate (source root vanished or emptied): nothing will land until an operator acts
  halted: { code: 'E_JOB_HALTED', what: 'refused: the job is halted', exitCode: ExitCode.unhealthy, hint: 'see livesync status NAME and the daemon log' },
  // changes may not land (failing target, failed paths): a barrier would be a lie
  degraded: { code: 'E_JOB_DEGRADED', what: 'refused: the job is degraded', exitCode: ExitCode.unhealthy, hint: 'fix the failures listed by livesync status NAME, then flush again' },
  // the job is shutting down
  stopping: { code: 'E_NOT_RUNNING', what: 'interrupted: the job is stopping', exitCode: ExitCode.unreachable, hint: 'start the job again, then flush' },
};

export interface JobTarget {
  name: string | undefined;
  stateDir: string;
}

/** Waits until every change made before the call is on the target. Throws ToolError when it does not pass. */
export async function flushJob(target: JobTarget, timeoutMs: number, write: (text: string) => void): Promise<void> {
  const paths = await resolveJob(target.name, target.stateDir);
  await using client = await ControlClient.connect(paths);
  const result: FlushResult = await client.request('flush', { timeoutMs }, { timeoutMs: timeoutMs + FLUSH_GRACE_MS }).catch((err: unknown) => {
    // the daemon did not even answer at its own deadline: report it as the timeout it is
    if (err instanceof ToolError && err.code === 'E_CONTROL_TIMEOUT') return { ok: false, reason: 'timeout', message: `no answer within ${timeoutMs} ms` };
    throw err;
  });
  if (result.ok) {
    write(`flushed ${paths.name}: every change made before the call is on the target (${formatDuration(result.durationMs)})\n`);
    return;
  }
  const failure = FLUSH_FAILURES[result.reason];
  throw new ToolError(failure.code, `flush of job ${paths.name} ${failure.what}: ${result.message}`, {
    hint: failure.hint.replace('NAME', paths.name),
    exitCode: failure.exitCode,
  });
}

async function waitForExit(pid: number, startTime: number | null, deadline: number): Promise<boolean> {
  if (startTime === null) return true; // not visible from here (another pid namespace): trust the answer
  while ((await processStartTime(pid)) === startTime) {
    if (Date.now() >= deadline) return false;
    await sleep(EXIT_POLL_MS);
  }
  return true;
}

/** Stops the job and waits until its process has exited. Throws ToolError exit 10 when it takes too long. */
export async function stopJob(target: JobTarget, timeoutMs: number, write: (text: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const paths = await resolveJob(target.name, target.stateDir);
  await using client = await ControlClient.connect(paths);
  const hello = await client.request('hello', { client: 'livesync stop' });
  const pid = hello.job.pid;
  const startTime = await processStartTime(pid);
  const answered = await client.request('stop', {}, { timeoutMs: Math.max(1, deadline - Date.now()) }).then(
    () => true,
    (err: unknown) => {
      // the daemon went away before answering (a SIGTERM raced us): what counts is that it exits
      if (err instanceof ToolError && err.code === 'E_CONTROL_CLOSED') return true;
      if (err instanceof ToolError && err.code === 'E_CONTROL_TIMEOUT') return false;
      throw err;
    },
  );
  if (!answered || !(await waitForExit(pid, startTime, deadline))) {
    throw new ToolError('E_STOP_TIMEOUT', `job ${paths.name} stopped mirroring but its process ${pid} did not exit within ${timeoutMs} ms`, {
      hint: `wait and check again, or kill -TERM ${pid} (stopping twice is harmless)`,
      exitCode: ExitCode.timeout,
    });
  }
  write(`stopped ${paths.name} (pid ${pid})\n`);
}
