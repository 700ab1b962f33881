/**
 * THE EDGE. The only module that reads argv, sets the exit code or formats errors for a terminal.
 * Each command is defined in src/cli/commands/<verb>.ts (flags and help only) and lazily imports its
 * implementation, so `livesync --help` stays fast and one command's dependencies never load for another.
 * Fast path: a plain `livesync status ...` (src/status/cli-flags.ts parseStatusArgs) runs without loading
 * commander or any command definition (~35 ms of start-up); everything else, and any status command line the
 * fast path does not take as is (--help, bad flags), goes through commander. LIVESYNC_NO_FAST_PATH=1 turns the
 * fast path off (tests compare both).
 */
import type { Command } from 'commander';
import { ExitCode } from '../errors/exit-codes.ts';
import { InternalError, QuietExit, ToolError } from '../errors/errors.ts';

export async function buildProgram(): Promise<Command> {
  const [{ Command }, { COMMANDS }] = await Promise.all([import('commander'), import('./commands/index.ts')]);
  const program = new Command('livesync')
    .description("Move a live application's data to a network share without stopping it.")
    .addHelpText(
      'after',
      `
Typical use:
  livesync start /srv/app /mnt/share     mirror continuously (foreground; run it under systemd)
  livesync status                        lag, queue and throughput of the running job
  livesync flush                         wait until everything written so far is on the share
  livesync cutover --dry-run             the plan: processes, dirty paths, mounts, estimated freeze
  livesync cutover                       freeze, final delta, mount the share at /srv/app, resume
  livesync verify                        prove the copy

Exit codes: 0 ok, 1 bug, 2 usage, 3 configuration, 4 precondition failed (nothing changed),
5 failed and rolled back, 6 needs operator action, 7 daemon unreachable, 8 differences found,
9 unhealthy (halted/degraded), 10 timeout.  Every command: livesync COMMAND --help.
`,
    )
    .configureHelp({ helpWidth: 110 })
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const define of COMMANDS) program.addCommand(define().exitOverride().configureHelp({ helpWidth: 110 }));
  return program;
}

function report(err: unknown): number {
  if (err instanceof QuietExit) return err.exitCode;
  if (err instanceof ToolError) {
    process.stderr.write(`livesync: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  fix: ${err.hint}\n`);
    return err.exitCode;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const prefix = err instanceof InternalError ? '' : 'Internal error: ';
  process.stderr.write(`livesync: ${prefix}${text}\nThis is a bug in livesync; please report it with the output above.\n`);
  return ExitCode.internal;
}

async function viaCommander(argv: string[]): Promise<number> {
  const { CommanderError } = await import('commander');
  try {
    await (await buildProgram()).parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    if (!(err instanceof CommanderError)) return report(err);
    // commander already printed the message; help and version are not errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
}

/** `livesync status ...` without commander, or null when commander must handle this command line. */
async function fastStatus(args: string[]): Promise<number | null> {
  const { parseStatusArgs, runStatus } = await import('../status/cli-flags.ts');
  const parsed = parseStatusArgs(args);
  if (parsed === null) return null;
  try {
    await runStatus(parsed);
    return ExitCode.ok;
  } catch (err) {
    return report(err);
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'status' && process.env['LIVESYNC_NO_FAST_PATH'] !== '1') {
    const code = await fastStatus(argv.slice(1));
    if (code !== null) return code;
  }
  return viaCommander(argv);
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
