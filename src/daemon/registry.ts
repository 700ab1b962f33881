/**
 * The job records: `<state-dir>/<name>.json`, written by the daemon at start (after it holds the lock) and
 * removed at stop. `livesync verify [name]` and the control client read them. Also answers "which jobs run in
 * this state dir" (a job runs when a live process holds its lock) and resolves an omitted job name.
 */
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError } from '../errors/errors.ts';
import { listDir, readText, removePath, writeAtomic } from '../sys/state-files.ts';
import { readLockHolder, type JobLock, type LockHolder } from './lock.ts';
import { jobPaths, NAME_PATTERN, validateJobName, type JobPaths } from './paths.ts';

export const RECORD_SCHEMA = 1;

/** Stable, documented in docs/control-protocol.md ("Job record"). */
export interface JobRecord {
  schema: typeof RECORD_SCHEMA;
  name: string;
  /** absolute source path */
  source: string;
  /** absolute target path */
  target: string;
  pid: number;
  /** ms since epoch */
  startedAt: number;
  /** livesync version of the daemon */
  version: string;
  /** the metrics URL to scrape (http://host:port/metrics, the port actually bound), when --metrics is on */
  metrics?: string;
}

function parseRecord(text: string): JobRecord | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return null;
    const r = value as Record<string, unknown>;
    const ok =
      r['schema'] === RECORD_SCHEMA &&
      typeof r['name'] === 'string' &&
      typeof r['source'] === 'string' &&
      typeof r['target'] === 'string' &&
      typeof r['pid'] === 'number' &&
      typeof r['startedAt'] === 'number' &&
      typeof r['version'] === 'string';
    return ok ? (value as JobRecord) : null;
  } catch {
    return null;
  }
}

/**
 * Writes the job record (atomically, mode 0600). Needs the lock: only the holder may publish. Dispose to
 * remove it (only if it is still ours).
 */
export async function publishJobRecord(lock: JobLock, record: Omit<JobRecord, 'schema' | 'name' | 'pid'>): Promise<AsyncDisposable> {
  const { paths } = lock;
  const full: JobRecord = { schema: RECORD_SCHEMA, name: paths.name, pid: lock.holder.pid, ...record };
  const written = await writeAtomic(paths.record, `${JSON.stringify(full, null, 2)}\n`, 0o600);
  if (!written.ok) {
    throw new ToolError('E_STATE_DIR', `cannot write job record ${paths.record}: ${written.message}`, {
      hint: 'check that the state dir is writable',
      exitCode: ExitCode.config,
    });
  }
  let removed = false;
  return {
    async [Symbol.asyncDispose]() {
      if (removed) return;
      removed = true;
      const current = await readText(paths.record);
      if (current.ok && parseRecord(current.value)?.pid === full.pid) await removePath(paths.record);
    },
  };
}

function notRunning(paths: JobPaths, what: string): ToolError {
  return new ToolError('E_NOT_RUNNING', `no livesync job named ${paths.name} is running (${what})`, {
    hint: `check the name and --state-dir (list jobs: livesync status --state-dir ${paths.stateDir}), or start it with livesync start SRC TARGET`,
    exitCode: ExitCode.unreachable,
  });
}

/** The record of a running job. Throws E_NOT_RUNNING (exit 7) when it is missing or its daemon is gone. */
export async function readJobRecord(paths: JobPaths): Promise<JobRecord> {
  const text = await readText(paths.record);
  if (!text.ok) throw notRunning(paths, `no record at ${paths.record}`);
  const record = parseRecord(text.value);
  if (record === null) {
    throw new ToolError('E_BAD_RECORD', `job record ${paths.record} is not a livesync job record`, {
      hint: `remove it if no livesync job named ${paths.name} is running`,
      exitCode: ExitCode.config,
    });
  }
  const holder = await readLockHolder(paths);
  if (holder?.pid !== record.pid) throw notRunning(paths, `its daemon, pid ${record.pid}, has exited`);
  return record;
}

export interface RunningJob {
  paths: JobPaths;
  holder: LockHolder;
}

/** Jobs whose lock a live process holds, sorted by name. A missing state dir means none. */
export async function listRunningJobs(stateDir: string): Promise<RunningJob[]> {
  const names = await listDir(stateDir);
  if (!names.ok) return [];
  const running: RunningJob[] = [];
  for (const file of names.value.sort()) {
    if (!file.endsWith('.lock')) continue;
    const name = file.slice(0, -'.lock'.length);
    if (!NAME_PATTERN.test(name)) continue;
    const paths = jobPaths(stateDir, name);
    const holder = await readLockHolder(paths);
    if (holder !== null) running.push({ paths, holder });
  }
  return running;
}

/**
 * The job a command addresses: the named one, or, with no name, the only job running in the state dir.
 * Throws E_NOT_RUNNING (exit 7) when none runs and E_WHICH_JOB (exit 2) when several do.
 */
export async function resolveJob(name: string | undefined, stateDir: string): Promise<JobPaths> {
  if (name !== undefined) return jobPaths(stateDir, validateJobName(name));
  const running = await listRunningJobs(stateDir);
  const [only] = running;
  if (only !== undefined && running.length === 1) return only.paths;
  if (running.length === 0) {
    throw new ToolError('E_NOT_RUNNING', `no livesync job is running in ${stateDir}`, {
      hint: 'start one with livesync start SRC TARGET, or point to its state dir with --state-dir (or LIVESYNC_STATE_DIR)',
      exitCode: ExitCode.unreachable,
    });
  }
  const list = running.map((job) => `${job.paths.name} (pid ${job.holder.pid})`).join(', ');
  throw new ToolError('E_WHICH_JOB', `${running.length} livesync jobs are running in ${stateDir}: ${list}`, {
    hint: `name one, e.g. livesync status ${running[0]?.paths.name ?? 'NAME'}`,
    exitCode: ExitCode.usage,
  });
}
