/** `livesync demo`: a self-contained demonstration in a private mount namespace (root only). */
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError, QuietExit } from '../../errors/errors.ts';
import { ExitCode } from '../../errors/exit-codes.ts';
import { inPrivateMountNs, unshareCommand } from '../../sys/mount-ns.ts';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'livesync');


export function demoCommand(): Command {
  return new Command('demo')
    .description('Show livesync on a throwaway tree with a live writer, in a private mount namespace (no NFS needed).')
    .option('--seconds <n>', 'how long to watch the writer being mirrored', '5')
    .addHelpText('after', '\nNeeds root (it mounts two tmpfs in a private mount namespace; the host sees nothing).\n')
    .action(async (opts: { seconds: string }) => {
      const seconds = Number(opts.seconds);
      if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600) throw new ToolError('E_BAD_OPTION', `--seconds must be 1-600, got "${opts.seconds}"`, { hint: 'e.g. --seconds 5' });
      if (process.getuid?.() !== 0) throw new ToolError('E_NOT_ROOT', 'the demo needs root (it mounts tmpfs in a private mount namespace)', { hint: 'run it as root: sudo livesync demo', exitCode: ExitCode.config });
      if (!inPrivateMountNs()) {
        const ns = unshareCommand([CLI, 'demo', '--seconds', String(seconds)]);
        const res = spawnSync(ns.file, ns.args, { stdio: 'inherit', env: ns.env });
        if (res.status !== 0) throw new QuietExit(res.status ?? 1);
        return;
      }
      const { runDemo } = await import('../../demo/demo.ts');
      const code = await runDemo({ say: (l) => process.stdout.write(`${l}\n`), cli: CLI, seconds });
      if (code !== 0) throw new QuietExit(code);
    });
}
