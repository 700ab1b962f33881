/**
 * The watch-limit preflight, run by the daemon before the watcher starts (src/daemon/run.ts). inotify needs one
 * watch per directory of the source and one instance per daemon, both capped per user by the kernel
 * (fs.inotify.max_user_watches, fs.inotify.max_user_instances). The preflight counts the directories the
 * watcher will watch (excluded ones get no watch; same leaf rule as the watcher's walk), compares, and does what
 * the policy tables say: go on, raise the limit (root with --raise-limits, the default as root), warn, or
 * refuse with a one-line ToolError naming the exact `sysctl -w` to run. Reads and writes go through
 * src/sys/sysctl.ts; the decisions are pure functions of the numbers (decideWatches, decideInstances).
 */
import type { EventBus } from '../events/event.ts';
import { ToolError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { absBytes, join, type RelPath } from '../util/bpath.ts';
import { closeFd, fsMagic, inotifyInit, listSubdirs, statDir } from '../sys/inotify.ts';
import { inotifyUsage, readSysctl, writeSysctl } from '../sys/sysctl.ts';
import { NLINK_COUNTS_SUBDIRS } from './dir-watches.ts';

export const WATCHES_SYSCTL = 'fs.inotify.max_user_watches';
export const INSTANCES_SYSCTL = 'fs.inotify.max_user_instances';
/** Free watches wanted per directory: room for the tree to double. */
export const WATCH_HEADROOM = 2;
/** A raised max_user_instances is at least this (the kernel default; some distributions ship 128 or less). */
export const MIN_INSTANCES = 128;

export type LimitDecision =
  /** enough: nothing to do */
  | { kind: 'ok' }
  /** raise `sysctl` from `from` to `to` (allowed: root with --raise-limits) */
  | { kind: 'raise'; sysctl: string; from: number; to: number }
  /** it fits today, without room to grow: go on, saying what to raise */
  | { kind: 'warn'; sysctl: string; from: number; to: number }
  /** it does not fit: refuse, naming the sysctl to run */
  | { kind: 'refuse'; sysctl: string; from: number; to: number };

interface WatchCase {
  dirs: number;
  /** watches still free for this user: the limit minus what its other processes hold */
  room: number;
  mayRaise: boolean;
}

/** First matching row wins. */
const WATCH_POLICY: ReadonlyArray<{ when: (c: WatchCase) => boolean; kind: LimitDecision['kind'] }> = [
  // room for the tree to double: nothing to do
  { when: (c) => c.room >= c.dirs * WATCH_HEADROOM, kind: 'ok' },
  // root with --raise-limits: raise so the tree can double, never lower
  { when: (c) => c.mayRaise, kind: 'raise' },
  // the tree fits today: go on; directories created beyond the limit go unwatched (rescanned periodically)
  { when: (c) => c.dirs < c.room, kind: 'warn' },
  // the tree does not fit: every directory past the limit would only be seen by the periodic rescan
  { when: () => true, kind: 'refuse' },
];

/** `inUse`: watches this user's processes hold already (the kernel counts the limit per user). */
export function decideWatches(dirs: number, limit: number, inUse: number, mayRaise: boolean): LimitDecision {
  const kind = WATCH_POLICY.find((row) => row.when({ dirs, room: limit - inUse, mayRaise }))!.kind;
  if (kind === 'ok') return { kind };
  return { kind, sysctl: WATCHES_SYSCTL, from: limit, to: Math.max(inUse + dirs * WATCH_HEADROOM, limit) };
}

interface InstanceCase {
  /** an inotify instance could be created right now */
  available: boolean;
  mayRaise: boolean;
}

/** First matching row wins. */
const INSTANCE_POLICY: ReadonlyArray<{ when: (c: InstanceCase) => boolean; kind: LimitDecision['kind'] }> = [
  // inotify_init works: the daemon needs exactly one
  { when: (c) => c.available, kind: 'ok' },
  // EMFILE, root with --raise-limits: raise (double, at least MIN_INSTANCES)
  { when: (c) => c.mayRaise, kind: 'raise' },
  // EMFILE: other programs of this user hold every instance
  { when: () => true, kind: 'refuse' },
];

export function decideInstances(available: boolean, limit: number, mayRaise: boolean): LimitDecision {
  const kind = INSTANCE_POLICY.find((row) => row.when({ available, mayRaise }))!.kind;
  if (kind === 'ok') return { kind };
  return { kind, sysctl: INSTANCES_SYSCTL, from: limit, to: Math.max(limit * 2, MIN_INSTANCES) };
}

/**
 * Directories the watcher will watch under `root` (the root included, excluded subtrees left out): an
 * iterative walk that, like the watcher's, does not list a directory whose link count proves it has no
 * subdirectory (filesystems in NLINK_COUNTS_SUBDIRS), so files are never listed on those. Unreadable
 * directories count as one.
 */
export function countWatchedDirs(root: string, isExcluded: (rel: RelPath, isDir: boolean) => boolean): number {
  const countsSubdirs = new Map<number, boolean>();
  const stack: RelPath[] = [''];
  let dirs = 0;
  for (let rel = stack.pop(); rel !== undefined; rel = stack.pop()) {
    dirs++;
    const abs = absBytes(root, rel);
    const st = statDir(abs);
    if (st.ok && st.value.nlink === 2) {
      let counts = countsSubdirs.get(st.value.dev);
      if (counts === undefined) {
        const magic = fsMagic(abs);
        counts = magic.ok && NLINK_COUNTS_SUBDIRS[magic.value] !== undefined;
        countsSubdirs.set(st.value.dev, counts);
      }
      if (counts) continue;
    }
    const listing = listSubdirs(abs);
    if (!listing.ok) continue;
    for (const name of listing.value) {
      const child = join(rel, name);
      if (!isExcluded(child, true)) stack.push(child);
    }
  }
  return dirs;
}

function limitError(d: Exclude<LimitDecision, { kind: 'ok' }>, problem: string, raiseFailed?: string): ToolError {
  const how = raiseFailed
    ? `run as root: sysctl -w ${d.sysctl}=${d.to} (raising it failed: ${raiseFailed})`
    : `run: sysctl -w ${d.sysctl}=${d.to} (persist it in /etc/sysctl.d/), or start as root without --no-raise-limits`;
  return new ToolError(d.sysctl === WATCHES_SYSCTL ? 'E_WATCH_LIMIT' : 'E_INSTANCE_LIMIT', problem, { hint: how, exitCode: ExitCode.config });
}

export interface PreflightOptions {
  root: string;
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  /** --raise-limits (default: on as root) */
  raise: boolean;
  bus: EventBus;
}

export interface PreflightResult {
  dirs: number;
  watches: number;
  /** watches held by other programs of this user before the start */
  watchesInUse: number;
  instances: number;
  durationMs: number;
}

/** Applies one decision: nothing, a raise (logged), a warning, or a ToolError. Returns the limit in force. */
function apply(d: LimitDecision, problem: string, bus: EventBus, current: number): number {
  if (d.kind === 'ok') return current;
  if (d.kind === 'warn') {
    bus.emit({ type: 'warning', code: 'W_WATCH_LIMIT', message: `${problem}; directories past the limit go unwatched and are only rescanned periodically: raise it with sysctl -w ${d.sysctl}=${d.to}` });
    return current;
  }
  if (d.kind === 'refuse') throw limitError(d, problem);
  const res = writeSysctl(d.sysctl, d.to);
  if (!res.ok) throw limitError(d, problem, `${res.errno}: ${res.message}`);
  bus.emit({ type: 'info', message: `raised ${d.sysctl} from ${d.from} to ${d.to} (${problem}; --no-raise-limits refuses instead)`, data: { sysctl: d.sysctl, from: d.from, to: d.to } });
  return d.to;
}

/**
 * Counts the directories, checks both limits, raises or refuses. Throws ToolError E_WATCH_LIMIT or
 * E_INSTANCE_LIMIT (exit 3) with the exact sysctl to run when the watcher could not cover the tree.
 */
export function preflightLimits(o: PreflightOptions): PreflightResult {
  const t0 = performance.now();
  const watchLimit = readSysctl(WATCHES_SYSCTL);
  const instanceLimit = readSysctl(INSTANCES_SYSCTL);
  // no /proc/sys (unusual containers): nothing to check against; the watcher reports ENOSPC/EMFILE itself
  if (!watchLimit.ok || !instanceLimit.ok) return { dirs: 0, watches: 0, watchesInUse: 0, instances: 0, durationMs: 0 };
  let probe: ReturnType<typeof inotifyInit>;
  try {
    probe = inotifyInit();
  } catch {
    probe = { ok: false, errno: 'ENOADDON', message: 'the inotify addon is not built' }; // --watcher chokidar does not need it
  }
  if (probe.ok) closeFd(probe.value);
  else if (probe.errno !== 'EMFILE') return { dirs: 0, watches: watchLimit.value, watchesInUse: 0, instances: instanceLimit.value, durationMs: 0 };
  const instances = apply(
    decideInstances(probe.ok, instanceLimit.value, o.raise),
    `no inotify instance is left: ${INSTANCES_SYSCTL} is ${instanceLimit.value} and other programs of this user hold them all`,
    o.bus,
    instanceLimit.value,
  );
  const dirs = countWatchedDirs(o.root, o.isExcluded);
  const inUse = inotifyUsage(process.getuid?.() ?? 0).watches;
  const d = decideWatches(dirs, watchLimit.value, inUse, o.raise);
  const watches = apply(d, `the source has ${dirs} directories to watch and ${WATCHES_SYSCTL} is ${watchLimit.value} (${inUse} held by other programs of this user)`, o.bus, watchLimit.value);
  const result = { dirs, watches, watchesInUse: inUse, instances, durationMs: Math.round(performance.now() - t0) };
  o.bus.emit({ type: 'info', message: `watch preflight: ${dirs} directories, ${WATCHES_SYSCTL} ${watches} (${inUse} in use), ${INSTANCES_SYSCTL} ${instances}`, data: { ...result } });
  return result;
}
