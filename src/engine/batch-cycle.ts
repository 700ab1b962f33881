/**
 * One batch of the running mirror, start to end, around src/engine/batch.ts executeBatch: the guards (the
 * target is still the filesystem recorded at start, the source root is unchanged, the mass-delete guard), the
 * lane decision (src/engine/scheduler.ts), take → execute → landed or given back whole, and the batch events.
 * The mirror (src/engine/mirror.ts) turns the result into its state: halt, retry after a backoff, or go on.
 */
import { errorText } from '../errors/errors.ts';
import { identity, sameIdentity, type Identity } from '../sys/fsops.ts';
import { DEEP, type DirtyEntry } from './dirty-set.ts';
import { executeBatch, type BatchOutcome } from './batch.ts';
import type { WarmRsync } from './batch-runner.ts';
import { massDelete } from './safety.ts';
import { COOKIE_SINCE } from './sync-queue.ts';
import type { Scheduler } from './scheduler.ts';
import type { MirrorView } from './mirror-view.ts';

export type CycleResult =
  /** the batch landed (failed paths wait for their retry); `entries`: what it carried */
  | { kind: 'landed'; entries: DirtyEntry[] }
  /** nothing was due */
  | { kind: 'idle' }
  /** nothing can be trusted to have landed, or nothing may be written now: everything waits for a retry */
  | { kind: 'retry'; reason: string }
  | { kind: 'halt'; reason: string };

export interface CycleContext {
  view: MirrorView;
  scheduler: Scheduler;
  /** an rsync started ahead for the next small batch */
  warm: WarmRsync;
  /** the roots' identities at start */
  sourceId: Identity;
  targetId: Identity;
  /** entries in the tree at the seed or reconcile (the mass-delete guard's base) */
  treeEntries: number;
  /** the next batch id */
  nextId: () => number;
}

export async function runBatchCycle(ctx: CycleContext): Promise<CycleResult> {
  const { view } = ctx;
  const { info, bus, queue: q } = view;
  if (!sameIdentity(identity(info.target), ctx.targetId)) {
    return { kind: 'retry', reason: `target ${info.target} is not the filesystem recorded at start (unmounted or replaced); not writing into it` };
  }
  if (!sameIdentity(identity(info.source), ctx.sourceId)) return { kind: 'halt', reason: `source root ${info.source} disappeared or was replaced` };
  const unsafe = massDelete(view.options, q.pendingDeletes, ctx.treeEntries);
  if (unsafe) return { kind: 'halt', reason: unsafe };
  const now = Date.now();
  q.requeueDue(now);
  const lanes = ctx.scheduler.take(now, q.pendingLanes);
  if (lanes === null) return { kind: 'idle' };
  const id = ctx.nextId();
  const input = q.take({ holdDeletions: !lanes.deletions });
  view.emitQueue();
  const started = Date.now();
  bus.emit({ type: 'batch-start', id, paths: input.entries.length, deepPaths: input.entries.filter((e) => e.flags & DEEP).length, renames: input.renames.length });
  let outcome: BatchOutcome;
  try {
    outcome = await executeBatch(view.options, input, started, undefined, ctx.warm);
  } catch (err) {
    // an unexpected error inside the batch (a bug, an OS error no table knows): nothing is trusted to have
    // landed, the batch goes back whole (renames too: one already replayed falls back to a sync) and retries
    q.giveBack(input);
    const reason = `batch ${id} failed unexpectedly: ${errorText(err)}`;
    bus.emit({ type: 'error', code: 'E_BATCH', message: reason });
    return { kind: 'retry', reason };
  }
  for (const r of outcome.renames) bus.emit({ type: 'rename', from: r.from, to: r.to, ok: r.ok, ...(r.errno ? { errno: r.errno } : {}) });
  if (outcome.kind === 'retry') {
    q.giveBack({ ...input, renames: [] }); // renames were replayed (or fell back to syncing their destinations)
    bus.emit({ type: 'batch-failed', id, exitCode: outcome.exitCode, outcome: outcome.outcome, message: outcome.message, retryInMs: 0 });
    return { kind: 'retry', reason: outcome.message };
  }
  const failed = q.landed(input, outcome, started, bus);
  bus.emit({
    type: 'batch-done',
    id,
    paths: input.entries.length - failed,
    files: outcome.files,
    bytes: outcome.bytes,
    durationMs: Date.now() - started,
    lagMs: input.oldest === null || input.oldest >= COOKIE_SINCE ? 0 : Date.now() - input.oldest,
  });
  return { kind: 'landed', entries: input.entries };
}
