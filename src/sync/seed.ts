/**
 * The seed: a full rsync pass that makes a new (empty or nearly empty) target equal to the source on a first
 * start. Watches are already in place when it runs, so nothing that changes during the seed is lost: those
 * events wait in the dirty set and are synced right after.
 *
 * With `workers` > 1 the tree is split (src/sync/seed-plan.ts) into levels and lists of entries:
 *   1. the split levels are created (`rsync -d`, the directories alone);
 *   2. the lists, `workers` at a time (p-queue), each directory recursively;
 *   3. hard links: `find -links +1` ran beside the workers; every link group whose names fell into two runs
 *      is re-sent in one list, and rsync -H replaces the copies by links;
 *   4. the split levels one level deep (`rsync -d --delete`): their attributes (the lists moved their
 *      mtimes), mount points (created, not entered), extraneous target entries at those levels deleted.
 * Into an empty target files are written in place (--inplace, see SEED_FLAGS in rsync-args.ts). Progress is
 * estimated from statfs counters (seed-progress.ts), not read from rsync.
 */
import PQueue from 'p-queue';
import { run, type ExecResult } from '../sys/exec.ts';
import { multiLinkFiles } from '../sys/fsops.ts';
import { deviceOf, fsUsage, isEmptyDir, isMountRoot, peekDir } from '../sys/seed-probe.ts';
import type { EventBus } from '../events/event.ts';
import type { RelPath } from '../util/bpath.ts';
import { classifyRun, type RsyncOutcome } from './rsync-exit.ts';
import { deletionsSkipped } from './rsync-errors.ts';
import { levelArgs, levelDirsArgs, linkGroupArgs, nulList, parseStats, rsyncCommand, seedArgs, unitArgs, type RsyncCommon } from './rsync-args.ts';
import { estimateProgress } from './seed-progress.ts';
import { chunkRuns, impliedLevels, levelDirs, levelList, planSeed, rootFreeExcludes, splitLinkGroups, type SeedPlan, type SplitPolicy } from './seed-plan.ts';

/** A seed rsync whose processes used no CPU and did no I/O for this long is hung (see RSYNC_STALL_MS). */
export const SEED_STALL_MS = 60_000;

/** How often progress is reported (the log shows it at least every 5 s). */
export const SEED_PROGRESS_INTERVAL_MS = 2_000;

export interface SeedOptions extends RsyncCommon {
  workers: number;
  /** rsync --max-delete for the seed (a restart must not empty the target to follow an accident); 0 = none */
  maxDeleteCount: number;
  bus: EventBus;
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  signal?: AbortSignal;
  /** --inplace; default: when the target root is empty at the start (SEED_FLAGS in rsync-args.ts) */
  inplace?: boolean;
  /** split policy; default SPLIT_POLICY (the benchmark varies it) */
  split?: Readonly<SplitPolicy>;
}

export interface SeedResult {
  outcome: RsyncOutcome;
  message: string;
  files: number;
  bytes: number;
  /** entries in the source tree (files, dirs, links...) as rsync counted them */
  entries: number;
  durationMs: number;
  /** rsync's exit code of the worst run (25 = --max-delete reached) */
  exitCode?: number | null;
  /** rsync's stderr (every run), for the failed paths of a partial seed (exit 23) */
  stderr?: string;
  /** rsync runs: lists, plus the link and level passes of a parallel seed */
  runs: number;
  /** some run skipped its deletions (an I/O error while listing): extraneous target entries may remain */
  deletionsSkipped?: boolean;
}

interface RunResult {
  outcome: RsyncOutcome;
  message: string;
  files: number;
  bytes: number;
  entries: number;
  exitCode: number | null;
  stderr: string;
  /** rsync skipped its deletions after an I/O error while listing (rsync-errors.ts deletionsSkipped) */
  deletionsSkipped: boolean;
}


function toRunResult(result: ExecResult): RunResult {
  const { outcome, why } = classifyRun(result, SEED_STALL_MS);
  const stats = parseStats(result.stdout);
  const message = outcome === 'ok' || outcome === 'vanished' ? why : `${why}: ${tail(result.stderr)}`;
  return { outcome, message, ...stats, exitCode: result.exitCode, stderr: result.stderr, deletionsSkipped: deletionsSkipped(result.stdout) };
}

const ABORTED: RunResult = { outcome: 'retry', message: 'seed stopped', files: 0, bytes: 0, entries: 0, exitCode: null, stderr: '', deletionsSkipped: false };

export async function seed(options: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const { bus, signal } = options;
  const inplace = options.inplace ?? isEmptyDir(options.target);
  const rootDev = deviceOf(options.source);
  const plan = rootDev === null ? null : planSeed((dir) => peekDir(options.source, dir, rootDev), options.workers, options.isExcluded, options.split);
  bus.emit({ type: 'seed-start', workers: plan ? Math.min(options.workers, plan.chunks.length) : 1 });

  const runOne = async (args: string[], list?: readonly RelPath[]): Promise<RunResult> => {
    if (signal?.aborted) return ABORTED;
    const input = list === undefined ? undefined : nulList(list);
    const cmd = rsyncCommand(options, args); // through pin-exec when the target is pinned (targetId)
    return toRunResult(await run(cmd.file, cmd.args, { input, signal, env: { LC_ALL: 'C' }, stallMs: SEED_STALL_MS }));
  };

  const finished: RunResult[] = [];
  const lists = { done: 0, total: plan?.chunks.length ?? 0 };
  const startUsage = fsUsage(options.target);
  const expected = isMountRoot(options.source) ? (fsUsage(options.source)?.inodesUsed ?? null) : null;
  const report = (): void => {
    const sum = (k: 'files' | 'bytes'): number => finished.reduce((a, r) => a + r[k], 0);
    const input = { elapsedMs: performance.now() - started, start: startUsage, now: fsUsage(options.target), expected, chunksDone: lists.done, chunksTotal: lists.total };
    bus.emit({ type: 'seed-progress', progress: estimateProgress({ ...input, finishedFiles: sum('files'), finishedBytes: sum('bytes') }) });
  };
  const timer = setInterval(report, SEED_PROGRESS_INTERVAL_MS);

  try {
    let entries: number;
    if (!plan) {
      const r = await runOne(seedArgs(options, { inplace, maxDelete: options.maxDeleteCount }));
      finished.push(r);
      entries = r.entries;
    } else {
      entries = await parallel(plan, options, inplace, runOne, (r) => finished.push(r), () => lists.done++);
    }
    report();
    // issue 3: a partial transfer (23) is the worst only when nothing worse happened, so its failed paths can be trusted
    const bad = finished.filter((r) => r.outcome !== 'ok' && r.outcome !== 'vanished');
    const worst = bad.find((r) => r.exitCode !== 23) ?? bad[0];
    const files = finished.reduce((a, r) => a + r.files, 0);
    const bytes = finished.reduce((a, r) => a + r.bytes, 0);
    const durationMs = Math.round(performance.now() - started);
    if (!worst || worst.exitCode === 23) bus.emit({ type: 'seed-done', files, bytes, durationMs }); // 23: done, some paths failed
    const stderr = finished.map((r) => r.stderr).filter((s) => s !== '').join('\n');
    const skipped = finished.some((r) => r.deletionsSkipped);
    return { outcome: worst?.outcome ?? 'ok', message: worst?.message ?? 'ok', files, bytes, entries, durationMs, exitCode: worst?.exitCode ?? 0, stderr, runs: finished.length, deletionsSkipped: skipped };
  } finally {
    clearInterval(timer);
  }
}

type RunOne = (args: string[], list?: readonly RelPath[]) => Promise<RunResult>;

/** Steps 1-4 of a parallel seed (see the header). Returns the tree's entry count as one plain run counts it. */
async function parallel(plan: SeedPlan, options: SeedOptions, inplace: boolean, runOne: RunOne, done: (r: RunResult) => void, listDone: () => void): Promise<number> {
  const maxDelete = options.maxDeleteCount;
  // started first, runs beside the workers (~0.2 s of CPU per 100k files); find -xdev, like rsync -x
  const links = multiLinkFiles(options.source);
  const argvOk = rootFreeExcludes(options.excludeArgs);
  const runs = plan.chunks.map((chunk) => chunkRuns(chunk, options, argvOk));
  if (levelDirs(plan).length > 0) done(await runOne(levelDirsArgs(options), levelDirs(plan)));
  const queue = new PQueue({ concurrency: options.workers });
  let unitEntries = 0;
  await Promise.all(
    runs.map((chunk) =>
      queue.add(async () => {
        for (const run of chunk) {
          const r = run.argv ? await runOne(unitArgs(options, run.argv.sources, run.argv.dest, { inplace, maxDelete })) : await runOne(seedArgs(options, { list: true, inplace, maxDelete }), run.units);
          done(r);
          // a --files-from run also counts the split levels above its entries (implied directories)
          unitEntries += Math.max(0, r.entries - (run.argv ? 0 : impliedLevels(plan, run.units)));
        }
        listDone();
      }),
    ),
  );
  if (options.signal?.aborted) {
    done(ABORTED); // stopping: the find ends by itself, nothing waits for it
    return 0;
  }
  const split = splitLinkGroups(runs.flat().map((r) => r.units), await links).filter((p) => !options.isExcluded(p, false));
  if (split.length > 0) done(await runOne(linkGroupArgs(options), split));
  const level = await runOne(levelArgs(options, { maxDelete }), levelList(plan));
  done(level);
  // every unit is counted by its run and again as an entry of its level; the level pass counts each level
  // below the root twice (as an entry of its parent and as a listed directory)
  return level.entries - (plan.levels.length - 1) + unitEntries - plan.units;
}

export function tail(text: string, lines = 3): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
