/**
 * The implementations behind `livesync ps` and the test entry `livesync repoint`: open the mover, run the
 * steps, render. They return text and an exit code; the CLI edge prints and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { ProcMover } from './mover.ts';
import { freezeFailureText, planJson, planText, repointText } from './render.ts';

export interface CliOutput {
  text: string;
  exitCode: number;
}

/** Test hook: stay frozen this long between the freeze and the re-point (kill -9 tests). */
const PAUSE_ENV = 'LIVESYNC_TEST_PAUSE_IN_FREEZE_MS';

function badPath(path: string, message: string): ToolError {
  return new ToolError('E_PROC_PATH', `${path}: ${message}`, { hint: 'give an existing directory', exitCode: ExitCode.usage });
}

export async function runPs(path: string, options: { json: boolean }): Promise<CliOutput> {
  await using mover = await ProcMover.open();
  const planned = await mover.plan(path);
  if (!planned.ok) throw badPath(path, planned.message);
  const notRoot = process.getuid?.() !== 0 ? 'note: not root: only processes of your own user are visible\n' : '';
  const text = options.json ? `${JSON.stringify(planJson(planned.plan), null, 2)}\n` : `${notRoot}${planText(planned.plan)}`;
  return { text, exitCode: ExitCode.ok };
}

export interface RepointCliOptions {
  json: boolean;
  skipBlockers: boolean;
  timeoutMs: number;
}

export async function runRepoint(oldRoot: string, newRoot: string, options: RepointCliOptions): Promise<CliOutput> {
  await using mover = await ProcMover.open();
  const planned = await mover.plan(oldRoot);
  if (!planned.ok) throw badPath(oldRoot, planned.message);
  const frozen = await mover.freeze(planned.plan, { skipBlockers: options.skipBlockers, timeoutMs: options.timeoutMs });
  if (!frozen.ok) {
    const text = options.json ? `${JSON.stringify({ stage: 'freeze', ...frozen }, null, 2)}\n` : `${freezeFailureText(frozen)}\nnothing was changed\n`;
    return { text, exitCode: ExitCode.precondition };
  }
  const pause = Number(process.env[PAUSE_ENV] ?? 0);
  if (pause > 0) {
    process.stderr.write(`livesync: frozen ${frozen.frozen.processes.length} process(es); pausing ${pause} ms (${PAUSE_ENV})\n`);
    await sleep(pause);
  }
  const moved = await mover.repoint(frozen.frozen, { toRoot: newRoot });
  const thawed = await mover.thaw(frozen.frozen);
  const frozenMs = performance.now() - frozen.frozen.frozenAt;
  const text = options.json
    ? `${JSON.stringify({ ok: moved.ok, frozenMs, processes: frozen.frozen.processes.map((p) => p.info.pid), released: frozen.frozen.released.map((p) => p.info.pid), repoint: moved, thaw: thawed }, null, 2)}\n`
    : repointText(moved, thawed, frozenMs);
  return { text, exitCode: moved.ok ? ExitCode.ok : ExitCode.needsAction };
}
