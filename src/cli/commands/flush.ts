/**
 * `livesync flush [name]`: a barrier; exits 0 once every change made in the source before the call is on the
 * target. Flags and help only; the implementation (src/control/job-actions.ts) loads lazily.
 */
import { Command } from 'commander';

export function flushCommand(): Command {
  return new Command('flush')
    .description('Wait until every change made in the source before this call is on the target')
    .argument('[name]', 'job name (may be omitted when exactly one job runs in the state dir)')
    .option('--state-dir <dir>', 'where the job keeps its socket and lock (default $LIVESYNC_STATE_DIR or /run/livesync)')
    .option('--timeout <ms>', 'give up after this many milliseconds', '60000')
    .addHelpText(
      'after',
      '\nHow it works: the job writes a cookie file into the source, waits until the watcher reports it (so every\n' +
        'earlier change has been seen), then waits until every earlier change has been synced.\n\n' +
        'Examples:\n' +
        '  livesync flush                       the only running job, up to 60 s\n' +
        '  cp -a new/ /srv/app/ && livesync flush srv-app --timeout 300000\n\n' +
        'Exit codes: 0 the barrier passed, 7 no such job running (or it is stopping),\n' +
        '9 the job is halted or degraded, 10 timeout.\n',
    )
    .action(async (name: string | undefined, opts: { stateDir?: string; timeout: string }) => {
      const { validateJobTarget, validateMs } = await import('../../control/options.ts');
      const { MAX_FLUSH_TIMEOUT_MS } = await import('../../control/protocol.ts');
      const target = validateJobTarget(name, opts.stateDir, process.env);
      const timeoutMs = validateMs('--timeout', opts.timeout, MAX_FLUSH_TIMEOUT_MS);
      const { flushJob } = await import('../../control/job-actions.ts');
      await flushJob(target, timeoutMs, (text) => process.stdout.write(text));
    });
}
