/**
 * The job lock: `<state-dir>/<name>.lock`, held for the daemon's whole life, so a second `start` with the same
 * name refuses, naming the running pid. Whoever holds it owns the job's socket and record (a stale socket is
 * removed under it: src/control/server.ts).
 *
 * Mechanism: the lock file holds {pid, startTime} and is created atomically (written aside, then hard-linked
 * into place: EEXIST means taken). The holder is alive when /proc/<pid>/stat still shows that start time, so a
 * recycled pid does not keep a dead daemon's lock. A dead holder's lock is broken by renaming it aside and
 * checking that what was moved is the very file judged stale; if another starter had replaced it meanwhile,
 * the file is linked back. Residual race: three starters at once on a stale lock, within microseconds; the
 * kernel-released alternative (flock) needs native code and is not worth it for a daemon started by hand.
 *
 *   absent --create--> held(us) --release--> absent
 *   held(other, alive) --> refuse E_ALREADY_RUNNING
 *   held(other, dead)  --rename aside, verify--> absent --> retry
 */
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError } from '../errors/errors.ts';
import { createExclusive, linkPath, processStartTime, readText, removePath, renamePath } from '../sys/state-files.ts';
import { ensureStateDir, type JobPaths } from './paths.ts';
import { crypto } from '../util/builtins.ts';

export interface LockHolder {
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot) */
  startTime: number;
  /** ms since epoch */
  acquiredAt: number;
}

export interface JobLock extends AsyncDisposable {
  readonly paths: JobPaths;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** A stale lock can be broken, then lost to another starter; retry a few times before giving up. */
const MAX_ATTEMPTS = 5;

function parseHolder(text: string): LockHolder | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return null;
    const { pid, startTime, acquiredAt } = value as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof startTime !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
    return { pid, startTime, acquiredAt: typeof acquiredAt === 'number' ? acquiredAt : 0 };
  } catch {
    return null;
  }
}

/** True when the process that wrote `holder` is still running (same pid, same start time). */
export async function isHolderAlive(holder: LockHolder): Promise<boolean> {
  return (await processStartTime(holder.pid)) === holder.startTime;
}

/** The live holder of a job's lock, or null when nobody (alive) holds it. */
export async function readLockHolder(paths: JobPaths): Promise<LockHolder | null> {
  const text = await readText(paths.lock);
  if (!text.ok) return null;
  const holder = parseHolder(text.value);
  return holder !== null && (await isHolderAlive(holder)) ? holder : null;
}

function alreadyRunning(paths: JobPaths, holder: LockHolder): ToolError {
  return new ToolError('E_ALREADY_RUNNING', `a livesync job named ${paths.name} is already running (pid ${holder.pid})`, {
    hint: `stop it first (livesync stop ${paths.name}), or give this one another name`,
    exitCode: ExitCode.precondition,
  });
}

function lockError(paths: JobPaths, problem: string): ToolError {
  return new ToolError('E_LOCK', `cannot lock job ${paths.name}: ${problem}`, {
    hint: `make sure no livesync job named ${paths.name} runs, then remove ${paths.lock}`,
    exitCode: ExitCode.config,
  });
}

/** Moves a dead holder's lock aside. True when the stale file is gone (by us or by someone else). */
async function breakStaleLock(paths: JobPaths, staleText: string): Promise<boolean> {
  const aside = `${paths.lock}.stale-${process.pid}-${crypto().randomBytes(4).toString('hex')}`;
  const moved = await renamePath(paths.lock, aside);
  if (!moved.ok) return moved.errno === 'ENOENT';
  const movedText = await readText(aside);
  if (movedText.ok && movedText.value === staleText) {
    await removePath(aside);
    return true;
  }
  // We moved a fresh lock another starter created after our read: put it back.
  const restored = await linkPath(aside, paths.lock);
  await removePath(aside);
  if (!restored.ok) throw lockError(paths, `lost a race with another livesync start (${restored.errno})`);
  return true;
}

/**
 * Takes the job's lock, creating the state dir (0700) if needed. Throws ToolError E_ALREADY_RUNNING (exit 4)
 * naming the running pid when a live daemon holds it. Dispose (or release) to give it back.
 */
export async function acquireJobLock(paths: JobPaths): Promise<JobLock> {
  await ensureStateDir(paths.stateDir);
  const startTime = await processStartTime(process.pid);
  if (startTime === null) throw lockError(paths, 'cannot read /proc/self/stat (is /proc mounted?)');
  const holder: LockHolder = { pid: process.pid, startTime, acquiredAt: Date.now() };
  const text = `${JSON.stringify(holder)}\n`;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const created = await createExclusive(paths.lock, text, 0o600);
    if (created.ok) return heldLock(paths, holder, text);
    if (created.errno !== 'EEXIST') throw lockError(paths, created.message);
    const current = await readText(paths.lock);
    if (!current.ok) continue; // released between our create and our read: try again
    const other = parseHolder(current.value);
    if (other === null) throw lockError(paths, `${paths.lock} is not a livesync lock file`);
    if (await isHolderAlive(other)) throw alreadyRunning(paths, other);
    await breakStaleLock(paths, current.value);
  }
  throw lockError(paths, `gave up after ${MAX_ATTEMPTS} attempts (other livesync starts are racing for it)`);
}

function heldLock(paths: JobPaths, holder: LockHolder, text: string): JobLock {
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    const current = await readText(paths.lock);
    if (current.ok && current.value === text) await removePath(paths.lock);
  };
  return { paths, holder, release, [Symbol.asyncDispose]: release };
}
