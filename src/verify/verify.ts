/**
 * verifyTrees: proves (or disproves) that a target tree holds exactly what a source tree holds.
 *
 *   options ──normalize──▶ walk (worker pool, or the given paths) ──▶ raw differences, link records,
 *                          └─▶ content checker (main thread, concurrent reads) ──▶ content differences
 *   then: hard-link structure ─▶ mtimes judged at the coarser precision of the two sides ─▶ one re-check of
 *   the differing paths (in flight or real) ─▶ sorted, display-escaped report.
 *
 * The library entry point of the verify concern (the CLI, `livesync cutover --verify` and tests call it).
 * Expected failures (bad options, unreadable roots, no addon) are ToolErrors thrown before any walking.
 */
import { ContentChecker } from './content.ts';
import { Findings } from './findings.ts';
import { PathFilter } from './filter.ts';
import { normalizeVerifyOptions, type NormalizedOptions } from './options.ts';
import { comparePaths } from './paths-mode.ts';
import { PROGRESS_INTERVAL_MS } from './policy.ts';
import { comparePrecision, sameAtPrecision } from './precision.ts';
import { recheck } from './recheck.ts';
import { sortRaw, toDifference, toInFlight } from './render.ts';
import type { MultiLink, RawDifference, VerifyOptions, VerifyProgress, VerifyReport, XattrFloor } from './types.ts';
import { deviceOf, type WalkCounts } from './walk-dir.ts';
import { walkTrees } from './walk-pool.ts';
import type { RelPath } from '../util/bpath.ts';

export type { MultiLink, RawDifference, VerifyOptions, VerifyReport, XattrFloor } from './types.ts';

/** Calls onProgress at most every PROGRESS_INTERVAL_MS, and always for a phase change. */
class Progress {
  #sink: ((p: VerifyProgress) => void) | undefined;
  #last = 0;
  #state: VerifyProgress = { phase: 'walk', entries: 0, bytesHashed: 0, bytesToHash: 0, walkDone: false };

  constructor(sink: ((p: VerifyProgress) => void) | undefined) {
    this.#sink = sink;
  }

  update(change: Partial<VerifyProgress>, force = false): void {
    if (this.#sink === undefined) return;
    Object.assign(this.#state, change);
    const now = performance.now();
    if (!force && now - this.#last < PROGRESS_INTERVAL_MS) return;
    this.#last = now;
    this.#sink({ ...this.#state });
  }
}

/** What only the mirror's restart comparison asks of the walk (walk-dir.ts WalkConfig). */
interface WalkExtras {
  xattrFloor: XattrFloor | null;
  multiLinks: boolean;
  targetScans?: Map<RelPath, Uint8Array>;
}

async function collect(o: NormalizedOptions, progress: Progress, extras: WalkExtras = { xattrFloor: null, multiLinks: false }): Promise<{ findings: Findings; checker: ContentChecker }> {
  const checker = new ContentChecker(
    o.source.root,
    o.target.root,
    Math.max(2, o.jobs * 2),
    () => progress.update({ bytesHashed: checker.bytesDone, bytesToHash: checker.bytesQueued }),
    o.signal,
  );
  const findings = new Findings(checker);
  findings.source.observe(o.source.info.ctimeNs);
  findings.target.observe(o.target.info.ctimeNs);
  const filter = new PathFilter(o.exclude);
  if (o.paths) {
    findings.absorb(comparePaths(o, filter));
  } else {
    const config = {
      sourceRoot: o.source.root,
      targetRoot: o.target.root,
      exclude: o.exclude,
      xattrs: o.xattrs,
      xattrFloor: extras.xattrFloor,
      multiLinks: extras.multiLinks,
      content: o.content === 'paths' ? 'none' : o.content,
      samplePercent: o.samplePercent,
      sampleSeed: o.sampleSeed,
      ignoreRootMtime: o.ignoreRootMtime,
      sourceDevice: o.oneFileSystem ? deviceOf(o.source.info) : undefined,
    } as const;
    const root = { rel: '', source: o.source.info, target: o.target.info };
    await walkTrees(config, root, o.jobs, (result) => {
      findings.absorb(result);
      progress.update({ entries: findings.entries, bytesToHash: checker.bytesQueued });
    }, o.signal, extras.targetScans);
  }
  progress.update({ phase: 'content', entries: findings.entries, walkDone: true, bytesToHash: checker.bytesQueued }, true);
  await checker.drain();
  o.signal?.throwIfAborted();
  return { findings, checker };
}

/** Every raw difference of the walk, content and hard links, mtimes judged at the coarser precision of the two sides. */
function judgeMtimes(o: NormalizedOptions, findings: Findings, checker: ContentChecker): { raw: RawDifference[]; precisionNs: number } {
  const precisionNs = comparePrecision(findings.source.precision, findings.target.precision, o.mtimePrecisionNs);
  const raw = [...findings.diffs, ...checker.diffs, ...findings.links.differences()].filter(
    (d) => !(d.kind === 'mtime' && d.mtimes && sameAtPrecision(d.mtimes.source, d.mtimes.target, precisionNs)),
  );
  return { raw, precisionNs };
}

/** What differs between two trees by metadata (no content, no re-check): the mirror's restart reconcile. */
export interface TreeDiff {
  differences: RawDifference[];
  counts: WalkCounts;
  /** with `multiLinks`: every source regular file and symlink with more than one link (excluded names aside) */
  multiLinks: MultiLink[];
  durationMs: number;
}

export interface DiffOptions extends Omit<VerifyOptions, 'checksum' | 'samplePercent' | 'paths' | 'recheckDelayMs' | 'isInFlight'> {
  /**
   * Compare xattrs (and ACLs) only of pairs where either side's ctime reached its side's floor: the caller
   * knows both trees agreed before then (xattr changes move ctime). Default: every pair.
   */
  xattrFloor?: XattrFloor | null;
  /** also list the source's multi-link files (TreeDiff.multiLinks), walking new source directories for them */
  multiLinks?: boolean;
  /**
   * target directories read ahead (prefetch.ts TreePrefetch.stop), by path, read with this call's target xattr
   * floor: those are not read again
   */
  targetScans?: Map<RelPath, Uint8Array>;
}

/**
 * The walk of verifyTrees alone: both trees compared by type, size, mode, owner, mtime, symlink target,
 * device, hard links and (by default) xattrs and ACLs, raw differences returned as they are (RelPath).
 * A path that differs because it is changing right now is simply listed: the caller syncs it anyway.
 */
export async function diffTrees(options: DiffOptions): Promise<TreeDiff> {
  const started = performance.now();
  const o = normalizeVerifyOptions({ ...options, recheckDelayMs: false });
  const extras = { xattrFloor: options.xattrFloor ?? null, multiLinks: options.multiLinks ?? false, targetScans: options.targetScans };
  const { findings, checker } = await collect(o, new Progress(o.onProgress), extras);
  const differences = judgeMtimes(o, findings, checker).raw;
  return { differences, counts: { ...findings.counts }, multiLinks: findings.multiLinks, durationMs: Math.round(performance.now() - started) };
}

export async function verifyTrees(options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const o = normalizeVerifyOptions(options);
  const progress = new Progress(o.onProgress);
  const { findings, checker } = await collect(o, progress);
  const { raw, precisionNs } = judgeMtimes(o, findings, checker);
  progress.update({ phase: 'recheck', bytesHashed: checker.bytesDone }, true);
  const judged = await recheck(raw, {
    sourceRoot: o.source.root,
    targetRoot: o.target.root,
    xattrs: o.xattrs,
    precisionNs,
    isInFlight: o.isInFlight,
    delayMs: o.recheckDelayMs,
    signal: o.signal,
  });

  const differences = sortRaw(judged.differences).map(toDifference);
  const report: VerifyReport = {
    identical: differences.length === 0,
    source: o.source.given,
    target: o.target.given,
    compared: { ...findings.counts, bytesHashed: checker.bytesDone },
    differences,
    inFlight: sortRaw(judged.inFlight).map(toInFlight),
    mtimePrecisionNs: { source: findings.source.precision, target: findings.target.precision, compared: precisionNs },
    content: { mode: o.content, files: checker.files },
    durationMs: Math.round(performance.now() - started),
  };
  if (o.content === 'sample') Object.assign(report.content, { samplePercent: o.samplePercent, seed: o.sampleSeed });
  return report;
}
