/**
 * One step of the tree walk: a directory present on both sides. Lists both, reads every name's two sides,
 * compares them (compare.ts), and hands back what the rest of the verify needs: subdirectories to walk next,
 * differences, hard-link records, files whose content must be compared, counts and timestamp granularity.
 * Runs inside walk workers (walk-worker.ts); does its I/O through entry-io.ts only.
 *
 * A directory's own attributes are compared when it is walked, not when its parent lists it: by then we know
 * whether it holds excluded names, whose coming and going moves its mtime independently of the copy.
 */
import { join, type RelPath } from '../util/bpath.ts';
import { compareEntries, lookOf } from './compare.ts';
import { readDir, under, type EntryRead } from './entry-io.ts';
import { PathFilter } from './filter.ts';
import { isSampled } from './sample.ts';
import { MAX_SAMPLES } from './precision.ts';
import type { ContentTask, CtimeSamples, EntryInfo, FileKind, LinkRecord, RawDifference } from './types.ts';

/** What a walk worker needs to know; structured-clone safe (it is the worker's workerData). */
export interface WalkConfig {
  /** roots as binary strings (entry-io.ts binaryRoot) */
  sourceRoot: string;
  targetRoot: string;
  exclude: string[];
  xattrs: boolean;
  content: 'none' | 'all' | 'sample';
  samplePercent: number;
  sampleSeed: number;
  ignoreRootMtime: boolean;
  /** with oneFileSystem: the source root's device; directories on another one are not descended into */
  sourceDevice: string | undefined;
}

/** The device part of an inode key (`${dev}:${ino}`). */
export function deviceOf(e: EntryInfo): string {
  return e.inode.slice(0, e.inode.indexOf(':'));
}

export interface DirTask {
  rel: RelPath;
  source: EntryInfo;
  target: EntryInfo;
}

export interface WalkCounts {
  files: number;
  dirs: number;
  symlinks: number;
  other: number;
}

export interface DirResult {
  subdirs: DirTask[];
  diffs: RawDifference[];
  links: LinkRecord[];
  content: ContentTask[];
  counts: WalkCounts;
  ctimes: CtimeSamples;
}

export function emptyResult(): DirResult {
  return {
    subdirs: [],
    diffs: [],
    links: [],
    content: [],
    counts: { files: 0, dirs: 0, symlinks: 0, other: 0 },
    ctimes: { source: [], target: [] },
  };
}

const COUNTED: Record<FileKind, keyof WalkCounts> = {
  file: 'files',
  dir: 'dirs',
  symlink: 'symlinks',
  fifo: 'other',
  socket: 'other',
  char: 'other',
  block: 'other',
};

/** Samples a few distinct ctimes per side and batch (the main thread's GranularityTracker judges them). */
export function sampleCtime(out: DirResult, side: keyof CtimeSamples, e: EntryInfo | undefined): void {
  const list = out.ctimes[side];
  if (e === undefined || list.length >= MAX_SAMPLES || list.includes(e.ctimeNs)) return;
  list.push(e.ctimeNs);
}

/** The entry, undefined when absent, null when unreadable (already reported). */
function present(rel: RelPath, side: 'source' | 'target', read: EntryRead, out: DirResult): EntryInfo | undefined | null {
  if (read.state === 'present') return read.info;
  if (read.state === 'absent') return undefined;
  out.diffs.push({ rel, kind: 'unreadable', source: side === 'source' ? read.errno : null, target: side === 'target' ? read.errno : null, detail: 'lstat', look: null });
  return null;
}

export class DirWalker {
  #config: WalkConfig;
  #filter: PathFilter;

  constructor(config: WalkConfig, filter: PathFilter) {
    this.#config = config;
    this.#filter = filter;
  }

  walk(task: DirTask, out: DirResult): void {
    const c = this.#config;
    const srcDir = under(c.sourceRoot, task.rel);
    const tgtDir = under(c.targetRoot, task.rel);
    out.counts.dirs++;
    const a = readDir(srcDir, c.xattrs);
    const b = readDir(tgtDir, c.xattrs);
    let sawExcluded = false;
    if (!a.ok || !b.ok) {
      out.diffs.push({ rel: task.rel, kind: 'unreadable', source: a.ok ? null : a.errno, target: b.ok ? null : b.errno, detail: 'readdir', look: lookOf(task.source) });
    } else {
      const targetOnly = b.entries;
      for (const [name, sourceRead] of a.entries) {
        const targetRead = targetOnly.get(name);
        targetOnly.delete(name);
        if (PathFilter.isCookie(name)) {
          sawExcluded = true;
          continue;
        }
        const rel = join(task.rel, name);
        const s = present(rel, 'source', sourceRead, out);
        const t = targetRead === undefined ? undefined : present(rel, 'target', targetRead, out);
        if (this.#child(rel, name, s, t, out)) sawExcluded = true;
      }
      for (const [name, targetRead] of targetOnly) {
        if (PathFilter.isCookie(name)) {
          sawExcluded = true;
          continue;
        }
        const rel = join(task.rel, name);
        if (this.#child(rel, name, undefined, present(rel, 'target', targetRead, out), out)) sawExcluded = true;
      }
    }
    const skipMtime = sawExcluded || (task.rel === '' && c.ignoreRootMtime);
    compareEntries(task.rel, task.source, task.target, { xattrs: c.xattrs, skipMtime }, out.diffs);
  }

  /** Handles one name; returns true when it is excluded. */
  #child(rel: RelPath, name: string, s: EntryInfo | undefined | null, t: EntryInfo | undefined | null, out: DirResult): boolean {
    if (s === null || t === null) return false; // unreadable: reported, nothing to compare
    const either = s ?? t;
    if (either === undefined) return false; // vanished on both sides between listing and lstat
    if (this.#filter.excludes(rel, name, either.kind === 'dir')) return true;
    sampleCtime(out, 'source', s);
    sampleCtime(out, 'target', t);
    if (s !== undefined && t !== undefined && s.kind === t.kind) {
      if (s.kind === 'dir') {
        // a mount point (with oneFileSystem) is compared itself, but not walked
        if (this.#config.sourceDevice === undefined || deviceOf(s) === this.#config.sourceDevice) {
          out.subdirs.push({ rel, source: s, target: t });
          return false;
        }
      } else {
        if (s.nlink > 1 || t.nlink > 1) out.links.push({ rel, source: s.inode, target: t.inode, look: lookOf(s) });
        if (s.kind === 'file' && s.size === t.size && s.size > 0 && this.#wantsContent(rel)) out.content.push({ rel, size: s.size, look: lookOf(s) });
      }
    }
    out.counts[COUNTED[either.kind]]++;
    compareEntries(rel, s, t, { xattrs: this.#config.xattrs, skipMtime: false }, out.diffs);
    return false;
  }

  #wantsContent(rel: RelPath): boolean {
    const c = this.#config;
    if (c.content === 'all') return true;
    return c.content === 'sample' && isSampled(rel, c.samplePercent, c.sampleSeed);
  }
}
