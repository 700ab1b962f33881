/**
 * `livesync status [name]`: lag, queue, throughput and failures of a running job. Flags and help only; the
 * implementation (src/status/show.ts) loads lazily.
 */
import { Command } from 'commander';

export function statusCommand(): Command {
  return new Command('status')
    .description('Show the lag, queue, throughput and failures of a running job')
    .argument('[name]', 'job name (may be omitted when exactly one job runs in the state dir)')
    .option('--state-dir <dir>', 'where the job keeps its socket and lock (default $LIVESYNC_STATE_DIR or /run/livesync)')
    .option('--json', 'print one JSON object with the documented fields (docs/status.md)')
    .option('--watch', 'refresh every second (in place on a terminal, with a sparkline of the lag of the last minutes)')
    .option('--interval <ms>', 'refresh interval for --watch, in milliseconds', '1000')
    .option('--count <n>', 'with --watch: stop after n refreshes')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  livesync status                    the only running job, human view (lag first)\n' +
        '  livesync status srv-app --watch    refresh in place; the sparkline shows the lag trend\n' +
        "  livesync status --json | jq .lagMs  for scripts: stable fields, see docs/status.md\n" +
        '  livesync status --watch --json     one JSON object per line, every second\n\n' +
        'Exit codes: 0 ok, 2 bad flags or several jobs running (name one), 7 no such job running.\n',
    )
    .action(async (name: string | undefined, opts: { stateDir?: string; json?: boolean; watch?: boolean; interval: string; count?: string }) => {
      const { validateJobTarget, validateMs, validateCount } = await import('../../control/options.ts');
      const target = validateJobTarget(name, opts.stateDir, process.env);
      const intervalMs = validateMs('--interval', opts.interval, 3_600_000);
      const count = opts.count === undefined ? undefined : validateCount('--count', opts.count);
      const { showStatus } = await import('../../status/show.ts');
      const out = process.stdout;
      await showStatus(
        { ...target, json: opts.json === true, watch: opts.watch === true, intervalMs, count },
        { write: (text) => out.write(text), isTTY: out.isTTY === true, columns: out.isTTY ? out.columns : undefined },
      );
    });
}
