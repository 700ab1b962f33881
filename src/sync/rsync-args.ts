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
  flat: ['--delete-missing-args', '--force'],
  forced: ['--delete-missing-args', '--force', '--ignore-times'],
  // a vanished deep directory is deleted through its own flat entry; combining -r with --delete-missing-args
  // was where rsync 3.5 deadlocked in our churn tests
  deep: ['-r', '--delete', '--ignore-missing-args', '--force'],
};

/** argv for one batch list (the list itself goes to stdin, NUL-separated). */
export function batchArgs(c: RsyncCommon, mode: ListMode): string[] {
  return [
    ...MIGRATION_FLAGS,
    ...MODE_FLAGS[mode],
    '--from0',
    '--files-from=-',
    '--stats',
    ...c.excludeArgs,
    ...roots(c),
  ];
}

/** argv for a full seed (or reconcile) pass of the whole tree, or of a list of top-level entries. */
export function seedArgs(c: RsyncCommon, options: { list?: boolean; progress?: boolean } = {}): string[] {
  return [
    ...MIGRATION_FLAGS,
    '--delete',
    ...(options.list ? ['-r', '--from0', '--files-from=-'] : []),
    ...(options.progress ? ['--info=progress2', '--no-human-readable'] : []),
    '--stats',
    ...c.excludeArgs,
    ...roots(c),
  ];
}

/** argv for the root directory alone, deleting top-level entries that are gone from the source. */
export function rootLevelArgs(c: RsyncCommon): string[] {
  return [...MIGRATION_FLAGS, '-d', '--delete', ...c.excludeArgs, ...roots(c)];
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
