/**
 * Freeze: every movable process of a plan is seized (PTRACE_SEIZE + PTRACE_INTERRUPT on every thread;
 * fork/clone children are caught as they are made). Then /proc is surveyed again, inside the freeze: the
 * frozen processes give the exact snapshot the re-point works from, and any process that started holding
 * the tree meanwhile is frozen too, until a survey finds nobody new. Nothing is ever left frozen: on any
 * failure every thread is released before the typed failure is returned.
 *
 *   seize targets -> wait for stops -> check identities -> survey -> newcomers? --yes--> seize them ...
 *        | timeout / stopped by a signal / seize refused / blocker / helper died          | no
 *        v                                                                               v
 *   release all, { ok: false, reason }                                         { ok: true, frozen }
 */
import { descendsFrom, lastPid, listPids, readStat, readSysctl, readWchan } from '../sys/procfs.ts';
import { HelperFailure, type Tracee } from '../sys/ptrace.ts';
import type { HelperHolder } from './holder.ts';
import { exitingOrGone, liveThreads } from './placement.ts';
import { scanContext } from './scan.ts';
import { survey } from './survey.ts';
import type { FreezeFailure, FreezeResult, Plan, ProcPlan } from './types.ts';

export interface FreezeOptions {
  /** how long threads may take to stop (a thread in D state stops only when it leaves it) */
  timeoutMs?: number;
  /** freeze the movable processes even when the plan has blockers (they are left untouched) */
  skipBlockers?: boolean;
  /** surveys before giving up on a tree that keeps gaining new holders */
  maxRounds?: number;
  /**
   * What the surveys inside the freeze look at. 'new' (default): the frozen processes and every process the
   * plan did not see (new pid or new start time), a few ms. 'all': every process, tens of ms on a busy host;
   * it also catches a process that existed at plan time and started using the tree since.
   */
  rescan?: 'new' | 'all';
}

export const FREEZE_TIMEOUT_MS = 2000;
const MAX_ROUNDS = 8;

class Abort extends Error {
  readonly reason: FreezeFailure;
  readonly processes: Array<{ pid: number; comm: string; detail: string }>;
  constructor(reason: FreezeFailure, message: string, processes: Array<{ pid: number; comm: string; detail: string }> = []) {
    super(message);
    this.reason = reason;
    this.processes = processes;
  }
}

const describe = (p: ProcPlan, detail: string): { pid: number; comm: string; detail: string } => ({ pid: p.info.pid, comm: p.info.comm, detail });

function checkStops(tracees: Tracee[]): void {
  const stuck = tracees.filter((t) => t.state === 'running');
  if (stuck.length > 0) {
    const processes = stuck.map((t) => {
      const base = `/proc/${t.tgid}/task/${t.tid}`;
      return { pid: t.tgid, comm: readStat(base)?.comm ?? '?', detail: `thread ${t.tid} did not stop (state ${readStat(base)?.state ?? '?'}, wchan ${readWchan(base) || '?'})` };
    });
    throw new Abort('freeze-timeout', `${stuck.length} thread(s) did not stop in time`, processes);
  }
  const stopped = tracees.filter((t) => t.state === 'group-stopped');
  if (stopped.length > 0) {
    const processes = stopped.map((t) => ({ pid: t.tgid, comm: readStat(`/proc/${t.tgid}`)?.comm ?? '?', detail: 'stopped by a signal during the freeze' }));
    throw new Abort('stopped-by-signal', `${stopped.length} thread(s) were stopped by a signal during the freeze`, processes);
  }
}

/** Assumed upper bound of the fork rate: with it, pid_max says how long pids take to wrap around. */
const MAX_FORKS_PER_MS = 100;

/**
 * Processes no survey has looked at: pids not seen before, and seen pids reused by another process. Reuse
 * needs the pid counter to wrap; when it cannot have wrapped since the plan, no start time is read.
 */
function unseen(plan: Plan, seen: ReadonlyMap<number, string>, held: ReadonlyMap<number, string>, exclude: ReadonlySet<number>): number[] {
  const pids = listPids().filter((pid) => !held.has(pid) && !exclude.has(pid));
  const now = lastPid();
  const wrapMs = Number(readSysctl('kernel/pid_max') ?? 32768) / MAX_FORKS_PER_MS;
  const fresh = now !== undefined && now >= plan.lastPid && performance.now() - plan.startedAt < wrapMs ? pids.filter((pid) => !seen.has(pid)) : pids.filter((pid) => seen.get(pid) !== readStat(`/proc/${pid}`)?.starttime);
  // livesync's own children (an rsync or find it started) are never the application
  return fresh.filter((pid) => !descendsFrom(pid, exclude));
}


/** Releases some threads; if that took ending the helper, everything was released: the freeze is over. */
async function release(holder: HelperHolder, tids: number[]): Promise<void> {
  if ((await holder.release(tids)).forced) throw new Abort('helper-failed', 'threads could not be released one by one; every thread was released');
}

export async function freeze(holder: HelperHolder, plan: Plan, options: FreezeOptions = {}): Promise<FreezeResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? FREEZE_TIMEOUT_MS;
  const blockers = plan.processes.filter((p) => p.verdict === 'blocker');
  if (blockers.length > 0 && !options.skipBlockers) {
    const processes = blockers.map((p) => describe(p, p.blockers.map((b) => b.text).join('; ')));
    return { ok: false, reason: 'blockers', message: `${blockers.length} process(es) cannot be moved`, processes, durationMs: performance.now() - started };
  }
  const held = new Map<number, string>();
  const released: ProcPlan[] = [];
  const seen = new Map(plan.seen);
  let frozenAt = 0;
  try {
    const ctx = scanContext(plan.tree);
    let targets = plan.processes.filter((p) => p.verdict === 'movable');
    for (let round = 1; ; round++) {
      const helper = holder.helper;
      const seized = await helper.seize(targets.map((p) => ({ pid: p.info.pid, suspendSeccomp: p.suspendSeccomp })));
      // EPERM is also what seizing an exiting process (zombie) gives: only a live process refused counts. A
      // zombie leader (it exited, other threads run on) is no refusal: its live threads are seized instead
      const startOf = new Map(targets.map((p) => [p.info.pid, p.info.starttime]));
      const refused = seized.filter((s) => (!s.ok ? s.errno !== 'ESRCH' : s.tids.length === 0) && !exitingOrGone(s.pid, startOf.get(s.pid) ?? ''));
      if (refused.length > 0) {
        const processes = refused.map((s) => ({ pid: s.pid, comm: readStat(`/proc/${s.pid}`)?.comm ?? '?', detail: `PTRACE_SEIZE: ${s.ok ? 'no live thread could be seized' : s.errno}` }));
        throw new Abort('seize-failed', 'the kernel refused to trace a process', processes);
      }
      const tracees = await helper.wait(timeoutMs);
      if (frozenAt === 0) frozenAt = performance.now();
      checkStops(tracees);
      const stopped = new Set(tracees.filter((t) => t.state === 'stopped').map((t) => t.tid));
      for (const p of targets) {
        // A pid seized for this round must still be the process the survey saw (pid reuse): else let it go.
        if (readStat(`/proc/${p.info.pid}`)?.starttime !== p.info.starttime) {
          await release(holder, tracees.filter((t) => t.tgid === p.info.pid).map((t) => t.tid));
          continue;
        }
        // every live thread must be stopped (a thread the helper could not seize would write on, unseen)
        const loose = liveThreads(p.info.pid).filter((tid) => !stopped.has(tid));
        if (loose.length > 0) throw new Abort('seize-failed', 'a thread could not be stopped', [describe(p, `thread(s) ${loose.join(', ')} not held`)]);
      }
      const live = (await helper.wait(0)).filter((t) => t.state !== 'gone');
      for (const t of live) if (!held.has(t.tgid)) held.set(t.tgid, readStat(`/proc/${t.tgid}`)?.starttime ?? '');
      const only = options.rescan === 'all' ? undefined : [...held.keys(), ...unseen(plan, seen, held, holder.exclude)];
      const { plans: all, seen: looked } = await survey(helper, ctx, { exclude: holder.exclude, only, sampleD: false });
      for (const [pid, start] of looked) seen.set(pid, start);
      const blockedNow = all.filter((p) => held.has(p.info.pid) && p.verdict === 'blocker');
      // without skipBlockers the plan had none: any blocker found now appeared since the plan
      const blockedNew = all.filter((p) => !held.has(p.info.pid) && p.verdict === 'blocker');
      if (!options.skipBlockers && blockedNow.length + blockedNew.length > 0) {
        const processes = [...blockedNow, ...blockedNew].map((p) => describe(p, p.blockers.map((b) => b.text).join('; ')));
        throw new Abort('blockers', 'a process that cannot be moved started using the tree', processes);
      }
      if (blockedNow.length > 0) {
        await release(holder, live.filter((t) => blockedNow.some((b) => b.info.pid === t.tgid)).map((t) => t.tid));
        for (const p of blockedNow) held.delete(p.info.pid);
        released.push(...blockedNow);
      }
      const newcomers = all.filter((p) => !held.has(p.info.pid) && p.verdict === 'movable');
      if (newcomers.length === 0) {
        const tids = (await helper.wait(0)).filter((t) => t.state !== 'gone' && held.has(t.tgid)).map((t) => t.tid);
        const processes = all.filter((p) => held.has(p.info.pid) && p.verdict !== 'blocker');
        const frozen = { tree: plan.tree, processes, tids, starttimes: held, released, rounds: round, frozenAt };
        return { ok: true, frozen, durationMs: performance.now() - started };
      }
      if (round >= (options.maxRounds ?? MAX_ROUNDS)) {
        throw new Abort('unstable', `new processes kept using the tree after ${round} surveys`, newcomers.map((p) => describe(p, 'started using the tree during the freeze')));
      }
      targets = newcomers;
    }
  } catch (err) {
    const abort = err instanceof Abort ? err : err instanceof HelperFailure ? new Abort('helper-failed', err.message) : undefined;
    await holder.releaseAll();
    if (!abort) throw err;
    return { ok: false, reason: abort.reason, message: abort.message, processes: abort.processes, durationMs: performance.now() - started };
  }
}
