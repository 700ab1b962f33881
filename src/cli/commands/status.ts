/**
 * `livesync status [name]`: lag, queue, throughput and failures of a running job. Flags and help only; the
 * flags are the STATUS_FLAGS table (src/status/cli-flags.ts), which the start-up fast path of src/cli/main.ts
 * parses too, and the action (src/status/cli-flags.ts runStatus -> src/status/show.ts) loads lazily.
 */
import { Command } from 'commander';
import { runStatus, STATUS_FLAGS, type StatusFlagValues } from '../../status/cli-flags.ts';

export function statusCommand(): Command {
  const command = new Command('status')
    .description('Show the lag, queue, throughput and failures of a running job')
    .argument('[name]', 'job name (may be omitted when exactly one job runs in the state dir)');
  for (const flag of STATUS_FLAGS) command.option(`--${flag.long}${flag.value === undefined ? '' : ` ${flag.value}`}`, flag.help, flag.default);
  return command
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  livesync status                    the only running job, human view (lag first)\n' +
        '  livesync status srv-app --watch    refresh in place; the sparkline shows the lag trend\n' +
        "  livesync status --json | jq .lagMs  for scripts: stable fields, see docs/status.md\n" +
        '  livesync status --watch --json     one JSON object per line, every second\n\n' +
        'Exit codes: 0 ok, 2 bad flags or several jobs running (name one), 7 no such job running.\n',
    )
    .action((name: string | undefined, values: StatusFlagValues) => runStatus({ name, values }));
}
