/**
 * Plan: who uses a tree and what will happen to each of them, computed before any freeze (the slow parts:
 * a full /proc scan, kcmp grouping, file-handle lookups, D-state sampling). Read-only: plans freeze nothing.
 */
import { lastPid } from '../sys/procfs.ts';
import type { HelperHolder } from './holder.ts';
import { scanContext } from './scan.ts';
import { survey } from './survey.ts';
import { resolveTree } from './tree.ts';
import type { Plan } from './types.ts';

export type PlanResult = { ok: true; plan: Plan } | { ok: false; reason: 'not-found' | 'not-a-directory'; message: string };

export async function plan(holder: HelperHolder, path: string): Promise<PlanResult> {
  const started = performance.now();
  const last = lastPid() ?? -1;
  const tree = resolveTree(path);
  if (!tree.ok) return tree;
  const { plans, seen } = await survey(holder.helper, scanContext(tree.tree), { exclude: holder.exclude, sampleD: true });
  plans.sort((a, b) => a.info.pid - b.info.pid);
  return { ok: true, plan: { tree: tree.tree, processes: plans, seen, lastPid: last, startedAt: started, durationMs: performance.now() - started } };
}
