/**
 * Runs the cutover steps (src/cutover/steps.ts) in order with an undo stack and a journal.
 *
 *   preflight → prepare → freeze → final-delta → mount-share ═COMMIT═ repoint → thaw → report
 *        │          │         │           │            │
 *        └──────────┴─────────┴───────────┴────────────┴── failure: undo in reverse (thaw, unmount, resume)
 *                                                         → "rolled-back" (exit 5), or "rollback-incomplete" (6)
 *   after the commit: always forward to the thaw; problems → "completed-with-problems" (exit 6)
 *
 * Every transition is journaled (fsynced) before the step acts, so `livesync recover` knows what happened.
 */
import { join } from 'node:path';
import { errorText } from '../errors/errors.ts';
import type { EventBus } from '../events/event.ts';
import type { JobInfo } from '../engine/job.ts';
import type { Mirror } from '../engine/mirror.ts';
import { ProcMover } from '../proc/mover.ts';
import type { CutoverContext } from './context.ts';
import { Journal } from './journal.ts';
import { STEPS, StepFailure, withoutSelf, type Step } from './steps.ts';
import { COMMIT_STEP, type CutoverOptions, type CutoverReport, type ProcessReport, type StepName } from './types.ts';

export interface CutoverDeps {
  info: JobInfo;
  mirror: Mirror;
  bus: EventBus;
  mountSpec: CutoverContext['mountSpec'];
  verifyPaths: CutoverContext['verifyPaths'];
  progress: (message: string) => void;
}

function processReport(ctx: CutoverContext): ProcessReport[] {
  return (ctx.plan?.processes ?? []).map((p) => ({
    pid: p.info.pid,
    comm: p.info.comm,
    verdict: p.verdict,
    actions: p.items.filter((j) => j.verdict === 'movable').map((j) => `${j.action ?? 'none'}: ${j.text}`),
    stays: p.items.filter((j) => j.verdict === 'stays').map((j) => j.text),
  }));
}

export async function runCutover(deps: CutoverDeps, options: CutoverOptions): Promise<CutoverReport> {
  const journalPath = join(deps.info.stateDir, `${deps.info.name}.cutover.journal`);
  // a dry run changes nothing, not even the journal of an earlier cutover
  const journal = options.dryRun ? null : new Journal(journalPath);
  let mover: ProcMover | null = null;
  const ctx: CutoverContext = {
    info: deps.info,
    mirror: deps.mirror,
    options,
    mountSpec: deps.mountSpec,
    mover: () => {
      if (!mover) throw new Error('process mover not open');
      return mover;
    },
    verifyPaths: deps.verifyPaths,
    deadline: Infinity,
    oldTree: null,
    oldMounted: false,
    delta: null,
    deltaEntries: [],
    freezeMs: null,
    mounts: [],
    warnings: [],
    problems: [],
    fstab: null,
  };
  const steps: CutoverReport['steps'] = [];
  const undo: Step[] = [];
  const report = (outcome: CutoverReport['outcome'], message: string): CutoverReport => ({
    outcome,
    message,
    name: deps.info.name,
    source: deps.info.source,
    target: deps.info.target,
    freezeMs: ctx.freezeMs === null ? null : Math.round(ctx.freezeMs),
    finalDelta: ctx.delta,
    mounts: ctx.mounts,
    processes: processReport(ctx),
    warnings: ctx.warnings,
    problems: ctx.problems,
    steps,
    fstab: ctx.fstab,
    journal: journalPath,
    oldTree: ctx.oldMounted ? ctx.oldTree : null,
  });
  let committed = false;
  try {
    mover = await ProcMover.open({ bus: deps.bus });
    if (!journal) return await dryRun(ctx, report);
    journal.write('cutover', 'begin', { source: deps.info.source, target: deps.info.target, options: { ...options } });
    for (const step of STEPS) {
      const t0 = performance.now();
      journal.write(step.name, 'begin');
      deps.progress(`${step.name}...`);
      try {
        if (options.failStep === step.name) throw new StepFailure('failed', `injected failure in step ${step.name} (LIVESYNC_TEST_FAIL_STEP)`);
        await step.run(ctx);
      } catch (err) {
        const ms = Math.round(performance.now() - t0);
        steps.push({ step: step.name, ms, ok: false });
        journal.write(step.name, 'failed', { message: errorText(err) });
        if (committed) {
          ctx.problems.push(`${step.name}: ${errorText(err)}`);
          continue; // forward only: the share is already at the source path
        }
        // a failing step may have done part of its work: its undo (idempotent) runs first
        if (step.name === COMMIT_STEP) await undoShareMount(ctx);
        if (step.undo) undo.push(step);
        const undoErrors = await unwind(undo, ctx, journal);
        const precondition = err instanceof StepFailure && err.kind === 'precondition';
        if (undoErrors.length > 0) return report('rollback-incomplete', `${step.name} failed (${errorText(err)}) and the rollback is incomplete: ${undoErrors.join('; ')}`);
        return report(precondition ? 'precondition-failed' : 'rolled-back', `${step.name}: ${errorText(err)}`);
      }
      steps.push({ step: step.name, ms: Math.round(performance.now() - t0), ok: true });
      journal.write(step.name, 'done', stepDetail(step.name, ctx));
      if (step.undo) undo.push(step);
      if (step.name === COMMIT_STEP) {
        committed = true;
        journal.write(step.name, 'committed');
      }
    }
    journal.write('cutover', 'finished', { problems: ctx.problems.length });
    if (ctx.problems.length > 0) return report('completed-with-problems', `cut over with ${ctx.problems.length} problem(s): ${ctx.problems[0]}`);
    return report('completed', `${deps.info.source} now serves the share; freeze ${Math.round(ctx.freezeMs ?? 0)} ms`);
  } finally {
    if (ctx.frozen && mover) await mover.thaw(ctx.frozen); // never leave anything frozen
    await mover?.close();
    journal?.close();
  }
}

/** What recover needs to know about a finished step. */
function stepDetail(name: StepName, ctx: CutoverContext): Record<string, unknown> | undefined {
  if (name === 'prepare') return { oldTree: ctx.oldTree };
  if (name === 'freeze') return { pids: ctx.frozen?.processes.map((p) => ({ pid: p.info.pid, starttime: p.info.starttime })) ?? [] };
  if (name === 'mount-share') return { mounts: ctx.mounts };
  return undefined;
}

async function unwind(undo: Step[], ctx: CutoverContext, journal: Journal): Promise<string[]> {
  const errors: string[] = [];
  for (const step of undo.reverse()) {
    journal.write(step.name, 'undo');
    try {
      await step.undo!(ctx);
      journal.write(step.name, 'undone');
    } catch (err) {
      errors.push(`${step.name}: ${errorText(err)}`);
      journal.write(step.name, 'undo-failed', { message: errorText(err) });
    }
  }
  return errors;
}

async function undoShareMount(ctx: CutoverContext): Promise<void> {
  const { mountAt, umount } = await import('../sys/mount.ts');
  const top = mountAt(ctx.info.source);
  if (top && (top.source === ctx.mountSpec?.spec || ctx.mountSpec === null)) await umount(ctx.info.source);
}

async function dryRun(ctx: CutoverContext, report: (o: CutoverReport['outcome'], m: string) => CutoverReport): Promise<CutoverReport> {
  const planned = await ctx.mover().plan(ctx.info.source);
  if (!planned.ok) return report('precondition-failed', planned.message);
  ctx.plan = withoutSelf(planned.plan);
  const dirty = ctx.mirror.dirty.size;
  const m = ctx.mountSpec;
  ctx.mounts.push(`mount --bind ${ctx.info.source} ${join(ctx.info.stateDir, ctx.info.name, 'old')}`);
  ctx.mounts.push(m ? `mount ${m.type ? `-t ${m.type} ` : ''}${m.options ? `-o ${m.options} ` : ''}${m.spec} ${ctx.info.source}` : `mount --bind ${ctx.info.target} ${ctx.info.source}`);
  const blockers = planned.plan.processes.filter((p) => p.verdict === 'blocker').length;
  const r = report('dry-run', `dry run: ${planned.plan.processes.length} process(es) to move (${blockers} blocker(s)), ${dirty} dirty path(s); nothing was changed`);
  // an estimate, not a promise: ~30 ms of fixed cost (barrier, one rsync, mount, re-point) + ~0.1 ms per dirty path
  return { ...r, dirtyPaths: dirty, estimatedFreezeMs: Math.round(30 + dirty * 0.1) };
}

export type { StepName };
