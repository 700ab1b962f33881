/**
 * Pure planning of a parallel seed (src/sync/seed.ts): which directory levels are split into their entries,
 * how those entries ("units") are dealt into rsync lists ("chunks") for the workers, which hard-link groups
 * ended up spanning two rsync runs, and what goes on rsync's stdin. No I/O: the directory reader is passed in.
 *
 *   levels   directories split into their entries ('' = the root), never copied recursively: created first
 *            (the lists write into them), synced one level deep at the end (`rsync -d --delete`: their
 *            attributes, as the lists moved their mtimes, and extraneous target entries at those levels).
 *   units    the entries found at split levels (directories, copied recursively, and files, links, devices),
 *            sorted and dealt round-robin into lists ("chunks"); a p-queue runs the lists, `workers` at a
 *            time, each as one rsync per parent directory (chunkRuns).
 *   mount points at a split level are never units: rsync enters a listed directory even when it is another
 *            filesystem (-x only stops it while recursing); the level pass creates them without entering.
 *
 * A list's entries go to rsync as source arguments (`rsync ... SRC/p/u1 SRC/p/u2 DST/p/`), not through
 * --files-from: --files-from implies --relative, where rsync 3.4+ re-walks every path component of every file
 * (measured +14 % CPU on 100k files). Arguments need text (UTF-8) names and excludes that match the same from
 * any transfer root; otherwise that run falls back to --files-from from the root.
 */
import { Buffer } from 'node:buffer';
import { join, parentOf, type RelPath } from '../util/bpath.ts';

export interface PlanEntry {
  name: RelPath;
  isDir: boolean;
  /** false for a directory on another filesystem (a mount point) */
  sameFs: boolean;
}

/** One directory level (root/dir), or null when it cannot be read (then it stays a unit: rsync reports it). */
export type ListDir = (dir: RelPath) => PlanEntry[] | null;

export interface SplitPolicy {
  dirUnitsPerWorker: number;
  chunksPerWorker: number;
  maxDepth: number;
  maxListedDirs: number;
}

/** Split policy (measured on 2 cores, docs/benchmarks.md "seed"): one row per knob, with why. */
export const SPLIT_POLICY: Readonly<SplitPolicy> = {
  // directory units wanted per worker before the split stops going deeper: without sizes, many small units
  // dealt round-robin into lists is what balances the workers (a tree with one top-level directory, like
  // the benchmark's, would otherwise be one list)
  dirUnitsPerWorker: 16,
  // lists per worker: the queue hands the next list to whichever worker is free, so uneven lists even out;
  // each list costs one rsync start (~10 ms)
  chunksPerWorker: 4,
  // levels below the root the split may go down; deeper trees split at level 3 are balanced enough
  maxDepth: 3,
  // directories listed while planning, at most: planning must stay a few ms however wide the tree is
  maxListedDirs: 256,
};

export interface SeedPlan {
  levels: RelPath[];
  /** units dealt into lists */
  chunks: RelPath[][];
  /** units in all chunks (for the entry count: each also appears in its level's pass) */
  units: number;
}

interface Unit {
  rel: RelPath;
  isDir: boolean;
}

/**
 * Splits the tree under the root into units, level by level, until there are enough directory units for
 * `workers` (a level whose split would leave fewer directories than it had is not split), then deals the
 * units round-robin (sorted by name) into chunks. Fewer than two directory units: null (one plain recursive
 * rsync is the seed).
 */
export function planSeed(list: ListDir, workers: number, isExcluded: (rel: RelPath, isDir: boolean) => boolean, policy: Readonly<SplitPolicy> = SPLIT_POLICY): SeedPlan | null {
  if (workers < 2) return null;
  const wanted = workers * policy.dirUnitsPerWorker;
  let levels: RelPath[] = [];
  let units: Unit[] = [];
  let frontier: RelPath[] = [''];
  let listed = 0;
  for (let depth = 0; frontier.length > 0; depth++) {
    const expanding = new Set(frontier);
    const next: Unit[] = units.filter((u) => !expanding.has(u.rel));
    const nextLevels = [...levels];
    for (const dir of frontier) {
      const entries = list(dir);
      listed++;
      if (entries === null) {
        if (dir === '') return null;
        next.push({ rel: dir, isDir: true }); // unreadable: stays a unit, rsync reports it
        continue;
      }
      nextLevels.push(dir);
      for (const e of entries) {
        const rel = join(dir, e.name);
        if (!e.sameFs || isExcluded(rel, e.isDir)) continue;
        next.push({ rel, isDir: e.isDir });
      }
    }
    const dirs = next.filter((u) => u.isDir).map((u) => u.rel);
    if (depth > 0 && dirs.length < frontier.length) break; // splitting mostly leaf directories gains nothing
    [levels, units] = [nextLevels, next];
    if (dirs.length >= wanted || depth + 1 >= policy.maxDepth || listed + dirs.length > policy.maxListedDirs) break;
    frontier = dirs;
  }
  if (units.filter((u) => u.isDir).length < 2) return null;
  const sorted = units.map((u) => u.rel).sort();
  const count = Math.min(sorted.length, workers * policy.chunksPerWorker);
  const chunks: RelPath[][] = Array.from({ length: count }, () => []);
  sorted.forEach((rel, i) => chunks[i % count]!.push(rel));
  return { levels, chunks, units: sorted.length };
}

export interface LinkedFile {
  dev: number;
  ino: number;
  path: RelPath;
}

/**
 * Names of every hard-link group whose names fell into two or more rsync runs (or outside every run): rsync -H
 * links only names within one file list, so the seed re-sends these names together in one list, which
 * replaces the copies by links. `runs`: the units of each run. Groups within one run were linked by it.
 */
export function splitLinkGroups(runs: readonly (readonly RelPath[])[], files: readonly LinkedFile[]): RelPath[] {
  const runOf = new Map<RelPath, number>();
  runs.forEach((units, i) => units.forEach((u) => runOf.set(u, i)));
  const owner = (path: RelPath): number => {
    for (let p = path; ; p = parentOf(p)) {
      const i = runOf.get(p);
      if (i !== undefined) return i;
      if (p === '') return -1;
    }
  };
  const groups = new Map<string, { runs: Set<number>; names: RelPath[] }>();
  for (const f of files) {
    const key = `${f.dev}:${f.ino}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { runs: new Set(), names: [] }));
    g.runs.add(owner(f.path));
    g.names.push(f.path);
  }
  return [...groups.values()].filter((g) => g.names.length > 1 && g.runs.size > 1).flatMap((g) => g.names);
}

/** Distinct split levels above a chunk's units (rsync sends them as implied directories and counts them). */
export function impliedLevels(plan: SeedPlan, chunk: readonly RelPath[]): number {
  const levels = new Set(plan.levels);
  const seen = new Set<RelPath>();
  for (const u of chunk) for (let p = parentOf(u); p !== '' && levels.has(p) && !seen.has(p); p = parentOf(p)) seen.add(p);
  return seen.size;
}

/** rsync reads at most this many bytes of arguments per run here (Linux allows ~2 MiB with the environment). */
const ARGV_BUDGET = 256 * 1024;

export interface ChunkRun {
  parent: RelPath;
  units: RelPath[];
  /** the units as source arguments (text); null: --files-from from the root */
  argv: { sources: string[]; dest: string } | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The path as argv text, when its bytes are valid UTF-8 (argv strings are encoded as UTF-8). */
function argvText(rel: RelPath): string | null {
  try {
    return utf8.decode(Buffer.from(rel, 'latin1'));
  } catch {
    return null;
  }
}

/**
 * True when every rule matches the same whatever the transfer root: `--exclude=P` where P (a trailing '/'
 * not counted) has no '/' and no '**' matches the last component at any depth (src/watch/exclude.ts).
 */
export function rootFreeExcludes(excludeArgs: readonly string[]): boolean {
  return excludeArgs.every((a) => {
    if (!a.startsWith('--exclude=')) return false;
    const p = a.slice('--exclude='.length).replace(/\/$/, '');
    return !p.includes('/') && !p.includes('**');
  });
}

/** One chunk as rsync runs: one per parent directory (and per ARGV_BUDGET), source arguments where possible. */
export function chunkRuns(chunk: readonly RelPath[], roots: { source: string; target: string }, argvOk: boolean): ChunkRun[] {
  const byParent = new Map<RelPath, RelPath[]>();
  for (const u of chunk) {
    const p = parentOf(u);
    const list = byParent.get(p);
    if (list) list.push(u);
    else byParent.set(p, [u]);
  }
  const runs: ChunkRun[] = [];
  for (const [parent, units] of byParent) {
    const texts = units.map(argvText);
    const parentText = argvText(parent);
    if (!argvOk || parentText === null || texts.some((t) => t === null)) {
      runs.push({ parent, units, argv: null });
      continue;
    }
    const [source, target] = [roots.source, roots.target].map((r) => r.replace(/\/+$/, ''));
    const dest = parentText === '' ? `${target}/` : `${target}/${parentText}/`;
    let current: ChunkRun | null = null;
    let bytes = 0;
    for (let i = 0; i < units.length; i++) {
      const arg = `${source}/${texts[i]!}`;
      const size = Buffer.byteLength(arg) + 1;
      if (current === null || bytes + size > ARGV_BUDGET) {
        current = { parent, units: [], argv: { sources: [], dest } };
        runs.push(current);
        bytes = 0;
      }
      current.units.push(units[i]!);
      current.argv!.sources.push(arg);
      bytes += size;
    }
  }
  return runs;
}

/** stdin of the level pass: the root and every other split level, with a trailing '/' (its entries, one level). */
export function levelList(plan: SeedPlan): RelPath[] {
  return plan.levels.map((l) => (l === '' ? './' : `${l}/`));
}

/** stdin of the pass that creates the split levels before the lists run: the directories alone (no '/'). */
export function levelDirs(plan: SeedPlan): RelPath[] {
  return plan.levels.filter((l) => l !== '');
}
