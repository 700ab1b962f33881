/**
 * Thaw: detach exactly the threads this freeze holds (the helper holds nothing else). A process counts as thawed when it is still the one
 * that was frozen (same pid and start time); one that exited meanwhile is reported gone. If a thread cannot
 * be detached (it never reached its stop), the helper is ended so the kernel releases it: nothing stays held.
 */
import { readStat } from '../sys/procfs.ts';
import type { HelperHolder } from './holder.ts';
import type { Frozen, ThawResult } from './types.ts';

export async function thaw(holder: HelperHolder, frozen: Frozen): Promise<ThawResult> {
  const started = performance.now();
  const problems: string[] = [];
  // the helper holds exactly this frozen set (one at a time): release everything it holds
  const { forced } = await holder.releaseAll();
  if (forced) problems.push('some threads could not be detached one by one: the helper was restarted, which releases them all');
  const thawed: number[] = [];
  const gone: number[] = [];
  for (const [pid, starttime] of frozen.starttimes) {
    if (readStat(`/proc/${pid}`)?.starttime === starttime) thawed.push(pid);
    else gone.push(pid);
  }
  return { ok: true, thawed, gone, forced, problems, durationMs: performance.now() - started };
}
