/**
 * The CLI side of `livesync cutover`: ask the running job for the plan (dry run), show it, confirm, then ask
 * for the real thing and turn the report into output and an exit code:
 *   completed 0 · precondition-failed 4 · rolled-back 5 · completed-with-problems / rollback-incomplete 6
 */
import { createInterface } from 'node:readline/promises';
import { resolveJob } from '../daemon/registry.ts';
import { ControlClient } from '../control/client.ts';
import type { CutoverParams } from '../control/protocol.ts';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.ts';
import { QuietExit, ToolError } from '../errors/errors.ts';
import { renderReport } from './render.ts';
import type { CutoverReport } from './types.ts';

const EXIT: Record<CutoverReport['outcome'], ExitCodeValue> = {
  completed: ExitCode.ok,
  'dry-run': ExitCode.ok,
  'precondition-failed': ExitCode.precondition,
  'rolled-back': ExitCode.rolledBack,
  'completed-with-problems': ExitCode.needsAction,
  'rollback-incomplete': ExitCode.needsAction,
};

export interface CutoverCliOptions {
  name: string | undefined;
  stateDir: string;
  params: Omit<CutoverParams, 'dryRun'>;
  dryRun: boolean;
  yes: boolean;
  json: boolean;
  tty: boolean;
  write: (text: string) => void;
  input: NodeJS.ReadableStream;
}

async function ask(options: CutoverCliOptions, client: ControlClient, dryRun: boolean): Promise<CutoverReport> {
  const timeoutMs = options.params.preflightTimeoutMs + options.params.maxFreezeMs + 120_000;
  return client.request('cutover', { ...options.params, dryRun }, { timeoutMs });
}

export async function cutoverCli(options: CutoverCliOptions): Promise<void> {
  if (!options.dryRun && !options.yes && !options.tty) {
    throw new ToolError('E_CONFIRM', 'refusing to cut over without confirmation: no terminal to ask on', { hint: 'review `livesync cutover --dry-run`, then pass --yes', exitCode: ExitCode.usage });
  }
  const paths = await resolveJob(options.name, options.stateDir);
  await using client = await ControlClient.connect(paths);
  if (!options.dryRun && !options.yes) {
    const plan = await ask(options, client, true);
    options.write(`${renderReport(plan)}\n\n`);
    if (plan.outcome !== 'dry-run') throw new QuietExit(EXIT[plan.outcome]);
    const rl = createInterface({ input: options.input, output: process.stderr });
    const answer = await rl.question(`Cut over ${plan.source} to ${plan.target} now? Type "yes" to proceed: `);
    rl.close();
    if (answer.trim().toLowerCase() !== 'yes') {
      options.write('cutover cancelled; nothing was changed\n');
      throw new QuietExit(ExitCode.precondition);
    }
  }
  const report = await ask(options, client, options.dryRun);
  options.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`);
  const code = EXIT[report.outcome];
  if (code !== ExitCode.ok) throw new QuietExit(code);
}
