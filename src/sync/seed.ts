/**
 * The seed: a full rsync pass that makes the target equal to the source (first start, restart after a crash,
 * overflow recovery of the root). Watches are already in place when it runs, so nothing that changes during
 * the seed is lost: those events wait in the dirty set and are synced right after.
 *
 * Large trees can be split by top-level entry into parallel rsync workers (p-queue). Hard links that span two
 * top-level entries are only preserved with one worker (rsync -H sees one file list per process), which is
 * why the default worker count comes from docs/benchmarks.md and `--seed-workers 1` is always available.
 */
import { readdirSync } from 'node:fs';
import PQueue from 'p-queue';
import { run } from '../sys/exec.ts';
import type { EventBus, SeedProgress } from '../events/event.ts';
import { fromBytes, toBytes, type RelPath } from '../util/bpath.ts';
import { classifyExit, type RsyncOutcome } from './rsync-exit.ts';
import { parseStats, rootLevelArgs, seedArgs, type RsyncCommon } from './rsync-args.ts';
import { ProgressSplitter } from './rsync-progress.ts';

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
}

interface WorkerState {
  bytes: number;
  rate: number;
  files: number;
  percent: number | null;
}

/** Splits top-level entries into `n` lists of similar length (round-robin over the sorted names). */
export function partition(names: RelPath[], n: number): RelPath[][] {
  const lists: RelPath[][] = Array.from({ length: Math.max(1, n) }, () => []);
  names.sort().forEach((name, i) => lists[i % lists.length]!.push(name));
  return lists.filter((l) => l.length > 0);
}

export async function seed(options: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const { bus } = options;
  const topLevel = readdirSync(options.source, { withFileTypes: true, encoding: 'buffer' })
    .map((d) => ({ name: fromBytes(d.name), isDir: d.isDirectory() }))
    .filter((d) => !options.isExcluded(d.name, d.isDir))
    .map((d) => d.name);
  const lists = options.workers > 1 && topLevel.length > 1 ? partition(topLevel, options.workers) : [];
  bus.emit({ type: 'seed-start', workers: Math.max(1, lists.length) });

  const states: WorkerState[] = [];
  let lastReport = 0;
  const report = (force = false): void => {
    const now = performance.now();
    if (!force && now - lastReport < SEED_PROGRESS_INTERVAL_MS) return;
    lastReport = now;
    const sum = states.reduce((a, s) => ({ bytes: a.bytes + s.bytes, rate: a.rate + s.rate, files: a.files + s.files }), { bytes: 0, rate: 0, files: 0 });
    const pcts = states.map((s) => s.percent).filter((p): p is number => p !== null);
    const percent = pcts.length === states.length && pcts.length > 0 ? pcts.reduce((a, b) => a + b, 0) / pcts.length : null;
    const elapsedS = (now - started) / 1000;
    const etaS = percent !== null && percent > 0 ? Math.round((elapsedS * (100 - percent)) / percent) : null;
    const progress: SeedProgress = { files: sum.files, bytes: sum.bytes, rate: sum.rate, etaS, percent };
    bus.emit({ type: 'seed-progress', progress });
  };
  const timer = setInterval(() => report(), SEED_PROGRESS_INTERVAL_MS);

  const runOne = async (list: RelPath[] | null): Promise<SeedResult> => {
    const state: WorkerState = { bytes: 0, rate: 0, files: 0, percent: null };
    states.push(state);
    const splitter = new ProgressSplitter();
    const args = [...seedArgs(options, { list: list !== null, progress: true }), ...(options.maxDeleteCount > 0 ? [`--max-delete=${options.maxDeleteCount}`] : [])];
    const input = list === null ? undefined : Buffer.concat(list.flatMap((p) => [toBytes(p), Buffer.from([0])]));
    const result = await run(options.rsync ?? 'rsync', args, {
      input,
      signal: options.signal,
      env: { LC_ALL: 'C' },
      stallMs: SEED_STALL_MS,
      onStdout: (chunk) => {
        for (const p of splitter.push(chunk)) {
          state.bytes = p.bytes;
          state.rate = p.rate;
          state.percent = p.percent;
          state.files = p.checked ?? p.transferred ?? state.files;
        }
      },
    });
    state.rate = 0;
    const { outcome, why } = result.spawnError ? { outcome: 'fatal' as const, why: result.spawnError } : classifyExit(result.exitCode, result.signal);
    const stats = parseStats(result.stdout);
    return { outcome, message: outcome === 'ok' || outcome === 'vanished' ? why : `${why}: ${tail(result.stderr)}`, files: stats.files, bytes: stats.bytes, entries: stats.entries, durationMs: result.durationMs, exitCode: result.exitCode, stderr: result.stderr };
  };

  try {
    let results: SeedResult[];
    if (lists.length === 0) {
      results = [await runOne(null)];
    } else {
      const queue = new PQueue({ concurrency: options.workers });
      results = await Promise.all(lists.map((list) => queue.add(() => runOne(list))));
      // top level: attributes of the root and deletion of top-level entries gone from the source
      const root = await run(options.rsync ?? 'rsync', rootLevelArgs(options), { signal: options.signal });
      const c = classifyExit(root.exitCode, root.signal);
      results.push({ outcome: c.outcome, message: `${c.why}: ${tail(root.stderr)}`, files: 0, bytes: 0, entries: 0, durationMs: root.durationMs, exitCode: root.exitCode, stderr: root.stderr });
    }
    report(true);
    // issue 3: a partial transfer (23) is the worst only when nothing worse happened, so its failed paths can be trusted
    const bad = results.filter((r) => r.outcome !== 'ok' && r.outcome !== 'vanished');
    const worst = bad.find((r) => r.exitCode !== 23) ?? bad[0];
    const files = results.reduce((a, r) => a + r.files, 0);
    const bytes = results.reduce((a, r) => a + r.bytes, 0);
    const entries = results.reduce((a, r) => a + r.entries, 0);
    const durationMs = Math.round(performance.now() - started);
    if (!worst || worst.exitCode === 23) bus.emit({ type: 'seed-done', files, bytes, durationMs }); // 23: done, some paths failed
    const stderr = results.map((r) => r.stderr ?? '').join('\n');
    return { outcome: worst?.outcome ?? 'ok', message: worst?.message ?? 'ok', files, bytes, entries, durationMs, exitCode: worst?.exitCode ?? 0, stderr };
  } finally {
    clearInterval(timer);
  }
}

export function tail(text: string, lines = 3): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
