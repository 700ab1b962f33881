/**
 * `livesync stop [name]`: the job finishes its in-flight batch, persists what is pending and exits (as on
 * SIGTERM). Flags and help only; the implementation (src/control/job-actions.ts) loads lazily.
 */
import { Command } from 'commander';

export function stopCommand(): Command {
  return new Command('stop')
    .description('Stop a running job: finish the in-flight batch, persist what is pending, exit')
    .argument('[name]', 'job name (may be omitted when exactly one job runs in the state dir)')
    .option('--state-dir <dir>', 'where the job keeps its socket and lock (default $LIVESYNC_STATE_DIR or /run/livesync)')
    .option('--timeout <ms>', 'give up waiting for the daemon to exit after this many milliseconds', '300000')
    .addHelpText(
      'after',
      '\nThe command returns once the daemon process has exited. Pending changes are kept and synced by the\n' +
        'next `livesync start` of the same job. SIGTERM to the daemon does the same.\n\n' +
        'Examples:\n' +
        '  livesync stop                        the only running job\n' +
        '  livesync stop srv-app --state-dir /run/livesync\n\n' +
        'Exit codes: 0 stopped, 7 no such job running, 10 the daemon did not exit in time.\n',
    )
    .action(async (name: string | undefined, opts: { stateDir?: string; timeout: string }) => {
      const { validateJobTarget, validateMs } = await import('../../control/options.ts');
      const target = validateJobTarget(name, opts.stateDir, process.env);
      const timeoutMs = validateMs('--timeout', opts.timeout, 86_400_000);
      const { stopJob } = await import('../../control/job-actions.ts');
      await stopJob(target, timeoutMs, (text) => process.stdout.write(text));
    });
}
