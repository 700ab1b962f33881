/**
 * `livesync start` options: validate each next to its meaning, normalize once, freeze. Every rejection is a
 * ToolError with a one-line message naming the problem and a hint naming the fix; nothing is changed before
 * validation passes.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { defaultJobName, normalizeStateDir, validateJobName } from '../daemon/paths.ts';
import { validateMetricsAddress } from '../metrics/address.ts';
import { ToolError, usageError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';

/**
 * --delay default: a batch starts this long after the last change (src/engine/schedule.ts, writes lane).
 * Measured (docs/benchmarks.md, mirror): 0 can start a batch between a writer's open(2) and its write(2) (the
 * file lands empty, a second batch follows: single-write p90 77-84 ms under load); 2 ms catches the whole
 * write, one batch per write (p50 5.2-5.3 ms under load). Was 5 ms while deletions went out with every batch:
 * 1 ms leaked deletions before the emptied-source halt; deletions now settle on their own lane.
 */
export const DEFAULT_DELAY_MS = 2;
/**
 * Under continuous churn a batch still starts within this long of the first unsynced change. Measured
 * (docs/benchmarks.md, mirror): 200 ms split a 10k-file burst written in ~0.3 s into a run that competed with
 * the writer for the CPU and a rescan after it; 1000 ms syncs it in one recursive run once it stopped.
 */
export const DEFAULT_MAX_WAIT_MS = 1_000;
/**
 * Parallel rsyncs of the seed (issue #2, bench/seed.ts: 100k small files on 2 cores, medians vs a plain
 * `rsync -a` in the same run, docs/benchmarks.md "seed"): 1 worker 1.03×, 2 → 0.78×, 3 → 0.79×, 4 → 0.78×.
 * 3 and 4 are no faster on 2 cores and use more CPU. Hard links across the split are kept (src/sync/seed.ts).
 */
export const DEFAULT_SEED_WORKERS = 2;
/** Halt when more than this share of the tree is deleted within 10 s (a wiped or unmounted source). */
export const DEFAULT_MAX_DELETE = '50%';

/** `N` (paths), `P%` (of the tree as counted by the seed) or `0` (no limit). */
export function parseMaxDelete(value: string): { count: number } | { percent: number } | null {
  const m = /^(\d+)(%?)$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n) || (m[2] === '%' && (n < 1 || n > 100))) {
    throw usageError('E_BAD_OPTION', `--max-delete must be a number of paths, a percentage (1-100%) or 0, got "${value}"`, 'e.g. --max-delete 50% or --max-delete 100000; 0 disables the limit');
  }
  if (n === 0) return null;
  return m[2] === '%' ? { percent: n } : { count: n };
}

export interface RawStartOptions {
  name?: string;
  stateDir?: string;
  exclude?: string[];
  delay?: string;
  maxWait?: string;
  watcher?: string;
  mount?: string;
  type?: string;
  options?: string;
  seedWorkers?: string;
  heartbeat?: boolean;
  metrics?: string;
  maxDelete?: string;
  allowEmptySource?: boolean;
  raiseLimits?: boolean;
}

export interface StartOptions {
  source: string;
  target: string;
  name: string;
  stateDir: string;
  excludes: string[];
  delayMs: number;
  maxWaitMs: number;
  watcher: 'inotify' | 'chokidar';
  mount: { spec: string; type: string | undefined; options: string | undefined } | null;
  seedWorkers: number;
  heartbeat: boolean;
  metrics: string | undefined;
  maxDelete: { count: number } | { percent: number } | null;
  allowEmptySource: boolean;
  /** raise fs.inotify limits that are too low for the tree (default: on as root) instead of refusing */
  raiseLimits: boolean;
}

function intOption(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usageError('E_BAD_OPTION', `${flag} must be an integer from ${min} to ${max}, got "${value}"`, `pass e.g. ${flag} ${fallback}`);
  }
  return n;
}

function directory(label: string, path: string): string {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new ToolError('E_NO_DIR', `${label} ${abs} does not exist`, { hint: `create it or fix the path`, exitCode: ExitCode.usage });
  }
  if (!st.isDirectory()) throw usageError('E_NOT_DIR', `${label} ${abs} is not a directory`, 'pass a directory');
  return abs;
}

function within(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`);
}

export function normalizeStartOptions(source: string, target: string, raw: RawStartOptions): Readonly<StartOptions> {
  const src = directory('source', source);
  const dst = raw.mount ? resolve(target) : directory('target', target);
  if (raw.mount && !isAbsolute(dst)) throw usageError('E_BAD_TARGET', `target must be absolute with --mount`, 'pass an absolute mount point');
  if (raw.mount) directory('target mount point', dst);
  if (within(dst, src) || within(src, dst)) {
    throw usageError('E_OVERLAP', `source ${src} and target ${dst} overlap`, 'the target must be outside the source and vice versa');
  }
  if (src === '/') throw usageError('E_ROOT_SOURCE', 'refusing to mirror /', 'pass the application data directory');
  const watcher = raw.watcher ?? 'inotify';
  if (watcher !== 'inotify' && watcher !== 'chokidar') {
    throw usageError('E_BAD_OPTION', `--watcher must be inotify or chokidar, got "${watcher}"`, 'use --watcher inotify (default) for large trees');
  }
  if ((raw.type || raw.options) && !raw.mount) throw usageError('E_BAD_OPTION', '--type and --options need --mount SPEC', 'add --mount, or drop them');
  return Object.freeze({
    source: src,
    target: dst,
    name: validateJobName(raw.name ?? defaultJobName(src)),
    stateDir: normalizeStateDir(raw.stateDir, process.env),
    excludes: raw.exclude ?? [],
    delayMs: intOption('--delay', raw.delay, DEFAULT_DELAY_MS, 0, 600_000),
    maxWaitMs: intOption('--max-wait', raw.maxWait, DEFAULT_MAX_WAIT_MS, 1, 3_600_000),
    watcher,
    mount: raw.mount ? { spec: raw.mount, type: raw.type, options: raw.options } : null,
    seedWorkers: intOption('--seed-workers', raw.seedWorkers, DEFAULT_SEED_WORKERS, 1, 64),
    heartbeat: raw.heartbeat ?? true,
    // validated here, before anything starts (lock, mount, watches)
    metrics: raw.metrics === undefined ? undefined : (validateMetricsAddress(raw.metrics), raw.metrics),
    maxDelete: parseMaxDelete(raw.maxDelete ?? DEFAULT_MAX_DELETE),
    allowEmptySource: raw.allowEmptySource ?? false,
    raiseLimits: raw.raiseLimits ?? process.getuid?.() === 0,
  });
}
