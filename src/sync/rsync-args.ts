/**
 * Pure argv builders for every rsync livesync runs. One place decides the flags a migration needs:
 *   -a            recursive-capable archive: links as links (never followed), perms, times, group, owner, devices, specials
 *   -H -A -X -S   hard links, ACLs, xattrs, sparse files
 *   --numeric-ids owners by number (the share may not know the names)
 *   -x            one filesystem: never descend into something mounted inside the source
 *   --modify-window=-1  compare mtimes to the nanosecond (the default compares whole seconds)
 *   -s / --protect-args  file names go to rsync as data, never through a remote shell
 * Lists go in on stdin, NUL-separated (--from0 --files-from=-). Never a shell.
 */
import { toBytes, type RelPath } from '../util/bpath.ts';
import { pinExecArgv } from '../sys/pin-exec.ts';

export const MIGRATION_FLAGS: readonly string[] = ['-aHAXS', '--numeric-ids', '-x', '--modify-window=-1', '--protect-args'];

/**
 * No --timeout on batches, on purpose. Measured: with directories renamed while a recursive run walks them,
 * rsync 3.5's three processes can hang in poll() for good; --timeout does not end that (its keep-alives count
 * as traffic) and the keep-alives would hide the hang from the stall watchdog (src/engine/batch-runner.ts,
 * RSYNC_STALL_MS), which kills an rsync whose processes used no CPU and did no I/O for that long.
 * The seed is watched the same way, with a longer window (SEED_STALL_MS in src/sync/seed.ts).
 */

export interface RsyncCommon {
  rsync?: string;
  /** source root (absolute, no trailing slash needed) */
  source: string;
  target: string;
  excludeArgs: readonly string[];
  /**
   * the target root's device and inode recorded at start: when set, every rsync runs through pin-exec
   * (src/sys/pin-exec.ts), in a private mount namespace where `target` is that filesystem, or not at all
   */
  targetId?: { dev: number; ino: number };
}

/** The program and argv that run rsync with `args`: through pin-exec when the target is pinned. */
export function rsyncCommand(c: RsyncCommon, args: readonly string[]): { file: string; args: string[] } {
  const rsync = c.rsync ?? 'rsync';
  return c.targetId ? pinExecArgv(c.targetId, c.target, rsync, args) : { file: rsync, args: [...args] };
}

/** Both roots end with '/' so rsync copies contents, not the directory itself. */
function roots(c: RsyncCommon): [string, string] {
  const slash = (p: string): string => (p.endsWith('/') ? p : `${p}/`);
  return [slash(c.source), slash(c.target)];
}

export type ListMode =
  /** entries themselves, quick check by size + ns mtime; missing sources are deleted on the target */
  | 'flat'
  /** entries themselves, content always compared (same-size rewrites inside one mtime tick) */
  | 'forced'
  /** directories recursively, extraneous target files deleted */
  | 'deep';

const MODE_FLAGS: Record<ListMode, readonly string[]> = {
  flat: ['--force'],
  forced: ['--force', '--ignore-times'],
  // a vanished deep directory is deleted through its own flat entry; combining -r with --delete-missing-args
  // was where rsync 3.5 deadlocked in our churn tests
  deep: ['-r', '--delete', '--force'],
};

/** What rsync does with a listed path that is missing from the source, per mode and batch kind. */
const MISSING_FLAGS: Record<ListMode, { deletes: string; keeps: string }> = {
  // a batch that may delete: the listed path was deleted; the writes lane (src/engine/schedule.ts): skip it,
  // its deletion is on the deletion lane (or its event is still on the way)
  flat: { deletes: '--delete-missing-args', keeps: '--ignore-missing-args' },
  forced: { deletes: '--delete-missing-args', keeps: '--ignore-missing-args' },
  // deep never deletes a listed directory itself (see above); extraneous entries inside are deleted (--delete)
  deep: { deletes: '--ignore-missing-args', keeps: '--ignore-missing-args' },
};

/**
 * argv for one batch list (the list itself goes to stdin, NUL-separated). `deletes`: a listed path missing
 * from the source is deleted on the target (false on the writes lane: it is skipped).
 */
export function batchArgs(c: RsyncCommon, mode: ListMode, deletes = true): string[] {
  const missing = MISSING_FLAGS[mode];
  return [
    ...MIGRATION_FLAGS,
    ...MODE_FLAGS[mode],
    deletes ? missing.deletes : missing.keeps,
    '--from0',
    '--files-from=-',
    '--stats',
    ...c.excludeArgs,
    ...roots(c),
  ];
}

/**
 * Seed-only flags, one row each (measured on 100k small files, docs/benchmarks.md "seed"):
 *   inplace  write each file under its final name instead of a temp file + rename: -12 % rsync CPU (the
 *            receiver skips mkstemp, a random name, two stats, a re-open and the rename). Only into an empty
 *            target: there no reader sees a file before the cutover, an interrupted file keeps a wrong
 *            size/mtime so the next pass redoes it, and no target hard link can carry a write to another
 *            name. Needs rsync >= 3.1.3 with -S.
 *   listed   a parallel seed's entries (arguments or --files-from) were planned a moment before the run:
 *            one gone since is skipped, not an error (its deletion event is on the way to the dirty set)
 *   no --info=progress2  it prints a line per file; the progress is estimated instead (seed-progress.ts)
 */
const SEED_FLAGS = { inplace: ['--inplace'], listed: ['--ignore-missing-args'] } as const;

export interface SeedArgOptions {
  /** the entries to copy come on stdin, NUL-separated, each copied recursively (a parallel seed's list) */
  list?: boolean;
  /** see SEED_FLAGS.inplace */
  inplace?: boolean;
  /** rsync --max-delete; 0 or absent = no limit */
  maxDelete?: number;
}

function maxDeleteArgs(n: number | undefined): string[] {
  return n !== undefined && n > 0 ? [`--max-delete=${n}`] : [];
}

/** argv for a full seed (or reconcile) pass of the whole tree, or of a list of entries (a parallel seed). */
export function seedArgs(c: RsyncCommon, options: SeedArgOptions = {}): string[] {
  return [
    ...MIGRATION_FLAGS,
    '--delete',
    ...(options.list ? ['-r', '--from0', '--files-from=-', ...SEED_FLAGS.listed] : []),
    ...(options.inplace ? SEED_FLAGS.inplace : []),
    ...maxDeleteArgs(options.maxDelete),
    '--stats',
    ...c.excludeArgs,
    ...roots(c),
  ];
}

/**
 * argv for entries of one parent as source arguments (absolute paths, no trailing '/': each lands as
 * DEST/name), a parallel seed's list without --files-from (see src/sync/seed-plan.ts).
 */
export function unitArgs(c: RsyncCommon, sources: readonly string[], dest: string, options: SeedArgOptions = {}): string[] {
  const flags = [...SEED_FLAGS.listed, ...(options.inplace ? SEED_FLAGS.inplace : []), ...maxDeleteArgs(options.maxDelete)];
  return [...MIGRATION_FLAGS, '--delete', ...flags, '--stats', ...c.excludeArgs, ...sources, dest];
}

/**
 * argv for the split levels of a parallel seed (on stdin: './' and 'dir/' for each level): their entries one
 * level deep, extraneous target entries deleted, attributes (mtimes) set.
 */
export function levelArgs(c: RsyncCommon, options: SeedArgOptions = {}): string[] {
  const flags = [...SEED_FLAGS.listed, ...(options.inplace ? SEED_FLAGS.inplace : []), ...maxDeleteArgs(options.maxDelete)];
  return [...MIGRATION_FLAGS, '-d', '--delete', '--from0', '--files-from=-', ...flags, '--stats', ...c.excludeArgs, ...roots(c)];
}

/** argv creating the split levels of a parallel seed before its lists run (on stdin: the directories, no '/'). */
export function levelDirsArgs(c: RsyncCommon): string[] {
  return [...MIGRATION_FLAGS, '-d', '--from0', '--files-from=-', ...SEED_FLAGS.listed, ...c.excludeArgs, ...roots(c)];
}

/** argv for hard-link groups a parallel seed copied in different lists (names on stdin): -H links them. */
export function linkGroupArgs(c: RsyncCommon): string[] {
  return [...MIGRATION_FLAGS, '--from0', '--files-from=-', ...SEED_FLAGS.listed, '--stats', ...c.excludeArgs, ...roots(c)];
}

/** Files and bytes transferred, from rsync's --stats output. */
export function parseStats(stdout: string): { files: number; bytes: number; entries: number } {
  const num = (re: RegExp): number => {
    const m = re.exec(stdout);
    return m ? Number(m[1]!.replaceAll(',', '')) : 0;
  };
  return {
    files: num(/Number of regular files transferred: ([\d,]+)/),
    bytes: num(/Total transferred file size: ([\d,]+)/),
    entries: num(/Number of files: ([\d,]+)/),
  };
}

/** A --files-from list for `--from0`: each path's bytes, NUL-terminated. */
export function nulList(paths: readonly RelPath[]): Buffer {
  return Buffer.concat(paths.flatMap((p) => [toBytes(p), Buffer.from([0])]));
}
