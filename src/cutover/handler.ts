/**
 * The daemon side of `livesync cutover`: turns a control request into a cutover run on this job's mirror.
 * One cutover at a time. Test hooks come from the daemon's environment (never from the request):
 * LIVESYNC_TEST_FAIL_STEP=<step> fails that step, LIVESYNC_TEST_PAUSE_IN_FREEZE_MS=<ms> sleeps inside the freeze.
 */
import type { EventBus } from '../events/event.ts';
import type { JobInfo } from '../engine/job.ts';
import type { Mirror } from '../engine/mirror.ts';
import type { CutoverParams } from '../control/protocol.ts';
import { runCutover } from './orchestrator.ts';
import { STEP_NAMES, type CutoverReport, type StepName } from './types.ts';
import type { CutoverContext } from './context.ts';

export interface HandlerDeps {
  mirror: Mirror;
  bus: EventBus;
  info: JobInfo;
  mountSpec: CutoverContext['mountSpec'];
}

function testHooks(): { failStep?: StepName; pauseInFreezeMs?: number } {
  const fail = process.env['LIVESYNC_TEST_FAIL_STEP'];
  const pause = Number(process.env['LIVESYNC_TEST_PAUSE_IN_FREEZE_MS'] ?? 0);
  return {
    ...(fail && (STEP_NAMES as readonly string[]).includes(fail) ? { failStep: fail as StepName } : {}),
    ...(pause > 0 ? { pauseInFreezeMs: pause } : {}),
  };
}

export function createCutoverHandler(deps: HandlerDeps): (params: CutoverParams) => Promise<CutoverReport> {
  let running = false;
  return async (params) => {
    if (running) throw new Error('a cutover is already running for this job');
    running = true;
    try {
      return await runCutover(
        {
          info: deps.info,
          mirror: deps.mirror,
          bus: deps.bus,
          mountSpec: deps.mountSpec,
          verifyPaths: async (paths) => (await import('./verify-delta.ts')).verifyDelta(deps.info.source, deps.info.target, paths),
          progress: (message) => deps.bus.emit({ type: 'info', message: `cutover: ${message}` }),
        },
        { ...params, ...testHooks() },
      );
    } finally {
      running = false;
    }
  };
}
