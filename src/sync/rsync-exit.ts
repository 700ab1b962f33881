/**
 * rsync exit codes as policy: one row per code, with why. The engine never dies on an rsync error: `fatal`
 * means "this cannot succeed by retrying soon" (a usage or protocol bug), which degrades the job loudly and
 * keeps retrying on a long backoff so a fixed environment recovers without a restart.
 */
export type RsyncOutcome = 'ok' | 'vanished' | 'partial' | 'retry' | 'fatal';

export const RSYNC_EXIT: Readonly<Record<number, { outcome: RsyncOutcome; why: string }>> = {
  0: { outcome: 'ok', why: 'success' },
  1: { outcome: 'fatal', why: 'syntax or usage error: a livesync bug or an unsupported rsync' },
  2: { outcome: 'fatal', why: 'protocol incompatibility' },
  3: { outcome: 'retry', why: 'errors selecting input/output files, dirs (target dir missing or unmounted?)' },
  4: { outcome: 'fatal', why: 'requested action not supported (e.g. ACLs/xattrs on a target without them)' },
  5: { outcome: 'retry', why: 'error starting client-server protocol' },
  6: { outcome: 'retry', why: 'daemon unable to append to log-file' },
  10: { outcome: 'retry', why: 'error in socket I/O' },
  11: { outcome: 'retry', why: 'error in file I/O (target full, share gone)' },
  12: { outcome: 'retry', why: 'error in rsync protocol data stream (a side died mid-transfer)' },
  13: { outcome: 'retry', why: 'errors with program diagnostics' },
  14: { outcome: 'retry', why: 'error in IPC code' },
  20: { outcome: 'retry', why: 'received SIGUSR1 or SIGINT' },
  21: { outcome: 'retry', why: 'some error returned by waitpid()' },
  22: { outcome: 'retry', why: 'error allocating core memory buffers' },
  23: { outcome: 'partial', why: 'partial transfer due to error: some paths failed, the rest landed' },
  24: { outcome: 'vanished', why: 'some source files vanished: their delete events follow, not an error' },
  25: { outcome: 'partial', why: '--max-delete limit stopped deletions' },
  30: { outcome: 'retry', why: 'timeout in data send/receive' },
  35: { outcome: 'retry', why: 'timeout waiting for daemon connection' },
  // not rsync's: native/pin-exec.c, which runs it with the target pinned (src/sys/pin-exec.ts)
  120: { outcome: 'fatal', why: 'pin-exec could not make its private mount namespace (livesync must run as root)' },
  121: { outcome: 'retry', why: 'the target is not the filesystem recorded at start (unmounted or replaced): nothing was run' },
  122: { outcome: 'fatal', why: 'pin-exec usage error: a livesync bug' },
  127: { outcome: 'fatal', why: 'rsync could not be executed (is it installed?)' },
};

export function classifyExit(code: number | null, signal: string | null): { outcome: RsyncOutcome; why: string } {
  if (code === null) return { outcome: 'retry', why: `rsync killed by ${signal ?? 'a signal'}` };
  return RSYNC_EXIT[code] ?? { outcome: 'retry', why: `unknown rsync exit code ${code}` };
}

/** Capped exponential backoff with full jitter: attempt 1 → up to 0.5 s, doubling to MAX_BACKOFF_MS. */
export const BASE_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 30_000;

export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/**
 * One rsync run's outcome from how it ended: it could not start (fatal), the stall watchdog killed it (retry),
 * else its exit code through RSYNC_EXIT. Shared by the seed and the batches.
 */
export function classifyRun(run: { spawnError?: string; stalled?: boolean; exitCode: number | null; signal: string | null }, stallMs: number): { outcome: RsyncOutcome; why: string } {
  if (run.spawnError) return { outcome: 'fatal', why: run.spawnError };
  if (run.stalled) return { outcome: 'retry', why: `rsync made no progress for ${stallMs} ms and was killed` };
  return classifyExit(run.exitCode, run.signal);
}
