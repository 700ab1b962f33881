/**
 * `livesync verify`: prove that a copy holds exactly what its source holds. Flags and help only; validation
 * is src/verify/cli-options.ts, the implementation src/verify/run-cli.ts (both load lazily).
 */
import { Command } from 'commander';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function verifyCommand(): Command {
  return new Command('verify')
    .description('Compare two trees (or a job\'s source and target) and list every difference')
    .argument('[name]', 'job name: its source vs its target while mirroring; after a cutover, the kept old tree vs the share')
    .option('--source <dir>', 'the reference tree (with --target: compare any two trees)')
    .option('--target <dir>', 'the copy')
    .option('--state-dir <dir>', 'where the job records live (default $LIVESYNC_STATE_DIR or /run/livesync)')
    .option('--checksum', 'also compare the content of every regular file (reads both trees fully)')
    .option('--sample <percent>', 'compare the content of this share of the regular files, picked at random')
    .option('--seed <n>', 'with --sample: pick the same files as an earlier run (its report prints the seed)')
    .option('--exclude <pattern>', 'rsync-style pattern to leave out (repeatable); .livesync* cookies are always left out', collect)
    .option('--jobs <n>', 'parallel walkers and readers (default: the number of CPUs; more helps on NFS)')
    .option('--no-xattrs', 'do not compare extended attributes and ACLs')
    .option('--mtime-precision <p>', 'compare mtimes at least this coarsely: auto (what both sides keep), ns, us, ms, s, 2s', 'auto')
    .option('--recheck-delay <ms>', 'wait this long before looking again at differing paths (in flight or real?)', '500')
    .option('--no-recheck', 'report every difference from the first look (trees known to be still)')
    .option('-x, --one-file-system', 'do not descend into filesystems mounted inside the source (always on for a job, like its rsync -x)')
    .option('--json', 'print one JSON object (fields in docs/verify.md)')
    .addHelpText(
      'after',
      `
Compared: type, size, permissions, owner (uid:gid), mtime (at the precision both sides keep), symlink
targets, device numbers, hard-link structure, extended attributes and ACLs; content with --checksum or
--sample. Names starting with .livesync (livesync's cookies) are never compared. A path that differs is
looked at once more after --recheck-delay: if the source changed meanwhile, or the copy caught up, it is
reported as "in flight", not as a difference.

Examples:
  livesync verify --source /srv/app --target /mnt/share          metadata of every entry
  livesync verify --source /srv/app --target /mnt/share --checksum --jobs 8
  livesync verify srv-app --sample 5                             a running job, 5% of the files by content
  livesync verify srv-app --json | jq '.differences[]'           for scripts (docs/verify.md)

Exit codes: 0 identical, 8 differences found (each listed), 2 bad flags or trees, 3 xattr addon not built,
4 job cut over but its record is gone, 7 no such job running.
`,
    )
    .action(async (name: string | undefined, raw: Record<string, unknown>) => {
      const { validateVerifyFlags } = await import('../../verify/cli-options.ts');
      const request = validateVerifyFlags(name, raw, process.env);
      const { runVerify } = await import('../../verify/run-cli.ts');
      const err = process.stderr;
      await runVerify(request, {
        write: (text) => process.stdout.write(text),
        progress: err.isTTY ? (line) => err.write(`\r\x1b[K${line}`) : undefined,
      });
    });
}
