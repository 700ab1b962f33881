/**
 * Pure seed progress estimate, from counters the seed samples every few seconds instead of rsync's
 * `--info=progress2`: rsync prints that line after every file (100k lines for 100k files), which cost ~0.35 s
 * of rsync CPU and ~0.7 s of livesync CPU (one stream event per line) per 100k files — a fifth of the seed
 * (docs/decisions.md "The seed"). The estimate:
 *   files, bytes  growth of the target filesystem's used inodes and used space since the seed started
 *                 (entries of any type; space as allocated, so small files count whole blocks), never below
 *                 what the finished rsync runs reported exactly
 *   percent       of the entries expected (the source filesystem's used inodes, when the source root is a
 *                 filesystem of its own), else of the finished lists (parallel seed), else unknown
 *   rate          average bytes per second so far; etaS from percent and the time so far
 */
import type { SeedProgress } from '../events/event.ts';

export interface UsageSample {
  inodesUsed: number;
  countsInodes: boolean;
  bytesUsed: number;
}

export interface ProgressInput {
  elapsedMs: number;
  /** target filesystem counters at the start and now (null: statfs failed) */
  start: UsageSample | null;
  now: UsageSample | null;
  /** entries the seed is expected to create, or null when unknown */
  expected: number | null;
  /** lists finished and in total (0 total: one plain run) */
  chunksDone: number;
  chunksTotal: number;
  /** exact counts of the rsync runs that finished */
  finishedFiles: number;
  finishedBytes: number;
}

/** A percentage that is not 100 until the seed says it is done. */
const MAX_RUNNING_PERCENT = 99;

export function estimateProgress(p: ProgressInput): SeedProgress {
  const grown = p.start && p.now ? { files: p.now.countsInodes ? Math.max(0, p.now.inodesUsed - p.start.inodesUsed) : 0, bytes: Math.max(0, p.now.bytesUsed - p.start.bytesUsed) } : { files: 0, bytes: 0 };
  const files = Math.max(grown.files, p.finishedFiles);
  const bytes = Math.max(grown.bytes, p.finishedBytes);
  const seconds = p.elapsedMs / 1000;
  let percent: number | null = null;
  if (p.expected !== null && p.expected > 0 && p.now?.countsInodes) percent = (100 * files) / p.expected;
  else if (p.chunksTotal >= 2) percent = (100 * p.chunksDone) / p.chunksTotal;
  if (percent !== null) percent = Math.min(MAX_RUNNING_PERCENT, Math.round(percent * 10) / 10);
  const etaS = percent !== null && percent > 0 ? Math.round((seconds * (100 - percent)) / percent) : null;
  return { files, bytes, rate: seconds > 0 ? Math.round(bytes / seconds) : 0, etaS, percent };
}
