/**
 * One step of the tree walk: a directory present on both sides. Lists both, reads every name's two sides,
 * compares them (compare.ts), and hands back what the rest of the verify needs: subdirectories to walk next,
 * differences, hard-link records, files whose content must be compared, counts and timestamp granularity.
 * Runs inside walk workers (walk-worker.ts); does its I/O through entry-io.ts only.
 *
 * A directory's own attributes are compared when it is walked, not when its parent lists it: by then we know
 * whether it holds excluded names, whose coming and going moves its mtime independently of the copy.
 *
 * Quick path: most pairs are identical, so a pair whose two records hold the same bytes in every compared
 * field (scan-native.ts sameRecordFields) is counted without being decoded, unless it needs more than a
 * verdict (a directory to walk, a multi-link file, a content check). Everything else goes the full way.
 * xattrs with a floor (WalkConfig.xattrFloor): the addon reads an entry's xattrs only when its ctime reached
 * its side's floor; a pair with one side read and the other not has the other read here before comparing.
 */
import { join, type RelPath } from '../util/bpath.ts';
import { compareEntries, lookOf } from './compare.ts';
import { Buffer } from 'node:buffer';
import { decodeAt, indexRaw, kindAt, nlinkAt, ctimeAt, sameRecordFields } from './scan-native.ts';
import { readDirRaw, readXattrs, under, type EntryRead, type RawDirRead, type XattrRead } from './entry-io.ts';
import { PathFilter } from './filter.ts';
import { isSampled } from './sample.ts';
import { MAX_SAMPLES } from './precision.ts';
import type { ContentTask, CtimeSamples, EntryInfo, FileKind, LinkRecord, MultiLink, RawDifference, XattrFloor } from './types.ts';

/** What a walk worker needs to know; structured-clone safe (the pool posts it to each worker). */
export interface WalkConfig {
  /** roots as binary strings (entry-io.ts binaryRoot) */
  sourceRoot: string;
  targetRoot: string;
  exclude: string[];
  xattrs: boolean;
  /** with xattrs: compare them only for pairs where either side's ctime reached its floor; null: every pair */
  xattrFloor: XattrFloor | null;
  /** list the source's multi-link files, descending into directories missing on the target for them too */
  multiLinks: boolean;
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
  /** null: a source directory missing on the target, walked only for its multi-link files */
  target: EntryInfo | null;
  /** the target directory's records when already read ahead (prefetch.ts), with the walk's xattr floor */
  targetScan?: Uint8Array;
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
  multiLinks: MultiLink[];
  content: ContentTask[];
  counts: WalkCounts;
  ctimes: CtimeSamples;
}

export function emptyResult(): DirResult {
  return {
    subdirs: [],
    diffs: [],
    links: [],
    multiLinks: [],
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
  if (e !== undefined) sampleCtimeNs(out, side, e.ctimeNs);
}

function sampleCtimeNs(out: DirResult, side: keyof CtimeSamples, ns: bigint): void {
  const list = out.ctimes[side];
  if (list.length < MAX_SAMPLES && !list.includes(ns)) list.push(ns);
}

/** The entry, undefined when absent, null when unreadable (already reported). */
function present(rel: RelPath, side: 'source' | 'target', read: EntryRead, out: DirResult): EntryInfo | undefined | null {
  if (read.state === 'present') return read.info;
  if (read.state === 'absent') return undefined;
  out.diffs.push({ rel, kind: 'unreadable', source: side === 'source' ? read.errno : null, target: side === 'target' ? read.errno : null, detail: 'lstat', look: null });
  return null;
}

/** Completes an entry whose xattrs the addon left out. */
function readInto(e: EntryInfo, absBinary: string): void {
  const read = readXattrs(absBinary);
  delete e.xattrsNotRead;
  if (read.xattrs) e.xattrs = read.xattrs;
  if (read.xattrError !== undefined) e.xattrError = read.xattrError;
}

/** What the quick look at a pair concluded. */
type Quick = 'same' | 'excluded' | 'closer-look';

export class DirWalker {
  #config: WalkConfig;
  #filter: PathFilter;

  constructor(config: WalkConfig, filter: PathFilter) {
    this.#config = config;
    this.#filter = filter;
  }

  walk(task: DirTask, out: DirResult): void {
    if (task.target === null) return this.#walkSourceOnly(task, out);
    const c = this.#config;
    out.counts.dirs++;
    const a = readDirRaw(under(c.sourceRoot, task.rel), this.#xattrRead('source'));
    const ahead = task.targetScan;
    const b: RawDirRead = ahead ? { ok: true, dir: indexRaw(Buffer.from(ahead.buffer, ahead.byteOffset, ahead.byteLength)) } : readDirRaw(under(c.targetRoot, task.rel), this.#xattrRead('target'));
    let sawExcluded = false;
    if (!a.ok || !b.ok) {
      out.diffs.push({ rel: task.rel, kind: 'unreadable', source: a.ok ? null : a.errno, target: b.ok ? null : b.errno, detail: 'readdir', look: lookOf(task.source) });
    } else {
      const src = a.dir.buf;
      const tgt = b.dir.buf;
      const targetOnly = b.dir.at;
      for (const [name, sAt] of a.dir.at) {
        const tAt = targetOnly.get(name);
        if (tAt !== undefined) targetOnly.delete(name);
        if (PathFilter.isCookie(name)) {
          sawExcluded = true;
          continue;
        }
        const quick = tAt === undefined ? 'closer-look' : this.#quick(task.rel, name, src, sAt, tgt, tAt, out);
        if (quick === 'excluded') sawExcluded = true;
        if (quick !== 'closer-look') continue;
        const rel = join(task.rel, name);
        const s = present(rel, 'source', decodeAt(src, sAt), out);
        const t = tAt === undefined ? undefined : present(rel, 'target', decodeAt(tgt, tAt), out);
        if (this.#child(rel, name, s, t, out)) sawExcluded = true;
      }
      for (const [name, tAt] of targetOnly) {
        if (PathFilter.isCookie(name)) {
          sawExcluded = true;
          continue;
        }
        const rel = join(task.rel, name);
        if (this.#child(rel, name, undefined, present(rel, 'target', decodeAt(tgt, tAt), out), out)) sawExcluded = true;
      }
    }
    const skipMtime = sawExcluded || (task.rel === '' && c.ignoreRootMtime);
    compareEntries(task.rel, task.source, task.target, { xattrs: this.#xattrsCompared(task.rel, task.source, task.target), skipMtime }, out.diffs);
  }

  /** What the addon reads of one side's xattrs: all, none, or from the side's ctime floor on. */
  #xattrRead(side: 'source' | 'target'): XattrRead {
    const c = this.#config;
    return c.xattrs && c.xattrFloor !== null ? c.xattrFloor[side] : c.xattrs;
  }

  /**
   * A pair whose records agree byte for byte in every compared field needs no decoding: no attribute can
   * differ (xattrs included: a side's xattrs are read exactly when its ctime reached its floor, so "both
   * left out" means neither can have changed). Directories, multi-link files and files due for a content
   * check still get the full treatment, as does anything read with an error.
   */
  #quick(parent: RelPath, name: string, src: Buffer, sAt: number, tgt: Buffer, tAt: number, out: DirResult): Quick {
    if (!sameRecordFields(src, sAt, tgt, tAt)) return 'closer-look';
    const kind = kindAt(src, sAt);
    if (kind === null || kind === 'dir' || nlinkAt(src, sAt) > 1 || nlinkAt(tgt, tAt) > 1) return 'closer-look';
    if (kind === 'file' && this.#config.content !== 'none') return 'closer-look';
    // the name is no cookie (the caller checked): without patterns nothing else is excluded
    if (this.#filter.hasPatterns && this.#filter.excludes(join(parent, name), name, false)) return 'excluded';
    if (out.ctimes.source.length < MAX_SAMPLES) sampleCtimeNs(out, 'source', ctimeAt(src, sAt));
    if (out.ctimes.target.length < MAX_SAMPLES) sampleCtimeNs(out, 'target', ctimeAt(tgt, tAt));
    out.counts[COUNTED[kind]]++;
    return 'same';
  }

  /** Handles one name; returns true when it is excluded. */
  #child(rel: RelPath, name: string, s: EntryInfo | undefined | null, t: EntryInfo | undefined | null, out: DirResult): boolean {
    if (s === null || t === null) {
      // unreadable: reported, nothing to compare (a readable source side still counts for the multi-link list)
      if (s && this.#config.multiLinks && !this.#filter.excludes(rel, name, s.kind === 'dir')) this.#noteSource(rel, s, undefined, out);
      return false;
    }
    const either = s ?? t;
    if (either === undefined) return false; // vanished on both sides between listing and lstat
    if (this.#filter.excludes(rel, name, either.kind === 'dir')) return true;
    sampleCtime(out, 'source', s);
    sampleCtime(out, 'target', t);
    if (this.#config.multiLinks && s !== undefined) this.#noteSource(rel, s, t, out);
    if (s !== undefined && t !== undefined && s.kind === t.kind) {
      if (s.kind === 'dir') {
        // a mount point (with oneFileSystem) is compared itself, but not walked
        if (this.#sameDevice(s)) {
          out.subdirs.push({ rel, source: s, target: t });
          return false;
        }
      } else {
        if (s.nlink > 1 || t.nlink > 1) out.links.push({ rel, source: s.inode, target: t.inode, look: lookOf(s) });
        if (s.kind === 'file' && s.size === t.size && s.size > 0 && this.#wantsContent(rel)) out.content.push({ rel, size: s.size, look: lookOf(s) });
      }
    }
    out.counts[COUNTED[either.kind]]++;
    compareEntries(rel, s, t, { xattrs: this.#xattrsCompared(rel, s, t), skipMtime: false }, out.diffs);
    return false;
  }

  /** With multiLinks: a source multi-link file is listed; a source directory the target lacks is walked for them. */
  #noteSource(rel: RelPath, s: EntryInfo, t: EntryInfo | undefined, out: DirResult): void {
    if ((s.kind === 'file' || s.kind === 'symlink') && s.nlink > 1) out.multiLinks.push({ rel, inode: s.inode });
    if (s.kind === 'dir' && t?.kind !== 'dir' && this.#sameDevice(s)) out.subdirs.push({ rel, source: s, target: null });
  }

  /**
   * Whether this pair's xattrs are compared: always without a floor; with one, when either side's ctime
   * reached its floor (an xattr change moves ctime), or for a mount point. A side the addon left out is read now.
   */
  #xattrsCompared(rel: RelPath, s: EntryInfo | undefined, t: EntryInfo | undefined): boolean {
    const c = this.#config;
    if (!c.xattrs || s === undefined || t === undefined || s.kind !== t.kind) return c.xattrs;
    if (c.xattrFloor === null) return true;
    const changed = s.ctimeNs >= c.xattrFloor.source || t.ctimeNs >= c.xattrFloor.target;
    // a mount point shows the mounted filesystem's root, stamped by that filesystem's clock: always compared
    if (!changed && (s.kind !== 'dir' || this.#sameDevice(s))) return false;
    if (s.xattrsNotRead) readInto(s, under(c.sourceRoot, rel));
    if (t.xattrsNotRead) readInto(t, under(c.targetRoot, rel));
    return true;
  }

  /** A source directory missing on the target: only its multi-link files are of interest (rsync copies the rest). */
  #walkSourceOnly(task: DirTask, out: DirResult): void {
    const a = readDirRaw(under(this.#config.sourceRoot, task.rel), false);
    if (!a.ok) return; // the copy meets the same error and reports it
    for (const [name, at] of a.dir.at) {
      const kind = kindAt(a.dir.buf, at);
      if (kind === null || PathFilter.isCookie(name)) continue;
      const rel = join(task.rel, name);
      if (this.#filter.excludes(rel, name, kind === 'dir')) continue;
      if (kind !== 'dir' && !((kind === 'file' || kind === 'symlink') && nlinkAt(a.dir.buf, at) > 1)) continue;
      const read = decodeAt(a.dir.buf, at);
      if (read.state === 'present') this.#noteSource(rel, read.info, undefined, out);
    }
  }

  #sameDevice(s: EntryInfo): boolean {
    return this.#config.sourceDevice === undefined || deviceOf(s) === this.#config.sourceDevice;
  }

  #wantsContent(rel: RelPath): boolean {
    const c = this.#config;
    if (c.content === 'all') return true;
    return c.content === 'sample' && isSampled(rel, c.samplePercent, c.sampleSeed);
  }
}
