/**
 * The cutover's final delta (Mirror.finalDelta, called by src/cutover/steps.ts with the applications frozen and
 * the mirror quiesced): waits until the watcher has delivered every queued event (the barrier), then syncs
 * exactly the dirty set (O(changes), never a scan), content compared for every written file, failed paths
 * included. Then the hard links still open: a link whose other names are unknown landed as a copy and waits for
 * its search (run now: a `find -inum` of the tree, only when there is one), and the relink check of the groups
 * touched since the last pass (src/engine/relink.ts); their names go in a second batch. Nothing else runs meanwhile.
 */
import type { DirtyEntry } from './dirty-set.ts';
import { executeBatch } from './batch.ts';
import type { RelinkPass } from './relink.ts';
import type { MirrorView } from './mirror-view.ts';

export type FinalDeltaResult =
  | { ok: true; paths: number; files: number; bytes: number; barrierMs: number; syncMs: number; entries: DirtyEntry[] }
  | { ok: false; message: string };

export async function runFinalDelta(view: MirrorView, relink: RelinkPass, signal?: AbortSignal): Promise<FinalDeltaResult> {
  const { queue: q, options, bus } = view;
  const t0 = performance.now();
  await options.watcher.settle();
  const barrierMs = performance.now() - t0;
  const t1 = performance.now();
  const done = { paths: 0, files: 0, bytes: 0, entries: [] as DirtyEntry[] };
  for (let round = 1; round <= 2; round++) {
    if (round === 2) {
      const found = await q.links.settle();
      const check = relink.check(Infinity);
      relink.report(check);
      if (!found && check.relink.length === 0) break;
    }
    const input = q.take({ includeFailed: true, forceAll: true });
    if (signal?.aborted) {
      q.giveBack(input);
      return { ok: false, message: 'aborted before the final delta' };
    }
    const outcome = await executeBatch(options, input, Date.now(), signal);
    if (outcome.kind === 'retry' || outcome.failed.length > 0) {
      q.giveBack({ ...input, renames: [] });
      const why = outcome.kind === 'retry' ? outcome.message : `${outcome.failed.length} paths failed: ${outcome.failed.slice(0, 3).map((f) => f.message).join('; ')}`;
      return { ok: false, message: `final delta failed: ${why}` };
    }
    q.landed(input, outcome, Date.now(), bus);
    q.clearFailures(input.entries.map((e) => e.path));
    done.paths += input.entries.length;
    done.files += outcome.files;
    done.bytes += outcome.bytes;
    done.entries.push(...input.entries);
  }
  return { ok: true, ...done, barrierMs, syncMs: performance.now() - t1 };
}
