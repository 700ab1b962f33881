/**
 * The last good point: the latest moment P at which the mirror knew the target held every change made in the
 * source before P (state in-sync, the watcher's kernel queue drained after P was read, nothing dirty, in
 * flight or failed, no directory unwatched). The daemon records it in STATE_DIR/NAME.lastgood whenever it
 * gets there (and every RECORD_EVERY_MS while it stays there), so a kill -9 leaves a recent one behind.
 *
 * What it buys: the restart reconcile (reconcile.ts) reads xattrs and ACLs only of pairs where either side's
 * ctime is at or after P (minus a margin per side, below). An xattr or ACL change moves the inode's ctime
 * (setxattr, removexattr, chmod, link, rename, create: the kernel stamps it, utimensat cannot set it back), so
 * a pair whose two ctimes are older has the xattrs it had at P, when both sides agreed. Later activity never
 * spoils a record: whatever changed after P, on either side, carries a ctime after P and is compared.
 *
 * Margins, per side: this kernel stamps local filesystems from its own clock, at most a tick late and
 * truncated to the filesystem's granularity (taken from the root's own ctime: its sub-second digits show
 * the coarsest it can be); a network filesystem is stamped by its server's clock, so the margin is the clock
 * skew tolerated. A record is not used when the roots, their identity or the excludes differ, after a
 * reboot, or when the wall clock was stepped back since (ctimes of later changes could then be older).
 * Not covered: a target restored in place to an older state with its old ctimes (a filesystem snapshot
 * rollback): remove the record, and the next restart compares every xattr.
 */
import type { EventBus } from '../events/event.ts';
import type { MirrorState } from '../events/event.ts';
import { identity } from '../sys/fsops.ts';
import { bootId, clocks, ctimeNsOf, fsTypeOf, readSmallFile, replaceSmallFile } from '../sys/clock-facts.ts';
import type { XattrFloor } from '../verify/types.ts';
import { granularityOf } from '../verify/precision.ts';
import type { Watcher } from '../watch/types.ts';

/** How often the point is recorded again while the mirror stays in sync with nothing happening. */
export const RECORD_EVERY_MS = 30_000;
/** At most one record per this interval (a busy mirror empties its queue after every batch). */
export const RECORD_MIN_GAP_MS = 1_000;
/**
 * Slack for a local filesystem, on top of twice its granularity: its timestamps lag the wall clock by a tick
 * at most (coarse clocks: <= 10 ms), and a change stamped just before P whose event is queued just after the
 * drain (the kernel stamps ctime, then reports the change, in the same syscall) is still compared, even when
 * its thread was preempted in between for a while.
 */
export const LOCAL_SLACK_NS = 2_000_000_000n;
/** A network filesystem's ctimes come from its server's clock: the skew tolerated (Kerberos allows 5 min). */
export const REMOTE_SKEW_NS = 300_000_000_000n;
/**
 * The wall clock may move back this much against the monotonic one between two runs without counting as a
 * step back. Below LOCAL_SLACK_NS on purpose: a smaller step goes unnoticed, and the slack still covers it.
 * (NTP slewing of a fast clock over a long stop can exceed it: the record is then not used, which is safe.)
 */
export const CLOCK_STEP_TOLERANCE_MS = 1_000;

/**
 * Filesystem types whose ctimes this kernel stamps from its own clock (one row per family); any other type
 * (nfs, nfs4, cifs, smb3, fuse.*, ceph, 9p, lustre, glusterfs, unknown) is treated as stamped by another clock.
 */
const LOCAL_CLOCK_FS: ReadonlySet<string> = new Set([
  'ext2', 'ext3', 'ext4', // ext family
  'xfs', 'btrfs', 'bcachefs', 'f2fs', 'jfs', 'nilfs2', 'reiserfs', // other local disk filesystems
  'zfs', // OpenZFS (its own module, same kernel clock)
  'tmpfs', 'ramfs', 'overlay', // memory and union filesystems
  'vfat', 'exfat', 'ntfs3', 'hfsplus', // foreign formats on local disks (coarse granularity: from the root's ctime)
]);

export interface LastGoodRecord {
  version: 1;
  source: string;
  target: string;
  /** `${dev}:${ino}` of each root when recorded */
  sourceId: string;
  targetId: string;
  excludes: string[];
  bootId: string;
  /** P on the wall clock, ms since the epoch */
  wallMs: number;
  /** P on the monotonic clock, ns since boot (decimal: a bigint) */
  monoNs: string;
}

export function lastGoodFile(stateDir: string, name: string): string {
  return `${stateDir}/${name}.lastgood`;
}

const idOf = (path: string): string | null => {
  const id = identity(path);
  return 'dev' in id ? `${id.dev}:${id.ino}` : null;
};

/** The record in the state dir, or null when absent or not one. */
export function readLastGood(file: string): LastGoodRecord | null {
  const text = readSmallFile(file);
  if (text === null) return null;
  try {
    const r = JSON.parse(text) as Partial<LastGoodRecord>;
    const ok = r.version === 1 && typeof r.wallMs === 'number' && typeof r.monoNs === 'string' && /^[0-9]+$/.test(r.monoNs) && Array.isArray(r.excludes);
    return ok ? (r as LastGoodRecord) : null;
  } catch {
    return null;
  }
}

export interface JobRoots {
  source: string;
  target: string;
  excludes: readonly string[];
}

export type FloorVerdict = { floor: XattrFloor; why: string } | { floor: null; why: string };

/** How much earlier than P a change made after P can be stamped on the filesystem holding `root`. */
function marginNs(root: string): { ns: bigint; why: string } {
  const type = fsTypeOf(root);
  if (type === null || !LOCAL_CLOCK_FS.has(type)) return { ns: REMOTE_SKEW_NS, why: `${type ?? 'unknown'}: another clock` };
  const ctime = ctimeNsOf(root);
  const granularity = BigInt(ctime === null ? 1_000_000_000 : granularityOf(ctime));
  return { ns: granularity * 2n + LOCAL_SLACK_NS, why: `${type}: granularity <= ${granularity} ns` };
}

/** Rows checked in order: the first that fails says why the record cannot be used. */
const USABLE: ReadonlyArray<{ why: string; ok: (r: LastGoodRecord, job: JobRoots) => boolean }> = [
  // another job's (or an older configuration's) record: it says nothing about these trees
  { why: 'recorded for other roots or excludes', ok: (r, job) => r.source === job.source && r.target === job.target && JSON.stringify(r.excludes) === JSON.stringify(job.excludes) },
  // a root replaced (another share mounted, a directory recreated) holds entries the record never saw
  { why: 'a root is not the one recorded', ok: (r, job) => idOf(job.source) === r.sourceId && idOf(job.target) === r.targetId },
  // clocks are usually stepped at boot; the monotonic clock restarts with it too
  { why: 'recorded before a reboot', ok: (r) => bootId() === r.bootId },
  // the monotonic clock never goes back within a boot: a point after now is no record of this machine's
  { why: 'recorded in the future', ok: (r) => BigInt(r.monoNs) <= clocks().monoNs },
  // a wall clock stepped back since P would stamp later changes with ctimes before P
  {
    why: 'the wall clock was stepped back since',
    ok: (r) => {
      const now = clocks();
      const offsetThen = r.wallMs - Number(BigInt(r.monoNs) / 1_000_000n);
      const offsetNow = now.wallMs - Number(now.monoNs / 1_000_000n);
      return offsetNow >= offsetThen - CLOCK_STEP_TOLERANCE_MS;
    },
  },
];

/** The per-side ctime floors for the restart comparison, or null (compare every xattr) with the reason. */
export function xattrFloorFor(record: LastGoodRecord | null, job: JobRoots): FloorVerdict {
  if (record === null) return { floor: null, why: 'no last good point recorded' };
  const failed = USABLE.find((row) => !row.ok(record, job));
  if (failed) return { floor: null, why: `last good point not used: ${failed.why}` };
  const p = BigInt(record.wallMs) * 1_000_000n;
  const s = marginNs(job.source);
  const t = marginNs(job.target);
  const at = new Date(record.wallMs).toISOString();
  return { floor: { source: p - s.ns, target: p - t.ns }, why: `xattrs compared where changed since the last good point ${at} (source ${s.why}; target ${t.why})` };
}

/** What the recorder looks at in the running job (src/engine/mirror.ts Mirror). */
export interface RecordedJob {
  readonly state: MirrorState;
  pending(): { entries: readonly unknown[]; renames: readonly unknown[] };
  failedPaths(): readonly unknown[];
}

/**
 * Records the last good point whenever the job is in sync with its queue empty (at most every
 * RECORD_MIN_GAP_MS), and every RECORD_EVERY_MS while it stays so. The time is read before the watcher's
 * queue is drained: once drained with nothing pending, every change made before that time is on the
 * target. Inotify only (chokidar's settle is no barrier). Returns the disposer.
 */
export function recordLastGood(o: { file: string; job: JobRoots; bus: EventBus; mirror: RecordedJob; watcher: Pick<Watcher, 'kind' | 'settle' | 'stats'> }): () => void {
  let busy = false;
  let warned = false;
  let disposed = false;
  const warn = (why: string): void => {
    if (warned) return;
    warned = true;
    o.bus.emit({ type: 'warning', code: 'W_LAST_GOOD', message: `cannot record the last good point in ${o.file} (${why}); a restart will compare every xattr` });
  };
  const attempt = async (): Promise<void> => {
    if (busy || disposed || o.mirror.state !== 'in-sync' || o.watcher.kind !== 'inotify' || o.watcher.stats().unwatched.length > 0) return;
    busy = true;
    const at = clocks();
    const sourceId = idOf(o.job.source);
    const targetId = idOf(o.job.target);
    const boot = bootId();
    try {
      await o.watcher.settle();
    } finally {
      busy = false;
    }
    const p = o.mirror.pending();
    if (disposed || o.mirror.state !== 'in-sync' || p.entries.length > 0 || p.renames.length > 0 || o.mirror.failedPaths().length > 0) return;
    if (sourceId === null || targetId === null || boot === null) return;
    const { source, target, excludes } = o.job;
    const record: LastGoodRecord = { version: 1, source, target, sourceId, targetId, excludes: [...excludes], bootId: boot, wallMs: at.wallMs, monoNs: String(at.monoNs) };
    const res = replaceSmallFile(o.file, `${JSON.stringify(record)}\n`);
    if (!res.ok) warn(res.message);
  };
  let lastAttempt = -Infinity;
  let soon: NodeJS.Timeout | null = null;
  const tryRecord = (): void => {
    soon = null;
    lastAttempt = Date.now();
    void attempt().catch((err: unknown) => warn(err instanceof Error ? err.message : String(err)));
  };
  // never inside the emitter's turn: the mirror is in its own bookkeeping when it reports its state and queue
  const schedule = (): void => {
    if (soon !== null || disposed) return;
    soon = setTimeout(tryRecord, Math.max(0, lastAttempt + RECORD_MIN_GAP_MS - Date.now()));
    soon.unref();
  };
  const unsubscribe = o.bus.subscribe((e) => {
    if ((e.type === 'state' && e.state === 'in-sync') || (e.type === 'queue' && e.pendingPaths === 0 && e.inFlightPaths === 0)) schedule();
  });
  const timer = setInterval(tryRecord, RECORD_EVERY_MS);
  timer.unref();
  return () => {
    disposed = true;
    clearInterval(timer);
    if (soon !== null) clearTimeout(soon);
    unsubscribe();
  };
}
