/**
 * Verifies a given list of paths instead of the whole tree (the cutover's final delta): each path's two sides
 * are compared like in the walk, regular files by content too, with no recursion. Runs on the main thread:
 * the list is small and the cutover waits on it, so no worker start-up cost is paid.
 * A directory's mtime is skipped when it holds excluded names (their coming and going moves it).
 */
import type { RelPath } from '../util/bpath.ts';
import { compareEntries, lookOf } from './compare.ts';
import { readDir, readEntry, under } from './entry-io.ts';
import type { PathFilter } from './filter.ts';
import type { NormalizedOptions } from './options.ts';
import { emptyResult, sampleCtime, type DirResult } from './walk-dir.ts';

function holdsExcluded(o: NormalizedOptions, filter: PathFilter, rel: RelPath): boolean {
  for (const root of [o.source.root, o.target.root]) {
    const list = readDir(under(root, rel), false);
    if (!list.ok) continue;
    for (const [name, read] of list.entries) {
      if (filter.excludes(`${rel}/${name}`, name, read.state === 'present' && read.info.kind === 'dir')) return true;
    }
  }
  return false;
}

/** Compares every listed path; returns one result for Findings.absorb. */
export function comparePaths(o: NormalizedOptions, filter: PathFilter): DirResult {
  const out = emptyResult();
  for (const rel of o.paths ?? []) {
    const s = readEntry(under(o.source.root, rel), o.xattrs);
    const t = readEntry(under(o.target.root, rel), o.xattrs);
    if (s.state === 'error' || t.state === 'error') {
      out.diffs.push({
        rel,
        kind: 'unreadable',
        source: s.state === 'error' ? s.errno : null,
        target: t.state === 'error' ? t.errno : null,
        detail: 'lstat',
        look: s.state === 'present' ? lookOf(s.info) : null,
      });
      continue;
    }
    const si = s.state === 'present' ? s.info : undefined;
    const ti = t.state === 'present' ? t.info : undefined;
    const either = si ?? ti;
    if (either === undefined) continue; // gone on both sides: identical
    if (filter.excludesPath(rel, either.kind === 'dir')) continue;
    sampleCtime(out, 'source', si);
    sampleCtime(out, 'target', ti);
    const kind = either.kind === 'file' ? 'files' : either.kind === 'dir' ? 'dirs' : either.kind === 'symlink' ? 'symlinks' : 'other';
    out.counts[kind]++;
    const bothDirs = si?.kind === 'dir' && ti?.kind === 'dir';
    const skipMtime = bothDirs && holdsExcluded(o, filter, rel);
    compareEntries(rel, si, ti, { xattrs: o.xattrs, skipMtime }, out.diffs);
    if (si === undefined || ti === undefined || si.kind !== ti.kind || si.kind === 'dir') continue;
    if (si.nlink > 1 || ti.nlink > 1) out.links.push({ rel, source: si.inode, target: ti.inode, look: lookOf(si) });
    if (si.kind === 'file' && si.size === ti.size && si.size > 0) out.content.push({ rel, size: si.size, look: lookOf(si) });
  }
  return out;
}
