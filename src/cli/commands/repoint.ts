/**
 * `livesync repoint` (hidden test entry): freeze every user of OLD-ROOT, re-point it onto NEW-ROOT, thaw,
 * report. The cutover does the same with a final sync and a remount in between. Implementation:
 * src/proc/cli-run.ts.
 */
import { Command } from 'commander';
import { QuietExit, usageError } from '../../errors/errors.ts';

export function repointCommand(): Command {
  const cmd = new Command('repoint')
    .description('(testing) Freeze the processes using OLD-ROOT, move their cwd/fds to the same paths under NEW-ROOT, thaw.')
    .argument('<old-root>', 'the tree the processes use now')
    .argument('<new-root>', 'a copy of it (same relative paths), e.g. the share mounted elsewhere')
    .option('--json', 'machine-readable report')
    .option('--skip-blockers', 'move the movable processes and leave blockers untouched (default: refuse)')
    .option('--timeout <ms>', 'how long threads may take to stop', '2000')
    .addHelpText(
      'after',
      `
Exit codes: 0 moved and verified; 4 refused or freeze failed (nothing changed); 6 moved with problems.
The environment variable LIVESYNC_TEST_PAUSE_IN_FREEZE_MS keeps the processes frozen that long first
(to test that killing livesync -9 resumes them).

Example:
  livesync repoint /srv/app /mnt/copy-of-app --json
`,
    )
    .action(async (oldRoot: string, newRoot: string, opts: { json?: boolean; skipBlockers?: boolean; timeout: string }) => {
      const timeoutMs = Number(opts.timeout);
      if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw usageError('E_REPOINT_TIMEOUT', `--timeout ${opts.timeout} is not a number of milliseconds`, 'e.g. --timeout 2000');
      const { runRepoint } = await import('../../proc/cli-run.ts');
      const out = await runRepoint(oldRoot, newRoot, { json: opts.json === true, skipBlockers: opts.skipBlockers === true, timeoutMs });
      process.stdout.write(out.text);
      if (out.exitCode !== 0) throw new QuietExit(out.exitCode);
    });
  // Hidden from `livesync --help` (a test entry, not an operator command). commander only offers this
  // through addCommand(cmd, { hidden: true }), which the edge calls without options.
  return Object.assign(cmd, { _hidden: true });
}
