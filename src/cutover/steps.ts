/**
 * The cutover steps, in order, each with its undo (a table: the orchestrator runs `run`, pushes `undo` on
 * success, and unwinds in reverse on failure before the commit point). Steps read and fill one context.
 *
 *   step          run                                             undo
 *   preflight     in-sync, lag ≤ max, no blockers, target room    —
 *   prepare       bind the old tree at <state>/<name>/old,        unmount it; resume mirroring
 *                 pre-sync what is pending (apps still running),
 *                 quiesce the mirror, start the ptrace helper
 *   freeze        ptrace-seize every holder (and new children)    thaw exactly them
 *   final-delta   barrier + sync of exactly the dirty set         — (extra data on the share is harmless)
 *   mount-share   the share at the source path   ── COMMIT ──     (unmount, only if this step itself failed)
 *   repoint       cwd and fds of every frozen process → share     — (forward only)
 *   thaw          resume exactly the frozen processes             —
 *   report        mirroring ends (state cut-over), fstab line     —
 */
import { statfsSync } from 'node:fs';
import { descendsFrom } from '../sys/procfs.ts';
import { join } from 'node:path';
import { ensureDir } from '../sys/fsops.ts';
import { mount, mountAt, umount } from '../sys/mount.ts';
import type { CutoverContext } from './context.ts';
import type { StepName } from './types.ts';
import type { Plan } from '../proc/types.ts';

export class StepFailure extends Error {
  override name = 'StepFailure';
  readonly kind: 'precondition' | 'failed';
  constructor(kind: 'precondition' | 'failed', message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface Step {
  name: StepName;
  run: (ctx: CutoverContext) => Promise<void>;
  undo?: (ctx: CutoverContext) => Promise<void>;
}

/** Plans right before the freeze: tries, and the pause between them (transient blockers vanish in ms). */
const REPLAN_ATTEMPTS = 4;
const SELF: ReadonlySet<number> = new Set([process.pid]);

/** Drops livesync's own children (an rsync batch in flight) from a plan: they are not the application. */
export function withoutSelf(plan: Plan): Plan {
  plan.processes = plan.processes.filter((p) => !descendsFrom(p.info.pid, SELF));
  return plan;
}
const REPLAN_PAUSE_MS = 25;
/** How long the pre-sync before the freeze may take (it is outside the freeze; the final delta covers the rest). */
const PRESYNC_TIMEOUT_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function mustMount(spec: string, at: string, options: { type?: string; options?: string; bind?: boolean }): Promise<void> {
  const res = await mount(spec, at, options);
  if (res.exitCode !== 0) throw new StepFailure('failed', `mount of ${spec} at ${at} failed: ${res.stderr.trim() || res.spawnError || `exit ${res.exitCode}`}`);
}

export const STEPS: readonly Step[] = [
  {
    name: 'preflight',
    run: async (ctx) => {
      const { mirror } = ctx;
      const deadline = Date.now() + ctx.options.preflightTimeoutMs;
      for (;;) {
        const state = mirror.state;
        if (state === 'halted' || state === 'cut-over' || state === 'stopping') throw new StepFailure('precondition', `the job is ${state}; a cutover needs a mirroring job`);
        const oldest = mirror.oldestUnsynced();
        const lag = oldest === null ? 0 : Date.now() - oldest;
        if ((state === 'in-sync' || state === 'catching-up') && lag <= ctx.options.maxLagMs) break;
        if (Date.now() > deadline) throw new StepFailure('precondition', `the job is ${state} with a lag of ${lag} ms (max ${ctx.options.maxLagMs} ms); waited ${ctx.options.preflightTimeoutMs} ms`);
        await sleep(200);
      }
      const free = statfsSync(ctx.info.target);
      if (free.bavail * free.bsize < 1024 * 1024) throw new StepFailure('precondition', `the target ${ctx.info.target} has less than 1 MiB free`);
      const planned = await ctx.mover().plan(ctx.info.source);
      if (!planned.ok) throw new StepFailure('precondition', planned.message);
      ctx.plan = withoutSelf(planned.plan);
      const blockers = planned.plan.processes.filter((p) => p.verdict === 'blocker');
      if (blockers.length > 0) {
        const list = blockers.map((p) => `${p.info.pid} (${p.info.comm}): ${p.blockers.map((b) => b.text).join('; ')}`).join(', ');
        throw new StepFailure('precondition', `processes that cannot be moved hold the source: ${list}`);
      }
    },
  },
  {
    name: 'prepare',
    run: async (ctx) => {
      ctx.oldTree = join(ctx.info.stateDir, ctx.info.name, 'old');
      ensureDir(ctx.oldTree, 0o700);
      if (mountAt(ctx.oldTree)) throw new StepFailure('precondition', `${ctx.oldTree} is already a mount point (an earlier cutover?); run \`livesync recover\``);
      await mustMount(ctx.info.source, ctx.oldTree, { bind: true });
      ctx.oldMounted = true;
      // sync what is pending while the applications still run: the frozen final delta then carries only what
      // changed since (measured at 1M files with 1,000 files dirtied in the last second: every one of them was
      // still pending, the debounce's max wait being 1 s, and the final delta alone took 238 ms of the freeze).
      // Not a precondition: if it does not finish in time, the final delta syncs it all anyway.
      const pre = await ctx.mirror.presync(PRESYNC_TIMEOUT_MS);
      if (!pre.ok) ctx.warnings.push(`pre-sync before the freeze did not finish (${pre.message}); the final delta carried it all`);
      await ctx.mirror.quiesce();
      ctx.mirror.setCutoverState(true);
      // plan again right before the freeze: the freeze surveys only the planned and new processes, and a process
      // that started using the tree since preflight must not be missed
      // a blocker seen here may be transient (a process that stops holding the tree a moment later): look
      // again shortly. (A writer's child caught exiting is not one: the scan counts it gone, src/proc/placement.ts.)
      for (let attempt = 1; ; attempt++) {
        const planned = await ctx.mover().plan(ctx.info.source);
        if (!planned.ok) throw new StepFailure('failed', planned.message);
        withoutSelf(planned.plan);
        const blockers = planned.plan.processes.filter((p) => p.verdict === 'blocker');
        if (blockers.length === 0) {
          ctx.plan = planned.plan;
          break;
        }
        if (attempt >= REPLAN_ATTEMPTS) {
          throw new StepFailure('precondition', `a process that cannot be moved started using the source: ${blockers.map((p) => `${p.info.pid} (${p.info.comm}): ${p.blockers.map((b) => b.text).join('; ')}`).join(', ')}`);
        }
        await sleep(REPLAN_PAUSE_MS);
      }
    },
    undo: async (ctx) => {
      ctx.mirror.setCutoverState(false);
      ctx.mirror.resume();
      if (ctx.oldMounted && ctx.oldTree) {
        const res = await umount(ctx.oldTree);
        if (res.exitCode !== 0) throw new Error(`umount ${ctx.oldTree}: ${res.stderr.trim()}`);
        ctx.oldMounted = false;
      }
    },
  },
  {
    name: 'freeze',
    run: async (ctx) => {
      const result = await ctx.mover().freeze(ctx.plan!);
      if (!result.ok) {
        const who = result.processes.map((p) => `${p.pid} (${p.comm}): ${p.detail}`).join('; ');
        throw new StepFailure('failed', `freeze failed (${result.reason}): ${result.message}${who ? ` [${who}]` : ''}`);
      }
      ctx.frozen = result.frozen;
      ctx.deadline = result.frozen.frozenAt + ctx.options.maxFreezeMs;
      if (ctx.options.pauseInFreezeMs) await sleep(ctx.options.pauseInFreezeMs);
    },
    undo: async (ctx) => {
      if (!ctx.frozen) return;
      const t = await ctx.mover().thaw(ctx.frozen);
      ctx.freezeMs = performance.now() - ctx.frozen.frozenAt;
      ctx.frozen = undefined;
      if (!t.ok) throw new Error(`thaw: ${t.problems.join('; ')}`);
    },
  },
  {
    name: 'final-delta',
    run: async (ctx) => {
      const left = ctx.deadline - performance.now();
      const signal = AbortSignal.timeout(Math.max(1, Math.ceil(left)));
      const delta = await ctx.mirror.finalDelta({ signal });
      if (!delta.ok) throw new StepFailure('failed', delta.message);
      ctx.delta = { paths: delta.paths, files: delta.files, bytes: delta.bytes, barrierMs: Math.round(delta.barrierMs), syncMs: Math.round(delta.syncMs), verified: null };
      ctx.deltaEntries = delta.entries.map((e) => e.path);
      if (ctx.options.verify) {
        const problems = await ctx.verifyPaths(ctx.deltaEntries);
        ctx.delta.verified = problems.length === 0;
        if (problems.length > 0) throw new StepFailure('failed', `verify of the final delta found ${problems.length} difference(s): ${problems.slice(0, 3).join('; ')}`);
      }
      if (performance.now() > ctx.deadline) throw new StepFailure('failed', `the freeze would exceed --max-freeze ${ctx.options.maxFreezeMs} ms (final delta of ${delta.paths} paths took ${Math.round(delta.syncMs)} ms)`);
    },
  },
  {
    name: 'mount-share',
    run: async (ctx) => {
      if (performance.now() > ctx.deadline) throw new StepFailure('failed', `--max-freeze ${ctx.options.maxFreezeMs} ms reached before the mount`);
      const m = ctx.mountSpec;
      if (m) await mustMount(m.spec, ctx.info.source, { ...(m.type ? { type: m.type } : {}), ...(m.options ? { options: m.options } : {}) });
      else await mustMount(ctx.info.target, ctx.info.source, { bind: true });
      ctx.mounts.push(m ? `mount ${m.type ? `-t ${m.type} ` : ''}${m.options ? `-o ${m.options} ` : ''}${m.spec} ${ctx.info.source}` : `mount --bind ${ctx.info.target} ${ctx.info.source}`);
    },
  },
  {
    name: 'repoint',
    run: async (ctx) => {
      const r = await ctx.mover().repoint(ctx.frozen!, { toRoot: ctx.info.source });
      ctx.repoint = r;
      for (const p of r.problems) ctx.problems.push(`${p.pid} (${p.comm}) ${p.item}: ${p.reason}: ${p.detail}`);
      ctx.warnings.push(...r.warnings);
    },
  },
  {
    name: 'thaw',
    run: async (ctx) => {
      const frozen = ctx.frozen!;
      const t = await ctx.mover().thaw(frozen);
      ctx.freezeMs = performance.now() - frozen.frozenAt;
      ctx.frozen = undefined;
      if (!t.ok) ctx.problems.push(...t.problems.map((p) => `thaw: ${p}`));
    },
  },
  {
    name: 'report',
    run: async (ctx) => {
      await ctx.mirror.markCutOver();
      const m = ctx.mountSpec;
      ctx.fstab = m ? `${m.spec} ${ctx.info.source} ${m.type ?? 'auto'} ${m.options ?? 'defaults'} 0 0` : `${ctx.info.target} ${ctx.info.source} none bind 0 0`;
    },
  },
];
