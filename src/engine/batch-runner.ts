/**
 * Runs one batch: replays renames on the target (so a moved 10 GB file or big directory is a rename, not a
 * re-copy), then hands the flat, forced and deep lists to rsync. Returns what happened; it never touches the
 * dirty set (the mirror decides what to re-queue).
 */
import { prespawn, spawnRun, type Prespawned } from '../sys/spawn.ts';
import { renameUnder } from '../sys/fsops.ts';
import type { RelPath } from '../util/bpath.ts';
import { batchArgs, nulList, parseStats, rsyncCommand, seedArgs, type ListMode, type RsyncCommon } from '../sync/rsync-args.ts';
import { classifyRun, type RsyncOutcome } from '../sync/rsync-exit.ts';
import { deletionsSkipped } from '../sync/rsync-errors.ts';
import { tail } from '../sync/seed.ts';
import type { BatchPlan } from './batch-plan.ts';

export interface Rename {
  from: RelPath;
  to: RelPath;
  isDir: boolean;
}

export interface RenameResult extends Rename {
  ok: boolean;
  errno?: string;
}

export interface ListResult {
  mode: ListMode;
  paths: number;
  outcome: RsyncOutcome;
  exitCode: number | null;
  message: string;
  files: number;
  bytes: number;
  durationMs: number;
  /** rsync's stderr (ASCII: rsync runs with LC_ALL=C, so unprintable bytes are escaped as \#ooo) */
  stderr: string;
  /**
   * rsync skipped --delete after an I/O error while listing (e.g. llistxattr on a file that vanished): it says
   * so on stdout, and the extraneous target entries of the run's directories stay
   */
  deletionsSkipped: boolean;
}

/**
 * A batch rsync whose processes used no CPU and did no I/O for this long is deadlocked (measured: rsync 3.5
 * can hang in poll() when directories are renamed under a recursive run, and its --timeout does not end it);
 * it is killed and the batch retried.
 */
export const RSYNC_STALL_MS = 15_000;

/** rsync runs in the C locale so every non-ASCII byte in its messages is escaped (\#ooo), never mangled. */
export const RSYNC_ENV = { LC_ALL: 'C' };

/**
 * Replays renames in order. After the first failure every later rename is skipped too (its source may be the
 * destination of the failed one); the caller syncs the destinations of failed and skipped renames instead.
 */
export function replayRenames(target: string, renames: readonly Rename[]): RenameResult[] {
  const results: RenameResult[] = [];
  let failed = false;
  for (const r of renames) {
    if (failed) {
      results.push({ ...r, ok: false, errno: 'SKIPPED' });
      continue;
    }
    const res = renameUnder(target, r.from, r.to);
    if (!res.ok) failed = true;
    results.push(res.ok ? { ...r, ok: true } : { ...r, ok: false, errno: res.errno });
  }
  return results;
}


export interface RunOptions {
  /** a listed path missing from the source is deleted on the target (else skipped: the writes lane) */
  deletes: boolean;
  signal?: AbortSignal;
  /** an rsync already started for this argv, if one waits (WarmRsync) */
  warm?: WarmRsync;
}

/**
 * One rsync started ahead of need for the next writes-lane flat list, the list a single small write makes.
 * rsync's own start-up (exec, loading libcrypto, forking its receiver, the protocol handshake) and the fork of
 * the daemon's large process were most of a single write's latency; started ahead, the rsync only reads its
 * list when the batch comes (measured: 5.6 ms from list to landed, against 15 ms for a fresh spawn, p50).
 * Its receiver enters the target as it starts: with the target pinned (targetId, src/sys/pin-exec.ts) it does so
 * in its own mount namespace where the target is the recorded filesystem, so one started before the share went
 * away still writes only into that share. The mirror starts it when it goes idle while healthy, and discards it on
 * stop and quiesce (cutover). While it waits it keeps the share busy (a plain `umount` says so), and its mount
 * namespace holds a copy of every mount of the host as it was at its start: a filesystem unmounted meanwhile
 * stays busy until it ends. So it lives at most WARM_MAX_IDLE_MS unused (with the heartbeat on, a batch takes it
 * every 5 s anyway); a write after a longer quiet spell pays a fresh spawn.
 */
export const WARM_MAX_IDLE_MS = 10_000;

export class WarmRsync {
  #common: RsyncCommon;
  #cmd: { file: string; args: string[] } | null = null;
  #proc: Prespawned | null = null;
  #expiry: NodeJS.Timeout | null = null;
  #maxIdleMs: number;

  constructor(common: RsyncCommon, maxIdleMs = WARM_MAX_IDLE_MS) {
    this.#common = common;
    this.#maxIdleMs = maxIdleMs;
  }

  /** Starts one unless one waits already. */
  prepare(): void {
    if (this.#proc?.ready) return;
    // built at the first use, not at construction: the target's identity is recorded when the job starts (targetId)
    const cmd = (this.#cmd ??= rsyncCommand(this.#common, batchArgs(this.#common, 'flat', false)));
    this.#proc = prespawn(cmd.file, cmd.args, { env: RSYNC_ENV });
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => this.drop(), this.#maxIdleMs).unref();
  }

  /** The waiting rsync, if it runs exactly this command (it is handed out once). */
  take(cmd: { file: string; args: readonly string[] }): Prespawned | null {
    const p = this.#proc;
    const mine = this.#cmd;
    if (!p?.ready || mine === null || cmd.file !== mine.file || cmd.args.length !== mine.args.length || cmd.args.some((a, i) => a !== mine.args[i])) return null;
    this.#proc = null;
    return p;
  }

  drop(): void {
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#expiry = null;
    this.#proc?.discard();
    this.#proc = null;
  }
}

export async function runList(common: RsyncCommon, mode: ListMode, paths: readonly RelPath[], options: RunOptions): Promise<ListResult> {
  const { signal } = options;
  // issue 3: the whole tree (an overflow rescan) as a plain recursive run, like the seed: rsync's --files-from
  // mode walked a 100k-file tree ~1.5x slower (2.2 s vs 1.45 s measured, docs/faults.md)
  const wholeTree = mode === 'deep' && paths.length === 1 && paths[0] === '';
  const args = wholeTree ? seedArgs(common) : batchArgs(common, mode, options.deletes);
  const cmd = rsyncCommand(common, args);
  const feed = { ...(wholeTree ? {} : { input: nulList(paths.map((p) => (p === '' ? '.' : p))) }), stallMs: RSYNC_STALL_MS, ...(signal ? { signal } : {}) };
  const warm = options.warm?.take(cmd);
  const result = warm ? await warm.feed(feed) : await spawnRun(cmd.file, cmd.args, { ...feed, env: RSYNC_ENV });
  const { outcome, why } = classifyRun(result, RSYNC_STALL_MS);
  const stats = parseStats(result.stdout);
  return {
    mode,
    paths: paths.length,
    outcome,
    exitCode: result.exitCode,
    message: outcome === 'ok' ? 'ok' : `rsync exit ${result.exitCode ?? result.signal}: ${why}${result.stderr ? `: ${tail(result.stderr)}` : ''}`,
    files: stats.files,
    bytes: stats.bytes,
    durationMs: result.durationMs,
    stderr: result.stderr,
    deletionsSkipped: deletionsSkipped(result.stdout),
  };
}

/** The rsync runs of one plan for `modes`, in that order (empty lists are skipped). */
export async function runPlan(common: RsyncCommon, plan: BatchPlan, options: RunOptions, modes: readonly ListMode[]): Promise<ListResult[]> {
  const results: ListResult[] = [];
  for (const mode of modes) {
    const paths = plan[mode];
    if (paths.length > 0) results.push(await runList(common, mode, paths, options));
  }
  return results;
}
