/**
 * Accumulates what the walk (or the paths mode) finds, on the main thread: raw differences, hard-link
 * records, counts and each side's timestamp granularity; forwards content tasks to the ContentChecker.
 */
import type { ContentChecker } from './content.ts';
import { LinkChecker } from './hardlinks.ts';
import { GranularityTracker } from './precision.ts';
import type { MultiLink, RawDifference } from './types.ts';
import type { DirResult, WalkCounts } from './walk-dir.ts';

export class Findings {
  readonly diffs: RawDifference[] = [];
  readonly multiLinks: MultiLink[] = [];
  readonly links = new LinkChecker();
  readonly counts: WalkCounts = { files: 0, dirs: 0, symlinks: 0, other: 0 };
  readonly source = new GranularityTracker();
  readonly target = new GranularityTracker();
  #checker: ContentChecker;

  constructor(checker: ContentChecker) {
    this.#checker = checker;
  }

  get entries(): number {
    return this.counts.files + this.counts.dirs + this.counts.symlinks + this.counts.other;
  }

  absorb(result: DirResult): void {
    for (const d of result.diffs) this.diffs.push(d);
    for (const l of result.links) this.links.add(l);
    for (const m of result.multiLinks) this.multiLinks.push(m);
    for (const t of result.content) this.#checker.add(t);
    this.counts.files += result.counts.files;
    this.counts.dirs += result.counts.dirs;
    this.counts.symlinks += result.counts.symlinks;
    this.counts.other += result.counts.other;
    for (const ns of result.ctimes.source) this.source.observe(ns);
    for (const ns of result.ctimes.target) this.target.observe(ns);
  }
}
