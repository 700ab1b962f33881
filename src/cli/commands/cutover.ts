/** `livesync cutover` and `livesync recover`: flags and help. Implementations load lazily from src/cutover/. */
import { Command } from 'commander';

export function cutoverCommand(): Command {
  return new Command('cutover')
    .description('Switch the application to the share: freeze, final delta, mount the share at the source, re-point, resume')
    .argument('[name]', 'job name (may be omitted when exactly one job runs in the state dir)')
    .option('--state-dir <dir>', 'where the job keeps its socket and lock (default $LIVESYNC_STATE_DIR or /run/livesync)')
    .option('--max-lag <ms>', 'wait until the lag is at most this (up to --preflight-timeout), else refuse', '2000')
    .option('--max-freeze <ms>', 'hard bound on the freeze: crossing it before the commit point rolls back and thaws', '1000')
    .option('--preflight-timeout <ms>', 'how long to wait for in-sync and a small lag', '60000')
    .option('--dry-run', 'print the plan (processes, actions, dirty paths, mounts, estimated freeze); change nothing')
    .option('--verify', 'compare the final-delta paths by content before the thaw')
    .option('--yes', 'do not ask for confirmation (needed without a terminal)')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Steps (each journaled in the state dir before it runs, each with its undo):
  preflight → prepare (old tree bound at <state-dir>/<name>/old) → freeze → final delta of the dirty paths only
  → mount the share at the source path (COMMIT) → re-point every process's cwd and open files → thaw → report
A failure before the commit rolls everything back (exit 5); after it, the cutover goes forward to the thaw and
reports what needs attention (exit 6).

Exit codes: 0 done (or dry run), 2 usage (e.g. no terminal and no --yes), 4 precondition failed (nothing
changed), 5 failed and rolled back, 6 completed with problems or rollback incomplete (act on the report),
7 no such job running.

Examples:
  livesync cutover --dry-run
  livesync cutover srv-app --max-lag 1000 --verify
  livesync cutover --yes --json > cutover-report.json
`,
    )
    .action(async (name: string | undefined, opts: Record<string, string | boolean | undefined>) => {
      const { validateJobTarget, validateMs } = await import('../../control/options.ts');
      const target = validateJobTarget(name, opts['stateDir'] as string | undefined, process.env);
      const { cutoverCli } = await import('../../cutover/client.ts');
      await cutoverCli({
        name: target.name,
        stateDir: target.stateDir,
        params: {
          maxLagMs: validateMs('--max-lag', opts['maxLag'] as string, 86_400_000),
          maxFreezeMs: validateMs('--max-freeze', opts['maxFreeze'] as string, 600_000),
          preflightTimeoutMs: validateMs('--preflight-timeout', opts['preflightTimeout'] as string, 86_400_000),
          verify: opts['verify'] === true,
        },
        dryRun: opts['dryRun'] === true,
        yes: opts['yes'] === true,
        json: opts['json'] === true,
        tty: process.stdin.isTTY === true && process.stderr.isTTY === true,
        write: (text) => process.stdout.write(text),
        input: process.stdin,
      });
    });
}

export function recoverCommand(): Command {
  return new Command('recover')
    .description('After livesync died during a cutover: read the journal, check nothing is left frozen, report (and with --apply undo) the mounts')
    .argument('<name>', 'job name')
    .requiredOption('--source <dir>', 'the job\'s source path (where the share may be mounted)')
    .option('--state-dir <dir>', 'the job\'s state dir (default $LIVESYNC_STATE_DIR or /run/livesync)')
    .option('--apply', 'unmount what a cutover that did not complete left mounted')
    .option('--json', 'print the report as JSON')
    .action(async (name: string, opts: { source: string; stateDir?: string; apply?: boolean; json?: boolean }) => {
      const { validateJobTarget } = await import('../../control/options.ts');
      const { resolve } = await import('node:path');
      const target = validateJobTarget(name, opts.stateDir, process.env);
      const { recover } = await import('../../cutover/recover.ts');
      const r = await recover({ name, stateDir: target.stateDir, source: resolve(opts.source) }, opts.apply === true);
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else process.stdout.write([`journal: ${r.journal}`, ...r.actions.map((a) => `done: ${a}`), ...r.advice.map((a) => `next: ${a}`)].join('\n') + '\n');
    });
}
