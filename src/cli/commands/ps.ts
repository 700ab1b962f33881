/** `livesync ps`: flags and help. The implementation lives in src/proc/cli-run.ts. */
import { Command } from 'commander';
import { QuietExit } from '../../errors/errors.ts';

export function psCommand(): Command {
  return new Command('ps')
    .description('List every process that holds something under PATH and what a cutover would do with it.')
    .argument('<path>', 'the tree (e.g. /srv/app)')
    .option('--json', 'machine-readable output (one JSON document)')
    .addHelpText(
      'after',
      `
Looks at every process (threads included): working directories, root, executable, open files with their
flags and offsets, directories, named pipes, bound unix sockets, deleted-but-open files, memory mappings,
locks and inotify watches. Matching is by mount, device and inode, never by path prefix alone. Each
process gets a verdict:
  movable   re-pointed inside the cutover's freeze (cwd chdir'ed, files reopened at the same offset, ...)
  stays     holds only things that cannot move (executable, libraries): restart it to release the old fs
  blocker   cannot be moved safely (writable shared mapping, bound unix socket, chroot in the tree, already
            traced, seccomp, stuck in D state ...): the cutover refuses until it is dealt with
livesync itself and kernel threads are never listed. Needs root (reads every process, uses ptrace's kcmp).

Examples:
  livesync ps /srv/app
  livesync ps /srv/app --json | jq '.processes[] | select(.verdict == "blocker")'
`,
    )
    .action(async (path: string, opts: { json?: boolean }) => {
      const { runPs } = await import('../../proc/cli-run.ts');
      const out = await runPs(path, { json: opts.json === true });
      process.stdout.write(out.text);
      if (out.exitCode !== 0) throw new QuietExit(out.exitCode);
    });
}
