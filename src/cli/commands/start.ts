/** `livesync start`: flags and help. The daemon lifecycle lives in src/daemon/run.ts. */
import { Command, Option } from 'commander';
import { DEFAULT_DELAY_MS, DEFAULT_MAX_DELETE, DEFAULT_MAX_WAIT_MS, DEFAULT_SEED_WORKERS } from '../../config/start-options.ts';
import { DEFAULT_STATE_DIR } from '../../daemon/paths.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function startCommand(): Command {
  return new Command('start')
    .description('Mirror SOURCE to TARGET continuously: watch, seed, then batched rsync of every change (foreground).')
    .argument('<source>', 'directory the application writes to (e.g. /srv/app)')
    .argument('<target>', 'directory on the share (e.g. /mnt/share), already mounted unless --mount is given')
    .option('--name <name>', 'job name for status/flush/stop/cutover (default: derived from the source path)')
    .option('--state-dir <dir>', `where the control socket, lock and pending state live (env LIVESYNC_STATE_DIR; default ${DEFAULT_STATE_DIR})`)
    .option('--exclude <glob>', 'rsync-style pattern to leave out (repeatable); applied to watches, the seed and every batch', collect)
    .option('--delay <ms>', `trailing debounce after the last change before a batch starts`, String(DEFAULT_DELAY_MS))
    .option('--max-wait <ms>', `start a batch at most this long after the first unsynced change, however busy`, String(DEFAULT_MAX_WAIT_MS))
    .addOption(new Option('--watcher <kind>', 'inotify (one watch per directory, any tree size) or chokidar (small trees only)').choices(['inotify', 'chokidar']).default('inotify'))
    .option('--seed-workers <n>', 'parallel rsync workers for the seed (the tree is split below its top level; hard links are kept with any count; 1 = one plain rsync)', String(DEFAULT_SEED_WORKERS))
    .option('--mount <spec>', 'mount SPEC at TARGET first (e.g. nas04:/share01)')
    .option('--type <fstype>', 'filesystem type for --mount (e.g. nfs)')
    .option('--options <opts>', 'mount options for --mount (e.g. vers=4.2)')
    .option('--max-delete <n|p%>', 'halt instead of propagating more deletions than this within 10 s (0 = no limit)', DEFAULT_MAX_DELETE)
    .option('--allow-empty-source', 'let an emptied source root empty the target (otherwise the job halts)')
    .option('--raise-limits', 'raise fs.inotify.max_user_watches/instances when too low for the tree (default as root), with a log line')
    .option('--no-raise-limits', 'refuse to start instead, naming the sysctl to run')
    .option('--no-heartbeat', 'do not write the .livesync-heartbeat cookie (disables heartbeatLagMs)')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (off by default)')
    .addHelpText(
      'after',
      `
Runs in the foreground until SIGINT/SIGTERM or \`livesync stop\`; run it under systemd. Order that loses nothing:
watches first, then the seed (a full rsync), queueing every change made meanwhile, then continuous mirroring.
Safety: if the source root disappears, is replaced, or is emptied, or more than --max-delete paths are deleted
at once, the job halts (state "halted") and leaves the target untouched until an operator decides. At start, a
target holding a tree is compared with the source first; if making it equal would delete more than --max-delete
of its entries (by default: more extraneous entries than the source has; a wrong or unrelated share), the job
halts before deleting anything (--max-delete 0 overrides).
Watch limits: before watching, the directories are counted against fs.inotify.max_user_watches (room for
twice the tree is wanted); as root the limit is raised (logged), otherwise, or with --no-raise-limits, a tree
that does not fit is refused with the exact \`sysctl -w\` to run.
Logs are JSON lines on stderr (pretty on a terminal); LIVESYNC_LOG_LEVEL=debug shows every batch.

Examples:
  livesync start /srv/app /mnt/share
  livesync start /srv/app /mnt/share --exclude '*.tmp' --exclude /cache/
  livesync start /srv/app /mnt/share --mount nas04:/share01 --type nfs --options vers=4.2
  livesync start /srv/app /mnt/share --no-raise-limits --max-delete 1000
`,
    )
    .action(async (source: string, target: string, raw: Record<string, unknown>) => {
      const { normalizeStartOptions } = await import('../../config/start-options.ts');
      const { runDaemon } = await import('../../daemon/run.ts');
      const options = normalizeStartOptions(source, target, raw);
      const { progressLine } = await import('../progress-line.ts');
      const tty = process.stderr.isTTY === true;
      await runDaemon(options, { pretty: tty, ...(tty ? { onEvents: progressLine } : {}) });
    });
}
